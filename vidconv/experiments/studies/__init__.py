"""Studies with enough seeds to carry a conclusion, and their stored results.

* :mod:`~.protocol` — one seeded, early-stopped training run; learning
  rates chosen on validation.
* :mod:`~.runner` — :class:`Study`, :class:`Setting`, :func:`run_study`
  (JSON-ready results with provenance), :func:`reproduce`.
* :mod:`~.stats` — mean ± sd, t intervals, paired differences (scipy).
* :mod:`~.r2plus1d` — Chapter 5's R3D against R(2+1)D studies.

Stored full results ship as package data (``stored/<name>.json``), so a
chapter shows them in Colab without the repository; ``python -m
vidconv.experiments run NAME --setting full --out FILE`` makes them.
"""

from __future__ import annotations

import json
from importlib import resources

from vidconv.experiments.studies.runner import (
    Setting,
    Study,
    per_arm,
    provenance_line,
    reproduce,
    run_study,
)

__all__ = [
    "Setting",
    "Study",
    "get",
    "load",
    "names",
    "per_arm",
    "provenance_line",
    "reproduce",
    "run",
    "stored",
]


def _all() -> dict[str, Study]:
    # Imported here, not at the top: the study modules build data and
    # networks only when called, but they pull in the model zoo.
    from vidconv.experiments.studies import r2plus1d

    return {s.name: s for s in r2plus1d.STUDIES}


def names() -> list[str]:
    """Every study's name, in book order."""
    return list(_all())


def get(name: str) -> Study:
    """The study called ``name``; a ValueError lists the valid names."""
    studies = _all()
    if not isinstance(name, str):
        raise TypeError(
            f"name must be a str, one of {list(studies)}, "
            f"got {type(name).__name__}"
        )
    if name not in studies:
        raise ValueError(
            f"no study {name!r}; the studies are {', '.join(studies)}"
        )
    return studies[name]


def run(name: str, setting: str = "quick", **options) -> dict:
    """:func:`run_study` by name (``options``: device, progress, command)."""
    return run_study(get(name), setting, **options)


def stored() -> list[str]:
    """Names of the studies with a stored full result."""
    files = resources.files(__name__).joinpath("stored").iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".json"))


def load(name: str) -> dict:
    """The stored full result of study ``name`` (see :func:`stored`)."""
    get(name)
    if name not in stored():
        raise ValueError(
            f"study {name!r} has no stored result; stored: "
            f"{', '.join(stored()) or 'none'}"
        )
    text = resources.files(__name__).joinpath("stored", f"{name}.json")
    return json.loads(text.read_text())
