"""One plotly figure redrawn in place by ipywidgets controls, for Jupyter and Colab.

An explorer is a row of controls above an ``ipywidgets.Output`` that always holds exactly one
figure. Moving a control draws the figure for the new values and replaces the old one with
``clear_output(wait=True)``: the old figure stays until the new one arrives, and the output keeps
a minimum height, so the page does not jump while it is redrawn.

Why not ``ipywidgets.interactive``: in ipywidgets 8 it only *computes* ``f(...)`` unless it is given
``{"auto_display": True}``, which is how the book's explorers once showed sliders and no figure.
Why not ``plotly.graph_objects.FigureWidget``: in plotly 7 it needs ``anywidget``, and Colab shows
custom widgets only after ``enable_custom_widget_manager()``; core ipywidgets need neither.

Colab renders a figure as HTML that loads plotly.js from a CDN; inside an ``Output`` widget its
drawing script can run before plotly.js has loaded ("Plotly is not defined",
googlecolab/colabtools#5889). There the figure is shown as HTML whose script waits for plotly.js.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import plotly.graph_objects as go
from IPython.display import HTML, clear_output, display


def _in_colab() -> bool:
    return "google.colab" in sys.modules


def colab_html(fig: go.Figure) -> str:
    """The figure as HTML that draws itself once plotly.js is there, loading it if it is not."""
    from plotly.io._utils import plotly_cdn_url

    div_id = f"vidconv-{uuid.uuid4().hex}"
    spec = (
        fig.to_json()
    )  # plotly writes "<" as \u003c, so no label can end the <script> early
    height = fig.layout.height or 450
    return f"""<div id="{div_id}" style="height: {height}px"></div>
<script>
(function () {{
  var spec = {spec};
  function draw() {{
    Plotly.newPlot("{div_id}", spec.data, spec.layout, {{responsive: true}});
  }}
  if (window.Plotly) {{ draw(); return; }}
  var script = document.createElement("script");
  script.src = {json.dumps(plotly_cdn_url())};
  script.onload = draw;
  document.head.appendChild(script);
}})();
</script>"""


def _show(fig: go.Figure) -> None:
    display(HTML(colab_html(fig)) if _in_colab() else fig)


class LiveFigure(w.VBox):
    """Controls above one figure; every change of a control redraws it as ``draw(**values)``.

    ``controls`` maps each keyword of ``draw`` to an ipywidgets value widget; ``min_height`` (pixels)
    keeps the output's height while a figure is replaced. ``figure`` is the figure shown now.
    """

    def __init__(
        self,
        draw: Callable[..., go.Figure],
        controls: dict[str, w.ValueWidget],
        *,
        min_height: int,
    ) -> None:
        self.draw = draw
        self.controls = dict(controls)
        self.out = w.Output(layout=w.Layout(min_height=f"{min_height}px"))
        self.figure: go.Figure | None = None
        super().__init__(
            [*self.controls.values(), self.out],
            _dom_classes=["vidconv-explorer"],
        )
        for control in self.controls.values():
            control.observe(self.redraw, names="value")
        self.redraw()

    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def redraw(self, change: Any = None) -> None:
        # Inside the Output, so that an error in draw() shows there as a traceback.
        with self.out:
            clear_output(wait=True)
            self.figure = self.draw(**self.values())
            _show(self.figure)
