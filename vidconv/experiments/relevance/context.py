"""Relevance needs context: find the frames that move, where every frame alone looks like a scene (ch. 10).

Each sequence shows one scene (a random vector repeated over time); some frames show another one — the
"moving" frames. Every frame, taken alone, is just a random vector, exactly like the scene: only its
difference from its neighbours gives it away. :class:`~vidconv.temporal.relevance.TemporalRelevanceModule`
with a window of 1 sees each frame alone and must stay at chance; with a wider window it can compare.
:func:`window_sweep` trains one module per window and measures ROC AUC on held-out sequences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vidconv.temporal.relevance import TemporalRelevanceModule
from vidconv.training.steps import gradient_steps
from vidconv.utils.checks import (
    check_int_sequence,
    check_number,
    check_positive_int,
    check_positive_ints,
    check_tensor,
)
from vidconv.utils.device import one_cpu_thread
from vidconv.utils.table import Table


def moving_frames_batch(
    batch: int,
    steps: int = 16,
    dim: int = 16,
    *,
    moving_fraction: float = 0.25,
    noise: float = 0.05,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x (B, T, D), moving (B, T) bool)``: one scene per sequence, a ``moving_fraction`` of frames replaced."""
    check_positive_int(batch, "batch")
    check_positive_int(steps, "steps")
    check_positive_int(dim, "dim")
    check_number(moving_fraction, "moving_fraction", minimum=0.0, maximum=1.0)
    check_number(noise, "noise", minimum=0.0)
    scene = torch.randn(batch, 1, dim, generator=generator).expand(
        -1, steps, -1
    )  # (B, T, D), one vector
    other = torch.randn(
        batch, steps, dim, generator=generator
    )  # (B, T, D), a new vector per frame
    moving = (
        torch.rand(batch, steps, generator=generator) < moving_fraction
    )  # (B, T)
    x = torch.where(moving.unsqueeze(-1), other, scene) + noise * torch.randn(
        batch, steps, dim, generator=generator
    )
    return x, moving


def roc_auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Probability that a positive scores above a negative (ties count one half): the area under the ROC curve."""
    check_tensor(scores, "scores")
    if not isinstance(labels, torch.Tensor) or labels.shape != scores.shape:
        raise ValueError(
            f"labels must be a tensor of the scores' shape {tuple(scores.shape)}, "
            f"got {tuple(getattr(labels, 'shape', ())) or type(labels).__name__}"
        )
    labels = labels.bool().flatten()
    scores = scores.detach().flatten().double()
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"labels must contain both classes, got {n_pos} positives and {n_neg} negatives"
        )
    # Mann-Whitney U from average ranks: exact, O(n log n), ties shared.
    order = scores.argsort()
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=scores.dtype)
    unique, inverse = scores.unique(return_inverse=True)
    average = torch.zeros_like(unique).index_add_(
        0, inverse, ranks
    ) / torch.bincount(inverse).to(scores.dtype)
    ranks = average[inverse]
    return float(
        (ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    )


def _train_and_measure(
    window: int,
    modules: dict,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    steps: int,
    hidden_dim: int,
    train_steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: torch.device,
) -> dict:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(
        seed
    )  # every window sees the same training sequences
    module = TemporalRelevanceModule(
        hidden_dim, window, num_heads=4 if hidden_dim % 4 == 0 else 1
    ).to(device)
    gradient_steps(
        torch.optim.Adam(module.parameters(), lr=lr, foreach=True),
        lambda x, y: F.binary_cross_entropy(
            module(x.to(device)), y.float().to(device)
        ),
        (
            moving_frames_batch(batch_size, steps, hidden_dim, generator=gen)
            for _ in range(train_steps)
        ),
    )
    with torch.no_grad():
        relevance = module.eval()(x_test.to(device)).cpu()
    predicted = relevance > 0.5
    recall = (predicted & y_test).sum() / y_test.sum()
    specificity = (~predicted & ~y_test).sum() / (~y_test).sum()
    modules[window] = module
    return {
        "window": window,
        "ROC AUC": round(roc_auc(relevance, y_test), 3),
        "balanced accuracy": round(float(recall + specificity) / 2, 3),
    }


@dataclass
class ContextResult:
    """The sweep's table (window, AUC, balanced accuracy) and the trained module for each window."""

    table: Table
    modules: dict[int, TemporalRelevanceModule]


def window_sweep(
    windows: Sequence[int] = (1, 2, 3, 5, 9),
    *,
    steps: int = 16,
    hidden_dim: int = 16,
    train_steps: int = 150,
    batch_size: int = 32,
    test_sequences: int = 256,
    lr: float = 1e-2,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> ContextResult:
    """Train a :class:`TemporalRelevanceModule` per window on the moving-frames task; measure held-out AUC."""
    windows = (
        check_int_sequence(
            list(windows), "windows", length=len(windows), minimum=1
        )
        if windows
        else ()
    )
    if not windows:
        raise ValueError("windows must name at least one window size")
    check_positive_ints(
        steps=steps,
        hidden_dim=hidden_dim,
        train_steps=train_steps,
        batch_size=batch_size,
        test_sequences=test_sequences,
    )
    check_number(lr, "lr", minimum=0.0, exclusive_minimum=True)
    device = torch.device(device)
    rows, modules = [], {}
    x_test, y_test = moving_frames_batch(
        test_sequences,
        steps,
        hidden_dim,
        generator=torch.Generator().manual_seed(seed + 1000),
    )
    with one_cpu_thread(device):
        for window in windows:
            rows.append(
                _train_and_measure(
                    window,
                    modules,
                    x_test,
                    y_test,
                    steps=steps,
                    hidden_dim=hidden_dim,
                    train_steps=train_steps,
                    batch_size=batch_size,
                    lr=lr,
                    seed=seed,
                    device=device,
                )
            )
    return ContextResult(Table(rows), modules)
