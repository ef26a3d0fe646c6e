"""The instructor's guide's tables, written at build time from the chapter notebooks.

``{course-overview}`` (a directive, used in ``chapters/instructors_guide.md``) reads the chapters that
``_toc.yml`` lists in its numbered parts, in that order, and writes for each of them — one a week — its
learning objectives, its exercises and the CPU run time recorded by ``tools/execute_notebooks.py``.
Nothing is typed into the guide, so it cannot drift from the chapters: the page depends on every
notebook it reads and is rebuilt when one changes.
"""

from __future__ import annotations

import pathlib
import re
from typing import Any

import yaml
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

from vidconv.book.course import ChapterInfo, chapter_info, read_notebook


def course_chapters(srcdir: pathlib.Path) -> list[str]:
    """Docnames of the chapters in the numbered parts of the table of contents, in reading order."""
    toc = yaml.safe_load((srcdir / "_toc.yml").read_text())
    return [
        c["file"]
        for part in toc.get("parts", [])
        if part.get("numbered")
        for c in part.get("chapters", [])
        if (srcdir / f"{c['file']}.ipynb").exists()
    ]


def _first_sentence(text: str) -> str:
    """The exercise's first sentence, on one line (code spans, math and parentheses are never cut)."""
    flat = " ".join(text.split())
    for m in re.finditer(r"[.?!](\s|$)", flat):
        head = flat[: m.end()].strip()
        if (
            head.count("`") % 2 == 0
            and head.count("$") % 2 == 0
            and head.count("(") == head.count(")")
        ):
            return head
    return flat


def _busy(info: ChapterInfo) -> bool:
    """Whether other work shared the CPU while the chapter was timed (load average above the cores)."""
    cores = re.search(r"\((\d+) cores\)", info.machine or "")
    return bool(
        cores
        and info.load_average is not None
        and info.load_average > int(cores.group(1))
    )


def run_time(info: ChapterInfo) -> str:
    """The kernel's CPU time for the whole chapter."""
    return (
        "not measured"
        if info.cpu_seconds is None
        else f"{info.cpu_seconds:.0f} s"
    )


def wall_time(info: ChapterInfo) -> str:
    """Wall time; starred when other work shared the CPU while it was measured."""
    if info.wall_seconds is None:
        return "not measured"
    return f"{info.wall_seconds:.0f} s" + ("\\*" if _busy(info) else "")


def overview_markdown(
    docs: list[str], infos: list[ChapterInfo], current: str
) -> str:
    """MyST for the summary table and one block per week; links are relative to ``current``."""
    here = pathlib.PurePosixPath(current).parent

    def link(doc: str) -> str:
        return f"{{doc}}`{pathlib.PurePosixPath(doc).relative_to(here)}`"

    machines = sorted({i.machine for i in infos if i.machine})
    lines = [
        "| week | chapter | objectives | exercises | CPU time | wall time |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {w} | {link(d)} | {len(i.objectives)} | {len(i.exercises)} | {run_time(i)} | {wall_time(i)} |"
        for w, (d, i) in enumerate(zip(docs, infos), start=1)
    ]
    total = sum(i.cpu_seconds or 0 for i in infos)
    lines += [
        "",
        "Run times: each notebook executed top to bottom on the CPU by `make notebooks`; CPU time is the "
        f"kernel's user + system time, {total / 60:.1f} minutes for all {len(infos)} chapters"
        + (f", on {'; '.join(machines)}." if machines else "."),
    ]
    if any(_busy(i) for i in infos):
        lines[-1] += (
            " \\* Wall time measured while other work shared the CPU (load average above the number"
            " of cores): an upper bound; an idle machine is faster."
        )
    lines += [""]
    for week, (doc, info) in enumerate(zip(docs, infos), start=1):
        lines += [
            f"**Week {week}: {link(doc)}** (CPU time {run_time(info)})",
            "",
            "*Learning objectives.* After this week a student can",
            "",
        ]
        lines += [f"{n}. {o}" for n, o in enumerate(info.objectives, start=1)]
        lines += ["", "*Exercises to assign.*", ""]
        lines += [
            f"- `{e.label}`: {_first_sentence(e.text)}" for e in info.exercises
        ]
        lines += [""]
    return "\n".join(lines)


class CourseOverview(SphinxDirective):
    """``{course-overview}``: every chapter's objectives, exercises and run time, from the notebooks."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        srcdir = pathlib.Path(self.env.srcdir)
        docs = course_chapters(srcdir)
        if not docs:
            raise self.error(
                "course-overview: _toc.yml lists no chapter notebooks in a numbered part"
            )
        self.env.note_dependency(str(srcdir / "_toc.yml"))
        infos = []
        for doc in docs:
            path = srcdir / f"{doc}.ipynb"
            self.env.note_dependency(str(path))
            try:
                infos.append(chapter_info(read_notebook(path)))
            except ValueError as e:
                raise self.error(f"course-overview: {path.name}: {e}") from e
        container = nodes.container(classes=["vidconv-course-overview"])
        text = overview_markdown(docs, infos, self.env.docname)
        self.state.nested_parse(
            StringList(text.splitlines(), source=self.env.docname),
            self.content_offset,
            container,
        )
        return [container]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("course-overview", CourseOverview)
    return {
        "parallel_read_safe": True,
        "parallel_write_safe": True,
        "version": "1",
    }
