"""Chapter 11's experiments: SlowFast's pathways in miniature, X3D's expansion axes."""

from __future__ import annotations

import pytest
import torch

import vidconv
from vidconv.experiments import (
    EXPANSION_STEPS,
    PUBLISHED,
    MiniSlowFast,
    colour_motion_clips,
    pathways_experiment,
    published_vs_measured,
    x3d_expansion,
)
from vidconv.experiments.small_run import SmallRun
from vidconv.models import X3D_SIZES, x3d


def test_the_slow_frame_rate_aliases_the_motion_and_grey_hides_the_colour():
    clips, labels = colour_motion_clips(
        32, frames=8, positions=4, noise=0.0, seed=3
    ).tensors
    slow = clips[:, :, ::4]  # (N, 3, 2, H, W): what the Slow pathway sees
    assert torch.equal(
        slow[:, :, 0], slow[:, :, 1]
    )  # the blob is back in place: no direction left
    assert not torch.equal(
        clips[:, :, 0], clips[:, :, 1]
    )  # while every frame moves it
    # One colour channel carries the blob, the one the label says; so the grey mean is the same blob/3
    # whichever the colour, and grey clips of both colours are drawn from one distribution.
    lit = clips.flatten(2).amax(dim=2) > 0  # (N, 3)
    assert torch.equal(lit[:, 0], labels // 2 == 0) and torch.equal(
        lit[:, 1], labels // 2 == 1
    )
    assert not lit[:, 2].any()
    assert torch.equal(
        colour_motion_clips(4, seed=3).tensors[0],
        colour_motion_clips(4, seed=3).tensors[0],
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_both_pathways_beat_each_alone(seed):
    result = pathways_experiment(seed=seed)
    acc = result.accuracy
    assert acc["both"] >= 0.9
    assert (
        acc["both"] >= acc["slow only"] + 0.3
        and acc["both"] >= acc["fast only"] + 0.3
    )
    assert (
        max(acc["slow only"], acc["fast only"]) <= 0.65
    )  # each alone: one factor of two, then a guess
    assert result.chance == 0.25
    assert (
        len({row["parameters"] for row in result.table.rows}) == 1
    )  # the same network three times


def test_mini_slowfast_blanks_the_pathway_it_is_told_to():
    torch.manual_seed(0)
    clip = torch.rand(2, 3, 8, 16, 16)
    seen = {}
    for variant in ("both", "slow only", "fast only"):
        model = MiniSlowFast(variant).eval()
        model.net.register_forward_pre_hook(
            lambda _, args, v=variant: seen.__setitem__(v, args[0])
        )
        with torch.no_grad():
            assert model(clip).shape == (2, 4)
    assert not seen["slow only"][1].any() and seen["slow only"][0].any()
    assert not seen["fast only"][0].any() and seen["fast only"][1].any()
    grey = seen["both"][1]
    assert torch.equal(grey[:, 0], grey[:, 2]) and torch.allclose(
        grey[:, 0], clip.mean(dim=1)
    )
    with pytest.raises(ValueError, match="pathways must be one of"):
        MiniSlowFast("neither")


def test_x3d_cost_grows_along_every_axis_and_parameters_only_with_the_network():
    result = x3d_expansion(2)
    assert list(result.curves) == list(EXPANSION_STEPS)
    spec = X3D_SIZES["xs"]
    with torch.device("meta"):
        base_macs = vidconv.count_macs(x3d("xs"), spec.input_shape)
    for axis, rows in result.curves.items():
        gmacs = [row["GMACs"] for row in rows]
        params = [row["M params"] for row in rows]
        assert rows[0]["GMACs"] == round(base_macs / 1e9, 3)
        assert all(b > a for a, b in zip(gmacs, gmacs[1:])), axis
        if axis in ("frames", "crop"):
            assert (
                len(set(params)) == 1
            )  # the input grows, the network does not
        else:
            assert all(b > a for a, b in zip(params, params[1:])), axis
    # Doubling the frames doubles the cost (no temporal striding anywhere in X3D)
    frames = result.curves["frames"]
    assert frames[1]["GMACs"] / frames[0]["GMACs"] == pytest.approx(
        2.0, rel=1e-3
    )
    # and width costs more per step than depth does
    assert (
        result.curves["width_factor"][1]["GMACs"]
        > result.curves["depth_factor"][1]["GMACs"]
    )


def unit(printed: str) -> float:
    """One unit of a figure's last printed digit: "0.60" -> 0.01, "65.7" -> 0.1."""
    return 10.0 ** -len(printed.partition(".")[2])


def test_published_figures_agree_to_their_last_printed_digit():
    rows = published_vs_measured().rows
    assert [row["model"] for row in rows] == [p[0] for p in PUBLISHED]
    for row in rows:
        quoted_gflops, quoted_params = (
            row["quoted GFLOPs (MACs)"],
            row["quoted M params"],
        )
        assert abs(row["our GMACs"] - float(quoted_gflops)) <= unit(
            quoted_gflops
        ), row["model"]
        assert row["our GFLOPs (2 per MAC)"] == pytest.approx(
            2 * row["our GMACs"], abs=2e-3
        )
        ours = (
            row["ours without BN"]
            if row["model"].startswith("X3D")
            else row["our M params"]
        )
        assert abs(ours - float(quoted_params)) <= unit(quoted_params), row[
            "model"
        ]
    # X3D's full counts are what the paper's table does not show: 3.79 and 6.15 M
    assert [row["our M params"] for row in rows[1:]] == [
        3.794,
        3.794,
        3.794,
        6.153,
    ]


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (
            lambda: x3d_expansion(axes=["height"]),
            ValueError,
            "axes must be a non-empty list drawn from",
        ),
        (lambda: x3d_expansion(-1), ValueError, "steps must be >= 0"),
        (lambda: x3d_expansion(base="xxl"), ValueError, "base must be one of"),
        (
            lambda: pathways_experiment(frames=6),
            ValueError,
            "frames must be a multiple of alpha=4",
        ),
        (
            lambda: pathways_experiment(SmallRun(epochs=0)),
            ValueError,
            "epochs must be >= 1",
        ),
        (lambda: colour_motion_clips(0), ValueError, "num_clips must be >= 1"),
    ],
)
def test_bad_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
