"""Receptive fields followed through every tensor operation of a forward pass (for :func:`vidconv.summary`).

A :class:`Field` describes the units of one tensor along (T, H, W), in input samples:

* ``window``: what one unit reads through the local layers below it (convolutions, pools), the rule of
  Chapter 1 (:func:`vidconv.analysis.receptive_field.extend_field`). It moves with the unit, ``jump`` samples
  per unit, and may be longer than the clip: most of it then lies on the zero padding.
* ``shared``: what a unit reads through an operation that combined *every* position of an axis —
  global average pooling, a mean over the axis, flattening the grid into features, a running sum
  (MoViNet's cumulative pool; the last unit reads all earlier ones). That part does not move with
  the unit: it is the union of the windows of all the units combined, ``window + (n - 1) * jump`` for
  ``n`` units — the whole clip, plus the zero padding those windows reach (exactly the clip's extent
  when no layer pads). 0 where no such operation happened.

The table shows ``size = max(window, shared)`` (the union: both are centred on the clip or contain it).
A squeeze-excitation gate is pooled to one unit and multiplied back onto the full grid: every unit of
the product gets the gate's field as its ``shared`` part, while its ``window`` and ``jump`` stay those of
the grid. Treating the gate like any other operand (largest window and largest jump of the two) made
the stride of the grid that of the pooled gate, about the clip's extent, and every following layer and
gate multiplied it again: 10^18 after a dozen MoViNet blocks.

An axis reduced to one unit has no neighbouring unit; its stride is shown as ``n * jump`` (a pool of
kernel and stride ``n``), never more than the clip's extent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from vidconv.analysis.receptive_field import extend_field
from vidconv.utils.checks import as_triple

Triple = tuple[int, int, int]

_CONV = {"conv3d"}
# 2D layers inside a video network act on frames (time moved into the batch): the field grows in H, W.
_CONV2D = {"conv2d"}
_POOL2D = {"max_pool2d", "max_pool2d_with_indices", "avg_pool2d"}
_POOL = {"max_pool3d", "max_pool3d_with_indices", "avg_pool3d"}
_ADAPTIVE = {"adaptive_avg_pool3d", "adaptive_max_pool3d"}
_REDUCE = {"mean", "amax", "sum", "amin", "max", "min", "logsumexp"}
_CUMULATIVE = {"cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"}
_RESHAPE = {"flatten", "reshape", "view"}
_EXPAND = {"expand", "expand_as", "broadcast_to"}
# Joining tensors along an axis is not broadcasting: a short operand there is a part, not a copy.
_JOIN = {"cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack"}
_CONV3D_ARGS = (
    "input",
    "weight",
    "bias",
    "stride",
    "padding",
    "dilation",
    "groups",
)
_POOL3D_ARGS = ("input", "kernel_size", "stride", "padding", "dilation")


def _max3(values: Sequence[Triple]) -> Triple:
    return tuple(max(v[i] for v in values) for i in range(3))  # type: ignore[return-value]


@dataclass(frozen=True)
class Field:
    """Receptive field of a tensor's units along (T, H, W): a moving ``window`` with stride ``jump``, and
    the ``shared`` part that global operations gave every unit (see the module docstring)."""

    window: Triple = (1, 1, 1)
    jump: Triple = (1, 1, 1)
    shared: Triple = (0, 0, 0)

    @property
    def size(self) -> Triple:
        """Input samples one unit reads along each axis: the union of its window and the shared part."""
        return _max3([self.window, self.shared])

    def through(
        self, kernel_size: Triple, stride: Triple, dilation: Triple = (1, 1, 1)
    ) -> Field:
        """The field after a layer: :func:`vidconv.analysis.receptive_field.extend_field` on each axis."""
        steps = [
            extend_field(*args)
            for args in zip(
                self.window, self.jump, kernel_size, stride, dilation
            )
        ]
        return Field(
            tuple(s for s, _ in steps), tuple(j for _, j in steps), self.shared
        )  # type: ignore[arg-type]

    def combined(
        self,
        axes: Sequence[int],
        units: Sequence[int],
        extent: Sequence[int],
        *,
        reduced: bool,
    ) -> Field:
        """After an operation that combines all ``units[a]`` positions of each axis in ``axes``.

        ``reduced``: the axis keeps one unit (a global pool); otherwise it keeps its grid (a running sum).
        """
        window, jump, shared = (
            list(self.window),
            list(self.jump),
            list(self.shared),
        )
        for a in axes:
            union = max(window[a] + (units[a] - 1) * jump[a], shared[a])
            shared[a] = union
            if reduced:
                window[a], jump[a] = union, min(units[a] * jump[a], extent[a])
        return Field(tuple(window), tuple(jump), tuple(shared))  # type: ignore[arg-type]

    @staticmethod
    def widest(fields: Sequence[Field]) -> Field:
        return Field(
            _max3([f.window for f in fields]),
            _max3([f.jump for f in fields]),
            _max3([f.shared for f in fields]),
        )

    @staticmethod
    def broadcast(
        fields: Sequence[Field], copied: Sequence[Sequence[bool]]
    ) -> Field:
        """Operands combined unit by unit; ``copied[i][a]``: operand ``i`` has one unit on axis ``a``, copied
        to every unit of the output. A copied operand adds its whole field to the ``shared`` part only."""
        window, jump, shared = [1, 1, 1], [1, 1, 1], [0, 0, 0]
        for f, flags in zip(fields, copied):
            for a in range(3):
                if flags[a]:
                    shared[a] = max(shared[a], f.size[a])
                else:
                    window[a], jump[a] = (
                        max(window[a], f.window[a]),
                        max(jump[a], f.jump[a]),
                    )
                    shared[a] = max(shared[a], f.shared[a])
        return Field(tuple(window), tuple(jump), tuple(shared))  # type: ignore[arg-type]


def tensors_in(obj: Any) -> list[torch.Tensor]:
    """Every tensor in ``obj`` (nested lists, tuples and dicts)."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in tensors_in(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in tensors_in(o)]
    return []


