"""The Colab-like environment every chapter runs in, alone: one notebook, an empty folder, no network.

Each chapter is executed once per test session here (``chapter_runs`` in ``tests/conftest.py``), and that
one run serves three checks: the chapter runs alone as in Colab (``test_standalone.py``), its fact cells
reproduce their saved outputs as ``pytest --nbval-lax`` would check them (same file), and the site is
built from the executed copies instead of executing every chapter again (``test_site.py``).

One fresh virtual environment per test session (no system site packages) gets exactly:

* what Colab has preinstalled (``tests/colab_preinstalled.txt``) and everything that depends on,
* the vidconv wheel built from this tree, and what its ``[book]`` extra declares, with their dependencies.

The distributions are not downloaded again: each one's top-level files (from its RECORD) are symlinked
from the environment running the tests, so the fresh environment costs seconds instead of a 5 GB torch
install, runs offline, and sees the same versions the rest of the suite tests. Only what vidconv's
metadata declares is exposed, so a chapter that imports an undeclared package fails here as it would in
Colab. A small audit hook in that environment refuses any file access under the repository, and each
notebook is copied alone into an empty temporary folder, so ``data/``, ``tools/`` or ``../anything`` is
simply not there.
"""

from __future__ import annotations

import email
import importlib.metadata as metadata
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import zipfile

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from vidconv.book.execution import notebook_client, output_mismatches

ROOT = pathlib.Path(__file__).resolve().parents[1]
PREINSTALLED = ROOT / "tests" / "colab_preinstalled.txt"
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
OFFLINE = {
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "no_proxy": "127.0.0.1,localhost",
    "NO_PROXY": "127.0.0.1,localhost",
}
KERNEL = "vidconv-standalone"
CELL_TIMEOUT_S = 120  # bounds a hang; no test asserts a chapter's run time

# Put into the fresh environment's site-packages: refuses reads under the repository (but its .venv,
# which the symlinked packages live in when the tests run from `make test`).
GUARD = """
import os, sys
_root = os.environ.get("VIDCONV_FORBIDDEN_ROOT")
if _root:
    _allowed = os.path.join(_root, ".venv")

    def _guard(event, args):
        if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.path.abspath(os.fsdecode(args[0]))
            if (path == _root or path.startswith(_root + os.sep)) and not path.startswith(_allowed + os.sep):
                raise PermissionError(f"a chapter must not read the repository (it is not there in Colab): {path}")

    sys.addaudithook(_guard)
"""


def preinstalled() -> list[str]:
    lines = (
        line.split("#")[0].strip()
        for line in PREINSTALLED.read_text().splitlines()
    )
    return [line for line in lines if line]


def closure(
    requirements: list[Requirement],
) -> dict[str, metadata.Distribution]:
    """The installed distributions that ``requirements`` need, transitively (markers and extras evaluated)."""
    found: dict[str, metadata.Distribution] = {}
    todo = [(r, "") for r in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            pytest.fail(
                f"{req} is needed but not installed in the test environment ({sys.prefix})"
            )
        for wanted_extra in req.extras or {""}:
            if (name, wanted_extra) in found:
                continue
            found[(name, wanted_extra)] = dist
            todo += [
                (Requirement(r), wanted_extra) for r in dist.requires or []
            ]
    return {name: dist for (name, _), dist in found.items()}


def top_level_paths(dist: metadata.Distribution) -> set[pathlib.Path]:
    """The files and folders a distribution put directly into site-packages (not scripts, not caches)."""
    if dist.files is None:
        pytest.fail(f"{dist.metadata['Name']} has no RECORD; cannot expose it")
    site = pathlib.Path(dist.locate_file(""))
    names = {
        f.parts[0]
        for f in dist.files
        if f.parts[0] not in ("..", "__pycache__")
        and not f.name.endswith(".pth")
    }
    return {site / n for n in names if (site / n).exists()}


def build_wheel(tmp: pathlib.Path) -> pathlib.Path:
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "vidconv",
        src / "vidconv",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(tmp / "dist"),
            str(src),
        ],
        env={**os.environ, **OFFLINE},
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = (tmp / "dist").glob("vidconv-*.whl")
    return wheel


