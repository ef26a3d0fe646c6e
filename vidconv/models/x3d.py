"""X3D (Feichtenhofer, CVPR 2020, "X3D: Expanding Architectures for Efficient Video Recognition",
https://arxiv.org/abs/2004.04730).

X3D starts from a tiny image network and grows it one axis at a time, keeping the step that buys the
most accuracy per FLOP. The axes (:data:`X3D_AXES`) are input frames, frame rate, spatial resolution,
width, bottleneck width and depth; the published sizes (:data:`X3D_SIZES`) are points on them. The
network itself is a ResNet of inverted bottlenecks:

* stem: a ``1 x 3 x 3`` conv (stride 2 in H, W) then a channel-wise ``5 x 1 x 1`` conv, BN, ReLU;
* four stages (res2-res5), each halving H and W in its first block, never striding time; a block is a
  1x1x1 expansion to ``bottleneck_factor`` times its width, a channel-wise 3x3x3 conv, squeeze-and-
  excitation in every other block, swish, and a 1x1x1 projection;
* head: 1x1x1 conv (conv5), global average pool, 1x1x1 conv to 2048 (fc1), dropout, linear (fc2).

Module for module this is pytorchvideo's ``create_x3d``; :mod:`vidconv.models.pytorchvideo_keys`
renames state dicts between the two (pytorchvideo calls the stem's spatial conv ``conv_t``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from vidconv.layers.gates import SqueezeExcite
from vidconv.models._clip import check_clip
from vidconv.utils.checks import (
    check_int,
    check_number,
    guard_train_batch_norm,
)

STAGE_DEPTHS = (
    1,
    2,
    5,
    3,
)  # blocks per stage before the depth factor (the X2D base)
BASE_WIDTH = 12  # stem and res2 width before the width factor; each later stage doubles it


@dataclass(frozen=True)
class X3DSize:
    """One X3D model: its input (``frames`` sampled every ``temporal_stride`` frames, ``crop`` x ``crop``
    pixels) and its network factors. Only the factors change the network; frames and crop change its input."""

    frames: int
    temporal_stride: int
    crop: int
    width_factor: float = 2.0
    bottleneck_factor: float = 2.25
    depth_factor: float = 2.2

    @property
    def input_shape(self) -> tuple[int, int, int, int, int]:
        """``(1, 3, frames, crop, crop)``: the clip the paper's FLOPs are counted on."""
        return (1, 3, self.frames, self.crop, self.crop)


# The published sizes (PySlowFast's configs/Kinetics/X3D_*.yaml; pytorchvideo's hub models).
X3D_SIZES = {
    "xs": X3DSize(frames=4, temporal_stride=12, crop=160),
    "s": X3DSize(frames=13, temporal_stride=6, crop=160),
    "m": X3DSize(frames=16, temporal_stride=5, crop=224),
    "l": X3DSize(frames=16, temporal_stride=5, crop=312, depth_factor=5.0),
}

# The expansion axes of the paper (Fig. 1), by the X3DSize field each one grows.
X3D_AXES = {
    "frames": "gamma_t: temporal duration, input frames at a fixed frame rate",
    "temporal_stride": "gamma_tau: frame rate (a smaller stride samples more densely; costs nothing by itself)",
    "crop": "gamma_s: spatial resolution, input height and width",
    "width_factor": "gamma_w: channels of every layer",
    "bottleneck_factor": "gamma_b: inner width of each bottleneck, a multiple of its output width",
    "depth_factor": "gamma_d: blocks per stage, a multiple of (1, 2, 5, 3)",
}


def round_width(
    width: float, multiplier: float, *, divisor: int = 8, minimum: int = 8
) -> int:
    """``width * multiplier`` rounded to a multiple of ``divisor`` (at least ``minimum``), never more than
    10% below the exact product: the rounding of PySlowFast and pytorchvideo, so widths match theirs."""
    exact = width * multiplier
    rounded = max(minimum, int(exact + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * exact else rounded)


class X3DBlock(nn.Module):
    """Inverted bottleneck: 1x1x1 to ``inner`` channels, channel-wise 3x3x3 (+ SE), swish, 1x1x1 to ``out``."""

    def __init__(
        self,
        in_channels: int,
        inner: int,
        out_channels: int,
        *,
        stride: int = 1,
        squeeze_excite: bool = True,
    ) -> None:
        super().__init__()
        se = (
            SqueezeExcite(inner, round_width(inner, 1 / 16))
            if squeeze_excite
            else nn.Identity()
        )
        self.conv1 = nn.Sequential(
            nn.Conv3d(in_channels, inner, 1, bias=False),
            nn.BatchNorm3d(inner),
            nn.ReLU(inplace=True),
        )
        self.conv2 = nn.Sequential(
            nn.Conv3d(
                inner,
                inner,
                3,
                stride=(1, stride, stride),
                padding=1,
                groups=inner,
                bias=False,
            ),
            nn.BatchNorm3d(inner),
            se,
            nn.SiLU(),  # SiLU is swish: x * sigmoid(x)
        )
        self.conv3 = nn.Sequential(
            nn.Conv3d(inner, out_channels, 1, bias=False),
            nn.BatchNorm3d(out_channels),
        )
        self.downsample = None
        if in_channels != out_channels or stride != 1:
            # As released: the shortcut gets a batch norm only when it changes the width.
            proj = [
                nn.Conv3d(
                    in_channels,
                    out_channels,
                    1,
                    stride=(1, stride, stride),
                    bias=False,
                )
            ]
            if in_channels != out_channels:
                proj.append(nn.BatchNorm3d(out_channels))
            self.downsample = nn.Sequential(*proj)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv3(self.conv2(self.conv1(x))) + shortcut)


