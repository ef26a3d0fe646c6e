"""The book's headline experiment: does a network need to see frames together to tell motions apart?

On :class:`vidconv.data.synthetic.RotatingBlobs`, where every class shows the same set of frames, three
small networks get the same training budget (data, epochs, batch size, optimizer, learning rate)
and similar parameter counts:

* per-frame 2D CNN + temporal average — sees each frame alone, so it is at chance by construction;
* 3D CNN — 3x3x3 convolutions see frames together;
* (2+1)D CNN — spatial then temporal convolutions.

``temporal_vs_per_frame()`` trains all three and returns the table; it runs in under a minute on a
2-core CPU at the default size, and scales up (more clips, epochs) on a GPU.
"""

from __future__ import annotations

import torch
from torch import nn

from vidconv.analysis.counting import count_parameters
from vidconv.experiments.small_run import BlobTask, SmallRun, train_arms
from vidconv.layers.blocks import Conv2Plus1d, PerFrameConv2d
from vidconv.utils.checks import (
    check_bool,
    check_device,
    check_int,
)
from vidconv.utils.table import Table


class _Classifier(nn.Module):
    """Feature extractor, global average over (T, H, W), linear classifier."""

    def __init__(
        self, features: nn.Module, channels: int, num_classes: int
    ) -> None:
        super().__init__()
        self.features = features
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.fc(
            self.features(x).mean(dim=(2, 3, 4))
        )  # (B, C, T, H, W) -> (B, C) -> (B, classes)


def _check_widths(num_classes: int, width: int) -> None:
    check_int(num_classes, "num_classes", minimum=2)
    check_int(width, "width", minimum=1)


def _unit(conv: nn.Module, channels: int) -> list[nn.Module]:
    return [conv, nn.BatchNorm3d(channels), nn.ReLU(inplace=True)]


def _three_units(num_classes: int, width: int, conv) -> nn.Module:
    """``conv(c_in, c_out, spatial_stride)`` three times (3 -> w -> w -> 2w,
    the last two halving H and W), each with BN and ReLU."""
    _check_widths(num_classes, width)
    w, layers = width, []
    for c_in, c_out, stride in ((3, w, 1), (w, w, 2), (w, 2 * w, 2)):
        layers += _unit(conv(c_in, c_out, stride), c_out)
    return _Classifier(nn.Sequential(*layers), 2 * w, num_classes)


def per_frame_cnn(num_classes: int, width: int = 28) -> nn.Module:
    """Three 3x3 2D convolutions applied to each frame alone; features averaged over time."""
    return _three_units(
        num_classes, width, lambda i, o, s: PerFrameConv2d(i, o, 3, stride=s)
    )


def cnn_3d(num_classes: int, width: int = 16) -> nn.Module:
    """Three 3x3x3 convolutions (the last two halve height and width)."""
    return _three_units(
        num_classes,
        width,
        lambda i, o, s: nn.Conv3d(
            i, o, 3, stride=(1, s, s), padding=1, bias=False
        ),
    )


def cnn_2plus1d(num_classes: int, width: int = 16) -> nn.Module:
    """The 3D CNN with every 3x3x3 convolution factorised into (2+1)D (same parameter budget per layer)."""
    return _three_units(
        num_classes,
        width,
        lambda i, o, s: _spatially_strided(Conv2Plus1d(i, o), s),
    )


def _spatially_strided(block: Conv2Plus1d, stride: int) -> Conv2Plus1d:
    # Stride the spatial conv only: time keeps every frame, as in the 3D CNN.
    block[0].stride = (1, stride, stride)
    return block


#: The budget of chapter 2's comparison on a CPU.
TEMPORAL_RUN = SmallRun(
    train_clips=768, test_clips=256, epochs=6, batch_size=32, lr=3e-3
)

ARMS = {
    "per-frame 2D + average": per_frame_cnn,
    "3D CNN": cnn_3d,
    "(2+1)D CNN": cnn_2plus1d,
}


def temporal_vs_per_frame(
    run: SmallRun = TEMPORAL_RUN,
    task: BlobTask | None = None,
    **options: object,
) -> Table:
    """Train the three networks on the same synthetic data and report parameters, accuracy and time.

    Takes :func:`temporal_vs_per_frame_curves`' arguments (``task`` None: :data:`TEMPORAL_TASK`) and
    returns its table (the same numbers).
    """
    task = TEMPORAL_TASK if task is None else task
    return temporal_vs_per_frame_curves(run, task, **options)[0]


#: Chapter 2's task: 7 frames, so that 4 speeds (+-1, +-2) are possible.
TEMPORAL_TASK = BlobTask(frames=7, num_classes=4)


def temporal_vs_per_frame_curves(
    run: SmallRun = TEMPORAL_RUN,
    task: BlobTask = TEMPORAL_TASK,
    *,
    seed: int = 0,
    device: torch.device | None = None,
    progress: bool = False,
) -> tuple[Table, dict[str, dict[str, list[float]]]]:
    """The three networks under one budget: their table and training curves.

    Training clips are seeded by ``seed``, test clips by ``seed + 1``. The curves map each model to
    lists over epochs 1..``run.epochs``: ``epoch``, ``train loss``, ``train top-1`` and ``test top-1``
    (the test set is scored after every epoch; that time is not in "train seconds").
    """
    SmallRun.check(run)
    BlobTask.check(task)
    check_int(seed, "seed", minimum=0)
    check_bool(progress, "progress")
    device = check_device(device)
    train, test = task.splits(run, seed)
    num_classes = int(train.tensors[1].max()) + 1
    # The clips are tiny (16x16 pixels): one thread, as every small run
    # (an epoch took 2.4 s on one thread, 11-15 s on two, on a busy 2-core
    # machine).
    builds = {
        name: lambda b=build: b(num_classes) for name, build in ARMS.items()
    }
    arms = train_arms(
        builds,
        train,
        test,
        run,
        seed=seed,
        device=device,
        curve=True,
        progress=progress,
    )
    rows, history = [], {}
    for name, arm in arms.items():
        history[name] = {
            "epoch": list(range(1, run.epochs + 1)),
            "train loss": [e["loss"] for e in arm.epochs],
            "train top-1": [e["top1"] for e in arm.epochs],
            "test top-1": arm.curve,
        }
        rows.append(
            {
                "model": name,
                "parameters": count_parameters(arm.model),
                "test top-1": round(arm.top1, 3),
                "chance": round(1 / num_classes, 3),
                "train seconds": round(arm.seconds, 1),
            }
        )
    return Table(rows), history
