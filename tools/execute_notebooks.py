"""Re-execute chapter notebooks in place on the CPU, so their committed outputs match the code.

nbval compares the committed outputs of fact cells with a fresh run, so run this (``make notebooks``)
after changing a chapter or the code it shows, and commit the result. Outputs are produced on the CPU
with the static figures off, as a reader's local Jupyter would produce them.
"""

from __future__ import annotations

import os
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main(paths: list[str]) -> int:
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # committed outputs come from a CPU run
    os.environ.pop("VIDCONV_STATIC_FIGURES", None)
    notebooks = [pathlib.Path(p).resolve() for p in paths] or sorted((ROOT / "chapters").glob("[0-9]*.ipynb"))
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
        # Saved widget state would make the site load the widget manager for widgets it never shows
        # (the build draws static figures); a reader's Jupyter recreates the widgets when it runs the cell.
        nb.metadata.pop("widgets", None)
        nbformat.write(nb, path)
        print(f"{path.relative_to(ROOT)}: executed in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
