"""The mixed-convolution family: each member's temporal kernels sit where its name says; MC3 is mc3_18."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models import video as tv

from vidconv.models import mc3_18
from vidconv.models.mixed import (
    MIXED_MEMBERS,
    StackedFramesStem,
    mixed_resnet,
    stacked_frames_conv2d,
    temporal_groups,
    temporal_kernel_depths,
)

GROUPS = {"stem": 0, "layer1": 1, "layer2": 2, "layer3": 3, "layer4": 4}


def groups_of(model):
    """Measured: does any spatial conv of each group have a temporal kernel > 1?"""
    found = [set() for _ in range(5)]
    for name, k_t in temporal_kernel_depths(model).items():
        found[GROUPS[name.split(".")[0]]].add(k_t)
    return found


@pytest.mark.parametrize("member", [m for m in MIXED_MEMBERS if m != "R2D"])
def test_each_member_has_temporal_kernels_exactly_where_asked(member):
    model = mixed_resnet(
        member, layers=(1, 1, 1, 1), widths=(4, 4, 4, 4), num_classes=2
    )
    expected = {
        "R3D": "33333",
        "f-R2D": "22222",
        "MC2": "32222",
        "MC3": "33222",
        "MC4": "33322",
        "MC5": "33332",
        "rMC2": "23333",
        "rMC3": "22333",
        "rMC4": "22233",
        "rMC5": "22223",
    }[member]
    assert (
        "".join("3" if g else "2" for g in temporal_groups(member)) == expected
    )
    for found, want in zip(groups_of(model), expected):
        assert found == ({3} if want == "3" else {1})


def test_mc3_is_mc3_18_and_matches_torchvision():
    torch.manual_seed(0)
    theirs = tv.mc3_18().eval()
    ours = mixed_resnet("MC3").eval()
    assert (
        list(ours.state_dict())
        == list(mc3_18().state_dict())
        == list(theirs.state_dict())
    )
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert (ours(x) - theirs(x)).abs().max().item() <= 1e-5


def test_r3d_member_has_r3d_18_layout():
    assert list(mixed_resnet("R3D").state_dict()) == list(
        tv.r3d_18().state_dict()
    )


def test_f_r2d_ignores_frame_order_and_others_do_not():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 16, 16)
    order = torch.randperm(8)
    for member, blind in [("f-R2D", True), ("MC2", False), ("rMC5", False)]:
        model = mixed_resnet(
            member, layers=(1, 1, 1, 1), widths=(4, 8, 8, 8), num_classes=3
        ).eval()
        with torch.no_grad():
            same = torch.allclose(model(x), model(x[:, :, order]), atol=1e-6)
        assert same == blind, member


def test_r2d_stem_is_a_2d_conv_over_stacked_frames():
    torch.manual_seed(0)
    model = mixed_resnet(
        "R2D", frames=6, layers=(1, 1, 1, 1), widths=(4, 4, 4, 4), num_classes=2
    ).eval()
    stem = model.stem
    assert isinstance(stem, StackedFramesStem) and stem[0].kernel_size == (
        6,
        7,
        7,
    )
    x = torch.randn(2, 3, 6, 20, 20, dtype=torch.float64)
    stem.double()
    ref = nn.functional.conv3d(
        x, stem[0].weight, stride=(1, 2, 2), padding=(0, 3, 3)
    )
    assert torch.allclose(stacked_frames_conv2d(stem, x), ref, atol=1e-12)
    assert ref.shape[2] == 1  # a single time step: every later layer is 2D
    with pytest.raises(
        ValueError, match=r"exactly 6 frames.*\(2, 3, 5, 20, 20\)"
    ):
        stem(x[:, :, :5])


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: mixed_resnet("MC6"), ValueError, "member must be one of"),
        (lambda: mixed_resnet(3), TypeError, "member must be a string"),
        (lambda: mixed_resnet("R2D"), ValueError, "pass frames="),
        (
            lambda: mixed_resnet("MC3", frames=8),
            ValueError,
            "frames= is only for R2D",
        ),
        (
            lambda: mixed_resnet("R2D", frames=0),
            ValueError,
            "frames must be >= 1",
        ),
        (
            lambda: mixed_resnet("MC3", widths=(8, 8)),
            ValueError,
            "widths must be a sequence of 4 ints",
        ),
        (
            lambda: mixed_resnet("MC3", bottleneck=1),
            TypeError,
            "bottleneck must be True or False",
        ),
        (
            lambda: temporal_kernel_depths("x"),
            TypeError,
            "model must be an nn.Module",
        ),
        (
            lambda: stacked_frames_conv2d(nn.Conv3d(3, 3, 1), torch.zeros(1)),
            TypeError,
            "StackedFramesStem",
        ),
        (
            lambda: stacked_frames_conv2d(
                StackedFramesStem(4, 8), torch.zeros(1, 3, 5, 8, 8)
            ),
            ValueError,
            r"\(B, 3, 4, H, W\)",
        ),
    ],
)
def test_bad_input_is_refused_with_a_message(call, error, message):
    with pytest.raises(error, match=message):
        call()
