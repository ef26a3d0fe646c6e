"""How the book's site shows vidconv's figures without a kernel and without a network.

Loaded only by the book build (``sphinx.extra_extensions`` in ``_config.yml`` and the myst-nb entry
point in ``pyproject.toml``); importing vidconv never imports this module.

* :class:`PlotlyMimeRenderer` turns a cell's plotly JSON output into a ``<div>`` drawn by
  ``Plotly.newPlot``. myst-nb cannot render that mime type by itself. Every figure's title is moved
  out from under the toolbar (:func:`~vidconv.book.figure_layout.title_below_toolbar`).
* :func:`setup` adds the locally served ``plotly.min.js`` to the pages that have a figure (and only
  to those), asks the notebooks' kernels for static figures, and disables the Output-widget state
  sync that can stall an execution for a full cell timeout (nbclient issue #312), and loads
  :mod:`vidconv.book.guide` (the instructor's guide's tables) and the book's stylesheet
  (``static/vidconv.css``: code cells 80 characters wide).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from typing import Any

from vidconv.book.execution import disable_output_widget_sync
from vidconv.book.figure_layout import title_below_toolbar

PLOTLY_MIME = "application/vnd.plotly.v1+json"
FIGURE_CLASS = "vidconv-plotly"
PLOTLY_JS = "plotly.min.js"
STATIC = pathlib.Path(__file__).with_name(
    "static"
)  # vidconv.css: code cells that fit the page


class PlotlyMimeRenderer:
    """myst-nb mime renderer plugin for plotly figures."""

    # Lower is preferred; 5 puts a figure ahead of every other representation of the same output.
    mime_priority_overrides = [("html", PLOTLY_MIME, 5)]

    @staticmethod
    def handle_mime(renderer: Any, data: Any, inline: bool) -> list[Any] | None:
        if data.mime_type != PLOTLY_MIME or inline:
            return None
        import plotly.io as pio
        from docutils import nodes

        figure = (
            json.loads(data.content)
            if isinstance(data.content, str)
            else data.content
        )
        figure = {
            **figure,
            "layout": title_below_toolbar(figure.get("layout", {})),
        }
        # A content hash keeps the page identical from one build to the next.
        digest = hashlib.sha1(
            json.dumps(figure, sort_keys=True).encode()
        ).hexdigest()[:12]
        html = pio.to_html(
            figure,
            include_plotlyjs=False,
            full_html=False,
            auto_play=False,
            validate=False,
            div_id=f"{FIGURE_CLASS}-{digest}",
            config={"responsive": True, "displaylogo": False},
        )
        return [
            nodes.raw(
                "", f'<div class="{FIGURE_CLASS}">{html}</div>', format="html"
            )
        ]


def _add_plotly_where_needed(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    if FIGURE_CLASS in context.get("body", ""):
        app.add_js_file(PLOTLY_JS, priority=400)


def _serve_book_styles(app: Any, config: Any) -> None:
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def setup(app: Any) -> dict[str, Any]:
    os.environ["VIDCONV_STATIC_FIGURES"] = (
        "1"  # inherited by the kernels the build starts
    )
    os.environ["VIDCONV_BOOK_BUILD"] = (
        "1"  # glue records its values (vidconv.book.helpers.glue)
    )
    disable_output_widget_sync()  # nbclient #312: a stalled Output widget waits a cell timeout
    app.connect("html-page-context", _add_plotly_where_needed)
    app.connect("config-inited", _serve_book_styles)
    app.add_css_file("vidconv.css")
    app.setup_extension(
        "vidconv.book.guide"
    )  # the instructor's guide's {course-overview}
    return {
        "parallel_read_safe": True,
        "parallel_write_safe": True,
        "version": "1",
    }
