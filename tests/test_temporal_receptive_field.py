"""Theoretical temporal span (against path counting) and the effective temporal profile (zero outside it)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidconv.analysis.receptive_field import (
    empirical_receptive_field,
    layers_along_axis,
    receptive_field,
)
from vidconv.experiments.temporal.receptive_field import (
    CLIP_SIZES,
    TemporalProfile,
    frames_read,
    temporal_profile,
    theoretical_span,
    thick_present_table,
    video_trunk,
)
from vidconv.layers.inception import InceptionBlock3d
from vidconv.utils.device import one_cpu_thread


@pytest.fixture(autouse=True)
def one_thread():
    with one_cpu_thread(
        torch.device("cpu")
    ):  # tiny networks: threads only contend on a shared CPU
        yield


NETS = {
    "stride-1 chain": lambda: nn.Sequential(
        nn.Conv3d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv3d(2, 2, 3, padding=1)
    ),
    "pool 2 stride 2": lambda: nn.Sequential(
        nn.Conv3d(1, 2, 3, padding=1),
        nn.MaxPool3d((2, 1, 1), (2, 1, 1)),
        nn.Conv3d(2, 2, 3, padding=1),
    ),
    "I3D-like stem": lambda: nn.Sequential(
        nn.Conv3d(1, 2, 7, stride=2, padding=3),
        nn.MaxPool3d(3, 2, 1),
        nn.Conv3d(2, 2, 3, padding=1),
    ),
    "off-centre padding": lambda: nn.Sequential(
        nn.Conv3d(1, 2, (3, 1, 1)),
        nn.Conv3d(2, 2, (4, 1, 1), padding=(1, 0, 0)),
    ),
    "inception block": lambda: nn.Sequential(
        nn.Conv3d(1, 8, 3, stride=(2, 1, 1), padding=1),
        InceptionBlock3d(8, 2, 2, 2, 2, 2, 2),
        nn.MaxPool3d(2, 2),
        nn.Conv3d(8, 1, 1),
    ),  # output channel 0 mixes all four branches
}


@pytest.mark.parametrize("name", NETS)
@pytest.mark.parametrize("frames", [40, 41])
def test_theoretical_span_is_the_set_path_counting_reaches(name, frames):
    torch.manual_seed(0)
    net = NETS[name]().eval()
    size, jump, first, last, t = theoretical_span(net, (1, 1, frames, 8, 8))
    reached = empirical_receptive_field(
        net, (1, 1, frames, 8, 8)
    ).positions  # the centre unit, by gradient
    assert (first, last) == (reached[0], reached[-1])
    assert size == last - first + 1


@pytest.mark.parametrize("name", NETS)
def test_effective_profile_is_zero_outside_the_theoretical_span(name):
    torch.manual_seed(1)
    net = NETS[name]()
    p = temporal_profile(net, (1, 1, 48, 8, 8), draws=2, seed=3)
    assert len(p.profile) == 48 and sum(p.profile) == pytest.approx(1.0)
    outside = [v for t, v in enumerate(p.profile) if not p.first <= t <= p.last]
    assert outside and all(v == 0.0 for v in outside)
    assert p.reached(), "some frame inside the span must matter"
    assert set(p.reached()) <= set(range(p.first, p.last + 1))


def test_c3d_span_agrees_with_the_chain_formula_and_covers_more_than_its_clip():
    trunk = video_trunk("C3D")
    frames = CLIP_SIZES["C3D"][0]
    size, jump, first, last, _ = theoretical_span(trunk, (1, 3, frames, 32, 32))
    assert size == receptive_field(layers_along_axis(trunk, axis=0)) == 76
    assert jump == 16 and first < 0 and last >= frames


def test_profile_of_a_real_network_and_the_model_is_left_as_it_was():
    trunk = video_trunk("R(2+1)D-18").train()
    before = {k: v.clone() for k, v in trunk.state_dict().items()}
    p = temporal_profile(trunk, (1, 3, 16, 24, 24), draws=1)
    assert trunk.training and all(
        torch.equal(before[k], v) for k, v in trunk.state_dict().items()
    )
    assert all(
        v > 0 for v in p.profile
    )  # a 109-frame span covers the 16-frame clip
    assert 1 <= p.effective(0.9) <= 16


def test_effective_width_by_hand_and_the_table():
    p = TemporalProfile(6, (0.0, 0.05, 0.4, 0.45, 0.1, 0.0), 5, 1, 1, 5)
    assert (
        p.effective(0.85) == 2
        and p.effective(0.9) == 3
        and p.effective(1.0) == 4
    )
    assert p.reached() == (1, 2, 3, 4) and p.reached(0.2) == (2, 3)
    row = thick_present_table({"toy": p}, fps=25).rows[0]
    assert (
        row["theoretical RF"] == 5
        and row["effective RF (90 %)"] == 3
        and row["effective s"] == 0.12
    )


def test_unknown_network_and_a_network_without_a_time_axis():
    with pytest.raises(ValueError, match="name must be one of"):
        video_trunk("VGG")
    flat = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.Flatten())
    with pytest.raises(ValueError, match=r"\(B, C, T, H, W\)"):
        temporal_profile(flat, (1, 1, 8, 4, 4))


def test_frames_read_by_a_centred_and_a_causal_layer():
    from vidconv.temporal.thick_present import PhenomenologicalConv3D

    assert frames_read(nn.Conv3d(2, 2, (3, 3, 3), padding=1), 2) == (
        16,
        (-1, 0, 1),
    )
    assert frames_read(
        nn.Conv3d(2, 2, (4, 3, 3), padding=(2, 1, 1)), 2, frames=10
    ) == (11, (-2, -1, 0, 1))
    assert frames_read(PhenomenologicalConv3D(2, 2, 2, 0), 2) == (
        16,
        (-2, -1, 0),
    )
    with pytest.raises(ValueError, match="t must be"):
        frames_read(nn.Conv3d(2, 2, 1), 2, frames=4, t=4)
