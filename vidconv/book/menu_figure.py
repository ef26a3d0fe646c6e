"""A static plotly figure that holds every setting of an explorer and switches between them itself.

Used where no kernel runs (the book's site): a menu picks one value of the first parameter, a slider
one value of the second, and plotly swaps the visible traces in the browser.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go

from vidconv.book.figure_layout import dropdown, keep_title_clear


def menu_and_slider_figure(
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
    for (m, (label, value)), (s, (_, svalue)) in itertools.product(
        enumerate(menu), enumerate(slider)
    ):
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
            "active": active,
            "currentvalue": {"prefix": slider_prefix},
            "pad": {"t": 40},
            "steps": [
                {
                    "label": lab,
                    "method": "update",
                    "args": [
                        {"visible": visible((m, s))},
                        {"title.text": titles[(m, s)]},
                    ],
                }
                for s, (lab, _) in enumerate(slider)
            ],
        }

    m0, s0 = start
    buttons = [
        {
            "label": label,
            "method": "update",
            "args": [
                {"visible": visible((m, s0))},
                {"title.text": titles[(m, s0)], "sliders": [slider_for(m, s0)]},
            ],
        }
        for m, (label, _) in enumerate(menu)
    ]
    fig.update_layout(
        title={"text": titles[start]},
        sliders=[slider_for(m0, s0)],
        updatemenus=[dropdown(buttons, m0, menu_y)],
    )
    style(fig)
    fig.update_layout(
        margin={"t": 130}, title={"y": 0.97, "yanchor": "top"}
    )  # room for the menu under the title
    return keep_title_clear(fig)
