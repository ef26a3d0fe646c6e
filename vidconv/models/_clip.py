"""The one input check every network in vidconv.models runs before its first layer."""

from __future__ import annotations

import torch

from vidconv.utils.checks import check_clip_channels


def check_clip(
    x: torch.Tensor,
    model: str,
    *,
    channels: int,
    min_frames: int,
    min_size: int,
) -> None:
    """Raise a ValueError naming the expected and received shape if ``model`` cannot process clip ``x``."""
    check_clip_channels(x, channels, model)
    b, _, t, h, w = x.shape
    if t < min_frames or h < min_size or w < min_size:
        raise ValueError(
            f"{model} needs at least {min_frames} frames of {min_size}x{min_size} pixels "
            f"(B, {channels}, >={min_frames}, >={min_size}, >={min_size}), got shape {tuple(x.shape)}"
        )
    if b == 0:
        raise ValueError(f"{model} got an empty batch: shape {tuple(x.shape)}")
