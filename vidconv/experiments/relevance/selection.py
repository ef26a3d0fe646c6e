"""Keep the present and the relevant: accuracy against compute when a transformer sees only the kept tokens (ch. 10).

The task (:func:`present_event_batch`): a sequence of noise tokens holds a few *events*, each a class
prototype plus noise. One event lies in the present (the last ``present`` steps) and gives the label;
the others are older and of random classes. An event in the present looks exactly like an old one, so
content alone cannot tell which to keep: it takes content (is it an event?) *and* recency (is it now?),
the two terms of :class:`~vidconv.temporal.relevance.ThickPresentTokenSelector`'s score.

:func:`keep_ratio_frontier` trains, for each keep ratio, a small transformer (:class:`TokenClassifier`)
on the tokens a learned selector keeps and, as the baseline, on as many tokens kept at random; plus one
that keeps everything. Each row has the held-out accuracy and the FLOPs per sequence (selector included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vidconv.analysis.counting import count_flops
from vidconv.temporal.relevance import ThickPresentTokenSelector
from vidconv.training.steps import gradient_steps
from vidconv.utils.checks import (
    check_number,
    check_positive_int,
    check_positive_ints,
    check_tensor,
)
from vidconv.utils.device import one_cpu_thread
from vidconv.utils.table import Table

MODES = ("learned", "random", "all")


def present_event_batch(
    prototypes: torch.Tensor,
    batch: int,
    steps: int = 16,
    *,
    present: int = 4,
    distractors: int = 3,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x (B, T, D), label (B,), event_step (B,))``: the label is the class of the event in the last ``present`` steps."""
    check_tensor(prototypes, "prototypes", ndim=2, layout="(classes, D)")
    check_positive_int(batch, "batch")
    check_positive_int(present, "present")
    check_positive_int(steps, "steps", minimum=present + distractors)
    classes, dim = prototypes.shape
    x = torch.randn(
        batch, steps, dim, generator=generator
    )  # (B, T, D) background
    label = torch.randint(classes, (batch,), generator=generator)
    event_step = (
        steps - 1 - torch.randint(present, (batch,), generator=generator)
    )  # in the present
    # Distractors: distinct older steps (before the present), random classes.
    old = torch.rand(batch, steps - present, generator=generator).argsort(
        dim=1
    )[:, :distractors]  # (B, distractors)
    old_class = torch.randint(
        classes, (batch, distractors), generator=generator
    )
    rows = torch.arange(batch)
    x[rows, event_step] += prototypes[label]
    for j in range(distractors):
        x[rows, old[:, j]] += prototypes[old_class[:, j]]
    return x, label, event_step


class TokenClassifier(nn.Module):
    """A one-layer transformer on any number of tokens: embed, add the tokens' time positions, a class token, classify."""

    def __init__(
        self,
        dim: int,
        num_classes: int,
        max_steps: int,
        width: int = 32,
        num_heads: int = 4,
    ) -> None:
        super().__init__()
        check_positive_ints(
            dim=dim, max_steps=max_steps, width=width, num_heads=num_heads
        )
        check_positive_int(num_classes, "num_classes", minimum=2)
        self.embed = nn.Linear(dim, width)
        self.position = nn.Parameter(0.02 * torch.randn(max_steps, width))
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.layer = nn.TransformerEncoderLayer(
            width, num_heads, 2 * width, dropout=0.0, batch_first=True
        )
        self.head = nn.Linear(width, num_classes)

    def forward(
        self, x: torch.Tensor, positions: torch.Tensor | None = None
    ) -> torch.Tensor:  # noqa: D102
        check_tensor(x, "x", ndim=3, layout="(B, k, D)")
        b, k, _ = x.shape
        if positions is None:
            positions = torch.arange(k, device=x.device).expand(b, k)  # (B, k)
        h = self.embed(x) + self.position[positions]  # (B, k, width)
        h = torch.cat(
            [self.cls.expand(b, -1, -1), h], dim=1
        )  # (B, 1 + k, width)
        return self.head(self.layer(h)[:, 0])  # (B, classes)


@dataclass
class FrontierResult:
    """The frontier table and, per keep ratio, the trained selector (its ``recency`` is the learned prior)."""

    table: Table
    selectors: dict[float, ThickPresentTokenSelector]


def _random_keep(
    batch: int, steps: int, k: int, gen: torch.Generator
) -> torch.Tensor:
    return (
        torch.rand(batch, steps, generator=gen)
        .argsort(dim=1)[:, :k]
        .sort(dim=1)
        .values
    )  # (B, k)


