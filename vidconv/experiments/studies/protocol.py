"""The training protocol every study uses: one seeded, early-stopped run.

A *run* trains one arm (a network builder) from one seed: the seed fixes
the initialisation and the batch order, Adam at a constant learning rate,
and after every epoch the loss on a validation split held out from the
training clips. The run stops ``patience`` epochs after the best
validation loss (never before ``min_epochs``, never after
``max_epochs``), puts back the weights of that best epoch and is tested
once. Every arm of a study gets the same data, budget and protocol; only
its learning rate differs, chosen on validation by :func:`choose_lr`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from vidconv.training.loop import evaluate, train_one_epoch
from vidconv.utils.checks import check_positive_int


@dataclass(frozen=True)
class Splits:
    """Training, validation and test clips: ``(clips, labels)`` each."""

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset


@dataclass(frozen=True)
class Budget:
    """How long a run may train, the same for every arm of a study."""

    max_epochs: int
    patience: int
    min_epochs: int = 1
    batch_size: int = 32

    def __post_init__(self) -> None:
        for name in ("max_epochs", "patience", "min_epochs", "batch_size"):
            check_positive_int(getattr(self, name), f"Budget.{name}")
        if self.min_epochs > self.max_epochs:
            raise ValueError(
                f"Budget.min_epochs ({self.min_epochs}) must "
                f"be <= max_epochs ({self.max_epochs})"
            )


def run_once(
    build: Callable[[], nn.Module],
    splits: Splits,
    *,
    lr: float,
    seed: int,
    budget: Budget,
    device: torch.device,
    keep_model: bool = False,
) -> dict:
    """Train ``build()`` from ``seed`` with early stopping; test the best.

    Returns the per-epoch ``history`` (training loss and accuracy as
    measured during the epoch, validation loss and top-1), the
    ``best_epoch``, and the best epoch's ``train_loss``, ``val_loss``,
    ``val_top1`` and the ``test_top1`` of its weights, and the
    ``early_train_loss``: the mean training loss of the first
    ``budget.min_epochs`` epochs, which every run trains — how fast it
    optimises, what training-error curves compare; with
    ``keep_model`` also the ``model`` (in eval mode, best weights).
    """
    torch.manual_seed(seed)  # the same initialisation stream for every arm
    model = build().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)  # the same batch order
    loader = DataLoader(
        splits.train,
        batch_size=budget.batch_size,
        shuffle=True,
        generator=order,
    )
    val_loader = DataLoader(splits.val, batch_size=256)
    history: list[dict] = []
    best, best_state, waited = math.inf, None, 0
    for epoch in range(1, budget.max_epochs + 1):
        trained = train_one_epoch(
            model, loader, optimizer, device=device, progress=False
        )
        val = evaluate(model, val_loader, device=device)
        history.append(
            {
                "epoch": epoch,
                "train_loss": round(trained["loss"], 6),
                "train_top1": round(trained["top1"], 6),
                "val_loss": round(val["loss"], 6),
                "val_top1": round(val["top1"], 6),
            }
        )
        if val["loss"] < best:
            best, waited = val["loss"], 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
        if epoch >= budget.min_epochs and waited >= budget.patience:
            break
    model.load_state_dict(best_state)
    best_row = min(history, key=lambda row: row["val_loss"])
    test = evaluate(
        model, DataLoader(splits.test, batch_size=256), device=device
    )
    out = {
        "history": history,
        "best_epoch": best_row["epoch"],
        "train_loss": best_row["train_loss"],
        "val_loss": best_row["val_loss"],
        "val_top1": best_row["val_top1"],
        "test_top1": round(test["top1"], 6),
        "early_train_loss": round(
            sum(r["train_loss"] for r in history[: budget.min_epochs])
            / budget.min_epochs,
            6,
        ),
    }
    return out | {"model": model.eval()} if keep_model else out


def choose_lr(
    build: Callable[[], nn.Module],
    splits: Splits,
    *,
    grid: Sequence[float],
    seed: int,
    budget: Budget,
    device: torch.device,
) -> tuple[float, list[dict]]:
    """The learning rate of ``grid`` whose run reaches the best validation.

    Best means the highest validation top-1 at the best epoch, ties broken
    by the lower validation loss. ``seed`` should be one that the
    comparison itself does not use, so the choice is not fitted to it.
    Returns the rate and one row per rate tried.
    """
    tried = []
    for lr in grid:
        run = run_once(
            build, splits, lr=lr, seed=seed, budget=budget, device=device
        )
        tried.append(
            {
                "lr": lr,
                "val_top1": run["val_top1"],
                "val_loss": run["val_loss"],
                "best_epoch": run["best_epoch"],
                "epochs": len(run["history"]),
            }
        )
    chosen = max(tried, key=lambda row: (row["val_top1"], -row["val_loss"]))
    return chosen["lr"], tried
