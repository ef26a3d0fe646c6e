"""A tiny data-parallel run that readers and the tests launch: a small 3D CNN on RotatingBlobs, trained by ``fit``.

    python -m vidconv.training --epochs 3                         # one process
    torchrun --nproc_per_node=2 -m vidconv.training --epochs 3    # two processes: gloo on the CPU
    torchrun --nproc_per_node=8 -m vidconv.training --device cuda # one process per GPU: NCCL

``--batch-size`` is the global batch (split evenly over the processes), so with the same seed every
number of processes sees the same clips in each step and ends with the same parameters, to float
rounding. The model has no batch norm on purpose: each process would normalise with its own share of
the batch (use ``distributed(..., sync_batchnorm=True)`` on GPUs for a model that has them).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.data import Dataset

from vidconv.data.synthetic import RotatingBlobs
from vidconv.training import ddp
from vidconv.training.loop import fit
from vidconv.utils.checks import check_positive_int


def tiny_video_net(num_classes: int = 4, width: int = 8) -> nn.Sequential:
    """Two 3D convolutions, global pooling and a linear head; no batch norm."""
    num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
    width = check_positive_int(width, "width")
    return nn.Sequential(
        nn.Conv3d(3, width, 3, padding=1),
        nn.ReLU(),  # (B, width, T, H, W)
        nn.Conv3d(width, width, 3, stride=(1, 2, 2), padding=1),
        nn.ReLU(),  # (B, width, T, H/2, W/2)
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),  # (B, width)
        nn.Linear(width, num_classes),
    )


class BlobVideos(Dataset):
    """RotatingBlobs clips grouped into videos: ``(clip, label, video_id)``, ``clips_per_video`` clips per video.

    Clip ``i`` belongs to video ``i // clips_per_video`` and shows that video's class (its rotation
    speed) with its own nuisances. Under ``N`` processes a ``ShardSampler`` puts clip ``i`` on rank
    ``i % N``, so a video's clips sit on different processes and video-level accuracy must gather them.
    """

    def __init__(
        self, num_clips: int, clips_per_video: int = 2, *, seed: int = 0
    ) -> None:
        self.blobs = RotatingBlobs(num_clips, seed=seed)
        self.clips_per_video = check_positive_int(
            clips_per_video, "clips_per_video"
        )

    def __len__(self) -> int:
        return len(self.blobs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        video = index // self.clips_per_video
        label = self.blobs.label_of(video)
        return self.blobs.render(index, self.blobs.speeds[label]), label, video


def run(
    *,
    train_clips: int = 64,
    val_clips: int = 32,
    batch_size: int = 16,
    epochs: int = 1,
    lr: float = 0.05,
    width: int = 8,
    seed: int = 0,
    device: torch.device | str | None = None,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
) -> tuple[nn.Module, list[dict]]:
    """Build the model, the data and SGD from ``seed`` and ``fit``; returns the (plain) model and the history.

    It joins torchrun's process group first (when torchrun started it), because the loaders need the rank.
    """
    device = ddp.init(device)
    torch.manual_seed(
        seed
    )  # the same initial weights in every process (DDP also copies rank 0's)
    model = tiny_video_net(width=width)
    train = RotatingBlobs(train_clips, seed=seed)
    val = BlobVideos(val_clips, seed=seed + 1)
    train_loader = ddp.distributed_loader(
        train, batch_size, train=True, seed=seed
    )
    val_loader = ddp.distributed_loader(val, batch_size, train=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history = fit(
        model,
        train_loader,
        val_loader,
        epochs=epochs,
        optimizer=optimizer,
        device=device,
        progress=progress,
        checkpoint=checkpoint,
    )
    return model, history


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m vidconv.training",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--train-clips", type=int, default=64)
    ap.add_argument("--val-clips", type=int, default=32)
    ap.add_argument(
        "--batch-size",
        type=int,
        default=16,
        help="global batch, divisible by the process count",
    )
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--device",
        default=None,
        help="cpu or cuda (default: cuda when there is a GPU)",
    )
    ap.add_argument(
        "--checkpoint",
        default=None,
        help="file rank 0 rewrites after every epoch",
    )
    ap.add_argument(
        "--history",
        default=None,
        help="JSON file for the per-epoch metrics (rank 0)",
    )
    ap.add_argument(
        "--no-progress", action="store_true", help="no progress bars"
    )
    args = ap.parse_args(argv)
    try:
        _, history = run(
            train_clips=args.train_clips,
            val_clips=args.val_clips,
            batch_size=args.batch_size,
            epochs=args.epochs,
            lr=args.lr,
            width=args.width,
            seed=args.seed,
            device=args.device,
            checkpoint=args.checkpoint,
            progress=not args.no_progress,
        )
        if ddp.is_main():  # one process prints and writes
            for row in history:
                print(
                    f"epoch {row['epoch']} of {ddp.world_size()} process(es): train loss {row['train_loss']:.4f}"
                    f", val loss {row['val_loss']:.4f}, val top-1 {row['val_top1']:.3f}"
                    f", video top-1 {row['val_video_top1']:.3f}",
                    flush=True,
                )
            if args.history:
                with open(args.history, "w") as f:
                    json.dump(
                        {"world_size": ddp.world_size(), "history": history},
                        f,
                        indent=1,
                    )
    finally:
        ddp.shutdown()
