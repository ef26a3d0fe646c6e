"""Studies: arms compared under one protocol, in a quick and a full setting.

A :class:`Study` names its arms (network builders), its data and two
:class:`Setting` s. ``quick`` is what its chapter runs live on a CPU;
``full`` is the one that can carry a conclusion: at least five seeds,
every arm's learning rate chosen on validation from the same grid, every
run early-stopped on validation under the same :class:`Budget`.
:func:`run_study` runs one and returns a JSON-ready dict with every run's
history and the provenance of the run.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import pathlib
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import torch
from torch import nn
from tqdm.auto import tqdm

from vidconv.experiments.studies.protocol import (
    Budget,
    Splits,
    choose_lr,
    run_once,
)
from vidconv.utils.checks import check_device
from vidconv.utils.device import one_cpu_thread

SETTINGS = ("quick", "full")


@dataclass(frozen=True)
class Setting:
    """Seeds, learning-rate grid and budget of one way to run a study.

    ``lr_seed`` is the seed of the runs that choose each arm's rate; it is
    not one of ``seeds``, so the comparison is not run on the seed its
    rates were fitted to.
    """

    seeds: tuple[int, ...]
    lr_grid: tuple[float, ...]
    budget: Budget
    lr_seed: int = 100

    def __post_init__(self) -> None:
        if not self.seeds or not self.lr_grid:
            raise ValueError("a Setting needs at least one seed and one rate")
        if self.lr_seed in self.seeds:
            raise ValueError(
                f"lr_seed {self.lr_seed} must not be one of "
                f"the seeds {self.seeds}"
            )


@dataclass(frozen=True)
class Study:
    """A comparison between arms: what it asks, its arms, data, settings."""

    name: str
    chapter: str
    question: str
    arms: Callable[[], dict[str, Callable[[], nn.Module]]]
    data: Callable[[], Splits]
    settings: dict[str, Setting] = field(default_factory=dict)
    describe: Callable[[], dict] = dict  # JSON facts about the arms


def fits(setting: Setting, arms: int) -> int:
    """How many runs a setting makes: rate choice plus one per seed."""
    choice = len(setting.lr_grid) if len(setting.lr_grid) > 1 else 0
    return arms * (choice + len(setting.seeds))


def _git_commit(package: pathlib.Path) -> str | None:
    """The commit vidconv's files came from; "-dirty" if they differ.

    A probe that fails or times out is said, not taken for clean: a stored
    result must never claim a commit its code did not come from.
    """

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["git", *args],
            cwd=package,
            timeout=120,
            capture_output=True,
            text=True,
        )

    try:
        head = git("rev-parse", "HEAD")
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None  # not a checkout: an installed copy
    commit = head.stdout.strip()
    try:
        changed = git("status", "--porcelain", "--", str(package))
    except (OSError, subprocess.SubprocessError):
        return commit + "-unknown"
    if changed.returncode != 0:
        return commit + "-unknown"
    return commit + "-dirty" if changed.stdout.strip() else commit


def provenance(
    command: str | None, seconds: float, device: torch.device
) -> dict:
    """Who ran what, where and when: enough to run it again."""
    try:
        version = importlib.metadata.version("vidconv")
    except importlib.metadata.PackageNotFoundError:
        version = None
    commit = _git_commit(pathlib.Path(__file__).resolve().parents[2])
    cpu = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            names = [
                ln.split(":", 1)[1].strip()
                for ln in f
                if ln.startswith("model name")
            ]
        cpu = names[0] if names else cpu
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {
        "command": command or " ".join(sys.argv),
        "vidconv": version,
        "git_commit": commit,
        "torch": torch.__version__,
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "gpu": gpu,
        "device": str(device),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(seconds, 1),
    }


def run_study(
    study: Study,
    setting: str = "quick",
    *,
    device: torch.device | str | None = "cpu",
    progress: bool = True,
    command: str | None = None,
) -> dict:
    """Run ``study`` in ``setting``: choose each arm's rate, then every seed.

    Returns ``{"study", "setting", "config", "arms", "lr", "runs",
    "provenance"}``: ``runs`` holds one row per (seed, arm) with its
    history, best epoch and test top-1.
    """
    if not isinstance(study, Study):
        raise TypeError(f"study must be a Study, got {type(study).__name__}")
    if setting not in study.settings:
        raise ValueError(
            f"setting must be one of {sorted(study.settings)}"
            f" for {study.name}, got {setting!r}"
        )
    device = check_device(device)
    config = study.settings[setting]
    start = time.perf_counter()
    with one_cpu_thread(device):
        splits = study.data()
        arms = study.arms()
        bar = tqdm(
            total=fits(config, len(arms)), desc=study.name, disable=not progress
        )
        rates, runs = {}, []
        for arm, build in arms.items():
            if len(config.lr_grid) == 1:  # nothing to choose
                rates[arm] = {"chosen": config.lr_grid[0], "tried": []}
                continue
            chosen, tried = choose_lr(
                build,
                splits,
                grid=config.lr_grid,
                seed=config.lr_seed,
                budget=config.budget,
                device=device,
            )
            rates[arm] = {"chosen": chosen, "tried": tried}
            bar.update(len(config.lr_grid))
        for seed in config.seeds:
            for arm, build in arms.items():
                run = run_once(
                    build,
                    splits,
                    lr=rates[arm]["chosen"],
                    seed=seed,
                    budget=config.budget,
                    device=device,
                )
                runs.append({"arm": arm, "seed": seed, **run})
                bar.update(1)
        bar.close()
        seconds = time.perf_counter() - start
        origin = provenance(command, seconds, device)
    return {
        "study": study.name,
        "setting": setting,
        "config": asdict(config),
        "arms": study.describe(),
        "lr": rates,
        "runs": runs,
        "provenance": origin,
    }


def per_arm(result: dict, metric: str) -> dict[str, list[float]]:
    """``{arm: [metric of seed 0, seed 1, ...]}`` from a study's result."""
    out: dict[str, list[float]] = {}
    for run in sorted(result["runs"], key=lambda r: r["seed"]):
        if metric not in run:
            raise ValueError(
                f"metric must be one of "
                f"{sorted(k for k in run if k != 'history')}, "
                f"got {metric!r}"
            )
        out.setdefault(run["arm"], []).append(run[metric])
    return out


