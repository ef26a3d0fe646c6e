"""One quick, seeded training run: what every live comparison shares.

A :class:`SmallRun` is the budget of a comparison that a chapter runs in
seconds on a CPU: how many training and test clips, epochs, the batch size
and Adam's learning rate. :func:`train_and_test` trains one arm under it:
the initialisation and the batch order fixed by the seed, the same for
every arm, Adam for a fixed number of epochs and a test at the end (and,
if asked, after every epoch). Comparisons that must carry a conclusion use
the study runner (:mod:`vidconv.experiments.studies`) instead: early
stopping on validation, each arm's rate chosen, five seeds or more.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from vidconv.data.synthetic import RotatingBlobs, clip_tensors
from vidconv.training.loop import evaluate, train_one_epoch
from vidconv.training.steps import seeded_loader
from vidconv.utils.checks import check_number, check_positive_ints
from vidconv.utils.device import one_cpu_thread


@dataclasses.dataclass(frozen=True)
class SmallRun:
    """The budget every arm of a quick comparison trains under."""

    train_clips: int = 256
    test_clips: int = 128
    epochs: int = 4
    batch_size: int = 32
    lr: float = 1e-3

    def __post_init__(self) -> None:
        check_positive_ints(
            train_clips=self.train_clips,
            test_clips=self.test_clips,
            epochs=self.epochs,
            batch_size=self.batch_size,
        )
        check_number(self.lr, "lr", minimum=0.0, exclusive_minimum=True)

    @classmethod
    def check(cls, run: object) -> SmallRun:
        """``run`` itself, or a TypeError naming what came instead."""
        if not isinstance(run, cls):
            raise TypeError(f"run must be a SmallRun, got {type(run).__name__}")
        return run

    def replace(self, **changes: int | float) -> SmallRun:
        """This run with some fields changed (and checked again)."""
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass
class Trained:
    """One arm after :func:`train_and_test`.

    ``model`` (eval mode), ``top1`` (test top-1 at the end), ``seconds``
    (training only), ``epochs`` (what :func:`train_one_epoch` measured in
    each epoch: loss and top-1 in training mode), with ``curve`` the test
    top-1 after each epoch, with ``untrained`` the top-1 before training.
    """

    model: nn.Module
    top1: float
    seconds: float
    epochs: list[dict[str, float]]
    curve: list[float] = dataclasses.field(default_factory=list)
    untrained_top1: float | None = None


@torch.no_grad()
def precise_batch_norm(
    model: nn.Module, clips: torch.Tensor, batch_size: int
) -> None:
    """Re-estimate every batch norm's running statistics with the final
    weights ("precise BN").

    After a few dozen fast-moving steps the running averages still remember
    the first weights, and small Inception-style networks then score chance
    in eval mode although they fit their training clips. One forward pass
    over the training clips with a cumulative average fixes that; the
    weights are unchanged.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm3d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    model.train()
    for start in range(0, len(clips), batch_size):
        model(clips[start : start + batch_size])
    for m in norms:
        m.momentum = 0.1


def train_and_test(
    build: Callable[[], nn.Module],
    train: TensorDataset,
    test: TensorDataset,
    run: SmallRun,
    *,
    seed: int,
    device: torch.device,
    curve: bool = False,
    untrained: bool = False,
    precise_bn: bool = False,
    progress: bool = False,
    desc: str = "train",
) -> Trained:
    """Build under ``torch.manual_seed(seed)``, train for ``run.epochs``
    (batch order seeded too), optionally re-estimate batch norm
    (:func:`precise_batch_norm`), test.

    With ``curve`` the test set is also scored after every epoch, with
    ``untrained`` before training too. Each scoring draws the base seed of
    a DataLoader from torch's global generator, so in a network with
    dropout it shifts the later masks: arms compared must be scored alike. The callers check the data; this runs on the
    CPU threads it is given (see :func:`vidconv.utils.device.one_cpu_thread`).
    """
    SmallRun.check(run)
    torch.manual_seed(seed)  # the same initialisation stream for every arm
    model = build().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=run.lr)
    loader = seeded_loader(train, run.batch_size, seed)
    test_loader = DataLoader(test, batch_size=256)
    out = Trained(model, 0.0, 0.0, [])
    if untrained:
        out.untrained_top1 = evaluate(model, test_loader, device=device)["top1"]
    for epoch in range(1, run.epochs + 1):
        start = time.perf_counter()
        out.epochs.append(
            train_one_epoch(
                model,
                loader,
                optimizer,
                device=device,
                progress=progress,
                desc=f"{desc} {epoch}",
            )
        )
        out.seconds += time.perf_counter() - start
        if curve:
            out.curve.append(
                evaluate(model, test_loader, device=device)["top1"]
            )
    if precise_bn:
        start = time.perf_counter()
        precise_batch_norm(model, train.tensors[0].to(device), run.batch_size)
        out.seconds += time.perf_counter() - start
    out.top1 = (
        out.curve[-1]
        if curve and not precise_bn
        else evaluate(model, test_loader, device=device)["top1"]
    )
    out.model = model.eval()
    return out


@dataclasses.dataclass(frozen=True)
class BlobTask:
    """The :class:`~vidconv.data.synthetic.RotatingBlobs` clips a
    comparison trains and tests on: their frames, size, number of classes
    (rotation speeds) and pixel noise."""

    frames: int = 8
    size: int = 16
    num_classes: int = 2
    noise: float = 0.05

    def __post_init__(self) -> None:
        RotatingBlobs(1, **self.options())  # its checks; it renders nothing

    @classmethod
    def check(cls, task: object) -> BlobTask:
        """``task`` itself, or a TypeError naming what came instead."""
        if not isinstance(task, cls):
            raise TypeError(
                f"task must be a BlobTask, got {type(task).__name__}"
            )
        return task

    def options(self) -> dict[str, int | float]:
        """The keyword arguments of :class:`RotatingBlobs`."""
        return dataclasses.asdict(self)

    def splits(
        self, run: SmallRun, seed: int, *, reversed_test: bool = False
    ) -> tuple[TensorDataset, TensorDataset]:
        """``run.train_clips`` clips of ``seed`` and ``run.test_clips`` of
        ``seed + 1``; with ``reversed_test`` the test clips are also played
        backwards (see :func:`~vidconv.data.synthetic.clip_tensors`)."""
        SmallRun.check(run)
        train = RotatingBlobs(run.train_clips, seed=seed, **self.options())
        test = RotatingBlobs(run.test_clips, seed=seed + 1, **self.options())
        return clip_tensors(train), clip_tensors(
            test, with_reversed=reversed_test
        )


def train_arms(
    builds: Mapping[str, Callable[[], nn.Module]],
    train: TensorDataset,
    test: TensorDataset,
    run: SmallRun,
    *,
    seed: int,
    device: torch.device,
    **options: bool | str,
) -> dict[str, Trained]:
    """:func:`train_and_test` for every arm, on one CPU thread.

    The networks are so small that a second thread costs more in
    synchronisation than it saves (several times slower on a shared 2-core
    machine), and one thread keeps the numbers independent of the core
    count. ``options`` go to :func:`train_and_test` (``desc``, the
    progress bar's label, defaults to the arm's name).
    """
    if not builds:
        raise ValueError("builds must name at least one arm")
    with one_cpu_thread(device):
        return {
            name: train_and_test(
                build,
                train,
                test,
                run,
                seed=seed,
                device=device,
                **{"desc": name, **options},
            )
            for name, build in builds.items()
        }
