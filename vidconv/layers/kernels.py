"""Hand-made spatio-temporal kernels, and the moving-bar clips they are tuned to.

A 3D kernel can encode motion because its slices at different time offsets may differ. The kernels
here are written by hand so that what they detect is known in advance; the book compares their
responses to a bar moving right and to the same bar moving left.

Each time slice of :func:`moving_bar_kernel` sums to zero, so the kernel's response summed over a
whole clip is zero whatever the clip: a linear layer followed by a global average cannot report
direction. Order becomes visible only through a non-linearity (a ReLU, a max) before the pooling.
"""

from __future__ import annotations

import torch

from vidconv.utils.checks import (
    check_int,
    check_nonnegative_int,
    check_positive_int,
)


def moving_bar(
    direction: str = "right",
    *,
    frames: int = 8,
    size: int = 16,
    speed: int = 1,
    start: int | None = None,
) -> torch.Tensor:
    """A one-channel clip ``(1, 1, T, H, W)`` of a bright vertical bar moving ``speed`` pixels per frame.

    ``direction`` is ``"right"`` or ``"left"``. The bar starts at column ``start`` (default: 2 pixels
    from the edge it leaves) and wraps around, so every frame holds exactly one bar.
    """
    if direction not in ("right", "left"):
        raise ValueError(
            f"direction must be 'right' or 'left', got {direction!r}"
        )
    frames = check_positive_int(frames, "frames")
    size = check_positive_int(size, "size", minimum=2)
    speed = check_nonnegative_int(speed, "speed")
    step = speed if direction == "right" else -speed
    first = (
        (2 if direction == "right" else size - 3)
        if start is None
        else check_int(start, "start")
    )
    clip = torch.zeros(1, 1, frames, size, size)
    for t in range(frames):
        clip[0, 0, t, :, (first + step * t) % size] = 1.0
    return clip


def moving_bar_kernel(
    direction: str = "right", *, size: int = 3
) -> torch.Tensor:
    """A ``(1, 1, size, size, size)`` kernel matching a vertical bar that moves one pixel per frame.

    At time offset ``i`` the kernel is positive on column ``i`` (or ``size-1-i`` for ``"left"``) and
    negative elsewhere, each slice summing to zero, so a static bar or a uniform frame gives no response.
    """
    if direction not in ("right", "left"):
        raise ValueError(
            f"direction must be 'right' or 'left', got {direction!r}"
        )
    size = check_positive_int(size, "size", minimum=2)
    k = torch.full((size, size, size), -1.0 / (size - 1))  # (T, H, W)
    for i in range(size):
        col = i if direction == "right" else size - 1 - i
        k[i, :, col] = 1.0
    return (k / size**2).reshape(
        1, 1, size, size, size
    )  # (C_out, C_in, T, H, W)


def temporal_difference_kernel(*, size: int = 3) -> torch.Tensor:
    """A ``(1, 1, 2, size, size)`` kernel: the spatial average of frame t+1 minus that of frame t.

    It answers "did anything change?" and is blind to direction: a bar moving left or right excites it alike.
    """
    size = check_positive_int(size, "size")
    k = torch.empty(2, size, size)  # (T, H, W)
    k[0], k[1] = -1.0 / size**2, 1.0 / size**2
    return k.reshape(1, 1, 2, size, size)
