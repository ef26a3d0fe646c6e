"""``summary(model, input_shape)``: a per-layer table of a video network.

For every layer: output shape, parameters, multiply-adds and FLOPs, and the receptive field and
cumulative stride of its output units along (T, H, W).

* FLOPs come from ``torch.utils.flop_counter.FlopCounterMode`` (2 per multiply-add), per module.
* Receptive fields follow the rule of Chapter 1 (:func:`vidconv.analysis.receptive_field.extend_field`: each
  conv or pool adds ``(k-1) * d * jump`` and multiplies ``jump`` by its stride) but are propagated
  through every tensor operation the forward pass performs (a ``TorchFunctionMode`` watches them),
  so residual additions and Inception concatenations take the largest field among their inputs
  instead of needing a hand-written graph (:mod:`vidconv.analysis._field_tracker`).
* The field may be longer than the clip: it counts the zero padding the windows reach.
* The whole clip: after an operation that combines every position of an axis (global pooling, a
  mean over time and space, flattening the grid into features, MoViNet's running average over
  time) a unit reads every input sample along it. Its field is then the union of the windows of
  all the units combined, ``f + (n - 1) * j`` for ``n`` units of field ``f``, ``j`` apart: the clip's
  extent plus the padding those windows reach (exactly the extent when no layer pads). Where the
  axis keeps one unit its stride is ``n * j``, at most the clip's extent. A squeeze-excitation
  product (a globally pooled gate times the grid) gives every unit of the grid that whole-clip
  field, and keeps the grid's own stride; layers above still widen the unit's window as usual.

Build a large model on the meta device (``with torch.device("meta"): ...``) to summarise it without
computing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vidconv.analysis._field_tracker import Field, FieldTracker, tensors_in
from vidconv.analysis._probe import measuring, probe_input
from vidconv.utils.checks import check_int, check_shape
from vidconv.utils.table import Table

__all__ = ["Field", "LayerSummary", "ModelSummary", "summary"]

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
        rows: list[dict[str, Any]] = [
            {
                "layer": r.name,
                "type": r.kind,
                "output": "x".join(map(str, r.output_shape)),
                "params": r.parameters,
                "MMACs": f"{r.macs / 1e6:.1f}",
                "MFLOPs": f"{r.flops / 1e6:.1f}",
                "RF (T,H,W)": "x".join(map(str, r.field.size)),
                "stride (T,H,W)": "x".join(map(str, r.field.jump)),
            }
            for r in self.rows
        ]
        rows.append(
            {
                "layer": "total",
                "type": self.model,
                "output": "",
                "params": self.total_parameters,
                "MMACs": f"{self.total_macs / 1e6:.1f}",
                "MFLOPs": f"{self.total_flops / 1e6:.1f}",
                "RF (T,H,W)": "x".join(map(str, self.output_field.size)),
                "stride (T,H,W)": "x".join(map(str, self.output_field.jump)),
            }
        )
        return Table(rows)

    def __repr__(self) -> str:
        return repr(self.table())

    def _repr_markdown_(self) -> str:
        return self.table()._repr_markdown_()


def summary(
    model: nn.Module, input_shape: Sequence[int], *, depth: int | None = None
) -> ModelSummary:
    """Per-layer output shape, parameters, MACs/FLOPs, receptive field and stride of ``model``.

    Args:
        model: takes one ``(B, C, T, H, W)`` tensor.
        input_shape: ``(B, C, T, H, W)``.
        depth: ``None`` lists every layer that computes something (convolutions, pools, norms, linear
            layers); an int lists the modules at that depth of the module tree instead (``1`` = the
            model's direct children), each with the totals of its sub-tree.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    shape = check_shape(input_shape, "input_shape", ndim=5)
    depth = None if depth is None else check_int(depth, "depth", minimum=1)
    if depth is not None and (not isinstance(depth, int) or depth < 1):
        raise ValueError(f"depth must be None or an int >= 1, got {depth!r}")

    names = {m: n for n, m in model.named_modules() if n}
    chosen = {
        m
        for m, n in names.items()
        if (
            depth is None
            and not list(m.children())
            and not isinstance(m, _SKIP)
        )
        or (depth is not None and n.count(".") + 1 == depth)
    }
    x = probe_input(model, shape)

    tracker = FieldTracker(shape[2:])
    tracker.annotate(x, Field())
    seen: list[tuple[nn.Module, tuple[int, ...], Field]] = []

    def record(module: nn.Module, _inputs: Any, output: Any) -> None:
        tensors = tensors_in(output)
        if tensors:
            seen.append(
                (
                    module,
                    tuple(tensors[0].shape),
                    tracker.fields.get(id(tensors[0]), Field()),
                )
            )

    handles = [m.register_forward_hook(record) for m in chosen]
    counter = FlopCounterMode(display=False)
    try:
        with measuring(model), counter, tracker:
            y = model(x)
    except RuntimeError as err:
        raise ValueError(
            f"{type(model).__name__} cannot process an input of shape {shape}: {err}"
        ) from err
    finally:
        for h in handles:
            h.remove()

    flops = counter.get_flop_counts()
    root = type(model).__name__
    rows = []
    for module, out_shape, f in seen:
        name = names[module]
        rows.append(
            LayerSummary(
                name,
                type(module).__name__,
                out_shape,
                sum(p.numel() for p in module.parameters()),
                int(sum(flops.get(f"{root}.{name}", {}).values())),
                f,
            )
        )
    out_tensors = tensors_in(y)
    out_field = (
        tracker.fields.get(id(out_tensors[0]), Field())
        if out_tensors
        else Field()
    )
    return ModelSummary(
        root,
        shape,
        rows,
        sum(p.numel() for p in model.parameters()),
        int(counter.get_total_flops()),
        out_field,
    )
