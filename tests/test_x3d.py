"""X3D against pytorchvideo's create_x3d, against the paper's figures, and against bad input."""

from __future__ import annotations

import pytest
import torch
from _pytorchvideo import batch_norm_parameters, pytorchvideo_model, randomize

import vidconv
from vidconv.models import X3D, X3D_AXES, X3D_SIZES, X3DSize, x3d
from vidconv.models.pytorchvideo_keys import (
    x3d_from_pytorchvideo,
    x3d_to_pytorchvideo,
)
from vidconv.models.x3d import round_width

# X3D paper (Feichtenhofer, CVPR 2020), Table 3, and PySlowFast's MODEL_ZOO.md: GFLOPs for one clip of
# the model's own input (frames x crop^2), counted as multiply-adds (MACs: half of torch's FLOP counter),
# and millions of parameters. We count 0.6053, 1.9629, 4.7325 and 18.3677 GMACs: the paper's figures to
# its two decimals (XS's 0.605 is printed 0.60). The paper's parameter counts leave out batch norms' scale
# and shift (the model zoo's 3.8 / 6.2 M round the full counts, 3.79 / 6.15 M).
PAPER = {
    "xs": (0.60, 3.76),
    "s": (1.96, 3.76),
    "m": (4.73, 3.76),
    "l": (18.37, 6.08),
}


def reference(size: str, frames: int, crop: int):
    """pytorchvideo's X3D of ``size`` whose head pools exactly the final map of a ``frames x crop^2`` clip,
    returning logits (its default adds a softmax). Skips the test if pytorchvideo is missing."""
    return pytorchvideo_model("x3d").create_x3d(
        input_clip_length=frames,
        input_crop_size=crop,
        depth_factor=X3D_SIZES[size].depth_factor,
        head_activation=None,
    )


@pytest.mark.parametrize("size", sorted(X3D_SIZES))
def test_parameter_count_equals_pytorchvideo(size):
    spec = X3D_SIZES[size]
    with torch.device("meta"):
        ours, theirs = x3d(size), reference(size, spec.frames, spec.crop)
    assert vidconv.count_parameters(ours) == vidconv.count_parameters(theirs)
    assert (
        vidconv.count_parameters(ours)
        == {"xs": 3_794_274, "s": 3_794_274, "m": 3_794_274, "l": 6_153_384}[
            size
        ]
    )


@pytest.mark.parametrize(
    "size, crop", [("xs", 64), ("l", 32)]
)  # small: channel-wise 3D convs are slow on CPU
def test_state_dicts_load_both_ways_and_outputs_match(size, crop):
    torch.manual_seed(0)
    theirs = randomize(reference(size, 4, crop), seed=2)
    ours = x3d(size).eval()
    ours.load_state_dict(
        x3d_from_pytorchvideo(theirs.state_dict()), strict=True
    )
    x = torch.randn(2, 3, 4, crop, crop)  # (B, 3, T, H, W)
    with torch.no_grad():
        expected, got = theirs(x), ours(x)
    assert expected.abs().max() > 0.1
    assert (got - expected).abs().max() <= 1e-5
    with torch.no_grad():
        for tensor in theirs.state_dict().values():
            tensor.zero_()
    theirs.load_state_dict(x3d_to_pytorchvideo(ours.state_dict()), strict=True)
    with torch.no_grad():
        assert (theirs(x) - expected).abs().max() <= 1e-5


def test_key_mapping_is_a_bijection():
    with torch.device("meta"):
        theirs = reference("m", 16, 224).state_dict()
        ours = x3d("m").state_dict()
    assert set(x3d_from_pytorchvideo(theirs)) == set(ours)
    assert (
        x3d_to_pytorchvideo(x3d_from_pytorchvideo(theirs)).keys()
        == theirs.keys()
    )
    with pytest.raises(KeyError, match="no rule renames"):
        x3d_to_pytorchvideo({"blocks.0.conv.conv_t.weight": 0})


