"""The one input check every network in vidconv.models runs before its first layer."""

from __future__ import annotations

import torch
from torch import nn

from vidconv.utils.checks import (
    check_clip_channels,
    check_int,
    check_like,
    check_number,
)


def check_clip(
    x: torch.Tensor,
    model: nn.Module,
    *,
    name: str | None = None,
    channels: int | None = None,
    min_frames: int | None = None,
    min_size: int | None = None,
) -> None:
    """Raise a ValueError naming the expected and received shape if ``model``
    cannot process clip ``x``: its rank, channels, size, batch, dtype and
    device.

    The limits default to the model's ``in_channels`` (else 3),
    ``min_frames`` and ``min_size`` (else 1); ``name`` to its class name.
    """
    name = name or type(model).__name__
    if channels is None:
        channels = getattr(model, "in_channels", 3)
    if min_frames is None:
        min_frames = getattr(model, "min_frames", 1)
    if min_size is None:
        min_size = getattr(model, "min_size", 1)
    check_clip_channels(x, channels, name)
    b, _, t, h, w = x.shape
    if t < min_frames or h < min_size or w < min_size:
        raise ValueError(
            f"{name} needs at least {min_frames} frames of {min_size}x{min_size} pixels "
            f"(B, {channels}, >={min_frames}, >={min_size}, >={min_size}), got shape {tuple(x.shape)}"
        )
    if b == 0:
        raise ValueError(f"{name} got an empty batch: shape {tuple(x.shape)}")
    check_like(x, f"{name} input", model, type(model).__name__)


def check_head(num_classes: object, dropout: object = None) -> None:
    """A classifier's arguments: ``num_classes`` a positive int (a
    TypeError for a non-int), ``dropout``, when given, in [0, 1)."""
    if check_int(num_classes, "num_classes") < 1:
        raise ValueError(
            f"num_classes must be a positive int, got {num_classes!r}"
        )
    if dropout is not None:
        check_number(
            dropout, "dropout", minimum=0.0, maximum=1.0, exclusive_maximum=True
        )
