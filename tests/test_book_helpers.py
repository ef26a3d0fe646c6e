"""vidconv.book helpers and the structure every chapter must have."""

import json
import pathlib
import re

import pytest
import yaml

from vidconv.book import Table

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def test_table_plain_and_markdown():
    t = Table([{"a": 1234, "b": 0.5}, {"a": 1, "b": True}])
    assert repr(t).splitlines() == ["    a     b", "1,234   0.5", "    1  True"]
    assert t._repr_markdown_().splitlines()[2] == "| 1,234 | 0.5 |"
    with pytest.raises(ValueError):
        Table([])
    with pytest.raises(TypeError):
        Table({"a": 1})


def cells(path):
    return json.loads(path.read_text())["cells"]


def test_chapters_exist_and_are_in_the_toc():
    assert CHAPTERS, "no chapter notebooks"
    toc = (ROOT / "_toc.yml").read_text()
    for path in CHAPTERS:
        assert f"chapters/{path.stem}" in toc


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_starts_with_the_colab_setup_cell(path):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"]
    first_code = next(c for c in cells(path) if c["cell_type"] == "code")
    source = "".join(first_code["source"])
    assert '"google.colab" in sys.modules' in source
    assert f"vidconv[book] @ git+{repo}" in source, (
        "the setup cell must install from the repository named in _config.yml"
    )
    assert "torch" not in re.findall(
        r'"pip", "install", "-q",\s*"([^"]+)"', source
    )
    assert "default_device()" in source


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_has_objectives_summary_and_hidden_solutions(path):
    text = "\n".join(
        "".join(c["source"])
        for c in cells(path)
        if c["cell_type"] == "markdown"
    )
    assert "Learning objectives" in text
    assert "## Summary" in text
    exercises = re.findall(r"```\{exercise\}\n:label: (\S+)", text)
    assert len(exercises) >= 3
    for label in exercises:
        assert re.search(
            r"```\{solution\} " + re.escape(label) + r"\n:class: dropdown", text
        ), label


def _published(fn, *args, **kwargs) -> list[tuple[dict, dict]]:
    """What a call displays in an IPython shell: [(data, metadata)]."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    with capture_output() as captured:
        fn(*args, **kwargs)
    return [(o.data, o.metadata) for o in captured.outputs]


def test_glue_records_what_myst_nb_reads(monkeypatch):
    from myst_nb import glue as myst_glue

    from vidconv.book import helpers

    monkeypatch.setenv(helpers.BOOK_BUILD, "1")
    for value in (3, "1.5M", Table([{"a": 1}])):
        ours = _published(helpers.glue, "name", value)
        assert ours == _published(myst_glue, "name", value, display=False), (
            value
        )
        assert list(ours[0][0]) and all(
            k.startswith(helpers.GLUE_PREFIX) for k in ours[0][0]
        )
    # Where nothing reads the records (Colab: no myst-nb, no book build), glue shows nothing.
    monkeypatch.delenv(helpers.BOOK_BUILD)
    monkeypatch.setattr(helpers.importlib.util, "find_spec", lambda name: None)
    assert _published(helpers.glue, "name", 3) == []
