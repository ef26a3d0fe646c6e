"""Does inflation help a 3D network learn? The I3D argument (Carreira &
Zisserman, 2017) in miniature.

A tiny 2D network (:class:`FrameNet2d`) first learns a frame-level task that
shares its visual content with the video task: *where is the blob* in one
:class:`~vidconv.data.synthetic.RotatingBlobs` frame (the angular sector of its
brightness centroid, :func:`blob_sectors`). Its convolutions are then turned
into a 3D trunk three ways (:data:`INITS`), each followed by the same freshly
initialised linear head, and trained on the video task (the direction of
rotation) with the same clips, batches, optimizer and number of epochs:

* ``"random"``: PyTorch's default initialisation of the 3D layers (nothing
  learned from frames);
* ``"inflated"``: the 2D kernel repeated along time and divided by ``t`` (I3D);
* ``"center"``: the 2D kernel on the middle time slice, zeros elsewhere (a
  per-frame network at start).

:func:`inflation_init_experiment` repeats this for several seeds and returns the
training loss of every epoch and the test accuracy after every epoch (epoch 0:
before training), so that the spread over seeds is part of the answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from vidconv.data.synthetic import RotatingBlobs, clip_tensors
from vidconv.experiments.small_run import BlobTask, SmallRun, train_arms
from vidconv.layers.inflate import inflate_batchnorm, inflate_conv, inflate_pool
from vidconv.training.steps import gradient_steps
from vidconv.utils.checks import (
    check_device,
    check_ints,
    check_number,
    check_positive_int,
    check_positive_ints,
    check_tensor,
)
from vidconv.utils.device import (
    one_cpu_thread,
)
from vidconv.utils.table import Table

#: The three ways of starting the 3D trunk, in the order of the figures.
INITS = ("random", "inflated", "center")


def blob_sectors(
    frames: torch.Tensor, sectors: int = 8, *, threshold: float = 0.3
) -> torch.Tensor:
    """The angular sector (0 .. ``sectors`` - 1, counted from the +x axis
    towards +y) of the blob in each frame ``(N, C, H, W)``: the direction from
    the image centre to the centroid of the pixels brighter than ``threshold``
    (all pixels, brightness-weighted, if none is)."""
    check_tensor(frames, "frames", ndim=4, layout="(N, C, H, W)")
    check_positive_int(sectors, "sectors", minimum=2)
    check_number(threshold, "threshold", minimum=0.0)
    grey = frames.mean(1)  # (N, H, W)
    weight = torch.where(grey > threshold, grey, torch.zeros_like(grey))
    weight = torch.where(
        weight.sum((1, 2), keepdim=True) > 0, weight, grey
    ).clamp_min(0)
    _, h, w = grey.shape
    ys = torch.arange(h, dtype=grey.dtype).view(1, h, 1) - (h - 1) / 2
    xs = torch.arange(w, dtype=grey.dtype).view(1, 1, w) - (w - 1) / 2
    total = weight.sum((1, 2)).clamp_min(1e-12)
    cy, cx = (
        (weight * ys).sum((1, 2)) / total,
        (weight * xs).sum((1, 2)) / total,
    )  # (N,), (N,)
    angle = torch.atan2(cy, cx) % (2 * math.pi)
    return (angle / (2 * math.pi / sectors)).round().long() % sectors


class FrameNet2d(nn.Module):
    """Two 3x3 conv-BN-ReLU-maxpool stages and a linear head over the flattened
    map: ``(N, 3, H, W)``."""

    def __init__(
        self, num_classes: int, *, width: int = 8, size: int = 16
    ) -> None:
        super().__init__()
        check_positive_int(num_classes, "num_classes")
        check_positive_int(width, "width")
        self.size = check_positive_int(size, "size", minimum=4)
        self.trunk = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Linear(2 * width * (size // 4) ** 2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_tensor(x, "FrameNet2d input", ndim=4, layout="(N, 3, H, W)")
        if tuple(x.shape[1:]) != (3, self.size, self.size):
            raise ValueError(
                f"FrameNet2d expects frames (N, 3, {self.size}, "
                f"{self.size}), got shape {tuple(x.shape)}"
            )
        return self.head(
            self.trunk(x).flatten(1)
        )  # (N, C, H/4, W/4) -> (N, classes)


class ClipNet3d(nn.Module):
    """``FrameNet2d``'s trunk in 3D (time kept: 1x2x2 pools) and a linear head
    over the whole ``(C, T, H/4, W/4)`` map, so that the head can read where the
    blob is at every frame."""

    def __init__(
        self,
        frame_net: FrameNet2d,
        num_classes: int,
        *,
        frames: int,
        init: str = "inflated",
        temporal_kernel_size: int = 3,
    ) -> None:
        super().__init__()
        if not isinstance(frame_net, FrameNet2d):
            raise TypeError(
                "frame_net must be a FrameNet2d, "
                f"got {type(frame_net).__name__}"
            )
        check_positive_int(num_classes, "num_classes")
        self.frames = check_positive_int(frames, "frames")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        check_positive_int(temporal_kernel_size, "temporal_kernel_size")
        self.size = frame_net.size
        layers: list[nn.Module] = []
        for layer in frame_net.trunk:
            if isinstance(layer, nn.Conv2d):
                conv = inflate_conv(
                    layer,
                    temporal_kernel_size,
                    init="center" if init == "center" else "mean",
                )
                if init == "random":
                    # The same layer as the others, PyTorch's default
                    # initialisation.
                    conv.reset_parameters()
                layers.append(conv)
            elif isinstance(layer, nn.BatchNorm2d):
                bn = inflate_batchnorm(layer)
                if init == "random":
                    bn.reset_parameters()
                layers.append(bn)
            elif isinstance(layer, nn.MaxPool2d):
                # 1x2x2: time is kept for the head
                layers.append(inflate_pool(layer))
            else:
                layers.append(type(layer)())  # ReLU: no parameters
        self.trunk = nn.Sequential(*layers)
        channels = frame_net.head.in_features // (self.size // 4) ** 2
        self.head = nn.Linear(
            channels * frames * (self.size // 4) ** 2, num_classes
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_tensor(x, "ClipNet3d input", ndim=5, layout="(B, 3, T, H, W)")
        if tuple(x.shape[1:]) != (3, self.frames, self.size, self.size):
            raise ValueError(
                f"ClipNet3d expects clips (B, 3, {self.frames}, {self.size}, "
                f"{self.size}), got shape {tuple(x.shape)}"
            )
        return self.head(
            self.trunk(x).flatten(1)
        )  # (B, C, T, H/4, W/4) -> (B, classes)


def frame_dataset(clips: torch.Tensor, sectors: int = 8) -> TensorDataset:
    """Every frame of ``clips`` (N, 3, T, H, W) as an image with its blob sector
    as the label."""
    check_tensor(clips, "clips", ndim=5, layout="(N, 3, T, H, W)")
    images = clips.transpose(1, 2).flatten(
        0, 1
    )  # (N, T, 3, H, W) -> (N*T, 3, H, W)
    return TensorDataset(images, blob_sectors(images, sectors))


@dataclass
class InitResult:
    """What :func:`inflation_init_experiment` returns, per init (``INITS``);
    ``frame_accuracy`` holds the 2D network's test accuracy on the frame task
    for each seed.

    ``loss[init]`` is ``(seeds, epochs)``: the mean training loss over each
    epoch's batches; ``accuracy[init]`` is ``(seeds, epochs + 1)``: test top-1
    before training and after every epoch."""

    table: Table
    seeds: tuple[int, ...]
    loss: dict[str, torch.Tensor]
    accuracy: dict[str, torch.Tensor]
    frame_accuracy: list[float]
    chance: float
    frame_chance: float


#: The budget of each init's training run (the 2D pretraining has its own).
INIT_RUN = SmallRun(train_clips=128, test_clips=128, epochs=3, lr=1e-3)


def inflation_init_experiment(
    seeds: Sequence[int] = (0, 1, 2, 3),
    run: SmallRun = INIT_RUN,
    task: BlobTask = BlobTask(),
    *,
    frame_epochs: int = 2,
    frame_clips: int = 256,
    width: int = 8,
    device: torch.device | None = None,
) -> InitResult:
    """Pretrain a :class:`FrameNet2d` on blob sectors, then train a
    :class:`ClipNet3d` per init on the direction of rotation; per seed, every
    init gets the same clips, batch order and head. The pretraining uses
    ``run``'s batch size and rate for ``frame_epochs`` epochs."""
    seeds = check_ints(seeds, "seeds", minimum=0, maximum=2**30)
    SmallRun.check(run)
    BlobTask.check(task)
    frames, size, num_classes = task.frames, task.size, task.num_classes
    check_positive_ints(
        frame_epochs=frame_epochs, frame_clips=frame_clips, width=width
    )
    device = torch.device("cpu") if device is None else check_device(device)
    epochs = run.epochs
    loss = {init: torch.zeros(len(seeds), epochs) for init in INITS}
    accuracy = {init: torch.zeros(len(seeds), epochs + 1) for init in INITS}
    frame_accuracy = []
    with one_cpu_thread(device):
        for i, seed in enumerate(seeds):
            train, test = task.splits(run, 3 * seed)
            frame_clip_set = clip_tensors(
                RotatingBlobs(frame_clips, seed=3 * seed + 2, **task.options())
            ).tensors[0]
            frame_net, acc = _pretrain(
                frame_clip_set,
                test.tensors[0],
                seed=seed,
                width=width,
                size=size,
                epochs=frame_epochs,
                batch_size=run.batch_size,
                lr=run.lr,
                device=device,
            )
            frame_accuracy.append(acc)
            builds = {
                init: lambda kind=init: ClipNet3d(
                    frame_net, num_classes, frames=frames, init=kind
                )
                for init in INITS
            }  # the same head for every init
            arms = train_arms(
                builds,
                train,
                test,
                run,
                seed=seed,
                device=device,
                curve=True,
                untrained=True,
            )
            for init, arm in arms.items():
                # Training loss: the mean over the epoch's batches, in
                # training mode (what the optimizer sees).
                loss[init][i] = torch.tensor([e["loss"] for e in arm.epochs])
                accuracy[init][i] = torch.tensor(
                    [arm.untrained_top1, *arm.curve]
                )
    rows = [
        {
            "init": init,
            "train loss in epoch 1 (mean)": round(
                loss[init][:, 0].mean().item(), 3
            ),
            f"train loss in epoch {epochs} (mean)": round(
                loss[init][:, -1].mean().item(), 3
            ),
            "test top-1 after epoch 1 (mean)": round(
                accuracy[init][:, 1].mean().item(), 3
            ),
            f"test top-1 after epoch {epochs} (mean)": round(
                accuracy[init][:, -1].mean().item(), 3
            ),
            f"test top-1 after epoch {epochs} (min-max)": (
                f"{accuracy[init][:, -1].min().item():.3f}-"
                f"{accuracy[init][:, -1].max().item():.3f}"
            ),
        }
        for init in INITS
    ]
    return InitResult(
        Table(rows),
        seeds,
        loss,
        accuracy,
        frame_accuracy,
        1 / num_classes,
        1 / 8,
    )


