"""The price of looking ahead: a label that depends on the future can be had only by waiting for it.

The task: every frame shows one hidden bit ``b_t = ±1`` as its brightness, plus pixel noise. The label
at frame ``t`` is the majority of ``b_{t-h} ... b_{t+h}``, a window centred on ``t`` (``h = 2``: five frames).
A network with retention ``r`` and protention ``p`` (:class:`~vidconv.temporal.thick_present.PhenomenologicalConv3D`)
sees ``b_{t-r} ... b_{t+p}`` at frame ``t``: its latency in a live stream is ``p`` frames. A causal
network (``p = 0``) can instead be allowed to *answer late*: its output at frame ``t + d`` is trained
to give the label of frame ``t``, so it too sees ``d`` frames of the label's future, at a latency of ``d``.

:func:`optimal_accuracy` is the best any rule can do when it sees only some of the window's bits (exact,
by enumeration): the reference each trained accuracy is compared with.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vidconv.temporal.thick_present import PhenomenologicalConv3D
from vidconv.training.steps import gradient_steps
from vidconv.utils.checks import (
    check_int,
    check_ints,
    check_nonnegative_int,
    check_number,
    check_positive_int,
)
from vidconv.utils.table import Table

HALF_WINDOW = (
    2  # the label at t is the majority of the 2 * 2 + 1 = 5 bits around t
)


def majority_clips(
    clips: int,
    frames: int,
    *,
    size: int = 2,
    noise: float = 0.5,
    half_window: int = HALF_WINDOW,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(video, labels)``: ``(clips, 1, frames, size, size)`` frames showing ``b_t`` plus noise, and
    ``(clips, frames)`` labels in {0, 1}, the majority of ``b`` over ``t - half_window ... t + half_window``
    (frames whose window leaves the clip get label -1: they are not scored)."""
    check_positive_int(clips, "clips")
    check_positive_int(frames, "frames", minimum=2 * half_window + 1)
    check_positive_int(size, "size")
    check_number(noise, "noise", minimum=0.0)
    check_nonnegative_int(half_window, "half_window")
    check_int(seed, "seed")
    g = torch.Generator().manual_seed(seed)
    bits = (
        torch.randint(0, 2, (clips, frames), generator=g).float() * 2 - 1
    )  # (N, T) of ±1
    video = bits.view(clips, 1, frames, 1, 1) + noise * torch.randn(
        clips, 1, frames, size, size, generator=g
    )
    w = 2 * half_window + 1
    sums = F.conv1d(bits.unsqueeze(1), torch.ones(1, 1, w)).squeeze(
        1
    )  # (N, T - w + 1): window sums
    labels = torch.full((clips, frames), -1, dtype=torch.long)
    labels[:, half_window : frames - half_window] = (
        sums > 0
    ).long()  # an odd window never ties
    return video, labels


def window_net(
    retention: int, protention: int, width: int = 16
) -> nn.Sequential:
    """Frame-wise logits from a window of ``retention`` past and ``protention`` future frames.

    One temporal convolution reads the window (spatial kernel 1), a ReLU and a 1x1x1 convolution make
    a logit per pixel, and the pixels are averaged: ``(B, 1, T, H, W) -> (B, T)``.
    """
    check_nonnegative_int(retention, "retention")
    check_nonnegative_int(protention, "protention")
    check_positive_int(width, "width")
    return nn.Sequential(
        PhenomenologicalConv3D(
            1, width, retention, protention, spatial_kernel_size=1
        ),  # (B, width, T, H, W)
        nn.ReLU(),
        nn.Conv3d(width, 1, 1),  # (B, 1, T, H, W)
        nn.Flatten(start_dim=3),
        _MeanLast(),  # (B, 1, T)
        nn.Flatten(),  # (B, T)
    )


