"""A two-pathway network (SlowFast) drawn from the module and one forward pass, not by hand.

:func:`pathway_layout` runs the model once on the meta device (shapes only, no arithmetic) with forward
hooks on each pathway's stem and stages and on the lateral connections, and reads each stage's temporal
kernel from its first convolution. :func:`pathway_diagram` draws the result: the Slow pathway on top,
the Fast one below, an arrow for every lateral connection.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import torch
from torch import nn

_STAGES = ("stem", "layer1", "layer2", "layer3", "layer4")


def _first_kernel(module: nn.Module) -> tuple[int, ...]:
    conv = next(m for m in module.modules() if isinstance(m, nn.Conv3d))
    return tuple(conv.kernel_size)


def pathway_layout(
    model: nn.Module, input_shape: Sequence[int]
) -> dict[str, Any]:
    """Output shapes ``(C, T, H, W)`` and first kernels of ``model.slow``/``model.fast`` stages and of
    ``model.laterals``, for one clip of ``input_shape`` ``(B, 3, T, H, W)``."""
    for part in ("slow", "fast", "laterals"):
        if not hasattr(model, part):
            raise ValueError(
                f"model must have 'slow', 'fast' and 'laterals' children (a SlowFast); "
                f"{type(model).__name__} has no {part!r}"
            )
    if next(model.parameters()).device.type != "meta":
        model = copy.deepcopy(model).to(
            "meta"
        )  # shapes only: no memory, no arithmetic
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = []
    named = [
        (f"{p}.{s}", getattr(getattr(model, p), s))
        for p in ("slow", "fast")
        for s in _STAGES
    ]
    named += [(f"laterals.{i}", m) for i, m in enumerate(model.laterals)]
    for name, module in named:
        hooks.append(
            module.register_forward_hook(
                lambda _m, _i, out, name=name: shapes.__setitem__(
                    name, tuple(out.shape[1:])
                )
            )
        )
    try:
        with torch.no_grad():
            model.eval()(torch.empty(*input_shape, device="meta"))
    finally:
        for h in hooks:
            h.remove()
    return {
        "shapes": shapes,
        "kernels": {name: _first_kernel(m) for name, m in named},
        "alpha": getattr(model, "alpha", None),
        "beta": getattr(model, "beta", None),
    }


def _fmt(shape: tuple[int, ...]) -> str:
    c, t, h, w = shape
    return f"{c} ch<br>{t} x {h} x {w}"


def pathway_diagram(
    model: nn.Module, input_shape: Sequence[int], *, title: str | None = None
) -> go.Figure:
    """The Slow pathway (top) and the Fast pathway (bottom), stage by stage, with their laterals."""
    layout = pathway_layout(model, input_shape)
    shapes, kernels = layout["shapes"], layout["kernels"]
    fig = go.Figure()
    rows = {"slow": 1.0, "fast": 0.0}
    for path, y in rows.items():
        xs = list(range(len(_STAGES)))
        labels = [_fmt(shapes[f"{path}.{s}"]) for s in _STAGES]
        hover = [
            f"{path}.{s}: output (C, T, H, W) = {shapes[f'{path}.{s}']}; first kernel "
            f"{'x'.join(map(str, kernels[f'{path}.{s}']))}"
            for s in _STAGES
        ]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[y] * len(xs),
                mode="lines+markers+text",
                text=labels,
                textposition="top center"
                if path == "slow"
                else "bottom center",
                marker={
                    "size": [
                        10 + shapes[f"{path}.{s}"][0] ** 0.5 for s in _STAGES
                    ],
                    "symbol": "square",
                },
                hovertext=hover,
                hoverinfo="text",
                name=f"{path} pathway",
            )
        )
    for i in range(len(model.laterals)):
        shape, k = shapes[f"laterals.{i}"], kernels[f"laterals.{i}"]
        fig.add_annotation(
            x=i + 0.5,
            y=0.95,
            ax=i,
            ay=0.05,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=2,
            hovertext=f"laterals.{i}: {'x'.join(map(str, k))} conv, temporal stride "
            f"{layout['alpha']} -> {shape[0]} channels on {shape[1]} frames",
        )
    name = f"{type(model).__name__}: alpha = {layout['alpha']}, beta = {layout['beta']:.3g}"
    fig.update_layout(
        title=title or name,
        xaxis={
            "tickvals": list(range(len(_STAGES))),
            "ticktext": list(_STAGES),
            "range": [-0.5, 4.5],
        },
        yaxis={"visible": False, "range": [-0.8, 1.8]},
        height=380,
        showlegend=True,
        margin={"l": 20, "r": 20, "t": 50, "b": 30},
    )
    return fig
