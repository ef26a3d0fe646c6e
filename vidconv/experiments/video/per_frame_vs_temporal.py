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

import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from vidconv.analysis.counting import count_parameters
from vidconv.data.synthetic import RotatingBlobs
from vidconv.layers.blocks import Conv2Plus1d, PerFrameConv2d
from vidconv.training.loop import evaluate, train_one_epoch
from vidconv.training.steps import seeded_loader
from vidconv.utils.checks import (
    check_bool,
    check_device,
    check_int,
    check_number,
    check_positive_ints,
)
from vidconv.utils.device import one_cpu_thread
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


def _tensors(ds: RotatingBlobs) -> TensorDataset:
    clips, labels = zip(*(ds[i] for i in range(len(ds))))
    return TensorDataset(torch.stack(clips), torch.tensor(labels))


def temporal_vs_per_frame(
    *,
    train_clips: int = 768,
    test_clips: int = 256,
    epochs: int = 6,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    device: torch.device | None = None,
    progress: bool = False,
    **dataset_options: int | float,
) -> Table:
    """Train the three networks on the same synthetic data and report parameters, accuracy and time.

    ``dataset_options`` go to :class:`~vidconv.data.synthetic.RotatingBlobs` (frames, size, num_classes, noise).
    :func:`temporal_vs_per_frame_curves` runs the same experiment and also returns every epoch's numbers.
    """
    return _train_three(
        train_clips=train_clips,
        test_clips=test_clips,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        progress=progress,
        curves=False,
        **dataset_options,
    )[0]


def temporal_vs_per_frame_curves(
    *,
    train_clips: int = 768,
    test_clips: int = 256,
    epochs: int = 6,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    device: torch.device | None = None,
    progress: bool = False,
    **dataset_options: int | float,
) -> tuple[Table, dict[str, dict[str, list[float]]]]:
    """:func:`temporal_vs_per_frame`'s table (the same numbers) and the training curves of the three models.

    The curves map each model to lists over epochs 1..``epochs``: ``epoch``, ``train loss``, ``train top-1``
    and ``test top-1`` (the test set is evaluated after every epoch; that time is not in "train seconds").
    """
    return _train_three(
        train_clips=train_clips,
        test_clips=test_clips,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        progress=progress,
        curves=True,
        **dataset_options,
    )


def _train_three(
    *,
    train_clips: int,
    test_clips: int,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: torch.device | None,
    progress: bool,
    curves: bool,
    **dataset_options: int | float,
) -> tuple[Table, dict[str, dict[str, list[float]]]]:
    check_positive_ints(
        train_clips=train_clips,
        test_clips=test_clips,
        epochs=epochs,
        batch_size=batch_size,
    )
    check_number(lr, "lr", minimum=0.0, exclusive_minimum=True)
    check_int(seed, "seed", minimum=0)
    check_bool(progress, "progress")
    unknown = set(dataset_options) - {"frames", "size", "num_classes", "noise"}
    if unknown:
        raise TypeError(
            f"unknown dataset option(s) {sorted(unknown)}; "
            "RotatingBlobs takes frames, size, num_classes, noise"
        )
    device = check_device(device)
    # The clips are tiny (16x16 pixels): splitting each operation over threads costs more than it saves
    # (an epoch took 2.4 s on one thread, 11-15 s on two, on a busy 2-core machine). One thread also
    # makes the numbers independent of the machine's core count.
    with one_cpu_thread(device):
        train = _tensors(
            RotatingBlobs(train_clips, seed=seed, **dataset_options)
        )
        test = _tensors(
            RotatingBlobs(test_clips, seed=seed + 1, **dataset_options)
        )
        num_classes = int(train.tensors[1].max()) + 1
        rows, history = [], {}
        for name, build in [
            ("per-frame 2D + average", per_frame_cnn),
            ("3D CNN", cnn_3d),
            ("(2+1)D CNN", cnn_2plus1d),
        ]:
            torch.manual_seed(
                seed
            )  # same initialisation stream and batch order for every network
            model = build(num_classes).to(device)
            optimizer = torch.optim.Adam(model.parameters(), lr=lr)
            loader = seeded_loader(train, batch_size, seed)
            curve: dict[str, list[float]] = {
                "epoch": [],
                "train loss": [],
                "train top-1": [],
                "test top-1": [],
            }
            seconds = 0.0
            for epoch in range(epochs):
                start = time.perf_counter()
                stats = train_one_epoch(
                    model,
                    loader,
                    optimizer,
                    device=device,
                    progress=progress,
                    desc=f"{name} {epoch + 1}",
                )
                seconds += time.perf_counter() - start
                if curves:  # evaluation draws no random numbers, so the trained weights are the same either way
                    curve["epoch"].append(epoch + 1)
                    curve["train loss"].append(stats["loss"])
                    curve["train top-1"].append(stats["top1"])
                    curve["test top-1"].append(
                        evaluate(
                            model,
                            DataLoader(test, batch_size=128),
                            device=device,
                        )["top1"]
                    )
            result = evaluate(
                model, DataLoader(test, batch_size=128), device=device
            )
            rows.append(
                {
                    "model": name,
                    "parameters": count_parameters(model),
                    "test top-1": round(result["top1"], 3),
                    "chance": round(1 / num_classes, 3),
                    "train seconds": round(seconds, 1),
                }
            )
            history[name] = curve
        return Table(rows), history
