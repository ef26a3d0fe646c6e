"""Session report for `make test`: chapters executed (slowest first), pages checked, student copies.

The chapters are executed once per session (``tests/conftest.py``: ``chapter_runs``) and their wall
times reported here; when nbval runs a chapter (``pytest --nbval-lax chapters/NN.ipynb``) its cells'
times are summed per notebook. A chapter over NOTEBOOK_BUDGET_S is flagged in the report as a finding
to fix; it never fails the run, because a wall time measures the machine's load as much as the chapter
(``make notebooks`` records each chapter's CPU time for the instructor's guide).
"""

from __future__ import annotations

import collections
import os

import pytest

NOTEBOOK_BUDGET_S = 60.0

# Debian's Chromium, driven by Playwright (never `playwright install`: it downloads a browser).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

_notebook_seconds: dict[str, float] = collections.defaultdict(float)
_site: dict = {"pages": [], "figures": 0}
_live: dict = {
    "chapters": [],
    "explorers": [],
    "seconds": 0.0,
    "frames": 0,
    "frames_without_figure": 0,
}
_course: dict = {
    "student_seconds": None,
    "student_copies": {},
}  # copies: {name: wall s}


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the site test and the live JupyterLab test."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: `make browser` installs Debian's chromium"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def chapter_report() -> dict[str, float]:
    """{notebook path: wall seconds} of the chapters this session executed."""
    return _notebook_seconds


@pytest.fixture(scope="session")
def site_report() -> dict:
    return _site


@pytest.fixture(scope="session")
def live_report() -> dict:
    return _live


@pytest.fixture(scope="session")
def course_report() -> dict:
    return _course


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    tr = terminalreporter
    tr.section("vidconv book report")
    tr.write_line(
        f"chapters executed: {len(_notebook_seconds)} (wall s, one at a time)"
    )
    for nb, seconds in sorted(_notebook_seconds.items(), key=lambda kv: -kv[1]):
        flag = (
            f"  over the {NOTEBOOK_BUDGET_S:.0f} s budget (a finding, not a failure)"
            if seconds > NOTEBOOK_BUDGET_S
            else ""
        )
        tr.write_line(f"  {seconds:6.1f} s  {nb}{flag}")
    tr.write_line(
        f"pages checked in the browser: {len(_site['pages'])} ({_site['figures']} plotly figures drawn)"
    )
    if _site.get("bytes"):
        tr.write_line(
            "bytes each page transferred (HTML, scripts, styles, fonts, images):"
        )
        for rel, size in sorted(_site["bytes"].items(), key=lambda kv: -kv[1]):
            tr.write_line(f"  {size / 1e6:6.2f} MB  {rel}")
    if _course["student_seconds"] is not None:
        tr.write_line(
            f"student copies executed: {len(_course['student_copies'])} (those without widgets in "
            f"{_course['student_seconds']:.0f} s, two kernels at a time; those with widgets in "
            f"JupyterLab)"
        )
        for name, seconds in sorted(
            _course["student_copies"].items(), key=lambda kv: -kv[1]
        ):
            tr.write_line(f"  {seconds:6.1f} s  student/{name}.ipynb")
    tr.write_line(
        f"chapters run live in JupyterLab: {len(_live['chapters'])} "
        f"({len(_live['explorers'])} explorers drawn and redrawn, {_live['seconds']:.0f} s; "
        f"{_live['frames_without_figure']} of {_live['frames']} frames while redrawing had no figure)"
    )
