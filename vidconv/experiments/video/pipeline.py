"""Chapter 2's data pipeline: a folder of real clips, a DataLoader with workers, and where a step's time goes.

* :func:`write_clip_folder` — cut short clips out of real videos and encode them as ``root/<class>/*.mp4``.
* :func:`step_time_breakdown` — one training step split into decode, transform and model, measured.
* :func:`loader_throughput` — clips per second through a ``DataLoader`` with 0 and more workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from vidconv.data.folder import VideoFolder
from vidconv.data.transforms import KineticsEval, resize
from vidconv.data.video_io import read_frames, video_info, write_video
from vidconv.training.steps import gradient_steps
from vidconv.utils.checks import check_nonnegative_int, check_positive_int
from vidconv.utils.table import Table
from vidconv.utils.timing import timed


def write_clip_folder(
    root: str | os.PathLike,
    sources: dict[str, str | os.PathLike],
    *,
    clips_per_class: int = 4,
    clip_frames: int = 24,
    size: Sequence[int] = (128, 170),
    fps: int = 25,
) -> VideoFolder:
    """Encode ``clips_per_class`` clips of ``clip_frames`` frames from each source video into ``root/<class>/``.

    ``sources`` maps a class name to a video file; the clips start at evenly spaced frames of the first
    ``clips_per_class * clip_frames`` frames (consecutive, non-overlapping), resized to ``size = (H, W)``
    (even numbers, as H.264 needs). Returns the :class:`~vidconv.data.folder.VideoFolder` over ``root``.
    """
    if not isinstance(sources, dict) or not sources:
        raise ValueError(
            f"sources must be a non-empty dict class name -> video file, got {sources!r}"
        )
    check_positive_int(clips_per_class, "clips_per_class")
    check_positive_int(clip_frames, "clip_frames")
    root = Path(root)
    for name, path in sources.items():
        if (
            not isinstance(name, str)
            or not name
            or "/" in name
            or name.startswith(".")
        ):
            raise ValueError(
                f"class names must be plain folder names, got {name!r}"
            )
        frames = read_frames(
            path, list(range(clips_per_class * clip_frames))
        )  # (3, T, H, W) in [0, 1]
        video = resize(frames, size, antialias=True)  # (3, T, h, w)
        for k in range(clips_per_class):
            clip = video[
                :, k * clip_frames : (k + 1) * clip_frames
            ]  # (3, clip_frames, h, w)
            write_video(root / name / f"{name}_{k:02d}.mp4", clip, fps=fps)
    return VideoFolder(root)


def step_time_breakdown(
    dataset: VideoFolder,
    model: nn.Module,
    *,
    batch_size: int = 4,
    steps: int = 3,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: torch.device | None = None,
) -> Table:
    """Milliseconds per training step spent decoding, sampling + transforming, and in the model.

    Runs ``steps`` steps in the main process (no workers, so the parts add up): as in
    :class:`~vidconv.data.folder.VideoFolder`, the dataset's sampler picks frames from the header's count,
    only those are decoded (:func:`~vidconv.data.video_io.read_frames`), then transformed (default
    :class:`~vidconv.data.transforms.KineticsEval`), stacked, and the model takes a forward pass, a backward
    pass and an SGD step.
    """
    if not isinstance(dataset, VideoFolder):
        raise TypeError(
            f"dataset must be a VideoFolder, got {type(dataset).__name__}"
        )
    check_positive_int(batch_size, "batch_size")
    check_positive_int(steps, "steps")
    transform = transform or KineticsEval()
    device = device or torch.device("cpu")
    model = model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    totals = {
        "decode": 0.0,
        "sample + transform": 0.0,
        "model (forward, backward, step)": 0.0,
    }
    for step in range(steps):
        clips, labels = [], []
        for j in range(batch_size):
            path, label = dataset.samples[
                (step * batch_size + j) % len(dataset)
            ]
            # As VideoFolder does: the header's frame count, the sampler, then only those frames decoded.
            indices, seconds = timed(
                lambda: dataset.sampler(
                    video_info(path).frames, dataset.clip_len
                )
            )
            totals["sample + transform"] += seconds
            frames, seconds = timed(
                lambda: read_frames(path, indices)
            )  # (3, clip_len, H, W) float
            totals["decode"] += seconds
            clip, seconds = timed(lambda: transform(frames))
            totals["sample + transform"] += seconds
            clips.append(clip)
            labels.append(label)
        batch, target = (
            torch.stack(clips).to(device),
            torch.tensor(labels, device=device),
        )  # (B, C, T, H, W)

        def train_step() -> None:
            gradient_steps(
                optimizer,
                lambda x, y: F.cross_entropy(model(x), y),
                [(batch, target)],  # noqa: B023
            )

        totals["model (forward, backward, step)"] += timed(train_step, device)[
            1
        ]
    whole = sum(totals.values())
    return Table(
        [
            {
                "part": part,
                "ms per step": round(1000 * s / steps, 1),
                "share %": round(100 * s / whole, 1),
            }
            for part, s in totals.items()
        ]
    )


def loader_throughput(
    dataset: VideoFolder,
    *,
    batch_size: int = 4,
    workers: Sequence[int] = (0, 2),
) -> Table:
    """Clips per second through a ``DataLoader``, for each number of workers, over two passes of the dataset.

    The first pass includes starting the worker processes, as the first epoch of a training run does; the
    workers persist, so the second pass shows the steady state.
    """
    if not isinstance(dataset, VideoFolder):
        raise TypeError(
            f"dataset must be a VideoFolder, got {type(dataset).__name__}"
        )
    check_positive_int(batch_size, "batch_size")
    rows = []
    for n in workers:
        check_nonnegative_int(n, "workers")
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            num_workers=n,
            persistent_workers=n > 0,
        )
        first, first_s = timed(partial(list, loader))
        second, second_s = timed(partial(list, loader))
        clips = sum(len(b[1]) for b in second)
        rows.append(
            {
                "workers": n,
                "clips": clips,
                "clip shape": str(tuple(second[0][0].shape[1:])),
                "first pass s": round(first_s, 3),
                "first pass clips/s": round(clips / first_s, 1),
                "second pass clips/s": round(clips / second_s, 1),
            }
        )
        del loader  # stops persistent workers
    return Table(rows)
