"""Where should time be modelled? The mixed-convolution family of Tran et al.
(CVPR 2018, section 3).

An 18-layer video ResNet has five groups of convolutions: conv1 (the stem) and
conv2_x to conv5_x (``layer1`` to ``layer4``). Each group either has temporal
kernels ("3D": 3x7x7 stem, 3x3x3 convs) or not ("2D": 1x7x7 stem, 1x3x3 convs,
every frame filtered alone). The paper's members:

=========  =====================================================================
member     groups with temporal kernels (1 = conv1 ... 5 = conv5_x)
=========  =====================================================================
R3D        all five
MCx        1 .. x-1, 2D from group x on (x = 2..5); MC3 is torchvision's
           ``mc3_18``
rMCx       x .. 5, 2D below group x ("reversed")
f-R2D      none: a 2D ResNet on every frame, time averaged away at the end
           (the paper's "MC1")
R2D        none after conv1, whose single 2D conv reads the clip's L frames
           stacked as 3L channels
=========  =====================================================================

A 2D group never strides time (torchvision's ``Conv3dNoTemporal``); a 3D group
strides time with space. Every member is a
:class:`~vidconv.models.resnet.VideoResNet`, so ``widths`` and ``layers`` give
CPU-sized miniatures of the same layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from torch import nn

from vidconv.layers.blocks import Conv3dNoTemporal, FullConv3d
from vidconv.models.resnet import BasicBlock, BasicStem, Bottleneck, VideoResNet
from vidconv.utils.checks import (
    check_bool,
    check_int,
    check_int_sequence,
    check_like,
    check_positive_int,
)

#: The members, from no temporal kernel to temporal kernels everywhere.
MIXED_MEMBERS = (
    "f-R2D",
    "R2D",
    "MC2",
    "MC3",
    "MC4",
    "MC5",
    "rMC2",
    "rMC3",
    "rMC4",
    "rMC5",
    "R3D",
)


def temporal_groups(member: str) -> tuple[bool, bool, bool, bool, bool]:
    """Which of the five groups (conv1, conv2_x, ..., conv5_x) of ``member``
    have temporal kernels.

    R2D's conv1 reads all frames at once as channels, yet is listed ``False``:
    it has no kernel that slides along time (see :class:`StackedFramesStem`).
    """
    if not isinstance(member, str):
        raise TypeError(
            f"member must be a string, one of {MIXED_MEMBERS}, "
            f"got {type(member).__name__}"
        )
    if member not in MIXED_MEMBERS:
        raise ValueError(
            f"member must be one of {MIXED_MEMBERS}, got {member!r}"
        )
    if member == "R3D":
        return (True,) * 5
    if member in ("f-R2D", "R2D"):
        return (False,) * 5
    x = int(member[-1])
    groups = tuple(g < x - 1 for g in range(5))  # MCx: groups 1 .. x-1 are 3D
    if member.startswith("r"):  # rMCx: the complement, groups x .. 5
        groups = tuple(not g for g in groups)
    return groups  # type: ignore[return-value]


class FrameStem(BasicStem):
    """f-R2D's and rMCx's stem: :class:`~vidconv.models.resnet.BasicStem` with a
    1x7x7 conv (each frame alone)."""

    def __init__(self, out_channels: int = 64) -> None:
        super().__init__(out_channels, temporal_kernel_size=1)


class StackedFramesStem(nn.Sequential):
    """R2D's stem: one 2D 7x7 conv over the clip's ``frames`` frames stacked as
    ``3 * frames`` channels.

    Written as a ``frames x 7 x 7`` Conv3d without temporal padding, which
    computes exactly that 2D conv (the kernel covers every frame at once) and
    leaves a single time step: every later layer is 2D. It takes clips of
    exactly ``frames`` frames.
    """

    def __init__(self, frames: int, out_channels: int = 64) -> None:
        self.frames = check_positive_int(frames, "frames")
        check_positive_int(out_channels, "out_channels")
        super().__init__(
            nn.Conv3d(
                3,
                out_channels,
                (frames, 7, 7),
                stride=(1, 2, 2),
                padding=(0, 3, 3),
                bias=False,
            ),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.dim() == 5 and x.shape[2] != self.frames:
            raise ValueError(
                f"R2D's stem stacks exactly {self.frames} frames as channels: "
                f"expected (B, 3, {self.frames}, H, W), "
                f"got shape {tuple(x.shape)}"
            )
        return super().forward(x)  # (B, C, 1, H/2, W/2)


def mixed_resnet(
    member: str,
    *,
    frames: int | None = None,
    layers: Sequence[int] = (2, 2, 2, 2),
    widths: Sequence[int] = (64, 128, 256, 512),
    num_classes: int = 400,
    bottleneck: bool = False,
    **kwargs: Any,
) -> VideoResNet:
    """One member of the mixed-convolution family as a :class:`VideoResNet`
    (18 layers by default).

    Args:
        member: one of :data:`MIXED_MEMBERS`.
        frames: clip length; required for R2D (its first conv stacks exactly
            that many frames), refused for the others, which take any length.
        layers, widths, num_classes: as for :class:`VideoResNet`; the defaults
            are the 18-layer published size, and ``mixed_resnet("MC3")`` then
            has torchvision ``mc3_18``'s modules.
        bottleneck: bottleneck blocks (deeper members) instead of basic ones.
        kwargs: passed to :class:`VideoResNet` (``zero_init_residual``).
    """
    groups = temporal_groups(member)
    check_bool(bottleneck, "bottleneck")
    check_int_sequence(widths, "widths", length=4, minimum=1)
    if member == "R2D":
        if frames is None:
            raise ValueError(
                "R2D stacks the clip's frames as channels: "
                "pass frames= (the clip length)"
            )
        frames = check_int(frames, "frames", minimum=1)
        stem = partial(StackedFramesStem, frames, widths[0])
    elif frames is not None:
        raise ValueError(
            f"frames= is only for R2D; {member} takes clips of any length, "
            f"got frames={frames!r}"
        )
    else:
        stem = partial(BasicStem if groups[0] else FrameStem, widths[0])
    builders = [FullConv3d if g else Conv3dNoTemporal for g in groups[1:]]
    model = VideoResNet(
        Bottleneck if bottleneck else BasicBlock,
        builders,
        layers,
        stem,
        num_classes=num_classes,
        widths=widths,
        **kwargs,
    )
    model.member = member
    return model


def temporal_kernel_depths(model: nn.Module) -> dict[str, int]:
    """The temporal kernel size of every Conv3d of ``model`` whose kernel is
    wider than 1x1 in space, by module name: what a test or a reader checks to
    see where a member models time."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    return {
        name: m.kernel_size[0]
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv3d) and m.kernel_size[1:] != (1, 1)
    }