def keep_ratio_frontier(
    keep_ratios: Sequence[float] = (0.0625, 0.125, 0.25, 0.5),
    *,
    steps: int = 16,
    dim: int = 16,
    present: int = 4,
    present_thickness: int = 8,
    num_classes: int = 4,
    train_steps: int = 150,
    batch_size: int = 64,
    test_sequences: int = 512,
    lr: float = 1e-2,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> FrontierResult:
    """Accuracy and FLOPs per sequence of learned and random selection at each keep ratio, and of keeping all."""
    if (
        isinstance(keep_ratios, (str, bytes))
        or not isinstance(keep_ratios, Sequence)
        or not keep_ratios
    ):
        raise ValueError(
            f"keep_ratios must be a non-empty sequence of numbers in (0, 1], got {keep_ratios!r}"
        )
    ratios = [
        check_number(
            r, "keep_ratios", minimum=0.0, maximum=1.0, exclusive_minimum=True
        )
        for r in keep_ratios
    ]
    check_positive_ints(
        dim=dim,
        present=present,
        present_thickness=present_thickness,
        train_steps=train_steps,
        batch_size=batch_size,
        test_sequences=test_sequences,
    )
    check_positive_int(num_classes, "num_classes", minimum=2)
    check_positive_int(steps, "steps", minimum=present + 1)
    check_number(lr, "lr", minimum=0.0, exclusive_minimum=True)
    device = torch.device(device)
    prototypes = 3.0 * F.normalize(
        torch.randn(
            num_classes, dim, generator=torch.Generator().manual_seed(seed)
        ),
        dim=1,
    )
    distractors = min(3, steps - present)
    test = present_event_batch(
        prototypes,
        test_sequences,
        steps,
        present=present,
        distractors=distractors,
        generator=torch.Generator().manual_seed(seed + 1000),
    )

    def run(
        mode: str, ratio: float
    ) -> tuple[dict, ThickPresentTokenSelector | None]:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(
            seed
        )  # every run sees the same sequences
        pick = torch.Generator().manual_seed(seed + 1)
        model = TokenClassifier(dim, num_classes, steps).to(device)
        selector = (
            ThickPresentTokenSelector(dim, present_thickness, ratio).to(device)
            if mode == "learned"
            else None
        )
        k = (
            steps
            if mode == "all"
            else ThickPresentTokenSelector(dim, 1, ratio).kept(steps)
        )
        params = list(model.parameters()) + (
            list(selector.parameters()) if selector else []
        )
        optimizer = torch.optim.Adam(params, lr=lr, foreach=True)

        def forward(x: torch.Tensor) -> torch.Tensor:
            if selector is not None:
                kept, idx, _ = selector(x)
                return model(kept, idx)
            idx = (
                _random_keep(len(x), steps, k, pick).to(device)
                if mode == "random"
                else None
            )
            kept = (
                x
                if idx is None
                else x.gather(1, idx.unsqueeze(-1).expand(-1, -1, dim))
            )  # (B, k, D)
            return model(kept, idx)

        gradient_steps(
            optimizer,
            lambda x, y, _: F.cross_entropy(
                forward(x.to(device)), y.to(device)
            ),
            (
                present_event_batch(
                    prototypes,
                    batch_size,
                    steps,
                    present=present,
                    distractors=distractors,
                    generator=gen,
                )
                for _ in range(train_steps)
            ),
        )
        model.eval()
        with torch.no_grad():
            accuracy = (
                (forward(test[0].to(device)).argmax(1).cpu() == test[1])
                .float()
                .mean()
                .item()
            )
        flops = count_flops(model, (1, k, dim)) + (
            count_flops(selector, (1, steps, dim)) if selector else 0
        )
        row = {
            "selection": "keep all" if mode == "all" else mode,
            "keep ratio": round(k / steps, 4),
            "tokens kept": k,
            "kFLOPs / sequence": round(flops / 1e3, 1),
            "accuracy": round(accuracy, 3),
        }
        if selector is not None:
            with torch.no_grad():
                _, idx, _ = selector(test[0].to(device))
            row["present event kept"] = round(
                (idx.cpu() == test[2][:, None]).any(1).float().mean().item(), 3
            )
        return row, selector

    rows, selectors = [], {}
    with one_cpu_thread(device):
        for ratio in ratios:
            for mode in ("learned", "random"):
                row, selector = run(mode, ratio)
                rows.append(row)
                if selector is not None:
                    selectors[ratio] = selector.eval()
        rows.append(run("all", 1.0)[0])
    return FrontierResult(Table(rows), selectors)
