"""The book's side of vidconv: what the chapters use to show results, never needed by the library.

* :mod:`~vidconv.book.helpers` — ``show_source`` (the real source of what a chapter teaches), ``glue``
  (numbers for the prose) and ``Table``.
* :mod:`~vidconv.book.widgets` — explorers that are live ipywidgets in Jupyter/Colab and
  self-contained plotly figures on the static site.
* :mod:`~vidconv.book.sphinxext` — the Sphinx/myst-nb extension that renders plotly offline; loaded
  only by the book build.

Nothing in the rest of vidconv imports this package.
"""

from vidconv.book.helpers import Table, glue, show_source

__all__ = ["Table", "glue", "show_source"]
