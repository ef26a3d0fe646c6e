"""The book as a course: what each chapter teaches and asks, read from the chapter notebooks themselves.

* :func:`chapter_info` — a chapter's title, learning objectives, exercises and measured run time, for
  the instructor's guide (rendered at build time by :mod:`vidconv.book.guide`, so it cannot drift).
* :func:`student_copy` — the notebook a student works in: exercises kept, solutions removed (the
  ``{solution}`` blocks and the code cells that compute only their numbers), outputs cleared.

Exercises are sphinx-exercise blocks in markdown cells, fenced with four backticks so that a solution
can hold a three-backtick code block::

    ````{exercise}            ````{solution} ex-label
    :label: ex-label          :class: dropdown
    ...                       ...
    ````                      ````
"""

from __future__ import annotations

import ast
import copy
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any

import nbformat

# A whole ````{exercise} or ````{solution} block: the fence (three or more backticks or colons) opens
# it and the same fence on a line of its own closes it.
_BLOCK = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<kind>exercise|solution)\}(?P<arg>[^\n]*)\n"
    r"(?P<body>.*?)^(?P=fence)[ \t]*$\n?",
    re.S | re.M,
)
_GLUE_CALL = re.compile(r"""\bglue\(\s*["']([\w.-]+)["']""")
_GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([\w.-]+)")
_OBJECTIVES = re.compile(
    r":::\{admonition\} Learning objectives\n(?::class:[^\n]*\n)?(?P<body>.*?)\n:::",
    re.S,
)
RUNTIME_KEY = (
    "vidconv"  # notebook metadata written by tools/execute_notebooks.py
)


@dataclass
class Exercise:
    label: str
    text: str  # the exercise's statement, MyST as written


@dataclass
class ChapterInfo:
    title: str
    objectives: list[str]
    exercises: list[Exercise] = field(default_factory=list)
    cpu_seconds: float | None = (
        None  # the kernel's user + system time for the whole notebook
    )
    wall_seconds: float | None = None
    machine: str | None = None
    load_average: float | None = (
        None  # during the timed run; above the core count, others shared the CPU
    )


def _blocks(source: str, kind: str) -> list[re.Match]:
    return [m for m in _BLOCK.finditer(source) if m.group("kind") == kind]


def _options_and_text(body: str) -> tuple[dict[str, str], str]:
    options, lines = {}, body.splitlines()
    while lines and re.match(r":\w+:", lines[0]):
        key, _, value = lines.pop(0)[1:].partition(":")
        options[key] = value.strip()
    return options, "\n".join(lines).strip()


def read_notebook(path: Any) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def chapter_info(nb: nbformat.NotebookNode) -> ChapterInfo:
    """Title (first heading), numbered learning objectives, exercises and recorded run time."""
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    title = next(
        (
            line[2:].strip()
            for s in markdown
            for line in s.splitlines()
            if line.startswith("# ")
        ),
        None,
    )
    if title is None:
        raise ValueError(
            "chapter notebook has no '# title' heading in any markdown cell"
        )
    objectives_match = next(
        (m for s in markdown if (m := _OBJECTIVES.search(s))), None
    )
    if objectives_match is None:
        raise ValueError(
            f"chapter {title!r} has no ':::{{admonition}} Learning objectives' block"
        )
    # Numbered items, each possibly continued on indented lines.
    items = re.findall(
        r"^\d+\.\s+(.*?)(?=^\d+\.\s|\Z)",
        objectives_match.group("body"),
        re.S | re.M,
    )
    objectives = [" ".join(item.split()) for item in items]
    exercises = []
    for s in markdown:
        for m in _blocks(s, "exercise"):
            options, text = _options_and_text(m.group("body"))
            exercises.append(
                Exercise(label=options.get("label", ""), text=text)
            )
    run = nb.metadata.get(RUNTIME_KEY, {})
    return ChapterInfo(
        title,
        objectives,
        exercises,
        run.get("cpu_seconds"),
        run.get("wall_seconds"),
        run.get("machine"),
        run.get("load_average"),
    )


def solution_texts(nb: nbformat.NotebookNode) -> list[str]:
    """The body of every solution block in the chapter."""
    return [
        _options_and_text(m.group("body"))[1]
        for c in nb.cells
        if c.cell_type == "markdown"
        for m in _blocks(c.source, "solution")
    ]


def _solution_only_names(nb: nbformat.NotebookNode) -> set[str]:
    """Glued names that only the solutions show: the answers."""
    in_solutions: set[str] = set()
    elsewhere: set[str] = set()
    for c in nb.cells:
        if c.cell_type != "markdown":
            continue
        solutions = "".join(m.group(0) for m in _blocks(c.source, "solution"))
        in_solutions |= set(_GLUE_ROLE.findall(solutions))
        elsewhere |= set(_GLUE_ROLE.findall(_without_solutions(c.source)))
    return in_solutions - elsewhere


