"""Text-conditioned compression: does relevance follow the query, and what survives the merge? (ch. 10)

The task (:func:`query_clip_batch`): a clip of T frames of N tokens and a text query of L tokens. A
fraction of the tokens *match the query* — the query's first token plus the prototype of the clip's
class — and the others match some other query and show a random class. So the class is readable only
from the tokens that the query points at.

:func:`compression_probe` trains a :class:`~vidconv.temporal.relevance.VideoRelevanceCompressor` to score
the matching tokens (binary cross-entropy on the match labels), then compresses held-out clips by
each of ``compression_ratios`` and fits a ridge-regression probe for the class on the compressed tokens:
relevance-weighted with the clip's own query, with another clip's query, and uniform averaging of the
same groups. The probe reads each merged frame's mean over its N positions. The table also has each variant's ROC AUC for finding the matching tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vidconv.experiments.relevance.context import roc_auc
from vidconv.temporal.relevance import VideoRelevanceCompressor
from vidconv.training.steps import gradient_steps
from vidconv.utils.checks import (
    check_ints,
    check_number,
    check_positive_int,
    check_positive_ints,
    check_tensor,
)
from vidconv.utils.device import one_cpu_thread
from vidconv.utils.table import Table


def query_clip_batch(
    prototypes: torch.Tensor,
    batch: int,
    frames: int = 8,
    tokens: int = 4,
    *,
    text_tokens: int = 2,
    match_fraction: float = 0.3,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(tokens (B, T, N, D), text (B, L, D), matches (B, T, N) bool, label (B,))``."""
    check_tensor(prototypes, "prototypes", ndim=2, layout="(classes, D)")
    check_positive_ints(
        batch=batch, frames=frames, tokens=tokens, text_tokens=text_tokens
    )
    check_number(match_fraction, "match_fraction", minimum=0.0, maximum=1.0)
    classes, dim = prototypes.shape
    text = torch.randn(
        batch, text_tokens, dim, generator=generator
    )  # (B, L, D)
    label = torch.randint(classes, (batch,), generator=generator)
    matches = (
        torch.rand(batch, frames, tokens, generator=generator) < match_fraction
    )  # (B, T, N)
    other_query = torch.randn(
        batch, frames, tokens, dim, generator=generator
    )  # (B, T, N, D)
    other_class = prototypes[
        torch.randint(classes, (batch, frames, tokens), generator=generator)
    ]  # (B, T, N, D)
    mine = (text[:, 0] + prototypes[label])[:, None, None, :]  # (B, 1, 1, D)
    noise = 0.3 * torch.randn(batch, frames, tokens, dim, generator=generator)
    x = (
        torch.where(matches.unsqueeze(-1), mine, other_query + other_class)
        + noise
    )  # (B, T, N, D)
    return x, text, matches, label


def ridge_probe_accuracy(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    *,
    l2: float = 1.0,
) -> float:
    """Fit a ridge regression from features to one-hot labels (closed form), return held-out accuracy."""
    check_tensor(train_x, "train_x", ndim=2, layout="(samples, features)")
    check_tensor(test_x, "test_x", ndim=2, layout="(samples, features)")
    if test_x.shape[1] != train_x.shape[1]:
        raise ValueError(
            f"test_x must have train_x's {train_x.shape[1]} features, got {test_x.shape[1]}"
        )
    check_number(l2, "l2", minimum=0.0, exclusive_minimum=True)
    for labels, features, name in (
        (train_y, train_x, "train_y"),
        (test_y, test_x, "test_y"),
    ):
        if (
            not isinstance(labels, torch.Tensor)
            or labels.dtype != torch.long
            or labels.shape != features.shape[:1]
        ):
            raise ValueError(
                f"{name} must be a torch.long tensor of {features.shape[0]} class indices, got "
                f"{getattr(labels, 'dtype', type(labels).__name__)} {tuple(getattr(labels, 'shape', ()))}"
            )
    x = torch.cat(
        [train_x.double(), torch.ones(len(train_x), 1, dtype=torch.float64)],
        dim=1,
    )  # bias column
    y = F.one_hot(train_y, int(max(train_y.max(), test_y.max())) + 1).double()
    w = torch.linalg.solve(
        x.T @ x + l2 * torch.eye(x.shape[1], dtype=torch.float64), x.T @ y
    )
    xt = torch.cat(
        [test_x.double(), torch.ones(len(test_x), 1, dtype=torch.float64)],
        dim=1,
    )
    return float(((xt @ w).argmax(1) == test_y).double().mean())


def uniform_merge(tokens: torch.Tensor, ratio: int) -> torch.Tensor:
    """Average every ``ratio`` frames (the last group may be shorter): (B, T, N, D) -> (B, ceil(T / ratio), N, D)."""
    check_tensor(tokens, "tokens", ndim=4, layout="(B, T, N, D)")
    check_positive_int(ratio, "ratio")
    t = tokens.shape[1]
    return torch.stack(
        [tokens[:, s : s + ratio].mean(dim=1) for s in range(0, t, ratio)],
        dim=1,
    )


