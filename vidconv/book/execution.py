"""Executing the chapters outside Jupyter Book: one client, and nbval's output check.

Used at build and test time only (``make notebooks``, the standalone test, the student copies):

* :func:`notebook_client` — an nbclient client that records the kernel's CPU time and never stalls on
  Output widgets (nbclient issue #312: an Output widget's state sync can race the execute reply, and
  the client then waits a full cell timeout; seen here as a 300 s wait in a 10 s chapter);
* :func:`output_mismatches` — the check ``pytest --nbval-lax`` makes: every cell tagged
  ``nbval-check-output`` (or marked ``# NBVAL_CHECK_OUTPUT``) must reproduce its saved outputs, compared
  the way nbval 0.11 compares them (streams merged, images and widget ids ignored), so a test that has
  executed a chapter once can check it without a second run.
"""

from __future__ import annotations

import collections
import os
import pathlib
import re
from typing import Any

import nbformat
from nbclient import NotebookClient

CHECK_TAG = "nbval-check-output"
CHECK_MARKER = "NBVAL_CHECK_OUTPUT"
# What nbval leaves out of a comparison (its IPyNbFile.skip_compare without --nbdime).
SKIP_COMPARE = {
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "name",
    "execution_count",
    "application/vnd.jupyter.widget-view+json",
    "image/png",
    "image/jpeg",
}


def disable_output_widget_sync() -> None:
    """Make nbclient's Output-widget mirror a no-op (it only feeds front ends; outputs still arrive)."""
    from nbclient.output_widget import OutputWidget

    OutputWidget.sync_state = lambda self: None


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its finished children, from /proc."""
    fields = (
        pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    )
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


class TimedClient(NotebookClient):
    """Records the kernel's CPU time once every cell has run, before the kernel shuts down.

    CPU time, unlike wall time, hardly changes when other work shares the machine.
    """

    kernel_cpu_seconds: float | None = None

    def set_widgets_metadata(
        self,
    ) -> None:  # nbclient calls it after the last cell, kernel still up
        try:
            pid = self.km.provisioner.process.pid
            self.kernel_cpu_seconds = round(process_cpu_seconds(pid), 1)
        except (
            AttributeError,
            OSError,
            ValueError,
        ):  # not a local kernel, or no /proc
            self.kernel_cpu_seconds = None
        super().set_widgets_metadata()


def notebook_client(
    nb: nbformat.NotebookNode, folder: str | os.PathLike, **options: Any
) -> TimedClient:
    """A client that runs ``nb`` with ``folder`` as working directory (options go to nbclient)."""
    disable_output_widget_sync()
    options.setdefault("timeout", 120)
    options.setdefault("kernel_name", "python3")
    return TimedClient(
        nb, resources={"metadata": {"path": str(folder)}}, **options
    )


def is_checked(cell: nbformat.NotebookNode) -> bool:
    """Whether nbval (in lax mode) compares this cell's outputs."""
    if cell.cell_type != "code":
        return False
    tags = cell.get("metadata", {}).get("tags", [])
    marked = any(
        line.strip().lstrip("#").strip() == CHECK_MARKER
        for line in cell.source.splitlines()
        if line.strip().startswith("#")
    )
    return CHECK_TAG in tags or marked


_CARRIAGE_RETURN = re.compile(r"^.*\r(?=[^\n])", re.MULTILINE)
_BACKSPACE = re.compile("[^\n]\x08")  # a character, then a backspace


def _comparable(outputs: list) -> dict[str, list]:
    """Outputs as nbval compares them: streams merged per name, then every field listed by key."""
    streams: dict[str, str] = {}
    merged: list[dict] = []
    for out in outputs:
        if out.get("output_type") == "stream":
            if out["name"] not in streams:
                merged.append({"output_type": "stream", "name": out["name"]})
            streams[out["name"]] = streams.get(out["name"], "") + out["text"]
        else:
            merged.append(out)
    by_key: dict[str, list] = collections.defaultdict(list)
    for out in merged:
        if out.get("output_type") == "stream":
            text = streams[out["name"]]
            while True:
                shorter = _BACKSPACE.sub("", text)
                if shorter == text:
                    break
                text = shorter
            by_key[out["name"]].append(_CARRIAGE_RETURN.sub("", text))
            continue
        for key, value in out.items():
            if key in SKIP_COMPARE:
                continue
            if key == "data":
                for mime, content in value.items():
                    if mime not in SKIP_COMPARE:
                        by_key[mime].append(content)
            else:
                by_key[key].append(value)
    return dict(by_key)


def output_mismatches(
    saved: nbformat.NotebookNode, executed: nbformat.NotebookNode
) -> list[str]:
    """One line per checked cell whose fresh outputs differ from the saved ones (empty: all agree)."""
    if len(saved.cells) != len(executed.cells):
        raise ValueError(
            f"the notebooks differ in length: {len(saved.cells)} vs {len(executed.cells)} cells"
        )
    problems = []
    for index, (old, new) in enumerate(zip(saved.cells, executed.cells)):
        if not is_checked(old):
            continue
        want, got = _comparable(old.outputs), _comparable(new.outputs)
        if want.keys() != got.keys():
            problems.append(
                f"cell {index}: output fields {sorted(got)} instead of {sorted(want)}"
            )
            continue
        for key in want:
            if want[key] != got[key]:
                problems.append(
                    f"cell {index} ({key}): saved\n{_show(want[key])}\nbut the run gave\n"
                    f"{_show(got[key])}"
                )
                break
    return problems


def _show(values: list) -> str:
    text = "\n".join(v if isinstance(v, str) else repr(v) for v in values)
    return text if len(text) < 1500 else text[:1500] + " ..."