def _pretrain(
    clips: torch.Tensor,
    test_clips: torch.Tensor,
    *,
    seed: int,
    width: int,
    size: int,
    epochs: int,
    batch_size: int,
    lr: float,
    device: torch.device,
) -> tuple[FrameNet2d, float]:
    """Train the 2D network on every frame of ``clips`` (a set of its own:
    ImageNet's role); return it and its top-1 on the frames of
    ``test_clips``."""
    torch.manual_seed(seed)
    frame_net = FrameNet2d(8, width=width, size=size).to(device)
    optimizer = torch.optim.Adam(frame_net.parameters(), lr=lr)
    loader = DataLoader(
        frame_dataset(clips),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    for _ in range(epochs):
        _train_frames(frame_net, loader, optimizer, device)
    test_frames = frame_dataset(test_clips)
    frame_net.eval()
    with torch.no_grad():
        x, y = test_frames.tensors
        acc = (
            (frame_net(x.to(device)).argmax(1).cpu() == y).float().mean().item()
        )
    return frame_net.cpu(), acc


def _train_frames(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
) -> None:
    model.train()
    gradient_steps(  # batches (N, 3, H, W), (N,)
        optimizer,
        lambda x, y: nn.functional.cross_entropy(
            model(x.to(device)), y.to(device)
        ),
        loader,
    )
