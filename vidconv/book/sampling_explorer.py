"""Frame sampling on a real video's timeline: the chosen frames light up, their thumbnails below.

:func:`sampling_figure` draws one setting (strategy, clip length, stride). :func:`sampling_explorer` shows
it two ways, like the explorers in :mod:`vidconv.book.widgets`:

* live in Jupyter or Colab: ipywidgets (a strategy menu, clip-length and stride sliders) redraw the figure;
* on a static page (the book's site, ``VIDCONV_STATIC_FIGURES=1``, or ``static=True``): one plotly figure
  whose menu (strategy and clip length) and slider (stride) switch precomputed hidden traces in the
  browser. A setting that picks the same frames as another (uniform and random-sparse sampling ignore the
  stride) reuses its traces, which keeps the page small.
"""

from __future__ import annotations

import base64
import io
import itertools
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from vidconv.book.figure_layout import dropdown, keep_title_clear
from vidconv.book.widgets import _use_static
from vidconv.data.transforms import resize
from vidconv.experiments.video.sampling import (
    STRATEGIES,
    clip_indices,
    coverage,
)
from vidconv.utils.checks import check_positive_int

CLIP_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd")


def _thumbnails(frames: torch.Tensor, height: int) -> torch.Tensor:
    """``(3, T, H, W)`` uint8 -> ``(T, h, w, 3)`` uint8 thumbnails of the given height (aspect kept)."""
    if (
        not isinstance(frames, torch.Tensor)
        or frames.dtype != torch.uint8
        or frames.dim() != 4
        or frames.shape[0] != 3
    ):
        raise ValueError(
            f"frames must be a (3, T, H, W) uint8 tensor, got "
            f"{getattr(frames, 'dtype', type(frames).__name__)} {tuple(getattr(frames, 'shape', ()))}"
        )
    width = max(2, round(frames.shape[3] * height / frames.shape[2]))
    small = resize(
        frames.float(), (height, width), antialias=True
    )  # (3, T, h, w)
    return (
        small.round()
        .clamp(0, 255)
        .to(torch.uint8)
        .permute(1, 2, 3, 0)
        .contiguous()
    )  # (T, h, w, 3)


def _strip_uri(
    thumbs: torch.Tensor, clips: list[list[int]], gap: int = 2
) -> tuple[str, int, int]:
    """One JPEG holding each clip's thumbnails in a row (clips stacked): ``(data URI, width, height)``."""
    from PIL import Image

    _, h, w, _ = thumbs.shape
    columns = max(len(c) for c in clips)
    canvas = torch.full(
        (len(clips) * (h + gap), columns * (w + gap), 3), 255, dtype=torch.uint8
    )
    for row, clip in enumerate(clips):
        for col, index in enumerate(clip):
            y, x = row * (h + gap), col * (w + gap)
            canvas[y : y + h, x : x + w] = thumbs[index]
    buffer = io.BytesIO()
    Image.fromarray(canvas.numpy()).save(buffer, format="JPEG", quality=70)
    uri = (
        "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
    )
    return uri, canvas.shape[1], canvas.shape[0]


def _check_fps(fps: object) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    return float(fps)


def _timeline(n: int, fps: float) -> go.Figure:
    """Two rows: the video's frames as ticks on a timeline, and room for the thumbnails below."""
    fig = make_subplots(
        rows=2, cols=1, row_heights=[0.3, 0.7], vertical_spacing=0.12
    )
    fig.add_trace(
        go.Scatter(
            x=list(range(n)),
            y=[0] * n,
            mode="markers",
            name="frames of the video",
            marker={"color": "#cccccc", "size": 4, "symbol": "line-ns-open"},
            customdata=[i / fps for i in range(n)],
            hovertemplate="frame %{x} (%{customdata:.2f} s)<extra></extra>",
        ),
        row=1,
        col=1,
    )
    return fig


