"""``summary(model, input_shape)``: a per-layer table of a video network.

For every layer: output shape, parameters, multiply-adds and FLOPs, and the receptive field and
cumulative stride of its output units along (T, H, W).

* FLOPs come from ``torch.utils.flop_counter.FlopCounterMode`` (2 per multiply-add), per module.
* Receptive fields follow the rule of Chapter 1 (:func:`vidconv.receptive_field.extend_field`: each
  conv or pool adds ``(k-1) * d * jump`` and multiplies ``jump`` by its stride) but are propagated
  through every tensor operation the forward pass performs (a ``TorchFunctionMode`` watches them),
  so residual additions and Inception concatenations take the largest field among their inputs
  instead of needing a hand-written graph.
  Global pooling (adaptive pools to size 1, means over time and space) makes the field the whole input.

Build a large model on the meta device (``with torch.device("meta"): ...``) to summarise it without
computing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

from vidconv._checks import as_triple, check_int, check_shape
from vidconv._probe import measuring, probe_input
from vidconv.receptive_field import extend_field
from vidconv.table import Table

Triple = tuple[int, int, int]

_CONV = {"conv3d"}
# 2D layers inside a video network act on frames (time moved into the batch): the field grows in H, W.
_CONV2D = {"conv2d"}
_POOL2D = {"max_pool2d", "max_pool2d_with_indices", "avg_pool2d"}
_POOL = {"max_pool3d", "max_pool3d_with_indices", "avg_pool3d"}
_ADAPTIVE = {"adaptive_avg_pool3d", "adaptive_max_pool3d"}
_REDUCE = {"mean", "amax", "sum", "amin"}
_RESHAPE = {"flatten", "reshape", "view"}
_CONV3D_ARGS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
_POOL3D_ARGS = ("input", "kernel_size", "stride", "padding", "dilation")


@dataclass(frozen=True)
class Field:
    """Receptive field (in input samples) and cumulative stride of a tensor's units along (T, H, W)."""

    size: Triple = (1, 1, 1)
    jump: Triple = (1, 1, 1)

    def through(self, kernel_size: Triple, stride: Triple, dilation: Triple = (1, 1, 1)) -> Field:
        """The field after a layer: :func:`vidconv.receptive_field.extend_field` on each axis."""
        steps = [extend_field(*args) for args in zip(self.size, self.jump, kernel_size, stride, dilation)]
        return Field(tuple(s for s, _ in steps), tuple(j for _, j in steps))  # type: ignore[arg-type]

    @staticmethod
    def widest(fields: Sequence[Field]) -> Field:
        return Field(tuple(max(f.size[i] for f in fields) for i in range(3)),  # type: ignore[arg-type]
                     tuple(max(f.jump[i] for f in fields) for i in range(3)))  # type: ignore[arg-type]


