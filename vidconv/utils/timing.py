"""Wall time of a piece of work, measured honestly on any device.

A CUDA kernel returns before it has run: timing it means synchronising
before the clock starts and before it stops. The speed measurements of the
experiments go through :func:`timed` or :func:`median_seconds`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TypeVar

import torch

from vidconv.utils.checks import check_nonnegative_int, check_positive_int

T = TypeVar("T")


def synchronize(device: torch.device | None) -> None:
    """Wait for ``device``'s queued work (a no-op off CUDA)."""
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(
    fn: Callable[[], T], device: torch.device | None = None
) -> tuple[T, float]:
    """``(fn(), seconds)``, synchronised on ``device`` before and after.

    Without ``device``, a CUDA tensor that ``fn`` returns is waited for.
    """
    synchronize(device)
    start = time.perf_counter()
    out = fn()
    if device is None and isinstance(out, torch.Tensor) and out.is_cuda:
        device = out.device
    synchronize(device)
    return out, time.perf_counter() - start


def median_seconds(
    fn: Callable[[], object],
    device: torch.device,
    *,
    repeats: int = 5,
    warmup: int = 1,
) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup``
    calls (synchronised on CUDA)."""
    repeats = check_positive_int(repeats, "repeats")
    warmup = check_nonnegative_int(warmup, "warmup")
    for _ in range(warmup):
        fn()
    return statistics.median(timed(fn, device)[1] for _ in range(repeats))
