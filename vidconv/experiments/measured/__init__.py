"""Measurements made on machines the reader may not have (GPUs), shipped with vidconv as data.

Each file is the JSON a benchmark script in the book's repository wrote, unchanged, named
``<date>_<device>_<script>.json``; each records the device, the torch/CUDA versions and the UTC date
beside its numbers. Chapters show them as *quoted* measurements, next to what their own cells measure
on the reader's machine. Nothing here is computed at import; :func:`load` reads one file.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["available", "load"]


def available() -> list[str]:
    """Names of the shipped measurements (file names without ``.json``), sorted."""
    return sorted(
        f.name[:-5]
        for f in resources.files(__name__).iterdir()
        if f.name.endswith(".json")
    )


def load(name: str) -> dict[str, Any]:
    """The measurement ``name`` (see :func:`available`) as the dict its benchmark script wrote."""
    if not isinstance(name, str):
        raise TypeError(
            f"name must be a str, one of {available()}, got {type(name).__name__}"
        )
    names = available()
    if name not in names:
        raise ValueError(f"name must be one of {names}, got {name!r}")
    return json.loads(
        resources.files(__name__).joinpath(f"{name}.json").read_text()
    )
