"""One seeded training run of a small network, shared by the experiments that compare variants.

Every variant of an experiment gets the same initialisation seed, the same batch order, Adam, a fixed
number of epochs, batch-norm statistics re-estimated with the final weights, and one test at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from vidconv.training.loop import evaluate, train_one_epoch
from vidconv.training.steps import seeded_loader


@torch.no_grad()
def precise_batch_norm(
    model: nn.Module, clips: torch.Tensor, batch_size: int
) -> None:
    """Re-estimate every batch norm's running statistics with the final weights ("precise BN").

    After a few dozen fast-moving steps the running averages still remember the first weights, and
    small Inception-style networks then score chance in eval mode although they fit their training clips.
    One forward pass over the training clips with a cumulative average fixes that; weights are unchanged.
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
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: torch.device,
) -> tuple[nn.Module, float, float]:
    """Build with ``torch.manual_seed(seed)``, train (batch order seeded too), precise BN, test once.

    Returns the network in eval mode, its test top-1 and the training seconds. The callers check the
    arguments; this runs on the CPU threads it is given (see :func:`vidconv.utils.device.one_cpu_thread`).
    """
    torch.manual_seed(seed)
    model = build().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loader = seeded_loader(train, batch_size, seed)
    start = time.perf_counter()
    for _ in range(epochs):
        train_one_epoch(model, loader, optimizer, device=device, progress=False)
    precise_batch_norm(model, train.tensors[0].to(device), batch_size)
    seconds = time.perf_counter() - start
    top1 = evaluate(model, DataLoader(test, batch_size=256), device=device)[
        "top1"
    ]
    return model.eval(), top1, seconds
