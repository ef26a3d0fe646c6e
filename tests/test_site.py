"""Build the site the way `make book` does, then open every page in a real browser (Debian's Chromium).

Checks: the build passes with warnings as errors and offline; no page loads anything from outside the
site; no console errors beyond the allow-list; every plotly figure is drawn, with its title clear of its
toolbar; no code cell scrolls sideways; no chapter page transfers more than 5 MB, nor plotly.js twice;
moving a slider redraws a figure; math is typeset; search finds the chapter that teaches a term; the
instructor's guide lists every chapter; the pages show what the current code computes.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import inspect
import os
import pathlib
import re
import shutil
import subprocess
import sys
import threading

import pytest
import yaml

import vidconv

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = pathlib.Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"

# Console noise that every Jupyter Book 1 page produces, whatever the book contains.
ALLOWED_CONSOLE = [
    "THEBE_JS_URL",  # sphinx-thebe declares this constant in two scripts it adds to every page
    "Got invalid theme mode",  # pydata-sphinx-theme before the stored theme preference exists
]
ALLOWED_FAILED = ["/favicon.ico"]  # the browser asks for it; the book has none
MAX_PAGE_BYTES = 5_000_000  # a chapter page with everything it loads
LAPTOP = {
    "width": 1280,
    "height": 800,
}  # the window in which no code cell may scroll sideways
OFFLINE_ENV = {
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "no_proxy": "127.0.0.1,localhost",
    "NO_PROXY": "127.0.0.1,localhost",
}


# What the site is built from besides the chapters: the book's own files (read-only, linked).
BOOK_FILES = ["index.md", "_toc.yml", "references.bib", "_vendor"]


def site_source(folder: pathlib.Path, executed: dict[str, str]) -> pathlib.Path:
    """A copy of the book in ``folder`` whose chapter notebooks are this session's executed ones.

    The configuration is the book's, with execution off: every chapter was run once already
    (``chapter_runs``), with the current code, in the environment a reader has.
    """
    for name in BOOK_FILES:
        (folder / name).symlink_to(ROOT / name)
    (folder / "chapters").mkdir()
    for page in (ROOT / "chapters").iterdir():
        if page.suffix == ".md":
            (folder / "chapters" / page.name).symlink_to(page)
    for name, path in executed.items():
        shutil.copy(path, folder / "chapters" / f"{name}.ipynb")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "force", (
        "make book executes every chapter"
    )
    config["execute"]["execute_notebooks"] = "off"
    (folder / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


@pytest.fixture(scope="session")
def built_site(chapter_runs, tmp_path_factory) -> pathlib.Path:
    failed = [name for name, run in chapter_runs.items() if run["error"]]
    if failed:
        pytest.fail(f"chapters that did not run: {failed}", pytrace=False)
    source = site_source(
        tmp_path_factory.mktemp("site_source"),
        {name: run["executed"] for name, run in chapter_runs.items()},
    )
    shutil.rmtree(
        ROOT / "_build", ignore_errors=True
    )  # no page of an earlier build may survive
    jupyter_book = pathlib.Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [
            str(jupyter_book),
            "build",
            str(source),
            "-W",
            "-n",
            "--keep-going",
            "--all",
            "--path-output",
            str(ROOT),
        ],
        cwd=ROOT,
        env={**os.environ, **OFFLINE_ENV},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    log = result.stdout + result.stderr
    problems = [
        line
        for line in log.splitlines()
        if re.search(r"WARNING|ERROR|Traceback", line)
        and "Kernel is running over TCP" not in line
    ]
    assert result.returncode == 0 and not problems, (
        "\n".join(problems) or log[-5000:]
    )
    assert "Executing" not in log, "the build executed a notebook again"
    return HTML


def content_pages(site: pathlib.Path) -> list[pathlib.Path]:
    return sorted(
        p
        for p in site.rglob("*.html")
        if not {"_static", "_sources", "_images"}
        & set(p.relative_to(site).parts)
    )


def test_every_toc_entry_became_a_page(built_site):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [
        c["file"] for part in toc["parts"] for c in part["chapters"]
    ]
    for f in files:
        assert (built_site / f"{f}.html").exists(), f


def test_pages_load_nothing_from_outside(built_site):
    pattern = re.compile(
        r"""<(?:script|img|iframe)[^>]+src=["'](?:https?:)?//|<link[^>]+href=["'](?:https?:)?//[^"']+["'][^>]*rel=["']stylesheet"""
    )
    for page in content_pages(built_site):
        html = page.read_text()
        assert not pattern.search(html), (
            f"{page.name} loads {pattern.search(html).group(0)}"
        )