def _per_frame(value: Any) -> Triple:
    """A 2D layer's (h, w) argument (int, pair or None = 1) as a (1, h, w) triple."""
    if value is None or (isinstance(value, (list, tuple)) and len(value) == 0):
        return (1, 1, 1)
    h, w = (value, value) if isinstance(value, int) else tuple(value)
    return (1, int(h), int(w))


def _to_features(clip: torch.Tensor, out: torch.Tensor) -> bool:
    """Does ``out`` hold each sample's whole (C, T, H, W) grid in one feature axis (B, F)?"""
    return (
        out.dim() == 2
        and out.shape[0] == clip.shape[0]
        and out.shape[1] == clip[0].numel()
    )


def _grid(t: torch.Tensor) -> Triple:
    """Sizes of the last three axes, right-aligned as broadcasting aligns them (1 where ``t`` has fewer)."""
    sizes = (1, 1, 1, *t.shape)[-3:]
    return tuple(int(s) for s in sizes)  # type: ignore[return-value]


def _reduced_dims(args: tuple, kwargs: dict) -> set[int] | None:
    """The dims a reduction (``x.mean(dim=(2, 3))``, ``x.cumsum(2)``, ``x.max()``) runs over; None when the
    call is not one (``torch.max(a, b)`` is elementwise)."""
    dims = kwargs.get("dim", args[1] if len(args) > 1 else None)
    if dims is None:
        return set(range(5))
    dims = (dims,) if isinstance(dims, int) else dims
    if not isinstance(dims, (tuple, list)) or not all(
        isinstance(d, int) for d in dims
    ):
        return None
    return {d % 5 for d in dims} if dims else set(range(5))


def _strided_axes(index: Any, ndim: int) -> Triple | None:
    """The step along T, H, W of ``x[index]`` on a 5D ``x`` made of slices (and one ``...``), else None."""
    index = index if isinstance(index, tuple) else (index,)
    if sum(i is Ellipsis for i in index) > 1 or not all(
        isinstance(i, slice) or i is Ellipsis for i in index
    ):
        return None
    if Ellipsis in index:
        at = index.index(Ellipsis)
        index = (
            index[:at]
            + (slice(None),) * (ndim - len(index) + 1)
            + index[at + 1 :]
        )
    index = index + (slice(None),) * (ndim - len(index))
    steps = tuple(1 if i.step is None else i.step for i in index[2:5])
    return steps if all(isinstance(s, int) and s >= 1 for s in steps) else None  # type: ignore[return-value]