class X3D(nn.Module):
    """X3D over clips ``(B, 3, T, H, W)`` of any size; returns logits ``(B, num_classes)``.

    The released head pools a window fitted to the training clip; this one pools globally, which is the
    same on that clip and lets one network take any clip. Built from the three network factors of
    :class:`X3DSize` (the input factors, frames and crop, are the caller's).
    """

    in_channels = 3

    def __init__(
        self,
        *,
        width_factor: float = 2.0,
        bottleneck_factor: float = 2.25,
        depth_factor: float = 2.2,
        num_classes: int = 400,
        dropout: float = 0.5,
        head_width: int = 2048,
    ) -> None:
        super().__init__()
        check_number(
            width_factor, "width_factor", minimum=0.0, exclusive_minimum=True
        )
        check_number(
            bottleneck_factor,
            "bottleneck_factor",
            minimum=0.0,
            exclusive_minimum=True,
        )
        check_number(
            depth_factor, "depth_factor", minimum=0.0, exclusive_minimum=True
        )
        check_int(num_classes, "num_classes", minimum=1)
        check_int(head_width, "head_width", minimum=1)
        check_number(
            dropout, "dropout", minimum=0.0, maximum=1.0, exclusive_maximum=True
        )
        stem_width = round_width(BASE_WIDTH, width_factor)
        self.stem = nn.Sequential(
            OrderedDict(
                spatial=nn.Conv3d(
                    3,
                    stem_width,
                    (1, 3, 3),
                    stride=(1, 2, 2),
                    padding=(0, 1, 1),
                    bias=False,
                ),
                temporal=nn.Conv3d(
                    stem_width,
                    stem_width,
                    (5, 1, 1),
                    padding=(2, 0, 0),
                    groups=stem_width,
                    bias=False,
                ),
                bn=nn.BatchNorm3d(stem_width),
                relu=nn.ReLU(inplace=True),
            )
        )
        base = [BASE_WIDTH]  # (12, 24, 48, 96) before the width factor
        for _ in range(3):
            base.append(round_width(base[-1], 2.0))
        cin = stem_width
        for i, (b, depth) in enumerate(zip(base, STAGE_DEPTHS)):
            out = round_width(b, width_factor)
            inner = int(bottleneck_factor * out)
            blocks = [
                X3DBlock(
                    cin if j == 0 else out,
                    inner,
                    out,
                    stride=2 if j == 0 else 1,
                    squeeze_excite=j % 2 == 0,
                )
                for j in range(math.ceil(depth_factor * depth))
            ]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            cin = out
        self.head = nn.Sequential(
            OrderedDict(
                conv5=nn.Sequential(
                    nn.Conv3d(cin, inner, 1, bias=False),
                    nn.BatchNorm3d(inner),
                    nn.ReLU(inplace=True),
                ),
                pool=nn.AdaptiveAvgPool3d((1, 1, 1)),
                fc1=nn.Sequential(
                    nn.Conv3d(inner, head_width, 1, bias=False),
                    nn.ReLU(inplace=True),
                ),
                flatten=nn.Flatten(1),
                dropout=nn.Dropout(dropout),
                fc2=nn.Linear(head_width, num_classes),
            )
        )
        guard_train_batch_norm(self, type(self).__name__)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_clip(x, self)
        x = self.stem(x)  # (B, 24, T, H/2, W/2) for X3D-M
        x = self.layer4(
            self.layer3(self.layer2(self.layer1(x)))
        )  # (B, 192, T, H/32, W/32)
        return self.head(x)  # (B, num_classes)


def x3d(
    size: str = "m",
    *,
    num_classes: int = 400,
    dropout: float = 0.5,
    width_factor: float | None = None,
    bottleneck_factor: float | None = None,
    depth_factor: float | None = None,
) -> X3D:
    """X3D-XS, -S, -M or -L (``size`` = ``"xs"``, ``"s"``, ``"m"``, ``"l"``), optionally with one of its
    network factors changed (to grow an axis). Its input is ``X3D_SIZES[size].input_shape``.

    XS, S and M share one network (3,794,274 parameters); they differ in the clip they read.
    """
    if not isinstance(size, str) or size.lower() not in X3D_SIZES:
        raise ValueError(
            f"size must be one of {sorted(X3D_SIZES)} (X3D-XS/S/M/L), got {size!r}"
        )
    spec = X3D_SIZES[size.lower()]
    return X3D(
        width_factor=spec.width_factor
        if width_factor is None
        else width_factor,
        bottleneck_factor=spec.bottleneck_factor
        if bottleneck_factor is None
        else bottleneck_factor,
        depth_factor=spec.depth_factor
        if depth_factor is None
        else depth_factor,
        num_classes=num_classes,
        dropout=dropout,
    )
