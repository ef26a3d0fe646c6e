"""Keep a plotly figure's title out from under its toolbar.

Plotly draws its toolbar (the modebar: zoom, pan, download) over the top right corner of a figure, and
a long title runs under it. :func:`title_below_toolbar` moves the title down into a band the height of
the toolbar and grows the top margin (and a fixed height) by that band, so that everything under the
title keeps its place relative to the plot. The explorers apply it when they build a figure; the site's
renderer (:mod:`vidconv.book.sphinxext`) applies it to every figure a chapter shows.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

TOOLBAR_PX = 32  # plotly's modebar: 2 px from the top, buttons about 26 px high, and a gap
DEFAULT_MARGIN_TOP = 100  # plotly's default layout.margin.t


def _title_text(layout: dict[str, Any]) -> str:
    title = layout.get("title")
    return title if isinstance(title, str) else (title or {}).get("text") or ""


def is_below_toolbar(layout: dict[str, Any]) -> bool:
    title = layout.get("title")
    return (
        isinstance(title, dict)
        and title.get("yref") == "container"
        and title.get("pad", {}).get("t") == TOOLBAR_PX
    )


def title_below_toolbar(layout: dict[str, Any]) -> dict[str, Any]:
    """The layout (a plotly JSON dict) with its title under the toolbar; unchanged without a title.

    Applying it twice changes nothing more.
    """
    if not _title_text(layout) or is_below_toolbar(layout):
        return layout
    title = (
        layout["title"]
        if isinstance(layout["title"], dict)
        else {"text": layout["title"]}
    )
    margin = dict(layout.get("margin") or {})
    moved = {
        **layout,
        "title": {
            **title,
            "yref": "container",
            "y": 1.0,
            "yanchor": "top",
            "pad": {**title.get("pad", {}), "t": TOOLBAR_PX},
        },
        "margin": {
            **margin,
            "t": margin.get("t", DEFAULT_MARGIN_TOP) + TOOLBAR_PX,
        },
    }
    if layout.get("height"):
        moved["height"] = (
            layout["height"] + TOOLBAR_PX
        )  # the plot keeps its size
    return moved


def keep_title_clear(fig: go.Figure) -> go.Figure:
    """Apply :func:`title_below_toolbar` to a figure in place; returns the figure."""
    layout = fig.layout.to_plotly_json()
    moved = title_below_toolbar(layout)
    if moved is not layout:
        fig.update_layout(
            title=moved["title"],
            margin=moved["margin"],
            height=moved.get("height"),
        )
    return fig


def dropdown(buttons: list[dict], active: int, y: float) -> dict:
    """A plotly drop-down menu at the left edge, ``y`` in paper units above
    the plot, its buttons as given and ``active`` chosen."""
    return {
        "buttons": buttons,
        "active": active,
        "direction": "down",
        "x": 0.0,
        "xanchor": "left",
        "y": y,
        "yanchor": "bottom",
        "showactive": True,
    }
