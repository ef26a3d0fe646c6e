"""Transfer learning, measured: pretrain a miniature video ResNet on one task,
adapt it to another.

The source task is the *direction* of rotation of
:class:`~vidconv.data.synthetic.RotatingBlobs` clips (clockwise or not, whatever
the speed); the target task is the *speed* itself, four classes (+1, -1, +3, -3
positions per frame) on noisier clips. The two share the input and the evidence
(where the blob goes from frame to frame) but not the labels: a pretrained
network knows how to look, not what to answer. :func:`transfer_experiment`
adapts one pretrained network to the target task from ``budgets`` labelled clips
with each of :data:`STRATEGIES`, for several seeds, with the same number of
optimizer steps, and reports test accuracy: a label-efficiency curve per
strategy.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from vidconv.data.synthetic import RotatingBlobs
from vidconv.layers.blocks import FullConv3d
from vidconv.models.resnet import BasicBlock, BasicStem, VideoResNet
from vidconv.training.optim import param_groups
from vidconv.training.steps import gradient_steps
from vidconv.utils.checks import (
    check_int,
    check_ints,
    check_number,
    check_positive_int,
    check_positive_ints,
    check_tensor,
)
from vidconv.utils.device import one_cpu_thread
from vidconv.utils.table import Table

#: How each strategy adapts the pretrained network (``scratch`` ignores it and
#: starts from random weights).
STRATEGIES: dict[str, str] = {
    "scratch": "random initialisation, every layer trained",
    "linear probe": "pretrained layers frozen, a new classifier trained",
    "last stage": "layer4 and a new classifier trained, the rest frozen",
    "full, one lr": "every layer trained at the classifier's learning rate",
    "full, lower backbone lr": (
        "every layer trained, the pretrained ones at lr x backbone_lr_factor"
    ),
}


def miniature_r3d(
    num_classes: int, widths: Sequence[int] = (8, 16, 16, 32)
) -> VideoResNet:
    """R3D-18's topology with one block per stage and ``widths`` channels: a
    CPU-sized video ResNet."""
    check_positive_int(num_classes, "num_classes")
    return VideoResNet(
        BasicBlock,
        [FullConv3d] * 4,
        [1, 1, 1, 1],
        partial(BasicStem, widths[0]),
        num_classes=num_classes,
        widths=widths,
    )


def task_tensors(
    num_clips: int,
    *,
    task: str,
    seed: int,
    noise: float,
    frames: int = 8,
    size: int = 16,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips ``(N, 3, T, H, W)`` and labels of the ``"direction"`` (2 classes)
    or ``"speed"`` (4) task."""
    if task not in ("direction", "speed"):
        raise ValueError(f"task must be 'direction' or 'speed', got {task!r}")
    data = RotatingBlobs(
        num_clips,
        frames=frames,
        size=size,
        num_classes=4,
        noise=noise,
        seed=seed,
    )
    clips, labels = zip(*(data[i] for i in range(num_clips)))
    y = torch.tensor(labels)  # (N,): index into speeds (+1, -1, +3, -3)
    if task == "direction":
        y = (
            y % 2
        )  # even indices turn clockwise (+), odd ones counter-clockwise (-)
    return torch.stack(clips), y


def _steps(
    model: nn.Module,
    trainable: Sequence[nn.Module],
    groups: list[dict],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    seed: int,
) -> None:
    """``steps`` Adam steps on random batches of (x, y); modules outside
    ``trainable`` stay in eval mode."""
    model.eval()  # frozen layers keep their batch-norm statistics ...
    for module in trainable:
        module.train()  # ... the trained ones update theirs
    gen = torch.Generator().manual_seed(seed)
    picks = (  # batches drawn with replacement
        torch.randint(len(x), (min(batch_size, len(x)),), generator=gen)
        for _ in range(steps)
    )
    gradient_steps(
        torch.optim.Adam(groups),
        lambda xb, yb: F.cross_entropy(model(xb), yb),
        ((x[pick], y[pick]) for pick in picks),
    )
    model.eval()


def pretrain(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    num_classes: int,
    steps: int = 100,
    batch_size: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
    widths: Sequence[int] = (8, 16, 16, 32),
) -> VideoResNet:
    """Train a :func:`miniature_r3d` on (x, y) from ``torch.manual_seed(seed)``;
    returned in eval mode."""
    check_tensor(x, "x", ndim=5, layout="(N, 3, T, H, W)")
    torch.manual_seed(seed)
    model = miniature_r3d(num_classes, widths)
    _steps(
        model,
        [model],
        [{"params": model.parameters(), "lr": lr}],
        x,
        y,
        steps=steps,
        batch_size=batch_size,
        seed=seed,
    )
    return model


