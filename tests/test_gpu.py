"""The GPU paths of the performance chapter: bf16 autocast and
``channels_last_3d``. Skipped without CUDA (CI has none); run where a GPU
is, with ``pytest -m gpu``."""

from __future__ import annotations

import copy

import pytest
import torch

from vidconv.experiments.performance import RECIPES, recipe_grid
from vidconv.models import r2plus1d_18

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def small_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return r2plus1d_18(num_classes=4).cuda().eval()


def test_channels_last_3d_gives_the_same_outputs(monkeypatch):
    model = small_model()
    x = torch.randn(2, 3, 8, 64, 64, device="cuda")
    # compare layouts, not precisions
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    with torch.no_grad():
        dense = model(x)
        last = copy.deepcopy(model).to(memory_format=torch.channels_last_3d)(
            x.contiguous(memory_format=torch.channels_last_3d)
        )
    torch.testing.assert_close(last, dense, rtol=1e-4, atol=1e-4)


def test_bf16_autocast_is_close_and_runs_in_bfloat16():
    model = small_model()
    x = torch.randn(2, 3, 8, 64, 64, device="cuda")
    with torch.no_grad():
        full = model(x)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            half = model(x)
    assert half.dtype == torch.bfloat16
    scale = full.abs().max()
    assert (half.float() - full).abs().max() <= 0.05 * scale


def test_recipe_grid_on_the_gpu_saves_less_in_bf16():
    table = recipe_grid(
        lambda: r2plus1d_18(num_classes=4),
        (2, 3, 8, 64, 64),
        device="cuda",
        recipes=RECIPES[:3],
        repeats=2,
    )
    rows = {r["recipe"]: r for r in table.rows}
    assert rows["bf16 autocast"]["saved MiB"] < rows["fp32 eager"]["saved MiB"]
    assert all(r["ms / step"] > 0 for r in table.rows)
