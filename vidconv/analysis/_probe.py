"""Measuring a model without changing it.

``count_flops``, ``summary``, ``temporal_extent`` and ``empirical_receptive_field`` all run a model on
a probe input. Two things are shared by them and live here, once:

* :func:`measuring` — eval mode for the measurement (batch norm must not update its running
  statistics, dropout must not drop), with every submodule's own training flag restored afterwards;
* :func:`probe_input` — a tensor on the model's device, in its floating dtype.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def measuring(model: nn.Module) -> Iterator[nn.Module]:
    """Run the body with ``model`` in eval mode and without autograd; restore every training flag after.

    Each submodule gets back its own flag (a model may be in train mode with a frozen, eval-mode
    backbone), so neither the mode nor any parameter or buffer is changed by measuring.
    """
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        for m, flag in flags:
            m.training = flag


def model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device of the model's first parameter or buffer, and its dtype if floating (float32 otherwise).

    A model without parameters or buffers is taken to live on the CPU.
    """
    for t in (*model.parameters(), *model.buffers()):
        dtype = t.dtype if t.is_floating_point() else torch.float32
        return t.device, dtype
    return torch.device("cpu"), torch.float32


def probe_input(
    model: nn.Module,
    shape: Sequence[int],
    *,
    fill: float = 0.0,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """A tensor of ``shape`` filled with ``fill``, where the model's parameters are."""
    device, model_dtype = model_device_dtype(model)
    return torch.full(
        tuple(shape), fill, device=device, dtype=dtype or model_dtype
    )