def stacked_frames_conv2d(
    stem: StackedFramesStem, x: torch.Tensor
) -> torch.Tensor:
    """R2D's first conv computed as the paper writes it: a Conv2d over
    ``(B, 3L, H, W)`` with the stem's weights. Returns ``(B, C, 1, H', W')``,
    equal to ``stem[0](x)``."""
    if not isinstance(stem, StackedFramesStem):
        raise TypeError(
            f"stem must be a StackedFramesStem, got {type(stem).__name__}"
        )
    conv = stem[0]
    if (
        not isinstance(x, torch.Tensor)
        or x.dim() != 5
        or x.shape[1:3] != (3, stem.frames)
    ):
        got = (
            tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        )
        raise ValueError(
            f"x must be a clip (B, 3, {stem.frames}, H, W), got {got}"
        )
    check_like(x, "x", conv.weight, "the stem")
    b, c, t, h, w = x.shape
    stacked = x.reshape(
        b, c * t, h, w
    )  # (B, 3L, H, W): channel c of frame t at c*L + t
    weight = conv.weight.reshape(
        conv.out_channels, c * t, *conv.kernel_size[1:]
    )  # (C, 3L, 7, 7)
    out = nn.functional.conv2d(
        stacked, weight, stride=conv.stride[1:], padding=conv.padding[1:]
    )
    return out.unsqueeze(2)  # (B, C, 1, H', W')
