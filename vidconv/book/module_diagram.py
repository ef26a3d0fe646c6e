"""A diagram of a multi-branch block (an Inception module) drawn from the module itself.

:func:`branch_diagram` reads the block's ``branch*`` children in order, describes every layer of each
branch (kernel shape, stride, output channels, parameters) and draws them as columns between the
input and the concatenation, so that the picture cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from torch import nn

from vidconv.layers.blocks import ConvBnReLU3d, SeparableConv3d


def _shape(values: Any) -> str:
    values = (
        tuple(values) if isinstance(values, (tuple, list)) else (values,) * 3
    )
    return "x".join(str(v) for v in values)


def describe_layer(layer: nn.Module) -> tuple[str, int | None]:
    """A short label for one layer of a branch and its output channels (``None``: unchanged)."""
    if not isinstance(layer, nn.Module):
        raise TypeError(
            f"layer must be an nn.Module, got {type(layer).__name__}"
        )
    if isinstance(layer, SeparableConv3d):
        parts = [describe_layer(child) for child in layer]
        return " then ".join(
            label.split("<br>")[0] for label, _ in parts
        ) + "<br>(separable)", parts[-1][1]
    if isinstance(layer, ConvBnReLU3d):
        label, out = describe_layer(layer[0])
        return f"{label}<br>+ BN + ReLU", out
    if isinstance(layer, nn.Conv3d):
        stride = (
            ""
            if set(layer.stride) == {1}
            else f", stride {_shape(layer.stride)}"
        )
        return (
            f"conv {_shape(layer.kernel_size)}{stride} → {layer.out_channels}",
            layer.out_channels,
        )
    if isinstance(layer, (nn.MaxPool3d, nn.AvgPool3d)):
        kind = "max" if isinstance(layer, nn.MaxPool3d) else "avg"
        return (
            f"{kind} pool {_shape(layer.kernel_size)}, stride {_shape(layer.stride)}",
            None,
        )
    return type(layer).__name__, None


def _layers(branch: nn.Module) -> list[nn.Module]:
    """The layers of a branch: its children if it is a plain ``nn.Sequential``, else the branch itself."""
    if type(branch) is nn.Sequential:
        return list(branch)
    return [branch]


def branch_layout(block: nn.Module) -> list[dict[str, Any]]:
    """Per ``branch*`` child of ``block``: its name, its layers' labels and parameters, and its output channels."""
    if not isinstance(block, nn.Module):
        raise TypeError(
            f"block must be an nn.Module, got {type(block).__name__}"
        )
    branches = [
        (name, child)
        for name, child in block.named_children()
        if name.startswith("branch")
    ]
    if len(branches) < 2:
        raise ValueError(
            f"block must have at least 2 children named 'branch...' (e.g. an InceptionBlock3d), "
            f"{type(block).__name__} has {[name for name, _ in block.named_children()]}"
        )
    in_channels = getattr(block, "in_channels", None)
    layout = []
    for name, branch in branches:
        channels, layers = in_channels, []
        for layer in _layers(branch):
            label, out = describe_layer(layer)
            channels = out if out is not None else channels
            layers.append(
                {
                    "label": label,
                    "parameters": sum(p.numel() for p in layer.parameters()),
                }
            )
        layout.append(
            {"name": name, "layers": layers, "out_channels": channels}
        )
    return layout


def branch_diagram(block: nn.Module, *, title: str | None = None) -> go.Figure:
    """The branches of ``block`` as columns from its input to the concatenation (hover: parameters)."""
    layout = branch_layout(block)
    depth = max(len(b["layers"]) for b in layout)
    in_channels = getattr(block, "in_channels", None)
    widths = [b["out_channels"] for b in layout]
    total = sum(widths) if all(isinstance(w, int) for w in widths) else None
    top, bottom = 0.0, -(depth + 1.0)
    mid = (len(layout) - 1) / 2
    fig = go.Figure()
    boxes: list[tuple[float, float, str, str]] = [
        (
            mid,
            top,
            f"input: {in_channels} channels" if in_channels else "input",
            "the block's input",
        )
    ]
    for x, branch in enumerate(layout):
        ys = [
            top - 1 - i * depth / len(branch["layers"])
            for i in range(len(branch["layers"]))
        ]
        path_y = [top, *ys, bottom]
        fig.add_trace(
            go.Scatter(
                x=[mid, *[x] * len(ys), mid],
                y=path_y,
                mode="lines",
                hoverinfo="skip",
                line={"color": "#999999"},
                showlegend=False,
            )
        )
        for y, layer in zip(ys, branch["layers"]):
            boxes.append(
                (
                    x,
                    y,
                    layer["label"],
                    f"{branch['name']}: {layer['parameters']:,} parameters",
                )
            )
        fig.add_annotation(
            x=x,
            y=(ys[-1] + bottom) / 2,
            text=f"<b>{branch['out_channels']}</b> ch",
            showarrow=False,
            font={"size": 11, "color": "#1f77b4"},
        )
    concat = f"concatenate: {' + '.join(map(str, widths))}" + (
        f" = {total} channels" if total else ""
    )
    boxes.append((mid, bottom, concat, "channels of the branches stacked"))
    for x, y, text, hover in boxes:
        fig.add_annotation(
            x=x,
            y=y,
            text=text,
            showarrow=False,
            bgcolor="#f4f4f4",
            bordercolor="#444444",
            borderpad=4,
            font={"size": 11},
        )
    fig.add_trace(
        go.Scatter(
            x=[b[0] for b in boxes],
            y=[b[1] for b in boxes],
            mode="markers",
            marker={"size": 30, "opacity": 0},
            hovertext=[b[3] for b in boxes],
            hoverinfo="text",
            showlegend=False,
        )
    )
    fig.update_xaxes(visible=False, range=[-0.6, len(layout) - 0.4])
    fig.update_yaxes(visible=False, range=[bottom - 0.5, top + 0.5])
    fig.update_layout(
        template="plotly_white",
        height=120 + 90 * (depth + 2),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        title=title or f"{type(block).__name__}: {len(layout)} branches",
    )
    return fig