@torch.no_grad()
def frozen_features(
    model: VideoResNet, x: torch.Tensor, strategy: str
) -> torch.Tensor:
    """What the frozen part of ``model`` hands to the trained part under
    ``strategy`` (eval mode).

    ``"linear probe"``: the pooled features ``(N, widths[3])``;
    ``"last stage"``: layer3's output ``(N, widths[2], T', H', W')``; any other
    strategy trains the whole network, so ``x`` itself. Computing them once lets
    every run of a frozen strategy skip the frozen layers.
    """
    if not isinstance(model, VideoResNet):
        raise TypeError(
            f"model must be a VideoResNet, got {type(model).__name__}"
        )
    if strategy not in STRATEGIES:
        raise ValueError(
            f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}"
        )
    check_tensor(x, "x", ndim=5, layout="(N, 3, T, H, W)")
    model.eval()
    if strategy not in ("linear probe", "last stage"):
        return x
    h = model.layer3(
        model.layer2(model.layer1(model.stem(x)))
    )  # (N, widths[2], T', H', W')
    if strategy == "last stage":
        return h
    return model.avgpool(model.layer4(h)).flatten(1)  # (N, widths[3])


def _trained_part(model: VideoResNet, strategy: str) -> nn.Module:
    """The module that maps :func:`frozen_features` to logits under
    ``strategy``."""
    if strategy == "linear probe":
        return model.fc
    if strategy == "last stage":
        return nn.Sequential(
            model.layer4, model.avgpool, nn.Flatten(1), model.fc
        )
    return model


def _adapt_on_features(
    pretrained: VideoResNet,
    strategy: str,
    features: torch.Tensor,
    y: torch.Tensor,
    *,
    num_classes: int,
    steps: int,
    batch_size: int,
    lr: float,
    backbone_lr_factor: float,
    seed: int,
) -> VideoResNet:
    # The new classifier (and the scratch network) start from the same draw
    # per seed.
    torch.manual_seed(seed)
    if strategy == "scratch":
        model = miniature_r3d(num_classes, pretrained.widths)
    else:
        model = copy.deepcopy(pretrained)
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    part = _trained_part(model, strategy)
    if strategy == "full, lower backbone lr":
        groups = param_groups(
            model, "fc", backbone_lr=lr * backbone_lr_factor, head_lr=lr
        )
    else:
        groups = [{"params": list(part.parameters()), "lr": lr}]
    _steps(
        part,
        [part],
        groups,
        features,
        y,
        steps=steps,
        batch_size=batch_size,
        seed=seed,
    )
    return model


def adapt(
    pretrained: VideoResNet,
    strategy: str,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    num_classes: int,
    steps: int = 20,
    batch_size: int = 8,
    lr: float = 5e-3,
    backbone_lr_factor: float = 0.1,
    seed: int = 0,
) -> VideoResNet:
    """A copy of ``pretrained`` (a fresh network for ``"scratch"``) with a new
    classifier, trained by ``strategy``.

    Frozen layers are not trained and keep their batch-norm statistics (they run
    in eval mode); the returned network is in eval mode and ``pretrained`` is
    left unchanged. Runs with one CPU thread, restored afterwards (see
    :func:`transfer_experiment`).
    """
    if not isinstance(pretrained, VideoResNet):
        raise TypeError(
            f"pretrained must be a VideoResNet, got {type(pretrained).__name__}"
        )
    if strategy not in STRATEGIES:
        raise ValueError(
            f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}"
        )
    check_tensor(x, "x", ndim=5, layout="(N, 3, T, H, W)")
    if not isinstance(y, torch.Tensor) or y.shape != x.shape[:1]:
        raise ValueError(
            f"y must be a tensor of {x.shape[0]} labels, "
            f"got {getattr(y, 'shape', type(y).__name__)}"
        )
    num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
    options = {
        "num_classes": num_classes,
        "steps": check_positive_int(steps, "steps"),
        "batch_size": check_positive_int(batch_size, "batch_size"),
        "lr": check_number(lr, "lr", minimum=0.0),
        "backbone_lr_factor": check_number(
            backbone_lr_factor, "backbone_lr_factor", minimum=0.0
        ),
        "seed": check_int(seed, "seed", minimum=0),
    }
    # see transfer_experiment
    with one_cpu_thread(torch.device("cpu")):
        features = (
            x
            if strategy == "scratch"
            else frozen_features(pretrained, x, strategy)
        )
        return _adapt_on_features(pretrained, strategy, features, y, **options)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy of ``model`` (put in eval mode) on inputs ``x`` with
    labels ``y``."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    check_tensor(x, "x")
    if not isinstance(y, torch.Tensor) or y.shape != x.shape[:1]:
        raise ValueError(
            f"y must be a tensor of {x.shape[0]} labels, "
            f"got {getattr(y, 'shape', type(y).__name__)}"
        )
    model.eval()
    return (model(x).argmax(dim=1) == y).float().mean().item()