def _tensors(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


def _per_frame(value: Any) -> Triple:
    """A 2D layer's (h, w) argument (int, pair or None = 1) as a (1, h, w) triple."""
    if value is None or (isinstance(value, (list, tuple)) and len(value) == 0):
        return (1, 1, 1)
    h, w = (value, value) if isinstance(value, int) else tuple(value)
    return (1, int(h), int(w))


def _to_features(clip: torch.Tensor, out: torch.Tensor) -> bool:
    """Does ``out`` hold each sample's whole (C, T, H, W) grid in one feature axis (B, F)?"""
    return out.dim() == 2 and out.shape[0] == clip.shape[0] and out.shape[1] == clip[0].numel()


class _FieldTracker(TorchFunctionMode):
    """Annotates every tensor produced during a forward pass with its receptive field."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[int, Field] = {}
        self._alive: list[torch.Tensor] = []  # keep annotated tensors alive so ids stay unique

    def annotate(self, t: torch.Tensor, f: Field) -> None:
        self.fields[id(t)] = f
        self._alive.append(t)

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = [self.fields[id(t)] for t in _tensors(args) + _tensors(kwargs) if id(t) in self.fields]
        outputs = _tensors(out)
        if not inputs or not outputs:
            return out
        name = getattr(func, "__name__", "")
        f_in = Field.widest(inputs)
        first = _tensors(args)[0] if _tensors(args) else None
        if name in _CONV:
            bound = dict(zip(_CONV3D_ARGS, args)) | kwargs
            kernel = as_triple(tuple(bound["weight"].shape[2:]), "kernel", minimum=1)
            f_out = f_in.through(kernel, as_triple(bound.get("stride") or 1, "stride", minimum=1),
                                 as_triple(bound.get("dilation") or 1, "dilation", minimum=1))
        elif name in _CONV2D:
            bound = dict(zip(_CONV3D_ARGS, args)) | kwargs
            f_out = f_in.through((1, *bound["weight"].shape[2:]), _per_frame(bound.get("stride")),
                                 _per_frame(bound.get("dilation")))
        elif name in _POOL2D:
            names = _POOL3D_ARGS if name.startswith("max") else _POOL3D_ARGS[:4]
            bound = dict(zip(names, args)) | kwargs
            kernel = _per_frame(bound["kernel_size"])
            f_out = f_in.through(kernel, _per_frame(bound.get("stride")) if bound.get("stride") else kernel,
                                 _per_frame(bound.get("dilation")))
        elif name in _POOL:
            # Average pooling's fifth positional argument is ceil_mode, max pooling's is dilation.
            names = _POOL3D_ARGS if name.startswith("max") else _POOL3D_ARGS[:4]
            bound = dict(zip(names, args)) | kwargs
            kernel = as_triple(bound["kernel_size"], "kernel_size", minimum=1)
            f_out = f_in.through(kernel, as_triple(bound.get("stride") or kernel, "stride", minimum=1),
                                 as_triple(bound.get("dilation") or 1, "dilation", minimum=1))
        elif name in _ADAPTIVE and first is not None and first.dim() == 5:
            f_out = self._adaptive(f_in, tuple(first.shape[2:]), tuple(outputs[0].shape[2:]))
        elif name in _REDUCE and first is not None and first.dim() == 5:
            dims = kwargs.get("dim", args[1] if len(args) > 1 else None)
            dims = {d % 5 for d in ((dims,) if isinstance(dims, int) else dims or range(5))}
            ones = tuple(1 if (i + 2) in dims else first.shape[i + 2] for i in range(3))
            f_out = self._adaptive(f_in, tuple(first.shape[2:]), ones)
        elif name in _RESHAPE and first is not None and first.dim() == 5 and _to_features(first, outputs[0]):
            # (B, C, T, H, W) -> (B, C*T*H*W): every feature unit after this sees the whole grid
            # (a reshape that moves time into the batch, as per-frame 2D layers do, keeps the field).
            f_out = self._adaptive(f_in, tuple(first.shape[2:]), (1, 1, 1))
        else:
            f_out = f_in
        for t in outputs:
            self.annotate(t, f_out)
        return out

    @staticmethod
    def _adaptive(f_in: Field, size_in: Sequence[int], size_out: Sequence[int]) -> Field:
        kernel = tuple(-(-n // m) for n, m in zip(size_in, size_out))  # the widest window PyTorch uses
        stride = tuple(max(n // m, 1) for n, m in zip(size_in, size_out))
        return f_in.through(kernel, stride)  # type: ignore[arg-type]


_SKIP = (nn.ReLU, nn.Dropout, nn.Identity, nn.Flatten, nn.Sigmoid)


@dataclass
class LayerSummary:
    """One row of :func:`summary`."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    parameters: int
    flops: int
    field: Field

    @property
    def macs(self) -> int:
        return self.flops // 2


@dataclass
class ModelSummary:
    """The rows of :func:`summary` and the totals; prints as a table."""

    model: str
    input_shape: tuple[int, ...]
    rows: list[LayerSummary]
    total_parameters: int
    total_flops: int
    output_field: Field = field(default_factory=Field)

    @property
    def total_macs(self) -> int:
        return self.total_flops // 2

    def table(self) -> Table:
        rows: list[dict[str, Any]] = [{
            "layer": r.name, "type": r.kind, "output": "x".join(map(str, r.output_shape)), "params": r.parameters,
            "MMACs": f"{r.macs / 1e6:.1f}", "MFLOPs": f"{r.flops / 1e6:.1f}",
            "RF (T,H,W)": "x".join(map(str, r.field.size)), "stride (T,H,W)": "x".join(map(str, r.field.jump)),
        } for r in self.rows]
        rows.append({"layer": "total", "type": self.model, "output": "", "params": self.total_parameters,
                     "MMACs": f"{self.total_macs / 1e6:.1f}", "MFLOPs": f"{self.total_flops / 1e6:.1f}",
                     "RF (T,H,W)": "x".join(map(str, self.output_field.size)),
                     "stride (T,H,W)": "x".join(map(str, self.output_field.jump))})
        return Table(rows)

    def __repr__(self) -> str:
        return repr(self.table())

    def _repr_markdown_(self) -> str:
        return self.table()._repr_markdown_()


def summary(model: nn.Module, input_shape: Sequence[int], *, depth: int | None = None) -> ModelSummary:
    """Per-layer output shape, parameters, MACs/FLOPs, receptive field and stride of ``model``.

    Args:
        model: takes one ``(B, C, T, H, W)`` tensor.
        input_shape: ``(B, C, T, H, W)``.
        depth: ``None`` lists every layer that computes something (convolutions, pools, norms, linear
            layers); an int lists the modules at that depth of the module tree instead (``1`` = the
            model's direct children), each with the totals of its sub-tree.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    shape = check_shape(input_shape, "input_shape", ndim=5)
    depth = None if depth is None else check_int(depth, "depth", minimum=1)
    if depth is not None and (not isinstance(depth, int) or depth < 1):
        raise ValueError(f"depth must be None or an int >= 1, got {depth!r}")

    names = {m: n for n, m in model.named_modules() if n}
    chosen = {m for m, n in names.items()
              if (depth is None and not list(m.children()) and not isinstance(m, _SKIP))
              or (depth is not None and n.count(".") + 1 == depth)}
    x = probe_input(model, shape)

    tracker = _FieldTracker()
    tracker.annotate(x, Field())
    seen: list[tuple[nn.Module, tuple[int, ...], Field]] = []

    def record(module: nn.Module, _inputs: Any, output: Any) -> None:
        tensors = _tensors(output)
        if tensors:
            seen.append((module, tuple(tensors[0].shape), tracker.fields.get(id(tensors[0]), Field())))

    handles = [m.register_forward_hook(record) for m in chosen]
    counter = FlopCounterMode(display=False)
    try:
        with measuring(model), counter, tracker:
            y = model(x)
    except RuntimeError as err:
        raise ValueError(f"{type(model).__name__} cannot process an input of shape {shape}: {err}") from err
    finally:
        for h in handles:
            h.remove()

    flops = counter.get_flop_counts()
    root = type(model).__name__
    rows = []
    for module, out_shape, f in seen:
        name = names[module]
        rows.append(LayerSummary(name, type(module).__name__, out_shape,
                                 sum(p.numel() for p in module.parameters()),
                                 int(sum(flops.get(f"{root}.{name}", {}).values())), f))
    out_tensors = _tensors(y)
    out_field = tracker.fields.get(id(out_tensors[0]), Field()) if out_tensors else Field()
    return ModelSummary(root, shape, rows, sum(p.numel() for p in model.parameters()),
                        int(counter.get_total_flops()), out_field)
