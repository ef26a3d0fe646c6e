"""Receptive fields of stacked convolutions and pooling layers, by formula and
by measurement.

Along one axis (time, say), a stack of layers with kernel ``k_l``, stride
``s_l`` and dilation ``d_l`` gives one output unit a receptive field spanning

    R = 1 + sum_l (k_l - 1) * d_l * prod_{j<l} s_j

input samples: each layer widens the window by its own kernel span
``(k_l - 1) * d_l``, measured in the units of its input, and one step there is
``prod_{j<l} s_j`` input samples. The stride of a layer itself does not widen
its own window; it widens every window above it.

The span is not always filled: dilation, or a stride larger than the kernel,
leaves input samples inside the span that no path reaches.
:func:`frames_reached` lists the samples that are reached and
:func:`empirical_receptive_field` measures them with autograd on a real network.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vidconv.analysis._path_counting import path_counting_copy
from vidconv.analysis._probe import probe_input
from vidconv.utils.checks import (
    check_int,
    check_int_sequence,
    check_positive_int,
    check_shape,
)

MAX_UNITS_LISTED = (
    2**22
)  # frames_reached refuses stacks whose levels would list more units than this


@dataclass(frozen=True)
class AxisLayer:
    """One layer's geometry along a single axis: kernel size ``k``, stride
    ``s``, dilation ``d``."""

    kernel_size: int
    stride: int = 1
    dilation: int = 1

    def __post_init__(self) -> None:
        check_positive_int(self.kernel_size, "kernel_size")
        check_positive_int(self.stride, "stride")
        check_positive_int(self.dilation, "dilation")


LayerLike = AxisLayer | tuple[int, ...]


def _as_layers(layers: Iterable[LayerLike]) -> list[AxisLayer]:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Iterable):
        raise TypeError(
            "layers must be a sequence of AxisLayer or (kernel_size, stride, "
            f"dilation) tuples, got {type(layers).__name__}"
        )
    out = []
    for i, layer in enumerate(layers):
        if isinstance(layer, AxisLayer):
            out.append(layer)
        elif isinstance(layer, tuple) and 1 <= len(layer) <= 3:
            out.append(AxisLayer(*layer))
        else:
            raise TypeError(
                f"layer {i} must be an AxisLayer or a "
                "(kernel_size[, stride[, dilation]]) tuple, "
                f"got {layer!r}"
            )
    return out


def extend_field(
    size: int, jump: int, kernel_size: int, stride: int = 1, dilation: int = 1
) -> tuple[int, int]:
    """One step of the recurrence: the field and jump of a layer's output from
    those of its input.

    The layer widens the field by its kernel span ``(k - 1) * d`` in units of
    its input, one of which is ``jump`` input samples; its own stride multiplies
    the jump of everything above it. This is the only place vidconv writes the
    rule (:mod:`vidconv.analysis.model_summary` applies it per axis).
    """
    return size + (kernel_size - 1) * dilation * jump, jump * stride


def _walk(layers: Iterable[LayerLike]) -> list[tuple[AxisLayer, int, int]]:
    """Each layer with the receptive field and cumulative stride of its output
    units."""
    size, jump, out = 1, 1, []
    for layer in _as_layers(layers):
        size, jump = extend_field(
            size, jump, layer.kernel_size, layer.stride, layer.dilation
        )
        out.append((layer, size, jump))
    return out


def receptive_field(layers: Iterable[LayerLike]) -> int:
    """Span, in input samples, of one output unit of the stack (the formula
    in the module docstring)."""
    walked = _walk(layers)
    return walked[-1][1] if walked else 1


def cumulative_stride(layers: Iterable[LayerLike]) -> int:
    """Input samples between neighbouring output units: the product of all
    strides."""
    walked = _walk(layers)
    return walked[-1][2] if walked else 1


def receptive_field_table(layers: Iterable[LayerLike]) -> list[dict[str, int]]:
    """Per layer: its geometry, the receptive field of its output units and
    their cumulative stride."""
    return [
        {
            "layer": i,
            "kernel_size": layer.kernel_size,
            "stride": layer.stride,
            "dilation": layer.dilation,
            "receptive_field": size,
            "cumulative_stride": jump,
        }
        for i, (layer, size, jump) in enumerate(_walk(layers), start=1)
    ]


def frames_reached(layers: Iterable[LayerLike]) -> list[list[int]]:
    """Which units of every level feed output unit 0 of the top layer (no
    padding, unbounded input).

    Returns one sorted index list per level, from the input (level 0) to the
    output (level L). Output unit ``j`` of a layer reads its input units
    ``j*stride + i*dilation`` for ``i < kernel_size``.
    """
    stack = _as_layers(layers)
    # The span of every level, from the output down: it bounds the level's
    # list.
    spans, span, total = [1], 1, 1
    for layer in reversed(stack):
        span = (
            (span - 1) * layer.stride
            + (layer.kernel_size - 1) * layer.dilation
            + 1
        )
        spans.append(span)
        total += span
        if total > MAX_UNITS_LISTED:
            raise ValueError(
                "frames_reached lists every unit of every level, "
                f"and these {len(stack)} layers would need more than "
                f"{MAX_UNITS_LISTED} (the input level alone spans {span} "
                f"frames at the {len(spans) - 1}th layer from the top); "
                "use receptive_field() for the span, or fewer or smaller layers"
            )
    levels = [[0]]  # from the output down
    for layer, width in zip(reversed(stack), spans[1:]):
        levels.append(_units_below(levels[-1], layer, width))
    return levels[::-1]


def _units_below(units: list[int], layer: AxisLayer, width: int) -> list[int]:
    """Sorted input units of ``layer`` that its output ``units`` read; all lie
    in ``range(width)``.

    Unit j reads j*stride + i*dilation for i < kernel. Enumerating those is
    cheap when the runs overlap little; otherwise mark where each run starts
    (+1) and ends (-1) in its residue class modulo the dilation, and a running
    sum along each class is > 0 exactly at the reached units: O(width + units).
    """
    k, s, d = layer.kernel_size, layer.stride, layer.dilation
    if len(units) * k <= 4 * width + 64:
        return sorted({j * s + i * d for j in units for i in range(k)})
    rows = -(-(width + k * d) // d)
    marks = np.zeros(rows * d, dtype=np.int64)
    starts = np.asarray(units, dtype=np.int64) * s
    np.add.at(marks, starts, 1)
    np.add.at(marks, starts + k * d, -1)
    reached = (
        marks.reshape(rows, d).cumsum(axis=0).reshape(-1)[:width] > 0
    )  # (width,)
    return np.flatnonzero(reached).tolist()


def temporal_stack(
    layers: Iterable[LayerLike], channels: int = 1
) -> nn.Sequential:
    """A network of ``Conv3d`` layers that act along time only: kernel size
    ``(k, 1, 1)`` for each layer.

    Its temporal receptive field is that of ``layers``, so it lets a gradient
    check any formula for them.
    """
    channels = check_positive_int(channels, "channels")
    return nn.Sequential(
        *(
            nn.Conv3d(
                channels,
                channels,
                (layer.kernel_size, 1, 1),
                stride=(layer.stride, 1, 1),
                dilation=(layer.dilation, 1, 1),
            )
            for layer in _as_layers(layers)
        )
    )


def layers_along_axis(model: nn.Module, axis: int = 0) -> list[AxisLayer]:
    """The geometry along ``axis`` (0 = time, 1 = height, 2 = width) of every 3D
    conv/pool layer of ``model``.

    Layers are taken in registration order, so this describes plain chains
    (``nn.Sequential``); branches and skip connections need the measured
    receptive field instead.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    if check_int(axis, "axis") not in (0, 1, 2):
        raise ValueError(
            f"axis must be 0 (time), 1 (height) or 2 (width), got {axis!r}"
        )

    def pick(v: int | tuple[int, ...]) -> int:
        return v if isinstance(v, int) else v[axis]

    layers = []
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            layers.append(
                AxisLayer(pick(m.kernel_size), pick(m.stride), pick(m.dilation))
            )
        elif isinstance(m, (nn.MaxPool3d, nn.AvgPool3d)):
            dilation = pick(m.dilation) if isinstance(m, nn.MaxPool3d) else 1
            layers.append(
                AxisLayer(
                    pick(m.kernel_size),
                    pick(m.stride or m.kernel_size),
                    dilation,
                )
            )
    return layers


