"""Tran et al.'s placement experiment (CVPR 2018, section 4.2) in miniature: which groups need time?

Every member of the mixed-convolution family (:func:`vidconv.models.mixed.mixed_resnet`) is trained
with the same clips, seed, batches, optimizer and epochs on
:class:`~vidconv.data.synthetic.RotatingBlobs`, whose classes differ only in the order of the frames.
The test set holds fresh clips and the same clips played backwards (labelled with the reverse
class), so a network whose output ignores frame order scores exactly chance: f-R2D (2D convolutions
on every frame, time averaged away) is such a network, by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import TensorDataset

from vidconv.analysis.counting import count_macs, count_parameters
from vidconv.experiments.small_run import BlobTask, SmallRun, train_arms
from vidconv.models.mixed import MIXED_MEMBERS, mixed_resnet, temporal_groups
from vidconv.utils.checks import (
    check_device,
    check_int,
    check_int_sequence,
)
from vidconv.utils.table import Table

#: The miniature's size: one basic block per stage, stage widths 8-16-16-32.
MINI_WIDTHS = (8, 16, 16, 32)
MINI_LAYERS = (1, 1, 1, 1)

#: The budget of the placement comparisons (members and S3D settings).
PLACEMENT_RUN = SmallRun(
    train_clips=128, test_clips=64, epochs=3, batch_size=16, lr=3e-3
)


@dataclass
class PlacementResult:
    """What :func:`placement_experiment` returns: the table (one row per member), the trained networks
    by member, every member's test accuracy after each epoch, the test clips and chance accuracy."""

    table: Table
    models: dict[str, nn.Module]
    history: dict[str, list[float]]
    test: TensorDataset
    chance: float


def groups_label(member: str) -> str:
    """The five groups as a string, ``3`` for temporal kernels and ``2`` for none: MC3 is ``33222``."""
    return "".join("3" if g else "2" for g in temporal_groups(member))


def mini_member(
    member: str,
    *,
    frames: int = 8,
    num_classes: int = 2,
    widths: Sequence[int] = MINI_WIDTHS,
    layers: Sequence[int] = MINI_LAYERS,
) -> nn.Module:
    """A member at the miniature's size (``frames`` is only used by R2D, which needs the clip length)."""
    return mixed_resnet(
        member,
        frames=frames if member == "R2D" else None,
        layers=layers,
        widths=widths,
        num_classes=num_classes,
    )


def _check_members(members: Sequence[str] | None) -> list[str]:
    members = list(MIXED_MEMBERS if members is None else members)
    if not members or len(set(members)) != len(members):
        raise ValueError(
            f"members must name at least one member, each once, from {MIXED_MEMBERS}; got {members!r}"
        )
    for m in members:
        temporal_groups(m)  # refuses unknown names with the list of known ones
    return members


def placement_experiment(
    members: Sequence[str] | None = None,
    run: SmallRun = PLACEMENT_RUN,
    task: BlobTask = BlobTask(),
    *,
    widths: Sequence[int] = MINI_WIDTHS,
    layers: Sequence[int] = MINI_LAYERS,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> PlacementResult:
    """Train one miniature per member (default: all of :data:`MIXED_MEMBERS`) on the same clips.

    Training clips are ``RotatingBlobs(run.train_clips, seed=seed)``; the test set is ``run.test_clips``
    clips of ``seed + 1`` and the same clips reversed. Every network starts from ``torch.manual_seed(seed)``
    and sees the batches in the same order. The table gives each member's groups (``3`` temporal,
    ``2`` not), parameters, multiply-adds per clip at the miniature's size, and test top-1.
    """
    members = _check_members(members)
    SmallRun.check(run)
    BlobTask.check(task)
    check_int(seed, "seed", minimum=0)
    check_int_sequence(widths, "widths", length=4, minimum=1)
    check_int_sequence(layers, "layers", length=4, minimum=1)
    device = check_device("cpu" if device is None else device)
    frames, size, num_classes = task.frames, task.size, task.num_classes
    train, test = task.splits(run, seed, reversed_test=True)
    builds = {
        m: lambda m=m: mini_member(
            m,
            frames=frames,
            num_classes=num_classes,
            widths=widths,
            layers=layers,
        )
        for m in members
    }
    arms = train_arms(
        builds, train, test, run, seed=seed, device=device, curve=True
    )
    rows = [
        {
            "member": member,
            "groups (3 = temporal)": groups_label(member),
            "parameters": count_parameters(arm.model),
            "MMACs per clip": round(
                count_macs(arm.model, (1, 3, frames, size, size)) / 1e6, 2
            ),
            "test top-1": round(arm.top1, 3),
            "train seconds": round(arm.seconds, 1),
        }
        for member, arm in arms.items()
    ]
    models = {m: arm.model for m, arm in arms.items()}
    history = {m: arm.curve for m, arm in arms.items()}
    return PlacementResult(Table(rows), models, history, test, 1 / num_classes)