@dataclass
class TransferResult:
    """What :func:`transfer_experiment` returns: one row per (strategy, budget,
    seed), the accuracies as ``curves[strategy][budget] = [one per seed]``, the
    pretrained network and its source-task accuracy."""

    table: Table
    curves: dict[str, dict[int, list[float]]]
    pretrained: VideoResNet
    source_accuracy: float
    chance: float
    seconds: float


def transfer_experiment(
    budgets: Sequence[int] = (8, 32, 128),
    seeds: Sequence[int] = (0, 1, 2),
    *,
    strategies: Sequence[str] | None = None,
    source_clips: int = 256,
    pretrain_steps: int = 60,
    steps: int = 20,
    batch_size: int = 8,
    lr: float = 5e-3,
    backbone_lr_factor: float = 0.1,
    test_clips: int = 128,
    source_noise: float = 0.05,
    target_noise: float = 0.1,
    widths: Sequence[int] = (8, 16, 16, 32),
    size: int = 16,
) -> TransferResult:
    """Pretrain once on the direction task, then adapt to the speed task with
    every strategy, budget and seed.

    Seed ``s`` draws the labelled target clips (``RotatingBlobs(seed=100 + s)``;
    each budget takes the first ``budget`` clips, four classes in turn, so
    smaller sets are nested in larger ones) and the new classifier's
    initialisation. Every strategy takes ``steps`` Adam steps of ``batch_size``
    clips drawn with replacement, so the compute is the same whatever the
    budget. The test set (``test_clips`` clips of seed 99) and the pretrained
    network (seed 0) are shared by all runs. Runs on the CPU with one thread:
    convolutions this small are dominated by thread synchronisation, and on a
    shared 2-core machine two threads were several times slower. The thread
    count is restored afterwards.
    """
    budgets = check_ints(budgets, "budgets", minimum=1)
    seeds = check_ints(seeds, "seeds", minimum=0)
    strategies = list(STRATEGIES if strategies is None else strategies)
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        raise ValueError(
            f"strategies must be a non-empty subset of {list(STRATEGIES)}, "
            f"got {strategies!r}"
        )
    check_positive_int(size, "size", minimum=8)
    check_positive_ints(
        source_clips=source_clips,
        pretrain_steps=pretrain_steps,
        steps=steps,
        batch_size=batch_size,
        test_clips=test_clips,
    )
    lr = check_number(lr, "lr", minimum=0.0)
    backbone_lr_factor = check_number(
        backbone_lr_factor, "backbone_lr_factor", minimum=0.0
    )
    for name, value in (
        ("source_noise", source_noise),
        ("target_noise", target_noise),
    ):
        check_number(value, name, minimum=0.0)
    if lr == 0:
        raise ValueError("lr must be positive, got 0")

    start = time.perf_counter()
    with one_cpu_thread(torch.device("cpu")):
        source_x, source_y = task_tensors(
            source_clips,
            task="direction",
            seed=0,
            noise=source_noise,
            size=size,
        )
        source_test = task_tensors(
            test_clips, task="direction", seed=98, noise=source_noise, size=size
        )
        pretrained = pretrain(
            source_x,
            source_y,
            num_classes=2,
            steps=pretrain_steps,
            lr=lr,
            widths=widths,
        )
        test_x, test_y = task_tensors(
            test_clips, task="speed", seed=99, noise=target_noise, size=size
        )
        test_features = {
            s: frozen_features(pretrained, test_x, s) for s in strategies
        }
        rows, curves = [], {s: {b: [] for b in budgets} for s in strategies}
        for seed in seeds:
            pool_x, pool_y = task_tensors(
                max(budgets),
                task="speed",
                seed=100 + seed,
                noise=target_noise,
                size=size,
            )
            pool_features = {
                s: frozen_features(pretrained, pool_x, s) for s in strategies
            }
            for budget in budgets:
                for strategy in strategies:
                    model = _adapt_on_features(
                        pretrained,
                        strategy,
                        pool_features[strategy][:budget],
                        pool_y[:budget],
                        num_classes=4,
                        steps=steps,
                        batch_size=batch_size,
                        lr=lr,
                        backbone_lr_factor=backbone_lr_factor,
                        seed=seed,
                    )
                    acc = accuracy(
                        _trained_part(model, strategy),
                        test_features[strategy],
                        test_y,
                    )
                    curves[strategy][budget].append(acc)
                    rows.append(
                        {
                            "strategy": strategy,
                            "labelled clips": budget,
                            "seed": seed,
                            "test top-1": round(acc, 3),
                        }
                    )
        source_accuracy = accuracy(pretrained, *source_test)
    return TransferResult(
        Table(rows),
        curves,
        pretrained,
        source_accuracy,
        0.25,
        time.perf_counter() - start,
    )
