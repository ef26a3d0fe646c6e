"""Two streams in miniature: appearance (the RGB clip) and motion (computed from
the clip), trained separately and fused late by averaging their class
probabilities, as I3D's RGB and optical-flow networks are (Carreira & Zisserman,
2017, section 2.5 and table 2).

The motion input here is the **frame difference** ``x[t+1] - x[t]`` (grey, one
channel): it needs no trained model and no extra library, and on
:class:`~vidconv.data.synthetic.RotatingBlobs` — a blob on a still background —
it is exactly where optical flow would be non-zero, signed by where the blob
arrived (+) and left (-). It does not give the flow's direction and speed per
pixel; the network must read those from the pair of signed blobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from vidconv.experiments.small_run import BlobTask, SmallRun, train_and_test
from vidconv.utils.checks import (
    check_clip_channels,
    check_device,
    check_ints,
    check_positive_int,
    check_positive_ints,
    check_tensor,
)
from vidconv.utils.device import one_cpu_thread
from vidconv.utils.table import Table

#: The streams, in the order of the table: name -> (input channels, frames
#: lost to the motion input).
STREAMS = ("appearance (RGB)", "motion (frame differences)", "late fusion")


def frame_differences(clips: torch.Tensor) -> torch.Tensor:
    """Grey temporal differences of clips ``(B, C, T, H, W)``:
    ``(B, 1, T - 1, H, W)``, frame ``t`` holding ``grey[t + 1] - grey[t]``
    (positive where something arrived, negative where it left)."""
    check_tensor(clips, "clips", ndim=5, layout="(B, C, T, H, W)")
    if clips.shape[2] < 2:
        raise ValueError(
            "clips must have at least 2 frames to take a difference, "
            f"got shape {tuple(clips.shape)}"
        )
    grey = clips.mean(dim=1, keepdim=True)  # (B, 1, T, H, W)
    return grey[:, :, 1:] - grey[:, :, :-1]  # (B, 1, T - 1, H, W)


class StreamNet3d(nn.Module):
    """One stream: two 3x3x3 conv-BN-ReLU stages, each followed by a 1x2x2 max
    pool (time kept), and a linear head over the whole ``(C, T, H/4, W/4)``
    map."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        frames: int,
        size: int = 16,
        width: int = 8,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        check_positive_int(num_classes, "num_classes")
        self.frames = check_positive_int(frames, "frames")
        self.size = check_positive_int(size, "size", minimum=4)
        check_positive_int(width, "width")
        self.trunk = nn.Sequential(
            nn.Conv3d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm3d(width),
            nn.ReLU(),
            nn.MaxPool3d((1, 2, 2)),
            nn.Conv3d(width, 2 * width, 3, padding=1, bias=False),
            nn.BatchNorm3d(2 * width),
            nn.ReLU(),
            nn.MaxPool3d((1, 2, 2)),
        )
        self.head = nn.Linear(
            2 * width * frames * (size // 4) ** 2, num_classes
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_clip_channels(x, self.in_channels, "StreamNet3d")
        if tuple(x.shape[2:]) != (self.frames, self.size, self.size):
            raise ValueError(
                f"StreamNet3d expects clips (B, {self.in_channels}, "
                f"{self.frames}, {self.size}, {self.size}), got shape "
                f"{tuple(x.shape)}"
            )
        return self.head(
            self.trunk(x).flatten(1)
        )  # (B, C, T, H/4, W/4) -> (B, classes)


@dataclass
class TwoStreamResult:
    """What :func:`two_stream_experiment` returns: the table (mean and range
    over seeds per stream), ``accuracy[stream]`` (one test top-1 per seed), the
    test probabilities of the last seed per stream ``(N, classes)``, its test
    labels, and chance accuracy."""

    table: Table
    seeds: tuple[int, ...]
    accuracy: dict[str, list[float]]
    probabilities: dict[str, torch.Tensor]
    labels: torch.Tensor
    chance: float


#: The budget of each stream's training run.
STREAM_RUN = SmallRun(train_clips=192, test_clips=256, epochs=3, lr=1e-3)


def two_stream_experiment(
    seeds: Sequence[int] = (0, 1, 2),
    run: SmallRun = STREAM_RUN,
    task: BlobTask = BlobTask(),
    *,
    width: int = 8,
    device: torch.device | None = None,
) -> TwoStreamResult:
    """Train an appearance and a motion :class:`StreamNet3d` on the same
    RotatingBlobs clips (same seed, batches, optimizer and epochs) and fuse
    their softmax outputs by averaging; per seed."""
    seeds = check_ints(seeds, "seeds", minimum=0, maximum=2**30)
    SmallRun.check(run)
    BlobTask.check(task)
    size, num_classes = task.size, task.num_classes
    check_positive_ints(width=width)
    device = torch.device("cpu") if device is None else check_device(device)
    inputs = {STREAMS[0]: lambda x: x, STREAMS[1]: frame_differences}
    accuracy: dict[str, list[float]] = {s: [] for s in STREAMS}
    probabilities: dict[str, torch.Tensor] = {}
    with one_cpu_thread(device):
        for seed in seeds:
            train, test = task.splits(run, 2 * seed)
            (train_x, train_y), (test_x, labels) = train.tensors, test.tensors
            for stream, transform in inputs.items():
                x = transform(train_x)  # (N, C, T, H, W) of this stream
                arm = train_and_test(
                    lambda c=x.shape[1], t=x.shape[2]: StreamNet3d(
                        c, num_classes, frames=t, size=size, width=width
                    ),
                    TensorDataset(x, train_y),
                    TensorDataset(transform(test_x), labels),
                    run,
                    seed=seed,
                    device=device,
                )
                with torch.no_grad():
                    probabilities[stream] = F.softmax(
                        arm.model(transform(test_x).to(device)), dim=1
                    ).cpu()
            probabilities[STREAMS[2]] = (
                probabilities[STREAMS[0]] + probabilities[STREAMS[1]]
            ) / 2
            for stream in STREAMS:
                accuracy[stream].append(
                    (probabilities[stream].argmax(1) == labels)
                    .float()
                    .mean()
                    .item()
                )
    chance = 1 / num_classes
    rows = [
        {
            "stream": s,
            "test top-1 (mean)": round(sum(a) / len(a), 3),
            "test top-1 (min-max)": f"{min(a):.3f}-{max(a):.3f}",
            "chance": round(chance, 3),
        }
        for s, a in accuracy.items()
    ]
    return TwoStreamResult(
        Table(rows), seeds, accuracy, probabilities, labels, chance
    )