class _MeanLast(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x.mean(dim=-1)  # (B, 1, T, H*W) -> (B, 1, T)


def _shifted(labels: torch.Tensor, delay: int) -> torch.Tensor:
    """Labels for answering ``delay`` frames late: the output at ``t + delay`` is scored on the label of ``t``."""
    out = torch.full_like(labels, -1)
    out[:, delay:] = labels[:, : labels.shape[1] - delay]
    return out


def train_window_net(
    retention: int,
    protention: int,
    delay: int,
    *,
    seed: int = 0,
    steps: int = 100,
    clips: int = 128,
    frames: int = 32,
    lr: float = 0.03,
) -> float:
    """Train one :func:`window_net` (full batch, Adam) and return its accuracy on fresh clips."""
    check_nonnegative_int(delay, "delay")
    check_positive_int(steps, "steps")
    check_number(lr, "lr", minimum=0.0, exclusive_minimum=True)
    check_int(seed, "seed")
    check_positive_int(frames, "frames", minimum=2 * HALF_WINDOW + 2 + delay)
    torch.manual_seed(seed)
    net = window_net(retention, protention)
    video, labels = majority_clips(clips, frames, seed=2 * seed)
    target = _shifted(labels, delay)
    scored = target >= 0
    gradient_steps(
        torch.optim.Adam(net.parameters(), lr=lr),
        lambda x, t: F.binary_cross_entropy_with_logits(
            net(x)[scored], t[scored].float()
        ),
        itertools.repeat((video, target), steps),  # full batch
    )
    test_video, test_labels = majority_clips(clips, frames, seed=2 * seed + 1)
    test_target = _shifted(test_labels, delay)
    scored = test_target >= 0
    with torch.no_grad():
        guess = (net(test_video) > 0).long()
    return float((guess[scored] == test_target[scored]).float().mean())


def optimal_accuracy(
    visible: Sequence[int], half_window: int = HALF_WINDOW
) -> float:
    """Best accuracy of any rule that sees the bits at offsets ``visible`` (relative to ``t``) of the window.

    Exact: every assignment of the window's bits is equally likely; the best rule guesses the
    majority label most frequent for each pattern of the visible bits.
    """
    check_nonnegative_int(half_window, "half_window")
    if isinstance(visible, (str, bytes)) or not isinstance(
        visible, (Sequence, range)
    ):
        raise TypeError(
            f"visible must be a sequence of int offsets, got {type(visible).__name__}"
        )
    for o in visible:
        check_int(o, "visible")
    offsets = range(-half_window, half_window + 1)
    seen = sorted({o for o in visible if -half_window <= o <= half_window})
    counts: dict[tuple[int, ...], list[int]] = {}
    for bits in itertools.product((-1, 1), repeat=len(offsets)):
        key = tuple(bits[o + half_window] for o in seen)
        counts.setdefault(key, [0, 0])[int(sum(bits) > 0)] += 1
    return sum(max(c) for c in counts.values()) / 2 ** len(offsets)


def latency_experiment(
    delays: Sequence[int] = (0, 1, 2, 3, 4),
    *,
    seeds: Sequence[int] = (0,),
    causal_retention: int = 6,
    steps: int = 100,
) -> Table:
    """Accuracy against latency: a causal network answering ``d`` frames late, and networks that look ahead.

    Rows: ``causal, late by d`` for each delay (retention ``causal_retention``, protention 0), and
    ``centred`` (retention = protention = 2) and ``look-ahead`` (retention 1, protention 4), answering
    at once. Accuracy is the mean over ``seeds``; ``optimal`` is :func:`optimal_accuracy` for the
    frames of the label's window each one can see.
    """
    check_ints(delays, "delays", minimum=0)
    check_ints(seeds, "seeds")
    check_nonnegative_int(causal_retention, "causal_retention")
    settings = [
        (f"causal, late by {d}", causal_retention, 0, d) for d in delays
    ]
    settings += [("centred", 2, 2, 0), ("look-ahead", 1, 4, 0)]
    rows = []
    for name, r, p, d in settings:
        acc = sum(
            train_window_net(r, p, d, seed=s, steps=steps) for s in seeds
        ) / len(seeds)
        visible = range(
            d - r, d + p + 1
        )  # offsets from the label's frame t that the answer sees
        rows.append(
            {
                "variant": name,
                "retention": r,
                "protention": p,
                "delay": d,
                "latency (frames)": p + d,
                "accuracy": round(acc, 4),
                "optimal": round(optimal_accuracy(visible), 4),
            }
        )
    return Table(rows)