def _without_solutions(source: str) -> str:
    return _BLOCK.sub(
        lambda m: "" if m.group("kind") == "solution" else m.group(0), source
    )


def _loaded(source: str) -> set[str]:
    return {
        n.id
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


def _stored(stmt: ast.stmt) -> set[str]:
    """Names a statement binds or mutates (the root name of an attribute or item it assigns)."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    names = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(
            node.ctx, ast.Store
        ):
            while isinstance(node, (ast.Attribute, ast.Subscript)):
                node = node.value
            if isinstance(node, ast.Name):
                names.add(node.id)
    return names


def _reads(stmt: ast.stmt) -> set[str]:
    """Names a statement reads; assigning to ``x.attr`` or ``x[i]`` does not read ``x``."""
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
        return {n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)}
    return {
        n.id
        for n in ast.walk(stmt)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }


def _without_answers(source: str, answers: set[str], later: set[str]) -> str:
    """The cell without the statements that glue answers, nor those that only feed them.

    ``later`` holds the names that cells after this one read; a statement stays when a kept statement
    after it, or a later cell, reads what it binds. Comment lines directly above a kept statement stay
    with it.
    """
    lines = source.splitlines()
    stmts = ast.parse(source).body
    keep = [
        not (
            isinstance(s, ast.Expr)
            and isinstance(s.value, ast.Call)
            and _GLUE_CALL.search(ast.get_source_segment(source, s) or "")
            and set(_GLUE_CALL.findall(ast.get_source_segment(source, s)))
            <= answers
        )
        for s in stmts
    ]
    changed = True
    while changed:  # drop statements whose results nothing kept reads any more
        changed = False
        for i, s in enumerate(stmts):
            if not keep[i] or isinstance(s, ast.Expr):
                continue
            read = later | {
                n
                for j, t in enumerate(stmts)
                if keep[j] and j > i
                for n in _reads(t)
            }
            if _stored(s) and not _stored(s) & read:
                keep[i], changed = False, True
    out: list[str] = []
    for s, k in zip(stmts, keep):
        if not k:
            continue
        start = s.lineno - 1
        while start > 0 and lines[start - 1].lstrip().startswith("#"):
            start -= 1
        out += lines[start : s.end_lineno]
    return "\n".join(out)


def student_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The chapter for a student: solutions and their answer cells removed, outputs cleared.

    Each exercise is followed by an empty code cell for the student's answer. The setup cell and every
    other cell stay, so the copy runs top to bottom like the chapter.
    """
    answers = _solution_only_names(nb)
    student = copy.deepcopy(nb)
    cells = []
    for i, cell in enumerate(student.cells):
        if (
            cell.cell_type == "code"
            and set(_GLUE_CALL.findall(cell.source)) & answers
        ):
            later = {
                n
                for c in student.cells[i + 1 :]
                if c.cell_type == "code"
                for n in _loaded(c.source)
            }
            cell.source = _without_answers(cell.source, answers, later)
            if not cell.source.strip():
                continue
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
            cells.append(cell)
            continue
        labels = [
            _options_and_text(m.group("body"))[0].get("label", "")
            for m in _blocks(cell.source, "exercise")
        ]
        cell.source = _BLOCK.sub(
            lambda m: "" if m.group("kind") == "solution" else m.group(0),
            cell.source,
        )
        cell.source = re.sub(r"\n{3,}", "\n\n", cell.source).strip() + "\n"
        cells.append(cell)
        cells += [
            nbformat.v4.new_code_cell(f"# Exercise {label}: your answer here\n")
            for label in labels
        ]
    student.cells = cells
    student.metadata.pop("widgets", None)
    student.metadata.pop(RUNTIME_KEY, None)
    return student


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def widget_cells(nb: nbformat.NotebookNode) -> list[int]:
    """Indices of the code cells whose saved outputs show a live widget (an explorer, a progress bar).

    The committed outputs come from a Jupyter kernel (``make notebooks``), so these are the cells that
    a learner sees as widgets; a chapter with any is tested live in JupyterLab.
    """
    return [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        and any(WIDGET_VIEW in o.get("data", {}) for o in c.get("outputs", []))
    ]


def live_chapters(root: Any) -> list[str]:
    """The chapters of ``root``'s table of contents (docnames) that show widgets when run in Jupyter."""
    from vidconv.book.guide import course_chapters

    return [
        doc
        for doc in course_chapters(root)
        if widget_cells(read_notebook(pathlib.Path(root) / f"{doc}.ipynb"))
    ]
