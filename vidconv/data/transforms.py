"""Clip preprocessing: the recipe torchvision's Kinetics video models expect,
and training augmentation.

Clips are ``(C, T, H, W)`` floats in [0, 1] (what
:func:`vidconv.data.video_io.read_video` returns). A spatial operation on that
tensor acts on every frame alike, which is exactly what a clip needs: one crop
position and one flip decision per clip, never per frame.

torchvision's Kinetics-400 weights for R3D/MC3/R(2+1)D were trained on frames
resized to 128x171, centre-cropped to 112x112 and normalised with the Kinetics
mean and standard deviation below.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from vidconv.utils.checks import (
    check_int,
    check_int_sequence,
    check_number,
    check_positive_int,
    check_tensor,
)

KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


def _check_clip(clip: torch.Tensor) -> None:
    check_tensor(clip, "clip", ndim=4, layout="(C, T, H, W)")
    if clip.shape[0] != 3:
        raise ValueError(
            f"clip must be RGB (3, T, H, W), got shape {tuple(clip.shape)}"
        )
    if 0 in clip.shape:
        raise ValueError(
            f"clip is empty: shape {tuple(clip.shape)} (3, T, H, W) "
            "needs T, H, W >= 1"
        )


def _check_size(size: object, name: str) -> tuple[int, int]:
    """``(H, W)``, each >= 1; a single int is refused (is it the height, the
    width, or the short side?)."""
    if isinstance(size, numbers.Number):
        raise TypeError(
            f"{name} must be a pair (H, W) of ints, got {type(size).__name__} "
            f"{size!r}"
        )
    h, w = check_int_sequence(size, name, length=2, minimum=1)
    return h, w


def _check_channel_stats(
    values: object, name: str, *, positive: bool
) -> tuple[float, float, float]:
    if (
        isinstance(values, (str, bytes))
        or not isinstance(values, Sequence)
        or len(values) != 3
    ):
        raise ValueError(
            f"{name} must be 3 numbers, one per RGB channel, got {values!r}"
        )
    return tuple(
        check_number(
            v,
            f"{name}[{i}]",
            minimum=0.0 if positive else None,
            exclusive_minimum=positive,
        )
        for i, v in enumerate(values)
    )  # type: ignore[return-value]


def resize(
    clip: torch.Tensor, size: Sequence[int], *, antialias: bool = False
) -> torch.Tensor:
    """Bilinear resize of every frame to ``size = (H, W)``.

    ``antialias=False`` by default because torchvision's Kinetics weights were
    trained on frames resized without it (its preset hard-codes that); turn it
    on for new training from scratch.
    """
    _check_clip(clip)
    h, w = _check_size(size, "size")
    if not isinstance(antialias, bool):
        raise TypeError(f"antialias must be True or False, got {antialias!r}")
    frames = clip.transpose(0, 1)  # (T, C, H, W): frames as a batch of images
    out = F.interpolate(
        frames,
        size=(h, w),
        mode="bilinear",
        align_corners=False,
        antialias=antialias,
    )
    return out.transpose(0, 1)  # (C, T, h, w)


def crop(clip: torch.Tensor, top: int, left: int, size: int) -> torch.Tensor:
    """The ``size x size`` window at ``(top, left)`` of every frame."""
    _check_clip(clip)
    top, left = (
        check_int(top, "top", minimum=0),
        check_int(left, "left", minimum=0),
    )
    size = check_int(size, "size", minimum=1)
    if not (
        0 <= top
        and 0 <= left
        and top + size <= clip.shape[2]
        and left + size <= clip.shape[3]
    ):
        raise ValueError(
            f"crop of size={size} at top={top}, left={left} does not fit "
            f"frames of {clip.shape[2]}x{clip.shape[3]} (H x W)"
        )
    return clip[:, :, top : top + size, left : left + size]


def center_crop(clip: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size x size`` window (rounded as torchvision rounds it)."""
    _check_clip(clip)
    size = check_int(size, "size", minimum=1)
    h, w = clip.shape[2:]
    if size > min(h, w):
        raise ValueError(
            f"center_crop size {size} is larger than the frames "
            f"{h}x{w} of clip {tuple(clip.shape)}"
        )
    return crop(
        clip, int(round((h - size) / 2.0)), int(round((w - size) / 2.0)), size
    )


def normalize(
    clip: torch.Tensor,
    mean: Sequence[float] = KINETICS_MEAN,
    std: Sequence[float] = KINETICS_STD,
) -> torch.Tensor:
    """Per-channel ``(x - mean) / std``."""
    _check_clip(clip)
    mean = _check_channel_stats(mean, "mean", positive=False)
    std = _check_channel_stats(std, "std", positive=True)
    m = torch.tensor(mean, dtype=clip.dtype, device=clip.device).view(
        3, 1, 1, 1
    )
    s = torch.tensor(std, dtype=clip.dtype, device=clip.device).view(3, 1, 1, 1)
    return (clip - m) / s


def _check_resize_crop(
    resize_size: Sequence[int], crop_size: int
) -> tuple[tuple[int, int], int]:
    size = _check_size(resize_size, "resize_size")
    crop = check_positive_int(crop_size, "crop_size")
    if crop > min(size):
        raise ValueError(
            f"crop_size {crop_size} does not fit frames resized to {size}"
        )
    return size, crop


class KineticsEval:
    """Resize to 128x171, centre crop 112, normalise: torchvision's
    ``VideoClassification`` preset."""

    def __init__(
        self, resize_size: Sequence[int] = (128, 171), crop_size: int = 112
    ) -> None:
        self.resize_size, self.crop_size = _check_resize_crop(
            resize_size, crop_size
        )

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return normalize(
            center_crop(resize(clip, self.resize_size), self.crop_size)
        )


class KineticsTrain:
    """Resize to 128x171, a random 112 crop and a random horizontal flip (one
    draw per clip), normalise."""

    def __init__(
        self,
        resize_size: Sequence[int] = (128, 171),
        crop_size: int = 112,
        flip_p: float = 0.5,
        generator: torch.Generator | None = None,
    ) -> None:
        self.resize_size, self.crop_size = _check_resize_crop(
            resize_size, crop_size
        )
        self.flip_p = check_number(flip_p, "flip_p", minimum=0.0, maximum=1.0)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(
                "generator must be a torch.Generator or None, "
                f"got {type(generator).__name__}"
            )
        self.generator = generator

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:  # noqa: D102
        clip = resize(clip, self.resize_size)
        h, w = clip.shape[2:]
        draws = torch.rand(3, generator=self.generator).tolist()
        top = int(draws[0] * (h - self.crop_size + 1))
        left = int(draws[1] * (w - self.crop_size + 1))
        clip = crop(clip, top, left, self.crop_size)
        if draws[2] < self.flip_p:
            clip = clip.flip(-1)  # every frame flipped alike
        return normalize(clip)
