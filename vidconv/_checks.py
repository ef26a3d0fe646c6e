"""Input checks shared by vidconv's public functions.

Every public function calls these first, so a wrong input is answered with a message that names
what was expected and what came in, instead of an error from deep inside torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def check_tensor(x: object, name: str, *, ndim: int | None = None, layout: str = "") -> torch.Tensor:
    """Return ``x`` if it is a tensor with ``ndim`` dimensions, else raise a clear error."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None and x.dim() != ndim:
        hint = f" {layout}" if layout else ""
        raise ValueError(f"{name} must have {ndim} dimensions{hint}, got shape {tuple(x.shape)}")
    if not (x.is_floating_point() or x.is_complex()):
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def check_clip_channels(x: object, channels: int, name: str) -> torch.Tensor:
    """Return ``x`` if it is a float clip ``(B, channels, T, H, W)``; ``name`` says who is asking."""
    check_tensor(x, f"{name} input", ndim=5, layout="(B, C, T, H, W)")
    assert isinstance(x, torch.Tensor)
    if x.shape[1] != channels:
        raise ValueError(f"{name} expects {channels} channels (B, {channels}, T, H, W), got shape {tuple(x.shape)}")
    return x


def as_triple(value: int | Sequence[int], name: str, *, minimum: int) -> tuple[int, int, int]:
    """Expand an int or a 3-sequence of ints to ``(t, h, w)``, each at least ``minimum``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int or a sequence of 3 ints, got bool")
    if isinstance(value, int):
        triple = (value, value, value)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ValueError(f"{name} must be an int or a sequence of 3 ints (t, h, w), got {value!r}")
        triple = (value[0], value[1], value[2])
    else:
        raise TypeError(f"{name} must be an int or a sequence of 3 ints, got {type(value).__name__}")
    if min(triple) < minimum:
        raise ValueError(f"{name} must be >= {minimum} on every axis, got {triple}")
    return triple


def check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_shape(shape: object, name: str, *, ndim: int | None = None) -> tuple[int, ...]:
    """Return ``shape`` as a tuple of positive ints."""
    if isinstance(shape, torch.Size):
        shape = tuple(shape)
    if not isinstance(shape, Sequence) or isinstance(shape, str):
        raise TypeError(f"{name} must be a sequence of ints, got {type(shape).__name__}")
    if not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        raise ValueError(f"{name} must contain positive ints, got {tuple(shape)!r}")
    if ndim is not None and len(shape) != ndim:
        raise ValueError(f"{name} must have {ndim} entries (B, C, T, H, W), got {tuple(shape)!r}")
    return tuple(shape)
