"""A result table: Markdown on the site, aligned plain text everywhere else.

Library functions that return rows of results (``summary``, the experiments) return a :class:`Table`;
it depends on nothing but Python, so the library never imports the book's helpers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Table:
    """Rows of a result, shown as a Markdown table on the site and as aligned text elsewhere.

    The plain-text form is what a notebook test compares, so it must not depend on the machine:
    format floats through ``floatfmt`` before they vary in their last digits.
    """

    def __init__(
        self, rows: Sequence[dict[str, Any]], *, floatfmt: str = ".4g"
    ) -> None:
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
        return [
            [self._cell(r.get(c, "")) for c in self.columns] for r in self.rows
        ]

    def __repr__(self) -> str:
        cells = self._cells()
        widths = [
            max(len(c), *(len(row[i]) for row in cells))
            for i, c in enumerate(self.columns)
        ]
        lines = ["  ".join(c.rjust(w) for c, w in zip(self.columns, widths))]
        lines += [
            "  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells
        ]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        head = (
            "| "
            + " | ".join(c.replace("|", "\\|") for c in self.columns)
            + " |"
        )
        rule = "|" + "|".join("---:" for _ in self.columns) + "|"
        body = [
            "| " + " | ".join(v.replace("|", "\\|") for v in row) + " |"
            for row in self._cells()
        ]
        return "\n".join([head, rule, *body])
