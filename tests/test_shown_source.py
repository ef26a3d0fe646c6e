"""Every object a chapter shows with ``show_source`` fits the site's code
column (80 characters): its source is what the reader reads."""

from __future__ import annotations

import ast
import inspect
import pathlib

import pytest

from vidconv.book import course

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9]*.ipynb"))
COLUMNS = 80


def shown_objects(path: pathlib.Path) -> dict[str, object]:
    """``{expression: object}`` for each ``show_source(expression)`` call in
    a chapter, resolved with the chapter's own vidconv imports."""
    cells = [
        c.source
        for c in course.read_notebook(path).cells
        if c.cell_type == "code"
    ]
    namespace: dict[str, object] = {}
    targets: list[str] = []
    for source in cells:
        try:
            tree = ast.parse(source)
        except SyntaxError:  # IPython magics: not imports, not targets
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                exec(
                    compile(ast.Module([node], []), path.name, "exec"),
                    namespace,
                )
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "show_source"
            ):
                targets.append(ast.unparse(node.args[0]))
    return {t: eval(t, namespace) for t in targets}  # noqa: S307


def test_the_chapters_show_source():
    assert sum(len(shown_objects(p)) for p in CHAPTERS) >= 20


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_shown_source_fits_80_columns(path):
    long = [
        f"{name}: {len(line)} characters: {line.strip()[:60]}"
        for name, obj in shown_objects(path).items()
        for line in inspect.getsource(obj).splitlines()
        if len(line) > COLUMNS
    ]
    assert not long, "\n".join(long)
