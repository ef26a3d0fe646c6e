"""Small helpers the chapters use to show results: the library's own source and glued numbers.

:class:`~vidconv.utils.table.Table` lives in the library (results are returned as tables) and is
re-exported here for the chapters.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
from typing import Any

from vidconv.utils.table import Table

__all__ = ["Table", "glue", "show_source"]


def show_source(obj: Any) -> Any:
    """The real source of a vidconv function or class, highlighted: what the chapter teaches is what runs."""
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")


# myst-nb reads a glued value from a display output with these mime types and metadata.
GLUE_PREFIX = "application/papermill.record/"
BOOK_BUILD = (
    "VIDCONV_BOOK_BUILD"  # set to "1" where the outputs are made for the site
)


def glue(name: str, value: Any) -> None:
    """Make ``value`` available to the chapter's prose as ``{glue:text}`name```.

    Records it as myst-nb's ``glue(name, value, display=False)`` does, where the outputs feed the site
    (``VIDCONV_BOOK_BUILD=1``) or myst-nb is installed; elsewhere (Colab) does nothing, so a reader sees
    no output that no front end can render.
    """
    if (
        os.environ.get(BOOK_BUILD) != "1"
        and importlib.util.find_spec("myst_nb") is None
    ):
        return
    from IPython.core.formatters import format_display_data
    from IPython.display import display

    bundle, metadata = format_display_data(value)
    metadata["scrapbook"] = {"name": name, "mime_prefix": GLUE_PREFIX}
    display(
        {GLUE_PREFIX + mime: data for mime, data in bundle.items()},
        raw=True,
        metadata=metadata,
    )