@dataclass(frozen=True)
class MeasuredField:
    """Input positions along one axis whose value changes one output unit."""

    positions: tuple[int, ...]

    @property
    def span(self) -> int:
        """Distance from the first to the last position reached, inclusive."""
        return (
            self.positions[-1] - self.positions[0] + 1 if self.positions else 0
        )

    @property
    def count(self) -> int:
        """How many positions inside the span are actually reached."""
        return len(self.positions)


def empirical_receptive_field(
    model: nn.Module,
    input_shape: Sequence[int],
    axis: int = 0,
    output_index: Sequence[int] | None = None,
) -> MeasuredField:
    """Measure the receptive field of one output unit with autograd.

    Backpropagates from a single output unit (by default the one at the centre
    of every axis, far from the zero padding) of a path-counting copy of
    ``model`` and returns the input positions along ``axis``
    (0 = T, 1 = H, 2 = W) where the gradient is non-zero. ``model`` itself is
    not touched; the copy runs on the model's device (a ``meta`` model is
    measured on the CPU).

    A unit is a position of the output grid with all its channels (their sum is
    backpropagated), as in :func:`vidconv.summary`: after an Inception
    concatenation channel 0 comes from the 1x1x1 branch only and would miss the
    field of the wider branches.

    Args:
        model: maps ``(B, C, T, H, W)`` to ``(B, C', T', H', W')``.
        input_shape: ``(B, C, T, H, W)``; make it large enough that the centre
            unit's field fits.
        axis: which axis to report.
        output_index: ``(t, h, w)`` of the output unit; defaults to the centre.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    shape = check_shape(input_shape, "input_shape", ndim=5)
    if check_int(axis, "axis") not in (0, 1, 2):
        raise ValueError(
            f"axis must be 0 (time), 1 (height) or 2 (width), got {axis!r}"
        )
    if output_index is not None:
        output_index = check_int_sequence(
            output_index, "output_index", length=3
        )
    probe = path_counting_copy(model)
    x = probe_input(
        probe, shape, fill=1.0, dtype=torch.float64
    ).requires_grad_()
    try:
        y = probe(x)
    except RuntimeError as err:
        raise ValueError(
            f"the model cannot process an input of shape {shape}: {err}"
        ) from err
    if not isinstance(y, torch.Tensor) or y.dim() != 5:
        got = (
            tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        )
        raise ValueError(
            "the model must return a (B, C, T, H, W) tensor to measure a "
            f"receptive field, got {got}"
        )
    if output_index is None:
        output_index = tuple(s // 2 for s in y.shape[2:])
    if len(output_index) != 3 or any(
        not 0 <= i < s for i, s in zip(output_index, y.shape[2:])
    ):
        raise ValueError(
            "output_index must be a (t, h, w) inside the "
            f"output {tuple(y.shape[2:])}, got {tuple(output_index)}"
        )
    y[
        (0, slice(None), *output_index)
    ].sum().backward()  # every channel at that position
    grad = x.grad[0].abs().sum(dim=0)  # (T, H, W)
    other = tuple(d for d in range(3) if d != axis)
    reached = grad.sum(dim=other) > 0  # (size along axis,)
    positions = tuple(int(i) for i in torch.nonzero(reached).flatten())
    if not positions:
        raise ValueError(
            f"no input position reaches output unit {tuple(output_index)} "
            f"of {type(model).__name__}: the path-counting copy (positive "
            "averaging weights, biases 0, batch norm as identity) still gives "
            "it a zero gradient, so some other layer blocks every path"
        )
    return MeasuredField(positions)
