"""Every chapter runs alone, as in Colab: one notebook, an empty folder, vidconv from a wheel, no network.

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
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = pathlib.Path(__file__).resolve().parents[1]
PREINSTALLED = ROOT / "tests" / "colab_preinstalled.txt"
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
OFFLINE = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "HTTPS_PROXY": "http://127.0.0.1:9", "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
KERNEL = "vidconv-standalone"

# Put into the fresh environment's site-packages: refuses reads under the repository (but its .venv,
# which the symlinked packages live in when the tests run from `make test`).
GUARD = '''
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
'''


def preinstalled() -> list[str]:
    lines = (line.split("#")[0].strip() for line in PREINSTALLED.read_text().splitlines())
    return [line for line in lines if line]


def closure(requirements: list[Requirement]) -> dict[str, metadata.Distribution]:
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
            pytest.fail(f"{req} is needed but not installed in the test environment ({sys.prefix})")
        for wanted_extra in req.extras or {""}:
            if (name, wanted_extra) in found:
                continue
            found[(name, wanted_extra)] = dist
            todo += [(Requirement(r), wanted_extra) for r in dist.requires or []]
    return {name: dist for (name, _), dist in found.items()}


def top_level_paths(dist: metadata.Distribution) -> set[pathlib.Path]:
    """The files and folders a distribution put directly into site-packages (not scripts, not caches)."""
    if dist.files is None:
        pytest.fail(f"{dist.metadata['Name']} has no RECORD; cannot expose it")
    site = pathlib.Path(dist.locate_file(""))
    names = {f.parts[0] for f in dist.files if f.parts[0] not in ("..", "__pycache__") and not f.name.endswith(".pth")}
    return {site / n for n in names if (site / n).exists()}


def build_wheel(tmp: pathlib.Path) -> pathlib.Path:
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "vidconv", src / "vidconv", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-q", "-w", str(tmp / "dist"), str(src)], env={**os.environ, **OFFLINE},
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = (tmp / "dist").glob("vidconv-*.whl")
    return wheel


@pytest.fixture(scope="session")
def standalone(tmp_path_factory) -> dict:
    start = time.perf_counter()
    tmp = tmp_path_factory.mktemp("standalone")
    wheel = build_wheel(tmp)
    venv = tmp / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = pathlib.Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                       check=True, capture_output=True, text=True).stdout.strip())
    with zipfile.ZipFile(wheel) as z:
        meta_name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        wheel_files = z.namelist()
        declared = email.message_from_bytes(z.read(meta_name)).get_all("Requires-Dist") or []
    book = [Requirement(r) for r in declared if Requirement(r).marker is None
            or Requirement(r).marker.evaluate({"extra": "book"})]
    needs = closure([Requirement(n) for n in preinstalled()] + [Requirement(str(r).split(";")[0]) for r in book])
    for dist in needs.values():
        for path in top_level_paths(dist):
            link = site / path.name
            if not link.exists():
                link.symlink_to(path)
    (site / "_repository_guard.py").write_text(GUARD)
    (site / "_repository_guard.pth").write_text("import _repository_guard\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
                    str(wheel)], check=True, env={**os.environ, **OFFLINE})
    kernels = tmp / "jupyter" / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "standalone", "language": "python"}))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIDCONV_STATIC_FIGURES", "VIRTUAL_ENV")}
    env |= OFFLINE | {"VIDCONV_FORBIDDEN_ROOT": str(ROOT), "JUPYTER_PATH": str(tmp / "jupyter"),
                      "CUDA_VISIBLE_DEVICES": "", "MPLBACKEND": "agg"}
    print(f"standalone environment: {len(needs)} distributions, ready in {time.perf_counter() - start:.1f} s")
    return {"python": python, "env": env, "jupyter": tmp / "jupyter", "wheel_files": wheel_files,
            "distributions": sorted(needs)}


def run_alone(notebook: nbformat.NotebookNode, folder: pathlib.Path, setup: dict) -> None:
    """Execute ``notebook`` in ``folder`` (which holds nothing else) in the standalone environment's kernel."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    path = folder / "chapter.ipynb"
    nbformat.write(notebook, path)
    assert sorted(p.name for p in folder.iterdir()) == ["chapter.ipynb"]
    specs = KernelSpecManager(kernel_dirs=[str(setup["jupyter"] / "kernels")])
    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
    client = NotebookClient(notebook, km=km, timeout=300, kernel_name=KERNEL,
                            resources={"metadata": {"path": str(folder)}})
    try:
        client.execute(env=setup["env"], cwd=str(folder))
    finally:
        if km.has_kernel:  # nbclient leaves a kernel it was handed running
            km.shutdown_kernel(now=True)


def test_environment_has_only_colab_packages_and_vidconv(standalone):
    assert all(n.startswith(("vidconv/", "vidconv-")) for n in standalone["wheel_files"]), "the wheel holds more than vidconv"
    names = set(standalone["distributions"])
    assert {"torch", "torchvision", "ipykernel", "av", "scikit-video"} <= names
    for absent in ("pytest", "jupyter-book", "nbval", "playwright", "myst-nb"):  # in the test venv, not in Colab
        assert absent not in names
    probe = ("import importlib.util as u, vidconv, sys; "
             "print(vidconv.__file__); print(u.find_spec('pytest') is None, u.find_spec('myst_nb') is None)")
    out = subprocess.run([str(standalone["python"]), "-c", probe], env=standalone["env"], cwd="/",
                         capture_output=True, text=True, check=True).stdout.split()
    assert not out[0].startswith(str(ROOT)), f"vidconv imported from the repository: {out[0]}"
    assert out[1:] == ["True", "True"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_alone_offline(chapter, standalone, tmp_path):
    start = time.perf_counter()
    run_alone(nbformat.read(chapter, as_version=4), tmp_path, standalone)
    print(f"{chapter.name}: ran alone in {time.perf_counter() - start:.1f} s")


BROKEN = {
    "../data/": ("open('../data/samples/clockwise_x1/clip_00.mp4', 'rb').read()", "data/samples", FileNotFoundError),
    "parent tools/": ("import os; os.listdir('../tools')", "../tools", FileNotFoundError),
    "absolute path": (f"open({str(ROOT / 'tools' / 'execute_notebooks.py')!r}).read()", "must not read the repository",
                      PermissionError),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_chapter_that_reads_the_repository_fails(case, standalone, tmp_path):
    source, message, error = BROKEN[case]
    target = source.split("'")[1] if case != "absolute path" else str(ROOT / "tools" / "execute_notebooks.py")
    # Run from chapters/ in the repository, the cell would succeed: the path is there.
    assert (ROOT / "chapters" / target).exists(), "the cell must read something the repository does have"
    notebook = nbformat.read(CHAPTERS[0], as_version=4)
    first_code = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code")
    notebook.cells.insert(first_code + 1, nbformat.v4.new_code_cell(source))
    with pytest.raises(CellExecutionError) as failure:
        run_alone(notebook, tmp_path, standalone)
    assert error.__name__ in str(failure.value) and message in str(failure.value)
