"""Re-execute chapter notebooks in place on the CPU, so their committed outputs match the code.

nbval compares the committed outputs of fact cells with a fresh run, so run this (``make notebooks``)
after changing a chapter or the code it shows, and commit the result. Outputs are produced on the CPU
with the static figures off, as a reader's local Jupyter would produce them.

Each notebook's run is recorded in its metadata (``vidconv``): the kernel's CPU time (user + system),
the wall time, the machine's CPU model and core count, and the load average; the instructor's guide
shows them.
"""

from __future__ import annotations

import os
import pathlib
import platform
import sys
import time

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidconv.book.execution import notebook_client  # noqa: E402


def machine() -> str:
    """This machine's CPU model and core count, e.g. "Intel(R) Xeon(R) ... (2 cores)"."""
    model = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model} ({os.cpu_count()} cores)"


def main(paths: list[str]) -> int:
    os.environ["CUDA_VISIBLE_DEVICES"] = (
        ""  # committed outputs come from a CPU run
    )
    os.environ.pop("VIDCONV_STATIC_FIGURES", None)
    notebooks = [pathlib.Path(p).resolve() for p in paths] or sorted(
        (ROOT / "chapters").glob("[0-9]*.ipynb")
    )
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        client = notebook_client(nb, path.parent)
        client.execute()
        # Saved widget state would make the site load the widget manager for widgets it never shows
        # (the build draws static figures); a reader's Jupyter recreates the widgets when it runs the cell.
        nb.metadata.pop("widgets", None)
        seconds = time.perf_counter() - start
        # The load average says whether other work shared the CPU (then the wall time is an upper bound).
        nb.metadata["vidconv"] = {
            "wall_seconds": round(seconds, 1),
            "cpu_seconds": client.kernel_cpu_seconds,
            "machine": machine(),
            "load_average": round(os.getloadavg()[0], 1),
        }
        nbformat.write(nb, path)
        print(
            f"{path.relative_to(ROOT)}: executed in {seconds:.1f} s, kernel CPU time {client.kernel_cpu_seconds} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