def _add_clips(
    fig: go.Figure,
    thumbs: torch.Tensor,
    clips: list[list[int]],
    fps: float,
    visible: bool,
) -> range:
    """Markers for each clip's frames on the timeline and one strip of their thumbnails; their trace indices."""
    first = len(fig.data)
    for c, clip in enumerate(clips):
        colour = CLIP_COLOURS[c % len(CLIP_COLOURS)]
        fig.add_trace(
            go.Scatter(
                x=clip,
                y=[0.15 * (c + 1)] * len(clip),
                mode="markers",
                visible=visible,
                showlegend=False,
                marker={
                    "color": colour,
                    "size": 9,
                    "line": {"width": 1, "color": "white"},
                },
                customdata=[[k, i / fps] for k, i in enumerate(clip)],
                hovertemplate=f"clip {c + 1}, "
                + "position %{customdata[0]}: frame %{x} "
                "(%{customdata[1]:.2f} s)<extra></extra>",
            ),
            row=1,
            col=1,
        )
    uri, _, _ = _strip_uri(thumbs, clips)
    fig.add_trace(
        go.Image(
            source=uri,
            x0=0,
            y0=0,
            dx=1,
            dy=1,
            visible=visible,
            hoverinfo="skip",
        ),
        row=2,
        col=1,
    )
    return range(first, len(fig.data))


def _title(
    strategy: str, clip_len: int, stride: int, clips: list[list[int]], n: int
) -> str:
    cov = coverage(clips, n)
    return (
        f"{strategy}, {clip_len} frames, stride {stride}: {cov['distinct frames']} distinct frames "
        f"span {cov['span %']:g}% of the video, largest gap {cov['largest gap']} frames"
    )


def _style(fig: go.Figure, n: int, num_clips: int, title: str) -> go.Figure:
    fig.update_layout(
        title={
            "text": title,
            "y": 0.97,
            "yanchor": "top",
            "font": {"size": 13},
        },
        template="plotly_white",
        height=480,
        showlegend=False,
        margin={"t": 110, "l": 20, "r": 20},
    )
    fig.update_xaxes(range=[-2, n + 1], title_text="frame index", row=1, col=1)
    fig.update_yaxes(
        range=[-0.1, 0.15 * (num_clips + 1)],
        showticklabels=False,
        showgrid=False,
        row=1,
        col=1,
    )
    fig.update_xaxes(visible=False, row=2, col=1)
    fig.update_yaxes(
        visible=False, autorange="reversed", scaleanchor="x2", row=2, col=1
    )
    return fig


def sampling_figure(
    frames: torch.Tensor,
    strategy: str,
    clip_len: int,
    stride: int = 1,
    *,
    fps: float,
    num_clips: int = 3,
    seed: int = 0,
    thumb_height: int = 24,
    thumbs: torch.Tensor | None = None,
) -> go.Figure:
    """One setting: the frames that ``strategy`` takes from ``frames`` ``(3, T, H, W)`` uint8, on its timeline.

    ``thumbs`` (from a previous call's :func:`_thumbnails`) skips recomputing the thumbnails.
    """
    fps = _check_fps(fps)
    thumbs = (
        _thumbnails(frames, check_positive_int(thumb_height, "thumb_height"))
        if thumbs is None
        else thumbs
    )
    n = thumbs.shape[0]
    clips = clip_indices(
        strategy, n, clip_len, stride=stride, num_clips=num_clips, seed=seed
    )
    fig = _timeline(n, fps)
    _add_clips(fig, thumbs, clips, fps, visible=True)
    return keep_title_clear(
        _style(fig, n, num_clips, _title(strategy, clip_len, stride, clips, n))
    )


