"""Small helpers the chapters use to show results: the library's own source and glued numbers.

:class:`~vidconv.table.Table` lives in the library (results are returned as tables) and is
re-exported here for the chapters.
"""

from __future__ import annotations

import inspect
from typing import Any

from vidconv.table import Table

__all__ = ["Table", "glue", "show_source"]


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
