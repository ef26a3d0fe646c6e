"""Interactive views of receptive fields and kernels.

Each view has one drawing function (``*_figure``) that returns a plotly figure for one setting, and
one explorer that shows it two ways from the same drawing code:

* in Jupyter or Colab, ipywidgets controls above one figure that the kernel redraws in place when a
  control moves (:class:`vidconv.book.live.LiveFigure`);
* in a static page (the book's site, where no kernel runs), a single plotly figure that holds every
  setting as hidden traces and switches between them with its own sliders and menus
  (:func:`vidconv.book.menu_figure.menu_and_slider_figure`).

The static form is chosen when ``static=True``, when the environment variable
``VIDCONV_STATIC_FIGURES=1`` is set (the book's build sets it), when ipywidgets is unavailable, or
when no kernel runs.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from vidconv.analysis.receptive_field import (
    AxisLayer,
    cumulative_stride,
    frames_reached,
    receptive_field,
)
from vidconv.book.figure_layout import keep_title_clear
from vidconv.book.menu_figure import menu_and_slider_figure
from vidconv.utils.checks import (
    check_nonnegative_int,
    check_positive_int,
    check_tensor,
)

# The functions that show live controls in a kernel; the live JupyterLab test looks for their calls.
EXPLORERS = ("receptive_field_explorer", "kernel_viewer")

REACHED = "#d62728"
SPAN_HOLE = "#bbbbbb"
EDGE = "rgba(90, 90, 90, 0.35)"
RECEPTIVE_FIELD_HEIGHT = 440  # pixels
KERNEL_HEIGHT = 360


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


def _receptive_field_traces(
    layers: list[AxisLayer],
) -> tuple[list[go.Scatter], str]:
    levels = frames_reached(layers)
    # Level l holds the output units of the first l layers (level 0: the input frames).
    sizes = [receptive_field(layers[:level]) for level in range(len(levels))]
    jumps = [cumulative_stride(layers[:level]) for level in range(len(levels))]

    def x_of(level: int, j: int) -> float:
        # A unit sits above the centre of the input frames it spans.
        return j * jumps[level] + (sizes[level] - 1) / 2

    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    for level in range(1, len(levels)):
        layer = layers[level - 1]
        below = set(levels[level - 1])
        for j in levels[level]:
            for i in range(layer.kernel_size):
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
        go.Scatter(
            x=edge_x,
            y=edge_y,
            mode="lines",
            line={"color": EDGE, "width": 1},
            hoverinfo="skip",
            showlegend=False,
            name="connections",
        ),
        go.Scatter(
            x=unit_x,
            y=unit_y,
            mode="markers",
            marker={"color": REACHED, "size": 8},
            name="units feeding the output",
            hovertemplate="level %{y}, frame position %{x}<extra></extra>",
        ),
        go.Scatter(
            x=holes,
            y=[0] * len(holes),
            mode="markers",
            marker={
                "color": "white",
                "size": 8,
                "line": {"color": SPAN_HOLE, "width": 2},
            },
            name="frames inside the span that no path reaches",
            hovertemplate="frame %{x}: not reached<extra></extra>",
        ),
    ]
    title = f"span {span} frames, {len(reached)} of them reach the output"
    return traces, title


def _uniform_stack(
    kernel_size: int, stride: int, dilation: int, depth: int
) -> list[AxisLayer]:
    check_positive_int(depth, "depth")
    return [AxisLayer(kernel_size, stride, dilation)] * depth


def _style_receptive_field(fig: go.Figure, depth: int) -> go.Figure:
    fig.update_layout(
        height=RECEPTIVE_FIELD_HEIGHT,
        margin={"l": 60, "r": 20, "t": 60, "b": 40},
        template="plotly_white",
        legend={
            "orientation": "h",
            "x": 1.0,
            "xanchor": "right",
            "y": 1.02,
            "yanchor": "bottom",
        },
        xaxis={"title": "input frame"},
        yaxis={"title": "layer", "range": [-0.5, depth + 0.5], "dtick": 1},
    )
    return fig


def receptive_field_figure(
    kernel_size: int = 3, stride: int = 1, dilation: int = 1, depth: int = 3
) -> go.Figure:
    """Which input frames reach one output unit of ``depth`` identical temporal layers.

    Rows are layers (0 = input frames); red units feed the output unit at the top, grey lines are the
    kernel taps between them, and hollow circles mark frames inside the span that no path reaches.
    """
    layers = _uniform_stack(kernel_size, stride, dilation, depth)
    traces, title = _receptive_field_traces(layers)
    fig = go.Figure(traces)
    fig.update_layout(
        title={
            "text": f"kernel {kernel_size}, stride {stride}, dilation {dilation}, depth {depth}: {title}"
        }
    )
    return keep_title_clear(_style_receptive_field(fig, depth))


def receptive_field_explorer(
    *,
    kernel_sizes: Sequence[int] = (2, 3, 5),
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
    for name, values in (
        ("kernel_sizes", kernel_sizes),
        ("strides", strides),
        ("dilations", dilations),
    ):
        if not values:
            raise ValueError(f"{name} must list at least one value")
        for v in values:
            check_positive_int(v, name)
    if not _use_static(static):
        import ipywidgets as w

        from vidconv.book.live import LiveFigure

        return LiveFigure(
            receptive_field_figure,
            {
                "kernel_size": w.IntSlider(
                    3, min=1, max=max(kernel_sizes), description="kernel"
                ),
                "stride": w.IntSlider(
                    1, min=1, max=max(strides), description="stride"
                ),
                "dilation": w.IntSlider(
                    1, min=1, max=max(dilations), description="dilation"
                ),
                "depth": w.IntSlider(
                    min(3, max_depth), min=1, max=max_depth, description="depth"
                ),
            },
            min_height=RECEPTIVE_FIELD_HEIGHT,
        )

    settings = list(itertools.product(kernel_sizes, strides, dilations))
    depths = list(range(1, max_depth + 1))
    return menu_and_slider_figure(
        draw=lambda s, d: _receptive_field_traces(_uniform_stack(*s, d)),
        menu=[
            (f"kernel {k}, stride {s}, dilation {d}", (k, s, d))
            for k, s, d in settings
        ],
        slider=[(str(d), d) for d in depths],
        slider_prefix="depth: ",
        start=(
            settings.index((3, 1, 1)) if (3, 1, 1) in settings else 0,
            min(2, len(depths) - 1),
        ),
        style=lambda fig: _style_receptive_field(fig, max_depth),
        title=lambda label, slider_value, text: (
            f"{label}, depth {slider_value}: {text}"
        ),
    )


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


def _kernel_traces(
    weight: torch.Tensor, out_channel: int, in_channel: int, zmax: float
) -> list[go.Heatmap]:
    traces = []
    for t in range(weight.shape[2]):
        trace = go.Heatmap(
            z=weight[out_channel, in_channel, t].tolist(),
            zmin=-zmax,
            zmax=zmax,
            colorscale="RdBu",
            reversescale=True,
            showscale=t == 0,
            colorbar={"title": "weight"},
            hovertemplate=f"time offset {t}<br>row %{{y}}, column %{{x}}<br>weight %{{z:.3f}}<extra></extra>",
        )
        trace._vidconv_cell = {
            "row": 1,
            "col": t + 1,
        }  # where menu_and_slider_figure puts it
        traces.append(trace)
    return traces


def _kernel_subplots(frames: int) -> go.Figure:
    fig = make_subplots(
        rows=1,
        cols=frames,
        subplot_titles=[f"t = {t}" for t in range(frames)],
        horizontal_spacing=0.03,
    )
    fig.update_yaxes(
        autorange="reversed", showticklabels=False, scaleanchor="x"
    )
    fig.update_xaxes(showticklabels=False)
    return fig


def _kernel_style(fig: go.Figure) -> go.Figure:
    fig.update_layout(
        height=KERNEL_HEIGHT,
        margin={"l": 20, "r": 20, "t": 90, "b": 20},
        template="plotly_white",
    )
    return fig


def _check_channel(index: int, size: int, name: str) -> int:
    check_nonnegative_int(index, name)
    if index >= size:
        raise ValueError(f"{name} must be < {size}, got {index}")
    return index


def kernel_figure(
    weight: torch.Tensor, out_channel: int = 0, in_channel: int = 0
) -> go.Figure:
    """One 3D kernel drawn as its slices over time, side by side, on one shared colour scale."""
    w = _as_kernel(weight)
    _check_channel(out_channel, w.shape[0], "out_channel")
    _check_channel(in_channel, w.shape[1], "in_channel")
    zmax = float(w.abs().max()) or 1.0
    fig = _kernel_subplots(w.shape[2])
    for trace in _kernel_traces(w, out_channel, in_channel, zmax):
        fig.add_trace(trace, **trace._vidconv_cell)
    fig.update_layout(
        title={
            "text": f"kernel {out_channel} (input channel {in_channel}) as slices over time"
        }
    )
    return keep_title_clear(_kernel_style(fig))


def kernel_viewer(
    weight: torch.Tensor, *, static: bool | None = None, max_kernels: int = 32
) -> Any:
    """Browse the kernels of a conv weight ``(C_out, C_in, T, H, W)`` slice by slice over time.

    Live: sliders for output and input channel. Static: a menu of input channels and a slider over
    the first ``max_kernels`` output channels.
    """
    w = _as_kernel(weight)
    max_kernels = check_positive_int(max_kernels, "max_kernels")
    if not _use_static(static):
        import ipywidgets as wd

        from vidconv.book.live import LiveFigure

        return LiveFigure(
            lambda out_channel, in_channel: kernel_figure(
                w, out_channel, in_channel
            ),
            {
                "out_channel": wd.IntSlider(
                    0, min=0, max=w.shape[0] - 1, description="kernel"
                ),
                "in_channel": wd.IntSlider(
                    0, min=0, max=w.shape[1] - 1, description="input ch."
                ),
            },
            min_height=KERNEL_HEIGHT,
        )
    zmax = float(w.abs().max()) or 1.0
    outs = range(min(w.shape[0], max_kernels))
    return menu_and_slider_figure(
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
