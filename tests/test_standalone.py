"""Every chapter runs alone, as in Colab, and reproduces the outputs its fact cells were saved with.

One run per chapter (the ``chapter_runs`` fixture, in the environment ``standalone_env`` builds) proves
both: the chapter executes with nothing but its notebook and the installed package, and each cell
tagged ``nbval-check-output`` prints what the committed notebook shows — the check ``pytest
--nbval-lax`` makes, so nbval need not execute the chapters a second time (``pytest --nbval-lax
chapters/NN.ipynb`` still works for one chapter while writing it).
"""

from __future__ import annotations

import subprocess

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError
from standalone_env import CHAPTERS, ROOT, run_alone

from vidconv.book.execution import is_checked, output_mismatches

pytestmark = pytest.mark.slow


def test_environment_has_only_colab_packages_and_vidconv(standalone):
    assert all(
        n.startswith(("vidconv/", "vidconv-"))
        for n in standalone["wheel_files"]
    ), "the wheel holds more than vidconv"
    names = set(standalone["distributions"])
    assert {"torch", "torchvision", "ipykernel", "av", "scikit-video"} <= names
    for absent in (
        "pytest",
        "jupyter-book",
        "nbval",
        "playwright",
        "myst-nb",
    ):  # in the test venv, not in Colab
        assert absent not in names
    probe = (
        "import importlib.util as u, vidconv, sys; "
        "print(vidconv.__file__); print(u.find_spec('pytest') is None, u.find_spec('myst_nb') is None)"
    )
    out = subprocess.run(
        [str(standalone["python"]), "-c", probe],
        env=standalone["env"],
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert not out[0].startswith(str(ROOT)), (
        f"vidconv imported from the repository: {out[0]}"
    )
    assert out[1:] == ["True", "True"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_alone_offline(chapter, chapter_runs):
    run = chapter_runs[chapter.stem]
    assert run["error"] is None, run["error"]
    print(
        f"{chapter.name}: ran alone in {run['seconds']:.1f} s (kernel CPU {run['cpu_seconds']} s)"
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_fact_cells_reproduce_their_saved_outputs(chapter, chapter_runs):
    run = chapter_runs[chapter.stem]
    if run["error"] is not None:
        pytest.fail(
            f"the chapter did not run: {run['error'][:500]}", pytrace=False
        )
    saved = nbformat.read(chapter, as_version=4)
    assert sum(map(is_checked, saved.cells)) >= 3, (
        "a chapter checks at least three facts"
    )
    assert not run["mismatches"], "\n\n".join(run["mismatches"])


def _nb(*cells: tuple[str, list[str], list]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for source, tags, outputs in cells:
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": tags})
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        nb.cells.append(cell)
    return nb


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _result(text: str, **extra: str) -> dict:
    return {
        "output_type": "execute_result",
        "execution_count": 1,
        "metadata": {},
        "data": {"text/plain": text, **extra},
    }


def test_output_check_compares_what_nbval_compares():
    saved = _nb(
        ("x", ["nbval-check-output"], [_stream("a\n"), _stream("b\n")]),
        ("# NBVAL_CHECK_OUTPUT\ny", [], [_result("1", **{"image/png": "AAA"})]),
        ("z", [], [_stream("unchecked\n")]),
    )
    same = _nb(
        ("x", [], [_stream("a\nb\n")]),  # streams are merged before comparing
        (
            "y",
            [],
            [_result("1", **{"image/png": "BBB"})],
        ),  # images are not compared
        ("z", [], [_stream("anything\n")]),
    )  # only checked cells count
    assert output_mismatches(saved, same) == []
    changed = _nb(
        ("x", [], [_stream("a\nc\n")]), ("y", [], [_result("2")]), ("z", [], [])
    )
    problems = output_mismatches(saved, changed)
    assert [p.split(":")[0] for p in problems] == [
        "cell 0 (stdout)",
        "cell 1 (text/plain)",
    ], problems
    assert "a\nc" in problems[0]
    more = _nb(
        ("x", [], [_stream("a\nb\n")]),
        ("y", [], [_result("1", **{"text/html": "<b>1</b>"})]),
        ("z", [], []),
    )
    assert output_mismatches(saved, more) == [
        "cell 1: output fields ['text/html', 'text/plain'] instead of ['text/plain']"
    ]
    # A progress line rewritten by carriage returns or backspaces compares as what the reader finally sees.
    bar = _nb(("x", ["nbval-check-output"], [_stream("10%\r100%\n")]))
    assert output_mismatches(bar, _nb(("x", [], [_stream("100%\n")]))) == []
    assert (
        output_mismatches(bar, _nb(("x", [], [_stream("1000\x08%\n")]))) == []
    )
    assert output_mismatches(bar, _nb(("x", [], [_stream("10%\n")]))) != []
    with pytest.raises(ValueError, match="3 vs 2 cells"):
        output_mismatches(saved, _nb(("x", [], []), ("y", [], [])))


BROKEN = {
    "../data/": (
        "open('../data/samples/clockwise_x1/clip_00.mp4', 'rb').read()",
        "data/samples",
        FileNotFoundError,
    ),
    "parent tools/": (
        "import os; os.listdir('../tools')",
        "../tools",
        FileNotFoundError,
    ),
    "absolute path": (
        f"open({str(ROOT / 'tools' / 'execute_notebooks.py')!r}).read()",
        "must not read the repository",
        PermissionError,
    ),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_chapter_that_reads_the_repository_fails(case, standalone, tmp_path):
    source, message, error = BROKEN[case]
    target = (
        source.split("'")[1]
        if case != "absolute path"
        else str(ROOT / "tools" / "execute_notebooks.py")
    )
    # Run from chapters/ in the repository, the cell would succeed: the path is there.
    assert (ROOT / "chapters" / target).exists(), (
        "the cell must read something the repository does have"
    )
    notebook = nbformat.read(CHAPTERS[0], as_version=4)
    first_code = next(
        i for i, c in enumerate(notebook.cells) if c.cell_type == "code"
    )
    notebook.cells.insert(first_code + 1, nbformat.v4.new_code_cell(source))
    with pytest.raises(CellExecutionError) as failure:
        run_alone(notebook, tmp_path, standalone)
    assert error.__name__ in str(failure.value) and message in str(
        failure.value
    )