def provenance_line(result: dict) -> str:
    """One line saying how, where and when a stored result was made."""
    p, c = result["provenance"], result["config"]
    commit = (p.get("git_commit") or "unknown")[:10]
    return (
        f"{result['study']} ({result['setting']}): "
        f"{len(c['seeds'])} seeds, rates from {c['lr_grid']} chosen on "
        f"validation, at most {c['budget']['max_epochs']} epochs with "
        f"patience {c['budget']['patience']}; {p['device']} "
        f"({p['cpu']}, {p['threads']} thread(s)), torch {p['torch']}, "
        f"vidconv commit {commit}, {p['date'][:10]}, "
        f"{p['wall_seconds'] / 60:.1f} min"
    )


def save(result: dict, path: str | os.PathLike) -> pathlib.Path:
    """Write ``result`` as indented JSON to ``path``."""
    path = pathlib.Path(path)
    path.write_text(json.dumps(result, indent=1) + "\n")
    return path


def reproduce(
    study: Study,
    stored: dict,
    *,
    epochs: int = 2,
    device: torch.device | str | None = "cpu",
) -> list[str]:
    """Re-run the first seed of every arm for ``epochs`` epochs.

    Uses the stored rates; returns the differences from the stored
    history (empty when it reproduces). Losses must agree to 1e-5
    relative (they are stored to 6 digits). On the CPU with one thread
    the bits are the same run to run, and the same under PyTorch's AVX2
    and AVX-512 kernels (measured: ``ATEN_CPU_CAPABILITY=avx2``); its
    non-vectorised kernels (``=default``) change the summation order and
    the losses by up to 15 % within two epochs, where no tolerance would
    mean anything, so a check needs an AVX2 or AVX-512 CPU.
    """
    config = study.settings[stored["setting"]]
    short = Budget(
        max_epochs=epochs,
        patience=epochs,
        min_epochs=epochs,
        batch_size=config.budget.batch_size,
    )
    seed = stored["config"]["seeds"][0]
    problems = []
    device = check_device(device)
    with one_cpu_thread(device):
        splits = study.data()
        for arm, build in study.arms().items():
            lr = stored["lr"][arm]["chosen"]
            again = run_once(
                build, splits, lr=lr, seed=seed, budget=short, device=device
            )["history"]
            (kept,) = [
                r
                for r in stored["runs"]
                if r["arm"] == arm and r["seed"] == seed
            ]
            problems += _compare(arm, kept["history"][:epochs], again)
    return problems


def _compare(arm: str, kept: Sequence[dict], again: Sequence[dict]) -> list:
    problems = []
    for old, new in zip(kept, again):
        for key in ("train_loss", "val_loss"):
            if abs(old[key] - new[key]) > 1e-5 * max(abs(old[key]), 1e-3):
                problems.append(
                    f"{arm}, epoch {old['epoch']}: {key} stored "
                    f"{old[key]}, re-run {new[key]}"
                )
    if len(kept) != len(again):
        problems.append(
            f"{arm}: {len(kept)} stored epochs, {len(again)} re-run"
        )
    return problems