def sampling_explorer(
    frames: torch.Tensor,
    *,
    fps: float,
    clip_lens: Sequence[int] = (4, 8, 16),
    strides: Sequence[int] = (1, 2, 4, 8),
    strategies: Sequence[str] = STRATEGIES,
    num_clips: int = 3,
    seed: int = 0,
    thumb_height: int = 24,
    start: tuple[str, int, int] = ("uniform", 8, 1),
    static: bool | None = None,
) -> Any:
    """Explore frame sampling on a decoded video ``frames`` ``(3, T, H, W)`` uint8 at ``fps``.

    Live: a strategy menu and sliders for every clip length up to ``max(clip_lens)`` and stride up to
    ``max(strides)``. Static: a menu of (strategy, clip length) and a slider over ``strides``. ``start`` is
    the (strategy, clip length, stride) shown first. Each title states how many distinct frames the setting
    takes, what share of the video they span and the largest gap between them.
    """
    fps = _check_fps(fps)
    thumbs = _thumbnails(
        frames, check_positive_int(thumb_height, "thumb_height")
    )
    n = thumbs.shape[0]
    for s in strategies:
        if s not in STRATEGIES:
            raise ValueError(
                f"strategies must be among {', '.join(STRATEGIES)}; got {s!r}"
            )
    clip_lens = [check_positive_int(c, "clip_lens") for c in clip_lens]
    strides = [check_positive_int(s, "strides") for s in strides]
    if not clip_lens or not strides or not strategies:
        raise ValueError(
            "clip_lens, strides and strategies must each name at least one value"
        )
    if (
        (start[0] not in strategies)
        or (start[1] not in clip_lens)
        or (start[2] not in strides)
    ):
        raise ValueError(
            f"start {start!r} must be one of the (strategy, clip length, stride) settings shown"
        )
    if not _use_static(static):
        import ipywidgets as wd

        return wd.interactive(
            lambda strategy, clip_len, stride: sampling_figure(
                frames,
                strategy,
                clip_len,
                stride,
                fps=fps,
                num_clips=num_clips,
                seed=seed,
                thumbs=thumbs,
            ),
            {
                "auto_display": True
            },  # show the figure, not only compute it (ipywidgets 8's default)
            strategy=wd.Dropdown(
                options=list(strategies), value=start[0], description="strategy"
            ),
            clip_len=wd.IntSlider(
                start[1], min=1, max=max(clip_lens), description="clip length"
            ),
            stride=wd.IntSlider(
                start[2], min=1, max=max(strides), description="stride"
            ),
        )

    fig = _timeline(n, fps)
    blocks: dict[tuple, range] = {}
    settings: dict[
        tuple[int, int], tuple[tuple, str]
    ] = {}  # (menu entry, slider step) -> (clips key, title)
    menu = list(itertools.product(strategies, clip_lens))
    for (m, (strategy, clip_len)), (s, stride) in itertools.product(
        enumerate(menu), enumerate(strides)
    ):
        clips = clip_indices(
            strategy, n, clip_len, stride=stride, num_clips=num_clips, seed=seed
        )
        key = tuple(map(tuple, clips))
        if key not in blocks:
            blocks[key] = _add_clips(fig, thumbs, clips, fps, visible=False)
        settings[(m, s)] = (key, _title(strategy, clip_len, stride, clips, n))
    total = len(fig.data)

    def visible(m: int, s: int) -> list[bool]:
        shown = blocks[settings[(m, s)][0]]
        return [i == 0 or i in shown for i in range(total)]

    def slider_for(m: int, active: int) -> dict[str, Any]:
        return {
            "active": active,
            "currentvalue": {"prefix": "stride: "},
            "pad": {"t": 30},
            "len": 0.9,
            "steps": [
                {
                    "label": str(stride),
                    "method": "update",
                    "args": [
                        {"visible": visible(m, s)},
                        {"title.text": settings[(m, s)][1]},
                    ],
                }
                for s, stride in enumerate(strides)
            ],
        }

    m0, s0 = menu.index((start[0], start[1])), strides.index(start[2])
    for i, on in enumerate(visible(m0, s0)):
        fig.data[i].visible = on
    buttons = [
        {
            "label": f"{strategy}, {clip_len} frames",
            "method": "update",
            "args": [
                {"visible": visible(m, s0)},
                {
                    "title.text": settings[(m, s0)][1],
                    "sliders": [slider_for(m, s0)],
                },
            ],
        }
        for m, (strategy, clip_len) in enumerate(menu)
    ]
    _style(fig, n, num_clips, settings[(m0, s0)][1])
    fig.update_layout(
        sliders=[slider_for(m0, s0)],
        updatemenus=[dropdown(buttons, m0, 1.12)],
    )
    return keep_title_clear(fig)
