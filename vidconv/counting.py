"""Parameter and FLOP counts, measured rather than derived by hand.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``, which counts two FLOPs (a multiply and
an add) per multiply-accumulate. The "GFLOPS" column in torchvision's model tables counts
multiply-accumulates (MACs), so it is half of what the counter reports: see :func:`count_macs`.

To count a large model without computing anything, build it on the meta device
(``with torch.device("meta"): model = ...``); the input is created where the model's parameters are.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vidconv._checks import check_shape


def _check_module(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return model


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of scalar parameters (buffers such as batch-norm running statistics excluded)."""
    _check_module(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass on an input of ``input_shape`` (2 per multiply-accumulate)."""
    _check_module(model)
    shape = check_shape(input_shape, "input_shape")
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    x = torch.zeros(shape, device=device, dtype=dtype)
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            model(x)
    except RuntimeError as err:
        raise ValueError(f"{type(model).__name__} cannot process an input of shape {shape}: {err}") from err
    return int(counter.get_total_flops())


def count_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass: the unit of torchvision's "GFLOPS" column."""
    return count_flops(model, input_shape) // 2
