"""The live path as a learner meets it: every chapter with a widget, run in a real JupyterLab.

A JupyterLab server (127.0.0.1, a token, its own config/runtime/settings folders, no network) serves
the student copies (``make student``) of every chapter whose saved outputs show a widget (an explorer,
a progress bar). Debian's Chromium opens each one, runs all cells, and checks that no cell shows an
error, that every widget the chapter shows is drawn, that the copy computes none of the solutions'
numbers, and, for every explorer, that a plotly figure is drawn under its controls and that moving each
control with the keyboard redraws that one figure (title or data change); the page must log no
JavaScript error and ask nothing of any host but 127.0.0.1. The server and its kernels are stopped at
the end. This run is those student copies' execution: ``test_course.py`` executes the other copies.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from vidconv.book import course
from vidconv.book.widgets import EXPLORERS

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = pathlib.Path(__file__).resolve().parents[1]
OFFLINE_ENV = {
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "no_proxy": "127.0.0.1,localhost",
    "NO_PROXY": "127.0.0.1,localhost",
}
EXPLORER_CALL = re.compile(r"\b(" + "|".join(EXPLORERS) + r")\(")
# JupyterLab settings for the test's user: every cell stays in the page (no windowing), and no
# news or update checks (both would ask a web site).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none"
    },
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
RUN_ALL_TIMEOUT_S = 150  # a chapter's budget is 60 s of CPU; JupyterLab and Chromium share the cores
REDRAW_TIMEOUT_MS = 30_000


def calls_an_explorer(nb) -> bool:
    return any(
        c.cell_type == "code" and EXPLORER_CALL.search(c.source)
        for c in nb.cells
    )


def live_chapters() -> list[pathlib.Path]:
    """The chapters a learner meets widgets in (see ``course.live_chapters``)."""
    return [ROOT / f"{doc}.ipynb" for doc in course.live_chapters(ROOT)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_student_copy(
    src: pathlib.Path, dest_dir: pathlib.Path
) -> pathlib.Path:
    import nbformat

    dest = dest_dir / src.name
    nbformat.write(
        course.student_copy(course.read_notebook(src)), dest
    )  # no outputs, no solutions
    return dest


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().replace(
                    b"\0", b" "
                ).decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free 127.0.0.1 port serving copies of the chapters; yields (url, token, folder)."""
    home = tmp_path_factory.mktemp("jupyterlab")
    notebooks = home / "notebooks"
    notebooks.mkdir()
    for chapter in live_chapters():
        _write_student_copy(chapter, notebooks)
    settings = home / "lab-settings"
    for rel, values in LAB_SETTINGS.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(values))
    runtime = home / "runtime"
    env = {k: v for k, v in os.environ.items() if k != "VIDCONV_STATIC_FIGURES"}
    env.update(OFFLINE_ENV)
    env.update(
        {
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_RUNTIME_DIR": str(runtime),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
            "IPYTHONDIR": str(home / "ipython"),
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        }
    )
    port, token = _free_port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={notebooks}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],  # CI containers often run as root
        cwd=notebooks,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"JupyterLab exited with {server.returncode}:\n{(home / 'server.log').read_text()[-3000:]}"
                )
            try:
                urllib.request.urlopen(
                    f"{url}/api/status?token={token}", timeout=5
                ).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"JupyterLab did not answer in 90 s:\n{(home / 'server.log').read_text()[-3000:]}"
                    )
                time.sleep(0.5)
        yield url, token, notebooks
    finally:
        _stop(server, url, token, runtime)
        log.close()


def _stop(
    server: subprocess.Popen, url: str, token: str, runtime: pathlib.Path
) -> None:
    """Stop the server we started, then any kernel it started that is still alive."""
    try:  # the server's own shutdown also shuts its kernels down
        request = urllib.request.Request(
            f"{url}/api/shutdown",
            method="POST",
            headers={"Authorization": f"token {token}"},
        )
        urllib.request.urlopen(request, timeout=10).close()
        server.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        pass
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    # Kernels run in sessions of their own; each was given a connection file in our runtime folder.
    for pid in _processes_mentioning(str(runtime)):
        os.kill(pid, signal.SIGKILL)


