"""Parameter and FLOP counts, measured rather than derived by hand.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``, which counts two FLOPs (a multiply and
an add) per multiply-accumulate. Much of the vision literature calls one multiply-add one "FLOP"
(He et al. 2016 write "FLOPs (multiply-adds)"; fvcore counts a multiply-add as one flop), and so
does the "GFLOPS" column of torchvision's model tables: those figures are multiply-accumulates
(MACs), half of what the counter reports — see :func:`count_macs`.

Measuring never changes the model: the pass runs in eval mode under ``torch.no_grad()`` and every
training flag is restored afterwards (:func:`vidconv.analysis._probe.measuring`).

To count a large model without computing anything, build it on the meta device
(``with torch.device("meta"): model = ...``); the input is created where the model's parameters are.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vidconv.analysis._probe import measuring, probe_input
from vidconv.utils.checks import check_shape


def _check_module(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    return model


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of scalar parameters (buffers such as batch-norm running statistics excluded)."""
    _check_module(model)
    return sum(
        p.numel()
        for p in model.parameters()
        if p.requires_grad or not trainable_only
    )


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass on an input of ``input_shape`` (2 per multiply-accumulate).

    The pass runs in eval mode and leaves the model as it was: same training flags, same buffers
    (a train-mode batch norm would otherwise move its running statistics).
    """
    _check_module(model)
    shape = check_shape(input_shape, "input_shape")
    x = probe_input(model, shape)
    counter = FlopCounterMode(display=False)
    try:
        with measuring(model), counter:
            model(x)
    except RuntimeError as err:
        raise ValueError(
            f"{type(model).__name__} cannot process an input of shape {shape}: {err}"
        ) from err
    return int(counter.get_total_flops())


def count_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass: the unit of torchvision's "GFLOPS" column."""
    return count_flops(model, input_shape) // 2
