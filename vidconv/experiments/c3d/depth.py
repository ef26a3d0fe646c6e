"""C3D's central experiment in miniature: how deep in time should the kernels be?

Tran et al. (ICCV 2015, section 3.2) trained one network several times, changing only the temporal
depth ``d`` of its ``d x 3 x 3`` kernels: 1 (each frame on its own, a 2D network), 3, 5 and 7 in every
layer, and depths increasing (3-3-5-5-7) or decreasing (7-5-5-3-3) with depth. Homogeneous 3x3x3 won.

:class:`MiniC3D` keeps C3D's topology — eight convolutions in five groups, ``1x2x2`` then four
``2x2x2`` max pools (Caffe's ceil mode), flatten, fc6, fc7, fc8 — narrowed by ``width`` and sized for
small clips. :func:`temporal_depth_experiment` trains one per setting on
:class:`~vidconv.data.synthetic.RotatingBlobs` with the same data, seed, epochs and optimizer.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import TensorDataset

from vidconv.analysis.counting import count_parameters
from vidconv.experiments.small_run import BlobTask, SmallRun, train_arms
from vidconv.models._clip import check_clip
from vidconv.utils.checks import (
    check_device,
    check_positive_int,
)
from vidconv.utils.table import Table

# Conv groups of C3D: (names, output channels as a multiple of width, temporal size of the pool after).
_GROUPS = [
    (("conv1",), 1, 1),
    (("conv2",), 2, 2),
    (("conv3a", "conv3b"), 4, 2),
    (("conv4a", "conv4b"), 8, 2),
    (("conv5a", "conv5b"), 8, 2),
]

#: The paper's settings: one temporal depth per conv group (groups 3-5 hold two convolutions each).
DEPTH_SETTINGS: dict[str, tuple[int, ...]] = {
    "depth-1": (1, 1, 1, 1, 1),
    "depth-3": (3, 3, 3, 3, 3),
    "depth-5": (5, 5, 5, 5, 5),
    "depth-7": (7, 7, 7, 7, 7),
    "increasing 3-3-5-5-7": (3, 3, 5, 5, 7),
    "decreasing 7-5-5-3-3": (7, 5, 5, 3, 3),
}


def _ceil_pool(n: int, k: int) -> int:
    """Output length of a ceil-mode max pool with kernel = stride = k (a window only has to start inside)."""
    return -(-n // k)


def pooled_grid(frames: int, height: int, width: int) -> tuple[int, int, int]:
    """(T, H, W) after C3D's five pools (1x2x2, then 2x2x2 four times, ceil mode) for a ``frames x height x width`` clip."""
    t, h, w = frames, height, width
    for k_t in (1, 2, 2, 2, 2):
        t, h, w = _ceil_pool(t, k_t), _ceil_pool(h, 2), _ceil_pool(w, 2)
    return t, h, w


