"""Interactive views of receptive fields and kernels.

Each view has one drawing function (``*_figure``) that returns a plotly figure for one setting, and
one explorer that shows it two ways from the same drawing code:

* in Jupyter or Colab, live ipywidgets sliders that redraw the figure through a running kernel;
* in a static page (the book's site, where no kernel runs), a single plotly figure that holds every
  setting as hidden traces and switches between them with its own sliders and menus.

The static form is chosen when ``static=True``, when the environment variable
``VIDCONV_STATIC_FIGURES=1`` is set (the book's build sets it), or when ipywidgets is unavailable.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from typing import Any

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from vidconv._checks import check_nonnegative_int, check_positive_int, check_tensor
from vidconv.receptive_field import AxisLayer, frames_reached, receptive_field

REACHED = "#d62728"
SPAN_HOLE = "#bbbbbb"
EDGE = "rgba(90, 90, 90, 0.35)"


def _use_static(static: bool | None) -> bool:
    if static is not None:
        return bool(static)
    if os.environ.get("VIDCONV_STATIC_FIGURES") == "1":
        return True
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return True
    shell = get_ipython()
    return shell is None or not hasattr(shell, "kernel")


# --------------------------------------------------------------------------- receptive fields

def _receptive_field_traces(layers: list[AxisLayer]) -> tuple[list[go.Scatter], str]:
    levels = frames_reached(layers)
    sizes, jumps = [1], [1]
    for layer in layers:
        sizes.append(sizes[-1] + (layer.kernel - 1) * layer.dilation * jumps[-1])
        jumps.append(jumps[-1] * layer.stride)

    def x_of(level: int, j: int) -> float:
        # A unit sits above the centre of the input frames it spans.
        return j * jumps[level] + (sizes[level] - 1) / 2

    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    for level in range(1, len(levels)):
        layer = layers[level - 1]
        below = set(levels[level - 1])
        for j in levels[level]:
            for i in range(layer.kernel):
                src = j * layer.stride + i * layer.dilation
                if src in below:
                    edge_x += [x_of(level, j), x_of(level - 1, src), None]
                    edge_y += [level, level - 1, None]
    unit_x = [x_of(lvl, j) for lvl, units in enumerate(levels) for j in units]
    unit_y = [lvl for lvl, units in enumerate(levels) for _ in units]
    span = receptive_field(layers)
    reached = set(levels[0])
    holes = [f for f in range(span) if f not in reached]
    traces = [
        go.Scatter(x=edge_x, y=edge_y, mode="lines", line={"color": EDGE, "width": 1}, hoverinfo="skip",
                   showlegend=False, name="connections"),
        go.Scatter(x=unit_x, y=unit_y, mode="markers", marker={"color": REACHED, "size": 8},
                   name="units feeding the output", hovertemplate="level %{y}, frame position %{x}<extra></extra>"),
        go.Scatter(x=holes, y=[0] * len(holes), mode="markers",
                   marker={"color": "white", "size": 8, "line": {"color": SPAN_HOLE, "width": 2}},
                   name="frames inside the span that no path reaches", hovertemplate="frame %{x}: not reached<extra></extra>"),
    ]
    title = f"span {span} frames, {len(reached)} of them reach the output"
    return traces, title


def _uniform_stack(kernel: int, stride: int, dilation: int, depth: int) -> list[AxisLayer]:
    check_positive_int(depth, "depth")
    return [AxisLayer(kernel, stride, dilation)] * depth


def _style_receptive_field(fig: go.Figure, depth: int) -> go.Figure:
    fig.update_layout(
        height=440, margin={"l": 60, "r": 20, "t": 60, "b": 40}, template="plotly_white",
        legend={"orientation": "h", "x": 1.0, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
        xaxis={"title": "input frame"},
        yaxis={"title": "layer", "range": [-0.5, depth + 0.5], "dtick": 1},
    )
    return fig


def receptive_field_figure(kernel: int = 3, stride: int = 1, dilation: int = 1, depth: int = 3) -> go.Figure:
    """Which input frames reach one output unit of ``depth`` identical temporal layers.

    Rows are layers (0 = input frames); red units feed the output unit at the top, grey lines are the
    kernel taps between them, and hollow circles mark frames inside the span that no path reaches.
    """
    layers = _uniform_stack(kernel, stride, dilation, depth)
    traces, title = _receptive_field_traces(layers)
    fig = go.Figure(traces)
    fig.update_layout(title={"text": f"kernel {kernel}, stride {stride}, dilation {dilation}, depth {depth}: {title}"})
    return _style_receptive_field(fig, depth)


def receptive_field_explorer(
    *,
    kernels: Sequence[int] = (2, 3, 5),
    strides: Sequence[int] = (1, 2),
    dilations: Sequence[int] = (1, 2),
    max_depth: int = 5,
    static: bool | None = None,
) -> Any:
    """Explore kernel size, stride, dilation and depth of a temporal stack.

    Live: four ipywidgets sliders. Static: a menu of (kernel, stride, dilation) settings and a depth
    slider, precomputed for the values given.
    """
    max_depth = check_positive_int(max_depth, "max_depth")
    for name, values in (("kernels", kernels), ("strides", strides), ("dilations", dilations)):
        if not values:
            raise ValueError(f"{name} must list at least one value")
        for v in values:
            check_positive_int(v, name)
    if not _use_static(static):
        import ipywidgets as w

        return w.interactive(
            receptive_field_figure,
            kernel=w.IntSlider(3, min=1, max=max(kernels), description="kernel"),
            stride=w.IntSlider(1, min=1, max=max(strides), description="stride"),
            dilation=w.IntSlider(1, min=1, max=max(dilations), description="dilation"),
            depth=w.IntSlider(min(3, max_depth), min=1, max=max_depth, description="depth"),
        )

    settings = list(itertools.product(kernels, strides, dilations))
    depths = list(range(1, max_depth + 1))
    return _menu_and_slider_figure(
        draw=lambda s, d: _receptive_field_traces(_uniform_stack(*s, d)),
        menu=[(f"kernel {k}, stride {s}, dilation {d}", (k, s, d)) for k, s, d in settings],
        slider=[(str(d), d) for d in depths],
        slider_prefix="depth: ",
        start=(settings.index((3, 1, 1)) if (3, 1, 1) in settings else 0, min(2, len(depths) - 1)),
        style=lambda fig: _style_receptive_field(fig, max_depth),
        title=lambda label, slider_value, text: f"{label}, depth {slider_value}: {text}",
    )


def _menu_and_slider_figure(
    *,
    draw: Callable[[Any, Any], tuple[list[go.BaseTraceType], str]],
    menu: list[tuple[str, Any]],
    slider: list[tuple[str, Any]],
    slider_prefix: str,
    start: tuple[int, int],
    style: Callable[[go.Figure], go.Figure],
    title: Callable[[str, Any, str], str],
    make_figure: Callable[[], go.Figure] = go.Figure,
    menu_y: float = 1.04,
) -> go.Figure:
    """A figure with every (menu entry, slider step) pair drawn as hidden traces.

    A slider step shows one pair; choosing a menu entry swaps in that entry's slider. Plotly does
    all of it in the browser, so the figure stays interactive on a page without a kernel.
    """
    fig = make_figure()
    blocks: dict[tuple[int, int], range] = {}
    titles: dict[tuple[int, int], str] = {}
    for (m, (label, value)), (s, (_, svalue)) in itertools.product(enumerate(menu), enumerate(slider)):
        traces, text = draw(value, svalue)
        first = len(fig.data)
        for trace in traces:
            trace.visible = (m, s) == start
            if hasattr(trace, "showlegend") and (m, s) != start:
                trace.showlegend = False
            fig.add_trace(trace, **getattr(trace, "_vidconv_cell", {}))
        blocks[(m, s)] = range(first, len(fig.data))
        titles[(m, s)] = title(label, svalue, text)
    n = len(fig.data)

    def visible(key: tuple[int, int]) -> list[bool]:
        mask = [False] * n
        for i in blocks[key]:
            mask[i] = True
        return mask

    def slider_for(m: int, active: int) -> dict[str, Any]:
        return {
            "active": active, "currentvalue": {"prefix": slider_prefix}, "pad": {"t": 40},
            "steps": [{"label": lab, "method": "update",
                       "args": [{"visible": visible((m, s))}, {"title.text": titles[(m, s)]}]}
                      for s, (lab, _) in enumerate(slider)],
        }

    m0, s0 = start
    buttons = [{"label": label, "method": "update",
                "args": [{"visible": visible((m, s0))}, {"title.text": titles[(m, s0)], "sliders": [slider_for(m, s0)]}]}
               for m, (label, _) in enumerate(menu)]
    fig.update_layout(
        title={"text": titles[start]},
        sliders=[slider_for(m0, s0)],
        updatemenus=[{"buttons": buttons, "active": m0, "direction": "down", "x": 0.0, "xanchor": "left",
                      "y": menu_y, "yanchor": "bottom", "showactive": True}],
    )
    style(fig)
    fig.update_layout(margin={"t": 130}, title={"y": 0.97, "yanchor": "top"})  # room for the menu under the title
    return fig


# --------------------------------------------------------------------------- kernels

def _as_kernel(weight: torch.Tensor) -> torch.Tensor:
    check_tensor(weight, "weight")
    if weight.dim() == 3:
        weight = weight.reshape(1, 1, *weight.shape)  # (1, 1, T, H, W)
    if weight.dim() != 5:
        raise ValueError(
            f"weight must be a 3D kernel (T, H, W) or a conv weight (C_out, C_in, T, H, W), got shape {tuple(weight.shape)}"
        )
    return weight.detach().to("cpu", torch.float32)


def _kernel_traces(weight: torch.Tensor, out_channel: int, in_channel: int, zmax: float) -> list[go.Heatmap]:
    traces = []
    for t in range(weight.shape[2]):
        trace = go.Heatmap(
            z=weight[out_channel, in_channel, t].tolist(), zmin=-zmax, zmax=zmax, colorscale="RdBu", reversescale=True,
            showscale=t == 0, colorbar={"title": "weight"},
            hovertemplate=f"time offset {t}<br>row %{{y}}, column %{{x}}<br>weight %{{z:.3f}}<extra></extra>",
        )
        trace._vidconv_cell = {"row": 1, "col": t + 1}  # where _menu_and_slider_figure puts it
        traces.append(trace)
    return traces


def _kernel_subplots(frames: int) -> go.Figure:
    fig = make_subplots(rows=1, cols=frames, subplot_titles=[f"t = {t}" for t in range(frames)], horizontal_spacing=0.03)
    fig.update_yaxes(autorange="reversed", showticklabels=False, scaleanchor="x")
    fig.update_xaxes(showticklabels=False)
    return fig


def _kernel_style(fig: go.Figure) -> go.Figure:
    fig.update_layout(height=360, margin={"l": 20, "r": 20, "t": 90, "b": 20}, template="plotly_white")
    return fig


def _check_channel(index: int, size: int, name: str) -> int:
    check_nonnegative_int(index, name)
    if index >= size:
        raise ValueError(f"{name} must be < {size}, got {index}")
    return index


def kernel_figure(weight: torch.Tensor, out_channel: int = 0, in_channel: int = 0) -> go.Figure:
    """One 3D kernel drawn as its slices over time, side by side, on one shared colour scale."""
    w = _as_kernel(weight)
    _check_channel(out_channel, w.shape[0], "out_channel")
    _check_channel(in_channel, w.shape[1], "in_channel")
    zmax = float(w.abs().max()) or 1.0
    fig = _kernel_subplots(w.shape[2])
    for trace in _kernel_traces(w, out_channel, in_channel, zmax):
        fig.add_trace(trace, **trace._vidconv_cell)
    fig.update_layout(title={"text": f"kernel {out_channel} (input channel {in_channel}) as slices over time"})
    return _kernel_style(fig)


def kernel_viewer(weight: torch.Tensor, *, static: bool | None = None, max_kernels: int = 32) -> Any:
    """Browse the kernels of a conv weight ``(C_out, C_in, T, H, W)`` slice by slice over time.

    Live: sliders for output and input channel. Static: a menu of input channels and a slider over
    the first ``max_kernels`` output channels.
    """
    w = _as_kernel(weight)
    max_kernels = check_positive_int(max_kernels, "max_kernels")
    if not _use_static(static):
        import ipywidgets as wd

        return wd.interactive(
            lambda out_channel, in_channel: kernel_figure(w, out_channel, in_channel),
            out_channel=wd.IntSlider(0, min=0, max=w.shape[0] - 1, description="kernel"),
            in_channel=wd.IntSlider(0, min=0, max=w.shape[1] - 1, description="input ch."),
        )
    zmax = float(w.abs().max()) or 1.0
    outs = range(min(w.shape[0], max_kernels))
    return _menu_and_slider_figure(
        draw=lambda c_in, c_out: (_kernel_traces(w, c_out, c_in, zmax), ""),
        menu=[(f"input channel {c}", c) for c in range(w.shape[1])],
        slider=[(str(o), o) for o in outs],
        slider_prefix="kernel: ",
        start=(0, 0),
        style=_kernel_style,
        title=lambda label, o, _: f"kernel {o} ({label}) as slices over time",
        make_figure=lambda: _kernel_subplots(w.shape[2]),
        menu_y=1.25,
    )