class FieldTracker(TorchFunctionMode):
    """Annotates every tensor produced during a forward pass with its receptive field.

    ``extent``: the clip's (T, H, W); an axis reduced to one unit has a stride of at most that.
    """

    def __init__(self, extent: Sequence[int]) -> None:
        super().__init__()
        self.extent = tuple(extent)
        self.fields: dict[int, Field] = {}
        self._alive: list[
            torch.Tensor
        ] = []  # keep annotated tensors alive so ids stay unique

    def annotate(self, t: torch.Tensor, f: Field) -> None:
        self.fields[id(t)] = f
        self._alive.append(t)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        known = [
            t
            for t in tensors_in(args) + tensors_in(kwargs)
            if id(t) in self.fields
        ]
        outputs = tensors_in(out)
        if not known or not outputs:
            return out
        f_out = self._field_after(
            getattr(func, "__name__", ""), args, kwargs, known, outputs[0]
        )
        for t in outputs:
            self.annotate(t, f_out)
        return out

    def _field_after(
        self,
        name: str,
        args: tuple,
        kwargs: dict,
        known: list[torch.Tensor],
        out: torch.Tensor,
    ) -> Field:
        fields = [self.fields[id(t)] for t in known]
        f_in = Field.widest(fields)
        first = tensors_in(args)[0] if tensors_in(args) else None
        clip = first is not None and first.dim() == 5
        if name in _CONV:
            bound = dict(zip(_CONV3D_ARGS, args)) | kwargs
            kernel = as_triple(
                tuple(bound["weight"].shape[2:]), "kernel", minimum=1
            )
            return f_in.through(
                kernel,
                as_triple(bound.get("stride") or 1, "stride", minimum=1),
                as_triple(bound.get("dilation") or 1, "dilation", minimum=1),
            )
        if name in _CONV2D:
            bound = dict(zip(_CONV3D_ARGS, args)) | kwargs
            return f_in.through(
                (1, *bound["weight"].shape[2:]),
                _per_frame(bound.get("stride")),
                _per_frame(bound.get("dilation")),
            )
        if name in _POOL2D:
            names = _POOL3D_ARGS if name.startswith("max") else _POOL3D_ARGS[:4]
            bound = dict(zip(names, args)) | kwargs
            kernel = _per_frame(bound["kernel_size"])
            return f_in.through(
                kernel,
                _per_frame(bound.get("stride"))
                if bound.get("stride")
                else kernel,
                _per_frame(bound.get("dilation")),
            )
        if name in _POOL:
            # Average pooling's fifth positional argument is ceil_mode, max pooling's is dilation.
            names = _POOL3D_ARGS if name.startswith("max") else _POOL3D_ARGS[:4]
            bound = dict(zip(names, args)) | kwargs
            kernel = as_triple(bound["kernel_size"], "kernel_size", minimum=1)
            return f_in.through(
                kernel,
                as_triple(bound.get("stride") or kernel, "stride", minimum=1),
                as_triple(bound.get("dilation") or 1, "dilation", minimum=1),
            )
        if name in _ADAPTIVE and clip:
            return self._adaptive(f_in, _grid(first), _grid(out))
        dims = (
            _reduced_dims(args, kwargs)
            if name in _REDUCE | _CUMULATIVE and clip
            else None
        )
        if dims is not None:
            axes = [a for a in range(3) if a + 2 in dims]
            return f_in.combined(
                axes, _grid(first), self.extent, reduced=name in _REDUCE
            )
        if name in _RESHAPE and clip and _to_features(first, out):
            # (B, C, T, H, W) -> (B, C*T*H*W): every feature unit after this sees the whole grid
            # (a reshape that moves time into the batch, as per-frame 2D layers do, keeps the field).
            return f_in.combined(
                range(3), _grid(first), self.extent, reduced=True
            )
        if name == "__getitem__" and clip and out.dim() == 5:
            steps = _strided_axes(
                args[1], 5
            )  # x[:, :, ::alpha]: SlowFast's Slow pathway reads every alpha-th frame
            return f_in.through((1, 1, 1), steps) if steps else f_in
        if (
            out.dim() == 5
            and name not in _JOIN
            and (len(known) > 1 or name in _EXPAND)
        ):
            copied = [
                [g == 1 < o for g, o in zip(_grid(t), _grid(out))]
                for t in known
            ]
            return Field.broadcast(fields, copied)
        return f_in

    def _adaptive(
        self, f_in: Field, size_in: Triple, size_out: Triple
    ) -> Field:
        """Adaptive pooling: to one unit, a global pool; to ``m`` units, windows of about ``n / m``."""
        to_one = [a for a in range(3) if size_out[a] == 1]
        f = f_in.combined(to_one, size_in, self.extent, reduced=True)
        kernel = tuple(
            1 if a in to_one else -(-size_in[a] // size_out[a])
            for a in range(3)
        )  # the widest window
        stride = tuple(
            1 if a in to_one else max(size_in[a] // size_out[a], 1)
            for a in range(3)
        )
        return f.through(kernel, stride)  # type: ignore[arg-type]
