"""pytorchvideo, the test-time reference for SlowFast and X3D (never a dependency of vidconv itself).

The tests that use it are skipped, with the reason, only when pytorchvideo is not installed; installed
but broken (say by a new torch) is a failure. Its import-time FutureWarning (``torch.jit.script`` is
deprecated, used by one of its layers) is silenced here and nowhere else. Only ``pytorchvideo.models`` is
used: ``pytorchvideo.transforms`` 0.1.5 imports ``torchvision.transforms.functional_tensor``, which
torchvision removed in 0.17, and fails to import with ours.
"""

from __future__ import annotations

import importlib.util
import warnings

import pytest
import torch
from torch import nn


def pytorchvideo_model(name: str):
    """``pytorchvideo.models.<name>``, or skip the calling test with the reason if pytorchvideo is missing."""
    if importlib.util.find_spec("pytorchvideo") is None:
        pytest.skip(
            "pytorchvideo is not installed: `pip install pytorchvideo==0.1.5 fvcore iopath` "
            "(pinned in requirements.txt) to check SlowFast and X3D against it"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return importlib.import_module(f"pytorchvideo.models.{name}")


def randomize(model: nn.Module, seed: int) -> nn.Module:
    """Random batch-norm statistics and affine parameters, and a classifier scaled so logits are O(1):
    eval outputs then depend on every tensor of the state dict, and a difference shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm3d):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(n, generator=gen) - 0.5)
            elif isinstance(m, nn.Linear):
                m.weight.copy_(
                    torch.randn(m.weight.shape, generator=gen)
                    / m.in_features**0.5
                )
    return model.eval()


def batch_norm_parameters(model: nn.Module) -> int:
    """Scale and shift of every batch norm: what the papers' parameter counts leave out."""
    return sum(
        p.numel()
        for m in model.modules()
        if isinstance(m, nn.BatchNorm3d)
        for p in m.parameters()
    )