class MiniC3D(nn.Module):
    """C3D's topology, ``width`` channels in conv1 (C3D: 64), for clips ``(B, 3, frames, size, size)``.

    Args:
        num_classes: outputs of fc8.
        frames, size: the clip the network is built for; fc6 reads ``8*width * pooled_grid(frames, size)``
            features, so any clip with the same pooled grid is accepted, others are refused.
        width: channels of conv1; the groups have width x (1, 2, 4, 8, 8), as C3D has 64 x (1, 2, 4, 8, 8).
        depths: temporal kernel depth of each of the five conv groups (odd, so that padding keeps T).
        hidden: units of fc6 and fc7 (C3D: 4096).
        dropout: after fc6 and fc7 (C3D: 0.5).
        batch_norm: a BatchNorm3d after every convolution. C3D (2015) predates batch norm and trained
            for days; with it the miniature learns in a few dozen steps. It changes no shape and no
            receptive field, and is the same in every setting.
    """

    def __init__(
        self,
        num_classes: int,
        *,
        frames: int = 8,
        size: int = 16,
        width: int = 4,
        depths: int | Sequence[int] = 3,
        hidden: int = 64,
        dropout: float = 0.0,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        check_positive_int(num_classes, "num_classes")
        self.frames = check_positive_int(frames, "frames")
        self.size = check_positive_int(size, "size")
        check_positive_int(width, "width")
        check_positive_int(hidden, "hidden")
        if isinstance(depths, int) and not isinstance(depths, bool):
            depths = (depths,) * 5
        if (
            not isinstance(depths, Sequence)
            or len(depths) != 5
            or not all(
                isinstance(d, int)
                and not isinstance(d, bool)
                and d >= 1
                and d % 2
                for d in depths
            )
        ):
            raise ValueError(
                f"depths must be an odd int >= 1 or 5 of them (one per conv group), got {depths!r}"
            )
        if not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.depths = tuple(depths)
        self.grid = pooled_grid(frames, size, size)

        layers: list[tuple[str, nn.Module]] = []
        c_in = 3
        for (names, mult, pool_t), d in zip(_GROUPS, self.depths):
            for name in names:
                conv = nn.Conv3d(
                    c_in,
                    mult * width,
                    (d, 3, 3),
                    padding=(d // 2, 1, 1),
                    bias=not batch_norm,
                )
                layers.append((name, conv))
                if batch_norm:
                    layers.append(
                        (
                            name.replace("conv", "bn"),
                            nn.BatchNorm3d(mult * width),
                        )
                    )
                layers.append(
                    (name.replace("conv", "relu"), nn.ReLU(inplace=True))
                )
                c_in = mult * width
            layers.append(
                (
                    f"pool{names[0][4]}",
                    nn.MaxPool3d(
                        (pool_t, 2, 2), stride=(pool_t, 2, 2), ceil_mode=True
                    ),
                )
            )
        self.features = nn.Sequential(OrderedDict(layers))
        flat = c_in * self.grid[0] * self.grid[1] * self.grid[2]
        self.classifier = nn.Sequential(
            OrderedDict(
                [
                    ("fc6", nn.Linear(flat, hidden)),
                    ("relu6", nn.ReLU(inplace=True)),
                    ("drop6", nn.Dropout(dropout)),
                    ("fc7", nn.Linear(hidden, hidden)),
                    ("relu7", nn.ReLU(inplace=True)),
                    ("drop7", nn.Dropout(dropout)),
                    ("fc8", nn.Linear(hidden, num_classes)),
                ]
            )
        )

    def check(self, x: torch.Tensor) -> None:
        """Refuse, with the expected shape, a clip whose pooled grid is not the one fc6 was built for."""
        check_clip(x, self, channels=3)
        grid = pooled_grid(*x.shape[2:])
        if grid != self.grid:
            raise ValueError(
                f"MiniC3D was built for clips (B, 3, {self.frames}, {self.size}, {self.size}), whose five pools "
                f"leave a {self.grid} grid for fc6; got shape {tuple(x.shape)}, which pools to {grid}"
            )

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate features (after fc7 and its ReLU): what C3D's users take as a clip descriptor."""
        self.check(x)
        h = self.features(x).flatten(1)  # (B, C, T', H', W') -> (B, C*T'*H'*W')
        return self.classifier[:-1](h)  # (B, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.classifier[-1](self.embed(x))  # (B, num_classes)


@dataclass
class DepthResult:
    """What :func:`temporal_depth_experiment` returns: the table, the per-epoch test accuracy of every
    setting, the trained networks by setting, the test clips, and chance accuracy."""

    table: Table
    history: dict[str, list[float]]
    models: dict[str, MiniC3D]
    test: TensorDataset
    chance: float


DEPTH_RUN = SmallRun(train_clips=256, test_clips=64, epochs=4, lr=2e-3)


def temporal_depth_experiment(
    settings: Mapping[str, int | Sequence[int]] | None = None,
    run: SmallRun = DEPTH_RUN,
    task: BlobTask = BlobTask(),
    *,
    width: int = 4,
    hidden: int = 64,
    seed: int = 0,
    device: torch.device | None = None,
) -> DepthResult:
    """Train one :class:`MiniC3D` per temporal-depth setting on the same clips; report accuracy and parameters.

    ``settings`` maps a name to the depths of the five conv groups (default :data:`DEPTH_SETTINGS`).
    Training clips come from ``RotatingBlobs(seed=seed)``; the test set is ``run.test_clips`` clips of
    ``seed + 1`` and the same clips reversed (see :func:`clip_tensors`). Every network starts from
    ``torch.manual_seed(seed)`` and sees the batches in the same order.
    """
    settings = dict(DEPTH_SETTINGS if settings is None else settings)
    if not settings:
        raise ValueError("settings must name at least one setting")
    SmallRun.check(run)
    BlobTask.check(task)
    device = check_device("cpu" if device is None else device)
    frames, size, num_classes = task.frames, task.size, task.num_classes
    train, test = task.splits(run, seed, reversed_test=True)
    builds = {
        name: lambda d=depths: MiniC3D(
            num_classes,
            frames=frames,
            size=size,
            width=width,
            depths=d,
            hidden=hidden,
        )
        for name, depths in settings.items()
    }
    arms = train_arms(
        builds, train, test, run, seed=seed, device=device, curve=True
    )
    rows = [
        {
            "setting": name,
            "depths": "-".join(map(str, arm.model.depths)),
            "parameters": count_parameters(arm.model),
            "train top-1": round(arm.epochs[-1]["top1"], 3),
            "test top-1": round(arm.top1, 3),
            "train seconds": round(arm.seconds, 1),
        }
        for name, arm in arms.items()
    ]
    models = {name: arm.model for name, arm in arms.items()}
    history = {name: arm.curve for name, arm in arms.items()}
    return DepthResult(Table(rows), history, models, test, 1 / num_classes)