@dataclass
class CompressionResult:
    """The table (variant, tokens kept, AUC of relevance for the matching tokens, probe accuracy) and the model."""

    table: Table
    compressor: VideoRelevanceCompressor


def compression_probe(
    compression_ratios: Sequence[int] = (1, 2, 4, 8),
    *,
    frames: int = 8,
    tokens: int = 4,
    dim: int = 16,
    num_classes: int = 4,
    train_steps: int = 150,
    batch_size: int = 32,
    probe_clips: int = 1024,
    test_clips: int = 512,
    lr: float = 1e-2,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> CompressionResult:
    """Train relevance on matching tokens, compress, and probe the class: right query, wrong query, uniform.

    The relevance does not depend on the ratio, so one compressor is trained and each ratio only changes
    how many frames it merges (its ``compression_ratio``).
    """
    ratios = list(
        check_ints(compression_ratios, "compression_ratios", minimum=1)
    )
    check_positive_ints(
        frames=frames,
        tokens=tokens,
        dim=dim,
        train_steps=train_steps,
        batch_size=batch_size,
        probe_clips=probe_clips,
        test_clips=test_clips,
    )
    check_positive_int(num_classes, "num_classes", minimum=2)
    check_number(lr, "lr", minimum=0.0, exclusive_minimum=True)
    device = torch.device(device)
    with one_cpu_thread(device):
        table = _train_and_probe(
            ratios,
            frames=frames,
            tokens=tokens,
            dim=dim,
            num_classes=num_classes,
            train_steps=train_steps,
            batch_size=batch_size,
            probe_clips=probe_clips,
            test_clips=test_clips,
            lr=lr,
            seed=seed,
            device=device,
        )
    return CompressionResult(*table)


def _train_and_probe(
    ratios: list[int],
    *,
    frames: int,
    tokens: int,
    dim: int,
    num_classes: int,
    train_steps: int,
    batch_size: int,
    probe_clips: int,
    test_clips: int,
    lr: float,
    seed: int,
    device: torch.device,
) -> tuple[Table, VideoRelevanceCompressor]:
    torch.manual_seed(seed)
    prototypes = 3.0 * F.normalize(
        torch.randn(
            num_classes, dim, generator=torch.Generator().manual_seed(seed)
        ),
        dim=1,
    )
    gen = torch.Generator().manual_seed(seed)
    compressor = VideoRelevanceCompressor(
        dim, frames, ratios[0], num_heads=4 if dim % 4 == 0 else 1
    ).to(device)

    def loss_of(x, text, matches, _):
        _, relevance = compressor(x.to(device), text.to(device))
        return F.binary_cross_entropy(relevance, matches.float().to(device))

    gradient_steps(
        torch.optim.Adam(compressor.parameters(), lr=lr, foreach=True),
        loss_of,
        (
            query_clip_batch(
                prototypes, batch_size, frames, tokens, generator=gen
            )
            for _ in range(train_steps)
        ),
    )
    compressor.eval()
    probe = query_clip_batch(
        prototypes,
        probe_clips,
        frames,
        tokens,
        generator=torch.Generator().manual_seed(seed + 1),
    )
    test = query_clip_batch(
        prototypes,
        test_clips,
        frames,
        tokens,
        generator=torch.Generator().manual_seed(seed + 2),
    )

    def variant(
        name: str, data: tuple, ratio: int
    ) -> tuple[torch.Tensor, float | None]:
        x, text, matches, _ = data
        if name == "uniform average":
            return uniform_merge(x, ratio).mean(dim=2).flatten(
                1
            ), None  # (B, groups * D)
        if name == "relevance, another clip's query":
            text = text.roll(1, dims=0)  # each clip gets its neighbour's query
        compressor.compression_ratio = ratio
        with torch.no_grad():
            merged, relevance = compressor(x.to(device), text.to(device))
        return merged.cpu().mean(dim=2).flatten(1), roc_auc(
            relevance.cpu(), matches
        )  # (B, groups * D)

    rows = []
    for ratio in ratios:
        for name in (
            "relevance, own query",
            "relevance, another clip's query",
            "uniform average",
        ):
            train_features, _ = variant(name, probe, ratio)
            test_features, auc = variant(name, test, ratio)
            accuracy = ridge_probe_accuracy(
                train_features, probe[3], test_features, test[3]
            )
            rows.append(
                {
                    "merge": name,
                    "ratio": ratio,
                    "frames kept": -(-frames // ratio),
                    "AUC for matching tokens": None
                    if auc is None
                    else round(auc, 3),
                    "probe accuracy": round(accuracy, 3),
                }
            )
    compressor.compression_ratio = ratios[0]
    return Table(rows), compressor
