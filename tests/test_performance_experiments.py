"""Chapter 8's experiments: exact quantities and equalities only (timings are never asserted)."""

import pytest
import torch
from torch import nn

from vidconv.experiments.performance import (
    conv_intensity,
    grouped_vs_dense,
    guide_estimate_bytes,
    matmul_throughput,
    memory_scaling,
    recipe_grid,
)
from vidconv.experiments.r2plus1d.vs_r3d import miniature
from vidconv.models.resnet import BasicBlock


def tiny():
    return miniature("R(2+1)D", (4, 8, 16, 32))


def test_guide_estimate_is_the_input_bytes():
    assert (
        guide_estimate_bytes((8, 3, 16, 112, 112)) == 8 * 3 * 16 * 112 * 112 * 4
    )
    assert guide_estimate_bytes((1, 3, 2, 2, 2), torch.bfloat16) == 24 * 2


def test_memory_scaling_follows_the_per_voxel_law():
    t = memory_scaling(
        tiny,
        [
            (1, 3, 8, 32, 32),
            (2, 3, 8, 32, 32),
            (1, 3, 16, 32, 32),
            (1, 3, 8, 64, 64),
        ],
    )
    per_voxel = [r["bytes per voxel"] for r in t.rows]
    assert max(per_voxel) - min(per_voxel) < 0.01 * min(per_voxel)
    assert t.rows[1]["saved MiB"] == pytest.approx(
        2 * t.rows[0]["saved MiB"], rel=0.01
    )


def test_recipe_grid_memory_effects_on_cpu():
    t = recipe_grid(
        tiny,
        (2, 3, 8, 16, 16),
        device="cpu",
        block_types=(BasicBlock,),
        repeats=1,
    )
    rows = {r["recipe"]: r for r in t.rows}
    assert rows["fp32 eager"]["memory ratio"] == 1
    assert rows["checkpointing"]["saved MiB"] < rows["fp32 eager"]["saved MiB"]
    assert rows["bf16 autocast"]["saved MiB"] < rows["fp32 eager"]["saved MiB"]
    assert (
        rows["channels_last_3d"]["saved MiB"] == rows["fp32 eager"]["saved MiB"]
    )


def test_grouped_vs_dense_flops():
    t = grouped_vs_dense(8, (1, 4, 6, 6), device="cpu", repeats=1)
    rows = {(r["layout"], r["conv"]): r for r in t.rows}
    dense = rows[("contiguous", "dense 3x3x3")]["forward MFLOPs"] * 1e6
    assert dense == pytest.approx(2 * 8 * 8 * 27 * 4 * 36, rel=1e-3)
    assert rows[("contiguous", "depthwise 3x3x3")][
        "FLOPs / dense"
    ] == pytest.approx(1 / 8, rel=0.01)


def test_conv_intensity_exact():
    model = nn.Sequential(nn.Conv3d(2, 4, 3, padding=1, bias=False))
    row = conv_intensity(model, (1, 2, 4, 5, 5)).rows[0]
    flops = 2 * 4 * 100 * 2 * 27
    moved = 4 * (2 * 100 + 4 * 2 * 27 + 4 * 100)
    assert row["MFLOPs"] == round(flops / 1e6, 2) and row[
        "FLOP / byte"
    ] == round(flops / moved, 1)


def test_matmul_throughput_positive():
    assert matmul_throughput("cpu", n=64, repeats=1) > 0


def test_bad_input():
    with pytest.raises(ValueError, match="recipes must be"):
        recipe_grid(tiny, (2, 3, 8, 16, 16), device="cpu", recipes=("fast",))
    with pytest.raises(ValueError, match="needs block_types"):
        recipe_grid(
            tiny, (2, 3, 8, 16, 16), device="cpu", recipes=("checkpointing",)
        )
    with pytest.raises(ValueError, match="5 entries"):
        memory_scaling(tiny, [(1, 3, 8, 32)])
    with pytest.raises(TypeError, match="build must be a callable"):
        memory_scaling("r3d", [(1, 3, 8, 32, 32)])
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        conv_intensity("r3d", (1, 3, 8, 32, 32))
    with pytest.raises(TypeError, match="channels must be an int"):
        grouped_vs_dense(8.0, (1, 4, 6, 6), device="cpu")


def test_gpu_recipes_help_documents_the_script():
    import pathlib
    import subprocess
    import sys

    script = (
        pathlib.Path(__file__).resolve().parents[1]
        / "benchmarks"
        / "gpu_recipes.py"
    )
    out = subprocess.run(
        [sys.executable, str(script), "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for word in ("JSON", "--out", "--recipes", "MFU", "fp32 eager"):
        assert word in out