def open_watched_page(browser, base: str):
    """A page that records console errors, page errors and every request to another host (blocked)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []

    def route(r):
        if r.request.url.startswith(base) or r.request.url.startswith(
            ("data:", "blob:")
        ):
            r.continue_()
        else:
            problems.append(f"request outside 127.0.0.1: {r.request.url}")
            r.abort()

    page.route("**/*", route)
    page.on(
        "console",
        lambda m: (
            m.type == "error" and problems.append(f"console error: {m.text}")
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "response",
        lambda r: (
            r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}")
        ),
    )
    return page, problems


# JavaScript run in the page: the open notebook, its cells, and what a figure shows.
NOTEBOOK = "window.jupyterapp.shell.currentWidget"
CELLS_STATE = f"""() => {{
    const model = {NOTEBOOK}.content.model;
    const cells = [];
    for (let i = 0; i < model.cells.length; i++) {{
        const c = model.cells.get(i);
        if (c.type !== 'code') continue;
        const outputs = c.outputs.toJSON();
        cells.push({{index: i, count: c.executionCount,
                     errors: outputs.filter(o => o.output_type === 'error')
                                    .map(o => o.ename + ': ' + o.evalue),
                     widgets: outputs.filter(o => o.data && o.data['{course.WIDGET_VIEW}']).length,
                     glued: outputs.map(o => o.metadata && o.metadata.scrapbook
                                             && o.metadata.scrapbook.name).filter(n => n)}});
    }}
    return {{cells, status: {NOTEBOOK}.sessionContext.kernelDisplayStatus}};
}}"""
FIGURE_STATE = """el => ({
    title: (el.querySelector('.gtitle') || {}).textContent || '',
    data: JSON.stringify((el.data || []).map(t => [t.x, t.y, t.z])),
    drawn: !!el.querySelector('.main-svg'),
})"""


def shut_down_kernels(url: str, token: str) -> None:
    """Stop every kernel the server runs: a closed page leaves its kernel running, and the next
    chapter would share the two cores with it."""
    with urllib.request.urlopen(
        f"{url}/api/kernels?token={token}", timeout=10
    ) as r:
        kernels = json.load(r)
    for k in kernels:
        request = urllib.request.Request(
            f"{url}/api/kernels/{k['id']}?token={token}", method="DELETE"
        )
        urllib.request.urlopen(request, timeout=30).close()


def run_all_cells(page, name: str) -> list[dict]:
    """Run All Cells in the open notebook ``name`` once its kernel is idle; returns CELLS_STATE's cells."""
    page.wait_for_function(
        f"() => window.jupyterapp && {NOTEBOOK} && {NOTEBOOK}.context"
        f" && {NOTEBOOK}.context.path === {json.dumps(name)} && {NOTEBOOK}.sessionContext"
        f" && {NOTEBOOK}.sessionContext.kernelDisplayStatus === 'idle'",
        timeout=90_000,
    )
    page.evaluate(
        "() => window.jupyterapp.commands.execute('notebook:run-all-cells')"
    )  # Run > Run All Cells
    deadline = time.monotonic() + RUN_ALL_TIMEOUT_S
    idle_polls = 0
    while True:
        state = page.evaluate(CELLS_STATE)
        done = all(c["count"] is not None for c in state["cells"]) or any(
            c["errors"] for c in state["cells"]
        )
        idle_polls = idle_polls + 1 if done and state["status"] == "idle" else 0
        if idle_polls >= 2:
            return state["cells"]
        assert time.monotonic() < deadline, (
            f"Run All did not finish in {RUN_ALL_TIMEOUT_S} s: {state}"
        )
        page.wait_for_timeout(500)


# Samples, every animation frame while a control moves, the height of the explorer's figure area
# and whether a drawn figure is in it: the old figure should stay until the new one replaces it.
WATCH_HEIGHT = """el => {
    const area = el.querySelector('.widget-output');
    const watch = window.__vidconvWatch = {start: area.getBoundingClientRect().height, min: Infinity,
                                           frames: 0, without_figure: 0};
    const tick = () => {
        if (window.__vidconvWatch !== watch) return;
        watch.min = Math.min(watch.min, area.getBoundingClientRect().height);
        watch.frames += 1;
        if (!area.querySelector('.js-plotly-plot .main-svg')) watch.without_figure += 1;
        requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
}"""


