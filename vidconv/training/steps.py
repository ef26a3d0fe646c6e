"""The inner loop every small experiment shares: one optimizer step per
batch.

:func:`~vidconv.training.loop.train_one_epoch` is the full loop for a
``DataLoader`` of clips (mixed precision, progress, DDP). The experiments
of the chapters train on tensors already in memory, full batch or on
batches drawn from a seeded generator, with losses of their own (masked
cross-entropy, MSE, relevance BCE); they hand :func:`gradient_steps` the
batches and the loss and leave the stepping to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch.utils.data import DataLoader, Dataset


def gradient_steps(
    optimizer: torch.optim.Optimizer,
    loss_of: Callable[..., torch.Tensor],
    batches: Iterable[tuple],
) -> list[torch.Tensor]:
    """For each batch: clear the gradients, ``loss_of(*batch)``, backward,
    one optimizer step.

    ``batches`` is read lazily, one batch per step, so a generator that
    draws batches from a seeded ``torch.Generator`` draws them in the same
    order as a hand-written loop would. Returns every step's loss, detached
    (no host synchronisation inside the loop).
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            "optimizer must be a torch.optim.Optimizer, "
            f"got {type(optimizer).__name__}"
        )
    if not callable(loss_of):
        raise TypeError(
            f"loss_of must be callable, got {type(loss_of).__name__}"
        )
    losses = []
    for batch in batches:
        # Cleared before the forward pass, so that last step's gradients are
        # not held while this step's activations are.
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(*batch)
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            raise ValueError(
                "loss_of must return a scalar tensor, got "
                f"{getattr(loss, 'shape', type(loss).__name__)}"
            )
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    return losses


def seeded_loader(data: Dataset, batch_size: int, seed: int) -> DataLoader:
    """A shuffling loader whose batch order depends on ``seed`` alone, so
    that every arm of a comparison sees the same batches."""
    return DataLoader(
        data,
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
