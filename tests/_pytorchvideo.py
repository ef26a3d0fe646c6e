"""pytorchvideo, the test-time reference for SlowFast and X3D (never a dependency of vidconv itself).

Importing it is skipped with the reason when it is missing; its import-time FutureWarning
(``torch.jit.script`` is deprecated, used by one of its layers) is silenced here and nowhere else.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    pv_slowfast = pytest.importorskip(
        "pytorchvideo.models.slowfast", reason="pytorchvideo==0.1.5 (requirements.txt) is the reference for SlowFast")
    pv_x3d = pytest.importorskip(
        "pytorchvideo.models.x3d", reason="pytorchvideo==0.1.5 (requirements.txt) is the reference for X3D")


def randomise(model: nn.Module, seed: int) -> nn.Module:
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
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) / m.in_features ** 0.5)
    return model.eval()


def batch_norm_parameters(model: nn.Module) -> int:
    """Scale and shift of every batch norm: what the papers' parameter counts leave out."""
    return sum(p.numel() for m in model.modules() if isinstance(m, nn.BatchNorm3d) for p in m.parameters())