def move_and_check(page, explorer, label: str, live_report: dict) -> int:
    """Move every control of one explorer by one step; the one figure must change each time. Returns moves."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    plots = explorer.locator(".js-plotly-plot")
    handles = explorer.locator(".widget-slider .noUi-handle")
    assert handles.count() > 0, f"{label}: no slider in its output"
    moves = 0
    for i in range(handles.count()):
        handle = handles.nth(i)
        low, high = (
            float(handle.get_attribute(a))
            for a in ("aria-valuemin", "aria-valuemax")
        )
        if low == high:
            continue  # a control with one value (e.g. one input channel) cannot move
        before = plots.first.evaluate(FIGURE_STATE)
        value = float(handle.get_attribute("aria-valuenow"))
        explorer.evaluate(WATCH_HEIGHT)
        handle.focus()
        page.keyboard.press("ArrowRight" if value < high else "ArrowLeft")
        try:
            page.wait_for_function(
                f"([el, before]) => {{ const p = el.querySelector('.js-plotly-plot');"
                f" if (!p || !p.querySelector('.main-svg')) return false;"
                f" const now = ({FIGURE_STATE})(p); return now.title !== before.title || now.data !== before.data; }}",
                arg=[explorer.element_handle(), before],
                timeout=REDRAW_TIMEOUT_MS,
            )
        except PlaywrightTimeout:
            pytest.fail(
                f"{label}: moving slider {i} ({value:g} -> {handle.get_attribute('aria-valuenow')}) did not"
                f" change the figure; it still shows {before['title']!r}",
                pytrace=False,
            )
        after = plots.first.evaluate(FIGURE_STATE)
        watched = page.evaluate(
            "() => { const w = window.__vidconvWatch; window.__vidconvWatch = null; return w; }"
        )
        assert watched["min"] >= watched["start"] - 1, (
            f"{label}: the figure area shrank while redrawing: {watched}"
        )
        live_report["frames"] += watched["frames"]
        live_report["frames_without_figure"] += watched["without_figure"]
        assert float(handle.get_attribute("aria-valuenow")) != value, (
            f"{label}: slider {i} did not move"
        )
        assert plots.count() == 1, (
            f"{label}: {plots.count()} figures after moving slider {i}, expected one"
        )
        assert after["drawn"], (
            f"{label}: figure not drawn after moving slider {i}"
        )
        moves += 1
    return moves


def test_every_chapter_with_an_explorer_is_run_live():
    live = live_chapters()
    explorers = [
        p
        for p in sorted((ROOT / "chapters").glob("[0-9]*.ipynb"))
        if calls_an_explorer(course.read_notebook(p))
    ]
    assert explorers and set(explorers) <= set(live), (explorers, live)


def test_student_copies_run_live_in_jupyterlab(
    lab, browser, live_report, course_report
):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    url, token, notebooks = lab
    chapters = live_chapters()
    started = time.monotonic()
    for chapter in chapters:
        page, problems = open_watched_page(browser, url)
        # A workspace of its own, reset: JupyterLab would otherwise restore the notebooks opened before,
        # and the one in front need not be this chapter.
        page.goto(
            f"{url}/lab/workspaces/{chapter.stem}/tree/{chapter.name}?reset&token={token}",
            wait_until="load",
        )
        run_started = time.monotonic()
        cells = run_all_cells(page, chapter.name)
        course_report["student_copies"][chapter.stem] = (
            time.monotonic() - run_started
        )
        errors = [f"cell {c['index']}: {e}" for c in cells for e in c["errors"]]
        assert not errors, f"{chapter.name}: error outputs\n" + "\n".join(
            errors
        )
        assert all(c["count"] is not None for c in cells), (
            f"{chapter.name}: cells left unexecuted"
        )
        saved = course.read_notebook(chapter)
        shown = sum(c["widgets"] > 0 for c in cells)
        assert shown >= len(course.widget_cells(saved)), (
            f"{chapter.name}: {shown} cells show a widget, the chapter has {len(course.widget_cells(saved))}"
        )
        answers = course._solution_only_names(saved)
        glued = {g for c in cells for g in c["glued"]}
        assert glued and not glued & answers, (
            f"{chapter.name}: the copy computes answers {glued & answers}"
        )
        sources = json.loads((notebooks / chapter.name).read_text())["cells"]
        calls = [
            i
            for i, c in enumerate(sources)
            if c["cell_type"] == "code"
            and EXPLORER_CALL.search("".join(c["source"]))
        ]
        for index in calls:
            label = f"{chapter.name} cell {index} ({EXPLORER_CALL.search(''.join(sources[index]['source'])).group(1)})"
            page.evaluate(
                f"i => {NOTEBOOK}.content.widgets[i].node.setAttribute('data-test-cell', i)",
                index,
            )
            explorer = (
                page.locator(
                    f"[data-test-cell='{index}'] .jp-OutputArea-output"
                )
                .filter(has=page.locator(".widget-slider"))
                .first
            )
            explorer.wait_for(timeout=30_000)
            explorer.scroll_into_view_if_needed()
            plots = explorer.locator(".js-plotly-plot")
            try:
                plots.first.locator(".main-svg").first.wait_for(
                    timeout=REDRAW_TIMEOUT_MS
                )
            except PlaywrightTimeout:
                pytest.fail(
                    f"{label}: sliders but no figure ({plots.count()} .js-plotly-plot in its output)",
                    pytrace=False,
                )
            assert plots.count() == 1, (
                f"{label}: {plots.count()} figures, expected one"
            )
            assert move_and_check(page, explorer, label, live_report) > 0, (
                f"{label}: no control could move"
            )
            tracebacks = explorer.locator(
                "[data-mime-type='application/vnd.jupyter.stderr']"
            )
            assert tracebacks.count() == 0, (
                f"{label}: error in its output: {tracebacks.first.text_content()}"
            )
            live_report["explorers"].append(label)
        page.close()
        shut_down_kernels(url, token)
        assert not problems, f"{chapter.name}:\n" + "\n".join(problems)
        live_report["chapters"].append(chapter.name)
    live_report["seconds"] = time.monotonic() - started


# Runs an output's HTML the way a front end that fills an output area dynamically does (Colab's
# output frames run the scripts of an output, googlecolab/colabtools#5889): scripts re-created one by
# one, so an external script loads while the inline ones after it have already run.
INJECT = """html => {
    const host = document.getElementById('output');
    host.innerHTML = html;
    for (const old of Array.from(host.querySelectorAll('script'))) {
        const script = document.createElement('script');
        for (const a of old.attributes) script.setAttribute(a.name, a.value);
        script.textContent = old.textContent;
        old.replaceWith(script);
    }
}"""


def test_colab_html_draws_even_when_plotly_js_arrives_after_its_script(browser):
    import time as clock

    import plotly
    import plotly.io as pio
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from vidconv.book.live import colab_html
    from vidconv.book.widgets import receptive_field_figure

    plotly_js = (
        pathlib.Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    ).read_bytes()
    fig = receptive_field_figure(kernel_size=3, dilation=2, depth=2)
    cdn_requests: list[str] = []

    def slow_cdn(route):
        cdn_requests.append(route.request.url)
        clock.sleep(0.5)  # a CDN is slower than the inline script after it
        route.fulfill(body=plotly_js, content_type="application/javascript")

    results = {}
    for name, html in [
        (
            "plotly's colab renderer",
            pio.to_html(fig, include_plotlyjs="cdn", full_html=False),
        ),
        ("colab_html", colab_html(fig)),
    ]:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("https://cdn.plot.ly/**", slow_cdn)
        page.route(
            re.compile(r"^(?!https://cdn\.plot\.ly/).*"), lambda r: r.abort()
        )
        page.set_content("<html><body><div id='output'></div></body></html>")
        page.evaluate(INJECT, html)
        page.wait_for_function("() => window.Plotly", timeout=15_000)
        try:  # once plotly.js is there, a figure that can draw does so at once
            page.locator("#output .main-svg").first.wait_for(timeout=3_000)
            results[name] = (
                page.locator("#output .gtitle").text_content(),
                errors,
            )
        except PlaywrightTimeout:
            results[name] = (None, errors)
        page.close()
    # The harness reproduces the failure Colab users report ...
    title, errors = results["plotly's colab renderer"]
    assert title is None and any(
        "Plotly is not defined" in e for e in errors
    ), results
    # ... and the explorers' HTML draws the figure there, loading plotly.js itself.
    title, errors = results["colab_html"]
    assert title == fig.layout.title.text and not errors, results
    assert cdn_requests and all(
        u.startswith("https://cdn.plot.ly/") for u in cdn_requests
    )
