"""State-dict key renaming between pytorchvideo's SlowFast/X3D and vidconv's.

pytorchvideo builds both networks as ``Net(blocks=[...])`` with generic names
(``blocks.2.multipathway_blocks.1.res_blocks.0.branch2.conv_a``); vidconv names what a module is
(``fast.layer2.0.conv1.0``). The tensors are the same, in the same shapes, so a checkpoint moves from one
to the other by renaming its keys. Each rule below pairs a pytorchvideo key prefix with ours; ``{i}``
and ``{j}`` stand for a stage and a block index and are carried across. The same rules run both ways.
pytorchvideo is not imported: these functions only rename strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

V = TypeVar("V")

_BLOCK = [  # a bottleneck block's layers: (pytorchvideo suffix, vidconv suffix)
    ("branch1_conv", "downsample.0"),
    ("branch1_norm", "downsample.1"),
    ("branch2.conv_a", "conv1.0"),
    ("branch2.norm_a", "conv1.1"),
    ("branch2.conv_b", "conv2.0"),
    ("branch2.conv_c", "conv3.0"),
    ("branch2.norm_c", "conv3.1"),
]

SLOWFAST_RULES = [
    *[
        (f"blocks.0.multipathway_blocks.{p}.{a}", f"{path}.stem.{b}")
        for p, path in enumerate(("slow", "fast"))
        for a, b in (("conv", "0"), ("norm", "1"))
    ],
    *[
        (
            f"blocks.{{i}}.multipathway_blocks.{p}.res_blocks.{{j}}.{a}",
            f"{path}.layer{{i}}.{{j}}.{b}",
        )
        for p, path in enumerate(("slow", "fast"))
        for a, b in _BLOCK + [("branch2.norm_b", "conv2.1")]
    ],
    ("blocks.{i}.multipathway_fusion.conv_fast_to_slow", "laterals.{i}.0"),
    ("blocks.{i}.multipathway_fusion.norm", "laterals.{i}.1"),
    ("blocks.6.proj", "fc"),
]

X3D_RULES = [
    (
        "blocks.0.conv.conv_t",
        "stem.spatial",
    ),  # sic: pytorchvideo's "conv_t" is the 1x3x3 spatial conv
    (
        "blocks.0.conv.conv_xy",
        "stem.temporal",
    ),  # and its "conv_xy" the channel-wise 5x1x1 temporal one
    ("blocks.0.norm", "stem.bn"),
    *[
        (f"blocks.{{i}}.res_blocks.{{j}}.{a}", f"layer{{i}}.{{j}}.{b}")
        for a, b in _BLOCK
    ],
    ("blocks.{i}.res_blocks.{j}.branch2.norm_b.0", "layer{i}.{j}.conv2.1"),
    (
        "blocks.{i}.res_blocks.{j}.branch2.norm_b.1.block.0",
        "layer{i}.{j}.conv2.2.reduce",
    ),
    (
        "blocks.{i}.res_blocks.{j}.branch2.norm_b.1.block.2",
        "layer{i}.{j}.conv2.2.expand",
    ),
    ("blocks.5.pool.pre_conv", "head.conv5.0"),
    ("blocks.5.pool.pre_norm", "head.conv5.1"),
    ("blocks.5.pool.post_conv", "head.fc1.0"),
    ("blocks.5.proj", "head.fc2"),
]


def _pattern(template: str) -> re.Pattern[str]:
    """``"blocks.{i}.norm"`` -> a regex matching ``blocks.<i>.norm.<parameter or buffer name>``."""
    parts = re.split(
        r"\{(\w)\}", template
    )  # literal, field, literal, field, ...
    body = "".join(
        re.escape(p) if k % 2 == 0 else f"(?P<{p}>\\d+)"
        for k, p in enumerate(parts)
    )
    return re.compile(f"^{body}\\.(?P<leaf>\\w+)$")


def _rename(
    state_dict: Mapping[str, V],
    rules: list[tuple[str, str]],
    source: int,
    what: str,
) -> dict[str, V]:
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"state_dict must be a mapping of names to tensors, got {type(state_dict).__name__}"
        )
    compiled = [(_pattern(rule[source]), rule[1 - source]) for rule in rules]
    renamed = {}
    for key, value in state_dict.items():
        for pattern, target in compiled:
            match = pattern.match(key)
            if match:
                renamed[
                    target.format(**match.groupdict()) + "." + match["leaf"]
                ] = value
                break
        else:
            raise KeyError(
                f"{what}: no rule renames {key!r}; is this the state dict of the other network?"
            )
    return renamed


def slowfast_from_pytorchvideo(state_dict: Mapping[str, V]) -> dict[str, V]:
    """pytorchvideo ``create_slowfast`` keys -> :class:`~vidconv.models.slowfast.SlowFast` keys."""
    return _rename(state_dict, SLOWFAST_RULES, 0, "slowfast_from_pytorchvideo")


def slowfast_to_pytorchvideo(state_dict: Mapping[str, V]) -> dict[str, V]:
    """:class:`~vidconv.models.slowfast.SlowFast` keys -> pytorchvideo ``create_slowfast`` keys."""
    return _rename(state_dict, SLOWFAST_RULES, 1, "slowfast_to_pytorchvideo")


def x3d_from_pytorchvideo(state_dict: Mapping[str, V]) -> dict[str, V]:
    """pytorchvideo ``create_x3d`` keys -> :class:`~vidconv.models.x3d.X3D` keys."""
    return _rename(state_dict, X3D_RULES, 0, "x3d_from_pytorchvideo")


def x3d_to_pytorchvideo(state_dict: Mapping[str, V]) -> dict[str, V]:
    """:class:`~vidconv.models.x3d.X3D` keys -> pytorchvideo ``create_x3d`` keys."""
    return _rename(state_dict, X3D_RULES, 1, "x3d_to_pytorchvideo")
