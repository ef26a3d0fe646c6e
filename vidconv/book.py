"""Small helpers the chapters use to show results: tables, the library's own source, glued numbers."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any


class Table:
    """Rows of a result, shown as a Markdown table on the site and as aligned text elsewhere.

    The plain-text form is what a notebook test compares, so it must not depend on the machine:
    format floats through ``floatfmt`` before they vary in their last digits.
    """

    def __init__(self, rows: Sequence[dict[str, Any]], *, floatfmt: str = ".4g") -> None:
        if isinstance(rows, dict) or not all(isinstance(r, dict) for r in rows):
            raise TypeError("rows must be a sequence of dicts (one per row)")
        if not rows:
            raise ValueError("a Table needs at least one row")
        self.rows = list(rows)
        self.columns = list(dict.fromkeys(k for r in self.rows for k in r))
        self.floatfmt = floatfmt

    def _cell(self, value: Any) -> str:
        if isinstance(value, bool) or value is None:
            return str(value)
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return format(value, self.floatfmt)
        return str(value)

    def _cells(self) -> list[list[str]]:
        return [[self._cell(r.get(c, "")) for c in self.columns] for r in self.rows]

    def __repr__(self) -> str:
        cells = self._cells()
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(self.columns)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(self.columns, widths))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        head = "| " + " | ".join(c.replace("|", "\\|") for c in self.columns) + " |"
        rule = "|" + "|".join("---:" for _ in self.columns) + "|"
        body = ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in self._cells()]
        return "\n".join([head, rule, *body])


def show_source(obj: Any) -> Any:
    """The real source of a vidconv function or class, highlighted: what the chapter teaches is what runs."""
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")


def glue(name: str, value: Any) -> None:
    """Make ``value`` available to the chapter's prose as ``{glue:text}`name```.

    Uses myst-nb's glue when it is installed (the book build); elsewhere (Colab) does nothing.
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=False)
