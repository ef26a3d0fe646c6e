"""Xie et al.'s bottom-heavy vs top-heavy study (ECCV 2018, section 4) in miniature.

Xie et al. replaced the 3D convolutions of I3D by 2D ones either at the top of the network
("bottom-heavy": temporal kernels only low down) or at the bottom ("top-heavy": temporal kernels only
high up), and compared accuracy and FLOPs. :class:`MiniS3D` is a four-block Inception network in which
each block is either S3D's (separable 1x3x3 + 3x1x1 convolutions, 3x3x3 max pool) or 2D (1x3x3
convolutions and a 1x3x3 max pool: each frame alone). Its stem is 2D, so only the blocks see time:

    stem 1x3x3 /2 -> blocks 1, 2 (T x H/2) -> 2x2x2 max pool -> blocks 3, 4 (T/2 x H/4) -> average -> fc
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import TensorDataset

from vidconv.analysis.counting import count_macs, count_parameters
from vidconv.experiments.placement.mixed import PLACEMENT_RUN
from vidconv.experiments.small_run import BlobTask, SmallRun, train_arms
from vidconv.layers.blocks import ConvBnReLU3d
from vidconv.layers.inception import InceptionBlock3d
from vidconv.models._clip import check_clip
from vidconv.utils.checks import (
    check_bool,
    check_device,
    check_int,
)
from vidconv.utils.table import Table

#: Which of the four blocks are S3D blocks (True) or 2D (False), by setting name.
HEAVINESS_SETTINGS: dict[str, tuple[bool, bool, bool, bool]] = {
    "2D everywhere": (False, False, False, False),
    "bottom-heavy": (True, True, False, False),
    "top-heavy": (False, False, True, True),
    "S3D everywhere": (True, True, True, True),
}


def flatten_time(block: InceptionBlock3d) -> InceptionBlock3d:
    """Make an Inception block 2D in place: its 3x3x3 (or separable) convolutions become 1x3x3 and its
    3x3x3 max pool 1x3x3, so that no branch mixes frames. Returns the block (same output channels)."""
    if not isinstance(block, InceptionBlock3d):
        raise TypeError(
            f"block must be an InceptionBlock3d, got {type(block).__name__}"
        )
    for branch in (block.branch1, block.branch2):
        convs = [
            m for m in branch[1].modules() if isinstance(m, nn.Conv3d)
        ]  # full: one; separable: two
        branch[1] = ConvBnReLU3d(
            convs[0].in_channels, convs[-1].out_channels, (1, 3, 3)
        )  # freshly initialised
    block.branch3[0] = nn.MaxPool3d((1, 3, 3), stride=1, padding=(0, 1, 1))
    return block


def inception_block(
    in_channels: int,
    widths: Sequence[int],
    *,
    temporal: bool,
    gating: bool = False,
) -> nn.Module:
    """An :class:`InceptionBlock3d` with S3D's separable convolutions (``temporal=True``), or the same
    block made 2D by :func:`flatten_time`."""
    check_bool(temporal, "temporal")
    if len(widths) != 6:
        raise ValueError(
            f"widths must be the 6 branch widths (b0, b1_mid, b1, b2_mid, b2, b3), got {widths!r}"
        )
    block = InceptionBlock3d(
        in_channels, *widths, separable=True, gating=gating
    )
    return block if temporal else flatten_time(block)


class FramewiseMaxPool3d(nn.Module):
    """The Inception pool branch's max over a 3x3x3 (``temporal=True``) or 1x3x3 window, stride 1, padded
    to keep the size: what ``nn.MaxPool3d`` computes, as a 2D max pool on every frame followed by a max
    over neighbouring frames (a maximum is separable). On a CPU, PyTorch's 3D max pool was ~40 % of a
    MiniS3D training step; this takes a fraction of that."""

    def __init__(self, temporal: bool) -> None:
        super().__init__()
        self.temporal = check_bool(temporal, "temporal")

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)  # (B*T, C, H, W)
        y = nn.functional.max_pool2d(frames, 3, stride=1, padding=1)
        y = y.reshape(b, t, c, h, w).transpose(1, 2)  # (B, C, T, H, W)
        if self.temporal:
            padded = nn.functional.pad(
                y, (0, 0, 0, 0, 1, 1), value=float("-inf")
            )  # (B, C, T+2, H, W)
            y = torch.maximum(
                torch.maximum(padded[:, :, :-2], padded[:, :, 1:-1]),
                padded[:, :, 2:],
            )
        return y


class MiniS3D(nn.Module):
    """Four Inception blocks, each S3D (temporal) or 2D as ``temporal`` says; ``gating`` gives S3D-G's gates.

    Args:
        num_classes: classifier width.
        temporal: four booleans, bottom block first.
        width: channels of the stem; every block outputs ``2 * width``.
        gating: self-gating on every branch of every block.
    """

    def __init__(
        self,
        num_classes: int,
        temporal: Sequence[bool],
        *,
        width: int = 8,
        gating: bool = False,
    ) -> None:
        super().__init__()
        check_int(num_classes, "num_classes", minimum=2)
        w = check_int(width, "width", minimum=2)
        check_bool(gating, "gating")
        if len(temporal) != 4 or not all(isinstance(t, bool) for t in temporal):
            raise ValueError(
                f"temporal must be 4 booleans (one per block, bottom first), got {temporal!r}"
            )
        self.temporal = tuple(temporal)
        # Branch widths (b0, b1_mid, b1, b2_mid, b2, b3) summing to 2 * width, Inception's proportions.
        branches = (w // 2, w // 2, w, max(w // 4, 1), w // 4 or 1, w // 4 or 1)
        out = branches[0] + branches[2] + branches[4] + branches[5]
        self.stem = ConvBnReLU3d(
            3, w, (1, 3, 3), stride=(1, 2, 2)
        )  # (B, w, T, H/2, W/2)
        self.blocks = nn.ModuleList(
            [
                inception_block(
                    w if i == 0 else out, branches, temporal=t, gating=gating
                )
                for i, t in enumerate(self.temporal)
            ]
        )
        for block, t in zip(self.blocks, self.temporal):
            block.branch3[0] = FramewiseMaxPool3d(
                t
            )  # the same maximum, computed faster on a CPU
        self.pool = nn.MaxPool3d(
            2, stride=2, ceil_mode=True
        )  # between blocks 2 and 3, as S3D pools time
        self.fc = nn.Linear(out, num_classes)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm3d):
                # S3D's batch norms keep TensorFlow's momentum of 1e-3: their running statistics would
                # need thousands of steps to leave their initial values, and a network trained for a few
                # dozen steps would be evaluated with the wrong ones. PyTorch's default follows quickly.
                m.momentum = 0.1

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_clip(x, self, channels=3)
        x = self.stem(x)
        for i, block in enumerate(self.blocks):
            x = (
                self.pool(x) if i == 2 else x
            )  # (B, C, T/2, H/4, W/4) from block 3 on
            x = block(x)
        return self.fc(x.mean(dim=(2, 3, 4)))  # (B, C) -> (B, num_classes)


@dataclass
class HeavinessResult:
    """Table (one row per setting), trained networks (eval mode), test clips, chance."""

    table: Table
    models: dict[str, MiniS3D]
    test: TensorDataset
    chance: float


def heaviness_experiment(
    settings: Mapping[str, Sequence[bool]] | None = None,
    run: SmallRun = PLACEMENT_RUN,
    task: BlobTask = BlobTask(),
    *,
    width: int = 8,
    gating: bool = False,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> HeavinessResult:
    """Train one :class:`MiniS3D` per setting (default :data:`HEAVINESS_SETTINGS`) on the same clips.

    Data, seeds and the reversed test set as in :func:`vidconv.experiments.placement.mixed.placement_experiment`.
    After training, batch-norm statistics are re-estimated with the final weights (see
    :func:`~vidconv.experiments.small_run.precise_batch_norm`); the test set is evaluated once, at the end.
    """
    settings = dict(HEAVINESS_SETTINGS if settings is None else settings)
    if not settings:
        raise ValueError("settings must name at least one setting")
    SmallRun.check(run)
    BlobTask.check(task)
    check_int(seed, "seed", minimum=0)
    device = check_device("cpu" if device is None else device)
    frames, size, num_classes = task.frames, task.size, task.num_classes
    train, test = task.splits(run, seed, reversed_test=True)
    builds = {
        name: lambda t=tuple(temporal): MiniS3D(
            num_classes, t, width=width, gating=gating
        )
        for name, temporal in settings.items()
    }
    arms = train_arms(
        builds, train, test, run, seed=seed, device=device, precise_bn=True
    )
    rows = [
        {
            "setting": name,
            "blocks (bottom first)": "".join(
                "S" if t else "2" for t in arm.model.temporal
            ),
            "parameters": count_parameters(arm.model),
            "MMACs per clip": round(
                count_macs(arm.model, (1, 3, frames, size, size)) / 1e6, 3
            ),
            "test top-1": round(arm.top1, 3),
            "train seconds": round(arm.seconds, 1),
        }
        for name, arm in arms.items()
    ]
    models = {name: arm.model for name, arm in arms.items()}
    return HeavinessResult(Table(rows), models, test, 1 / num_classes)
