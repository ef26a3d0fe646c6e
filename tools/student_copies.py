"""Write the students' notebooks (``make student``): every chapter with its solutions removed.

``student/NN_name.ipynb`` keeps the setup cell, the prose, the code and the exercises (each followed by an
empty cell for the answer); the solution blocks, the code that computes only their numbers, and all
outputs are gone. The chapters are the ones ``_toc.yml`` lists.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import nbformat
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidconv.book.course import read_notebook, student_copy  # noqa: E402


def toc_notebooks(root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    """The chapter notebooks in the order of the table of contents."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [
        c["file"]
        for part in toc.get("parts", [])
        for c in part.get("chapters", [])
    ]
    return [
        root / f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").exists()
    ]


def write_student_copies(
    out: pathlib.Path, notebooks: list[pathlib.Path]
) -> list[pathlib.Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        target = out / path.name
        nbformat.write(student_copy(read_notebook(path)), target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=ROOT / "student",
        help="folder to write (default: student/)",
    )
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=pathlib.Path,
        help="chapters (default: every chapter in _toc.yml)",
    )
    args = parser.parse_args(argv)
    for path in write_student_copies(
        args.out, args.notebooks or toc_notebooks()
    ):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