def test_site_shows_outputs_of_the_current_code(built_site):
    # The site is built from this session's runs of the chapters (the committed outputs may be older):
    # the page must show the source of vidconv.conv3d as it is now, not as it was when last saved.
    from bs4 import BeautifulSoup

    text = BeautifulSoup(
        (built_site / "chapters/01_convolution_3d.html").read_text(),
        "html.parser",
    ).get_text()
    squash = functools.partial(re.sub, r"\s+", "")
    assert squash(inspect.getsource(vidconv.conv3d)) in squash(text)


@pytest.fixture(scope="session")
def server(built_site):
    handler = functools.partial(QuietHandler, directory=str(built_site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site as a static host does (GitHub Pages, Netlify): text compressed with gzip."""

    COMPRESSIBLE = {
        ".html",
        ".js",
        ".css",
        ".json",
        ".svg",
        ".txt",
        ".ttf",
        ".eot",
        ".otf",
        ".map",
    }
    _gzipped: dict[str, bytes] = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = pathlib.Path(self.translate_path(self.path))
        if (
            "gzip" not in self.headers.get("Accept-Encoding", "")
            or path.suffix not in self.COMPRESSIBLE
            or not path.is_file()
        ):
            return super().do_GET()
        body = self._gzipped.get(str(path))
        if body is None:
            body = self._gzipped[str(path)] = gzip.compress(
                path.read_bytes(), compresslevel=6, mtime=0
            )
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def open_page(
    browser,
    url: str,
    base: str,
    requests: list | None = None,
    viewport: dict | None = None,
):
    """Open url; return (page, problems) where problems lists console errors and failed or outside requests.

    ``requests``, when given, collects every request the page made that completed.
    """
    page = browser.new_page(**({"viewport": viewport} if viewport else {}))
    problems: list[str] = []

    def route(r):
        if r.request.url.startswith(base) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            problems.append(f"request outside the site: {r.request.url}")
            r.abort()

    page.route("**/*", route)
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and not any(a in m.text for a in ALLOWED_CONSOLE)
            and not any(
                a in (m.location or {}).get("url", "") for a in ALLOWED_FAILED
            )
            and problems.append(f"console error: {m.text}")
        ),
    )
    page.on(
        "pageerror",
        lambda e: (
            not any(a in str(e) for a in ALLOWED_CONSOLE)
            and problems.append(f"page error: {e}")
        ),
    )
    page.on(
        "requestfailed",
        lambda r: (
            r.url.startswith(base)
            and not any(r.url.endswith(a) for a in ALLOWED_FAILED)
            and problems.append(f"failed request: {r.url}")
        ),
    )
    page.on(
        "response",
        lambda r: (
            r.status >= 400
            and not any(r.url.endswith(a) for a in ALLOWED_FAILED)
            and problems.append(f"HTTP {r.status}: {r.url}")
        ),
    )
    if requests is not None:
        page.on("requestfinished", lambda r: requests.append(r))
    page.goto(url, wait_until="load")
    page.wait_for_load_state(
        "networkidle", timeout=90_000
    )  # a loaded 2-core CI runner can take > 30 s
    return page, problems


def transferred_bytes(requests: list) -> int:
    """Bytes on the wire for these requests: response headers and (compressed) bodies."""
    total = 0
    for r in requests:
        if r.url.startswith("data:"):
            continue
        sizes = r.sizes()
        total += sizes["responseHeadersSize"] + sizes["responseBodySize"]
    return total


# Code cells whose <pre> is wider than its box, i.e. that show a horizontal scroll bar.
WIDE_CODE = """() => [...document.querySelectorAll('div.cell_input pre')]
    .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
    .map(pre => pre.textContent.split('\\n').reduce((a, b) => a.length >= b.length ? a : b))"""

# Figures whose title overlaps the toolbar's box (the toolbar shows on hover, but has its place).
TITLE_UNDER_TOOLBAR = """() => [...document.querySelectorAll('.vidconv-plotly .plotly-graph-div')].filter(gd => {
    const title = gd.querySelector('.gtitle'), bar = gd.querySelector('.modebar');
    if (!title || !bar || !title.textContent) return false;
    const t = title.getBoundingClientRect(), b = bar.getBoundingClientRect();
    return t.left < b.right && b.left < t.right && t.top < b.bottom && b.top < t.bottom;
}).map(gd => gd.querySelector('.gtitle').textContent)"""


def test_every_page_in_a_real_browser(built_site, server, browser, site_report):
    pages = content_pages(built_site)
    figures_total = 0
    site_report["bytes"] = {}
    for path in pages:
        rel = path.relative_to(built_site).as_posix()
        requests: list = []
        page, problems = open_page(
            browser, f"{server}/{rel}", server, requests, viewport=LAPTOP
        )
        figures = page.locator(".vidconv-plotly")
        for i in range(figures.count()):
            figures.nth(i).locator(".main-svg").first.wait_for(timeout=15000)
        n_figures = figures.count()
        figures_total += n_figures
        if page.locator("div.math, span.math").count():
            page.locator("mjx-container:visible").first.wait_for(
                timeout=15000
            )  # not one in a hidden sidebar
        wide_code = page.evaluate(WIDE_CODE)
        covered_titles = page.evaluate(TITLE_UNDER_TOOLBAR)
        size = transferred_bytes(
            requests
        )  # while the page is open: its requests go with it
        page.close()
        plotly_loads = [
            r.url
            for r in requests
            if r.url.split("?")[0].endswith("/plotly.min.js")
        ]
        site_report["bytes"][rel] = size
        assert not problems, f"{rel}:\n" + "\n".join(problems)
        assert not wide_code, (
            f"{rel}: code cells scroll sideways; their longest lines:\n"
            + "\n".join(wide_code)
        )
        assert not covered_titles, (
            f"{rel}: the toolbar covers these titles: {covered_titles}"
        )
        assert size <= MAX_PAGE_BYTES, f"{rel} transfers {size / 1e6:.1f} MB"
        assert len(plotly_loads) <= 1, (
            f"{rel} loads plotly.js {len(plotly_loads)} times"
        )
        assert plotly_loads or not n_figures, (
            f"{rel} draws figures without loading plotly.js"
        )
        site_report["pages"].append(rel)
    site_report["figures"] = figures_total
    assert figures_total >= 2


def test_search_finds_the_chapter_that_teaches_a_term(
    built_site, server, browser
):
    page, problems = open_page(browser, f"{server}/search.html", server)
    box = page.locator(
        ".bd-search-container form input[name='q']"
    )  # the search page's own field
    box.fill("receptive field")
    box.press("Enter")
    page.wait_for_load_state("networkidle")
    results = page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=30000)
    hrefs = [
        results.nth(i).get_attribute("href") for i in range(results.count())
    ]
    page.close()
    assert not problems, "\n".join(problems)
    assert any("01_convolution_3d" in h for h in hrefs), hrefs


def test_instructors_guide_lists_every_chapter(built_site):
    from bs4 import BeautifulSoup

    from vidconv.book import course, guide

    soup = BeautifulSoup(
        (built_site / "chapters/instructors_guide.html").read_text(),
        "html.parser",
    )
    table = soup.select_one(".vidconv-course-overview table")
    rows = [
        [td.get_text(" ", strip=True) for td in tr.select("td")]
        for tr in table.select("tbody tr")
    ]
    docs = guide.course_chapters(ROOT)
    assert len(rows) == len(docs)
    for (week, title, objectives, exercises, cpu, wall), doc in zip(rows, docs):
        info = course.chapter_info(course.read_notebook(ROOT / f"{doc}.ipynb"))
        assert title.endswith(info.title) and objectives == str(
            len(info.objectives)
        )
        assert exercises == str(len(info.exercises)) and cpu == guide.run_time(
            info
        )
        assert wall == guide.wall_time(info).replace("\\*", "*")
    links = {a["href"].split("#")[0] for a in table.select("a")}
    assert links == {f"{doc.split('/')[-1]}.html" for doc in docs}


def visible_state(page, index: int) -> dict:
    return page.evaluate(
        """i => { const gd = document.querySelectorAll('.vidconv-plotly .plotly-graph-div')[i];
                  return { active: gd._fullLayout.sliders[0].active,
                           title: gd.querySelector('.gtitle') ? gd.querySelector('.gtitle').textContent : '',
                           points: gd.querySelectorAll('.scatterlayer .point, .heatmaplayer image').length,
                           visible: gd.data.map(t => t.visible === true) }; }""",
        index,
    )


def test_moving_a_slider_redraws_the_figure(built_site, server, browser):
    page, problems = open_page(
        browser, f"{server}/chapters/01_convolution_3d.html", server
    )
    graphs = page.locator(".vidconv-plotly .plotly-graph-div")
    graphs.first.locator(".main-svg").first.wait_for()
    with_slider = [
        i
        for i in range(graphs.count())
        if page.evaluate(
            "i => (document.querySelectorAll('.vidconv-plotly .plotly-graph-div')[i]._fullLayout.sliders || []).length",
            i,
        )
    ]
    assert with_slider, "no figure with a slider on chapter 1"
    index = with_slider[0]
    graph = graphs.nth(index)
    graph.scroll_into_view_if_needed()
    before = visible_state(page, index)
    rail = graph.locator(".slider-rail-rect").first.bounding_box()
    page.mouse.click(
        rail["x"] + rail["width"] - 3, rail["y"] + rail["height"] / 2
    )  # drag-free move to the last step
    page.wait_for_timeout(500)
    after = visible_state(page, index)
    assert after["active"] != before["active"]
    assert after["visible"] != before["visible"]
    assert (
        after["title"] != before["title"]
        and after["points"] != before["points"]
    )
    # The menu swaps the setting: the figure changes again.
    graph.locator(".updatemenu-header-group").first.click()
    page.wait_for_timeout(300)
    graph.locator(".updatemenu-dropdown-button").nth(4).click()
    page.wait_for_timeout(500)
    assert visible_state(page, index)["visible"] != after["visible"]
    page.close()
    assert not problems, "\n".join(problems)


def sampling_figure_state(page, index: int) -> dict:
    return page.evaluate(
        """i => { const gd = document.querySelectorAll('.vidconv-plotly .plotly-graph-div')[i];
                  const shown = gd.data.filter(t => t.visible === true);
                  return { title: gd._fullLayout.title.text, active: gd._fullLayout.sliders[0].active,
                           frames: shown.filter(t => t.type === 'scatter' && t.name === undefined).map(t => t.x),
                           images: shown.filter(t => t.type === 'image').length,
                           drawn: gd.querySelectorAll('.imagelayer image, .layer-subplot image, image').length }; }""",
        index,
    )


def test_chapter_2_sampling_figure_switches_settings(
    built_site, server, browser
):
    page, problems = open_page(
        browser, f"{server}/chapters/02_video_data.html", server
    )
    graphs = page.locator(".vidconv-plotly .plotly-graph-div")
    graphs.first.locator(".main-svg").first.wait_for()
    labels = page.evaluate("""() => [...document.querySelectorAll('.vidconv-plotly .plotly-graph-div')].map(
        gd => ((gd._fullLayout.updatemenus || [])[0] || {buttons: []}).buttons.map(b => b.label))""")
    index = next(
        i for i, b in enumerate(labels) if "random-sparse, 8 frames" in b
    )
    graph = graphs.nth(index)
    graph.scroll_into_view_if_needed()
    before = sampling_figure_state(page, index)
    assert before["images"] == 1 and before["drawn"] >= 1 and before["frames"]
    # The stride slider: the last step picks other frames and says so in the title.
    rail = graph.locator(".slider-rail-rect").first.bounding_box()
    page.mouse.click(
        rail["x"] + rail["width"] - 3, rail["y"] + rail["height"] / 2
    )
    page.wait_for_timeout(500)
    after = sampling_figure_state(page, index)
    assert (
        after["active"] != before["active"]
        and after["frames"] != before["frames"]
    )
    assert after["title"] != before["title"] and "stride 8" in after["title"]
    # The menu: another strategy and clip length.
    graph.locator(".updatemenu-header-group").first.click()
    page.wait_for_timeout(300)
    target = labels[index].index("multi-clip, 16 frames")
    graph.locator(".updatemenu-dropdown-button").nth(target).click()
    page.wait_for_timeout(500)
    multi = sampling_figure_state(page, index)
    assert (
        multi["title"].startswith("multi-clip, 16 frames")
        and len(multi["frames"]) == 3
    )
    assert multi["images"] == 1 and multi["frames"] != after["frames"]
    page.close()
    assert not problems, "\n".join(problems)