@pytest.mark.parametrize("size", sorted(PAPER))
def test_paper_figures(size):
    spec = X3D_SIZES[size]
    with torch.device("meta"):
        model = x3d(size)
    gmacs, mparams = PAPER[size]
    table = vidconv.summary(model, spec.input_shape, depth=1)
    macs = table.total_macs
    assert abs(macs / 1e9 - gmacs) < 0.006
    assert (
        table.total_flops
        == 2 * macs
        == 2 * vidconv.count_macs(model, spec.input_shape)
    )
    without_norms = table.total_parameters - batch_norm_parameters(model)
    assert (
        int(without_norms / 1e4) / 100 == mparams
    )  # the paper truncates: 6,087,120 -> 6.08


def test_sizes_share_one_network_until_l():
    with torch.device("meta"):
        shapes = {
            s: {k: v.shape for k, v in x3d(s).state_dict().items()}
            for s in X3D_SIZES
        }
    assert shapes["xs"] == shapes["s"] == shapes["m"] != shapes["l"]
    assert [X3D_SIZES[s].input_shape for s in ("xs", "s", "m", "l")] == [
        (1, 3, 4, 160, 160),
        (1, 3, 13, 160, 160),
        (1, 3, 16, 224, 224),
        (1, 3, 16, 312, 312),
    ]


def test_every_axis_is_a_size_field():
    assert set(X3D_AXES) == set(X3DSize.__dataclass_fields__)


def test_round_width_matches_the_released_widths():
    assert [round_width(w, 2.0) for w in (12, 24, 48, 96)] == [24, 48, 96, 192]
    assert (
        round_width(54, 1 / 16) == 8
    )  # squeeze-excitation width of the first block (minimum 8)
    assert round_width(10, 1.0) == 16  # 8 would be more than 10% below 10


def test_depth_and_width_factors_change_what_they_say():
    with torch.device("meta"):
        base, deep, wide = (
            x3d("xs"),
            x3d("xs", depth_factor=4.4),
            x3d("xs", width_factor=4.0),
        )
    assert [len(getattr(base, f"layer{i}")) for i in range(1, 5)] == [
        3,
        5,
        11,
        7,
    ]
    assert [len(getattr(deep, f"layer{i}")) for i in range(1, 5)] == [
        5,
        9,
        22,
        14,
    ]
    assert (
        wide.stem.spatial.out_channels
        == 2 * base.stem.spatial.out_channels
        == 48
    )


BAD = [
    (
        "unknown size",
        lambda: x3d("xl"),
        ValueError,
        r"size must be one of \['l', 'm', 's', 'xs'\].*got 'xl'",
    ),
    ("size not a string", lambda: x3d(3), ValueError, "size must be one of"),
    (
        "width factor 0",
        lambda: X3D(width_factor=0),
        ValueError,
        r"width_factor must be in \(0, inf\), got 0",
    ),
    (
        "depth factor as string",
        lambda: x3d("s", depth_factor="2"),
        TypeError,
        "depth_factor",
    ),
    (
        "num_classes 0",
        lambda: x3d(num_classes=0),
        ValueError,
        "num_classes must be >= 1",
    ),
]


@pytest.mark.parametrize("row", BAD, ids=[r[0] for r in BAD])
def test_bad_arguments(row):
    _, call, error, pattern = row
    with pytest.raises(error, match=pattern):
        call()


@pytest.mark.parametrize(
    "shape, pattern",
    [
        (
            (1, 1, 4, 32, 32),
            r"X3D expects 3 channels \(B, 3, T, H, W\), got shape \(1, 1, 4, 32, 32\)",
        ),
        ((1, 3, 32, 32), r"X3D input must have 5 dimensions"),
        ((0, 3, 4, 32, 32), "empty batch"),
    ],
)
def test_bad_clips(shape, pattern):
    with torch.device("meta"):
        model = x3d("xs").eval()
    with pytest.raises(ValueError, match=pattern):
        model(torch.zeros(shape, device="meta"))