def make_environment(tmp: pathlib.Path) -> dict:
    """Build the fresh environment in ``tmp``; returns what ``run_alone`` needs."""
    start = time.perf_counter()
    wheel = build_wheel(tmp)
    venv = tmp / "venv"
    subprocess.run(
        [sys._base_executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
    )
    python = venv / "bin" / "python"
    site = pathlib.Path(
        subprocess.run(
            [
                str(python),
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    with zipfile.ZipFile(wheel) as z:
        meta_name = next(
            n for n in z.namelist() if n.endswith(".dist-info/METADATA")
        )
        wheel_files = z.namelist()
        declared = (
            email.message_from_bytes(z.read(meta_name)).get_all("Requires-Dist")
            or []
        )
    book = [
        Requirement(r)
        for r in declared
        if Requirement(r).marker is None
        or Requirement(r).marker.evaluate({"extra": "book"})
    ]
    needs = closure(
        [Requirement(n) for n in preinstalled()]
        + [Requirement(str(r).split(";")[0]) for r in book]
    )
    for dist in needs.values():
        for path in top_level_paths(dist):
            link = site / path.name
            if not link.exists():
                link.symlink_to(path)
    (site / "_repository_guard.py").write_text(GUARD)
    (site / "_repository_guard.pth").write_text("import _repository_guard\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        check=True,
        env={**os.environ, **OFFLINE},
    )
    kernels = tmp / "jupyter" / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    str(python),
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                ],
                "display_name": "standalone",
                "language": "python",
            }
        )
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "PYTHONPATH",
            "VIDCONV_STATIC_FIGURES",
            "VIDCONV_BOOK_BUILD",
            "VIRTUAL_ENV",
        )
    }
    env |= OFFLINE | {
        "VIDCONV_FORBIDDEN_ROOT": str(ROOT),
        "JUPYTER_PATH": str(tmp / "jupyter"),
        "CUDA_VISIBLE_DEVICES": "",
        "MPLBACKEND": "agg",
    }
    print(
        f"standalone environment: {len(needs)} distributions, ready in {time.perf_counter() - start:.1f} s"
    )
    return {
        "python": python,
        "env": env,
        "jupyter": tmp / "jupyter",
        "wheel_files": wheel_files,
        "distributions": sorted(needs),
    }


def run_alone(
    notebook: nbformat.NotebookNode,
    folder: pathlib.Path,
    setup: dict,
    **env: str,
):
    """Execute ``notebook`` in ``folder`` (which holds nothing else) in the standalone environment's kernel.

    ``env`` adds variables to the kernel's environment. Returns the client (its ``kernel_cpu_seconds``).
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    path = folder / "chapter.ipynb"
    nbformat.write(notebook, path)
    assert sorted(p.name for p in folder.iterdir()) == ["chapter.ipynb"]
    specs = KernelSpecManager(kernel_dirs=[str(setup["jupyter"] / "kernels")])
    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
    client = notebook_client(
        notebook, folder, km=km, kernel_name=KERNEL, timeout=CELL_TIMEOUT_S
    )
    try:
        client.execute(env={**setup["env"], **env}, cwd=str(folder))
    finally:
        if km.has_kernel:  # nbclient leaves a kernel it was handed running
            km.shutdown_kernel(now=True)
    return client


def execute_chapter(chapter: str, out: str, setup: dict) -> dict:
    """Run one chapter alone, as the site shows it (static figures, glued values).

    Runs in a worker process. Returns the chapter's name, wall and
    kernel CPU seconds, the error if a cell failed, the cells whose checked outputs differ from the saved
    ones, and the path of the executed notebook.
    """
    chapter = pathlib.Path(chapter)
    saved = nbformat.read(chapter, as_version=4)
    notebook = nbformat.read(chapter, as_version=4)
    folder = pathlib.Path(out) / chapter.stem
    folder.mkdir(parents=True)
    start = time.perf_counter()
    result = {
        "name": chapter.stem,
        "error": None,
        "mismatches": [],
        "cpu_seconds": None,
    }
    try:
        client = run_alone(
            notebook,
            folder,
            setup,
            VIDCONV_STATIC_FIGURES="1",
            VIDCONV_BOOK_BUILD="1",
        )
        result["cpu_seconds"] = client.kernel_cpu_seconds
    except Exception as e:  # noqa: BLE001 - reported by the test with the chapter's name
        result["error"] = f"{type(e).__name__}: {str(e)[-3000:]}"
    result["seconds"] = time.perf_counter() - start
    if result["error"] is None:
        result["mismatches"] = output_mismatches(saved, notebook)
    notebook.metadata["kernelspec"] = saved.metadata.get(
        "kernelspec", notebook.metadata.get("kernelspec")
    )
    executed = pathlib.Path(out) / "executed" / chapter.name
    executed.parent.mkdir(exist_ok=True)
    nbformat.write(notebook, executed)
    result["executed"] = str(executed)
    return result
