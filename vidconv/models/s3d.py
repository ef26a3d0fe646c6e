"""S3D and S3D-G (Xie et al., 2018, "Rethinking Spatiotemporal Feature Learning: Speed-Accuracy
Trade-offs in Video Classification", https://arxiv.org/abs/1712.04851).

S3D is I3D with every 3x3x3 convolution made separable (1x3x3 then 3x1x1). S3D-G adds self-gating.
``s3d()`` matches torchvision's ``s3d`` module for module, so its Kinetics-400 weights load;
``s3d(gating=True)`` adds a :class:`~vidconv.layers.gates.SelfGating` after every Inception branch, as in the
paper's S3D-G (torchvision has no S3D-G; its extra parameters are new).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.models.video import S3D_Weights

from vidconv.layers.blocks import ConvBnReLU3d, SeparableConv3d
from vidconv.layers.inception import INCEPTION_V1, InceptionBlock3d
from vidconv.models._clip import check_clip, check_head
from vidconv.models.weights import classes_for, load_weights, resolve_weights
from vidconv.utils.checks import (
    check_bool,
    guard_train_batch_norm,
)


class S3D(nn.Module):
    """S3D over clips ``(B, 3, T, H, W)``; ``gating=True`` gives S3D-G.

    The head averages a 2x7x7 window (stride 1) and applies a 1x1x1 conv classifier to every
    position before averaging the logits, as the released model does; so the features after the
    last Inception block must be at least 2x7x7, which takes at least 13 frames of 209x209 pixels.
    """

    min_frames = 13
    min_size = 209

    def __init__(
        self,
        num_classes: int = 400,
        dropout: float = 0.2,
        *,
        gating: bool = False,
    ) -> None:
        super().__init__()
        check_head(num_classes, dropout)
        check_bool(gating, "gating")

        def mixed(name: str) -> InceptionBlock3d:
            cin, widths = INCEPTION_V1[name]
            return InceptionBlock3d(cin, *widths, separable=True, gating=gating)

        def pool(
            kernel: tuple[int, int, int],
            stride: tuple[int, int, int],
            padding: tuple[int, int, int],
        ) -> nn.MaxPool3d:
            return nn.MaxPool3d(kernel, stride=stride, padding=padding)

        self.features = nn.Sequential(
            SeparableConv3d(3, 64, 7, stride=2),  # (B, 64, T/2, H/2, W/2)
            pool((1, 3, 3), (1, 2, 2), (0, 1, 1)),  # (B, 64, T/2, H/4, W/4)
            ConvBnReLU3d(64, 64),
            SeparableConv3d(64, 192, 3),
            pool((1, 3, 3), (1, 2, 2), (0, 1, 1)),  # (B, 192, T/2, H/8, W/8)
            mixed("mixed_3b"),
            mixed("mixed_3c"),
            pool((3, 3, 3), (2, 2, 2), (1, 1, 1)),  # (B, 480, T/4, H/16, W/16)
            mixed("mixed_4b"),
            mixed("mixed_4c"),
            mixed("mixed_4d"),
            mixed("mixed_4e"),
            mixed("mixed_4f"),
            pool((2, 2, 2), (2, 2, 2), (0, 0, 0)),  # (B, 832, T/8, H/32, W/32)
            mixed("mixed_5b"),
            mixed("mixed_5c"),  # (B, 1024, T/8, H/32, W/32)
        )
        self.avgpool = nn.AvgPool3d((2, 7, 7), stride=1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Conv3d(1024, num_classes, 1, bias=True)
        )
        guard_train_batch_norm(self, type(self).__name__)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_clip(x, self)
        x = self.avgpool(self.features(x))  # (B, 1024, T', H', W')
        return self.classifier(x).mean(dim=(2, 3, 4))  # (B, num_classes)


def s3d(
    *,
    weights: S3D_Weights | str | None = None,
    progress: bool = True,
    num_classes: int = 400,
    gating: bool = False,
    **kwargs: Any,
) -> S3D:
    """S3D (``gating=False``, torchvision-compatible) or S3D-G (``gating=True``).

    Args:
        weights: ``None``; a ``torchvision.models.video.S3D_Weights`` member or its name; or ``"DEFAULT"``.
            Only for S3D: S3D-G has parameters the checkpoint does not hold.
        progress: show a download progress bar.
        num_classes: classifier width.
        gating: build S3D-G.
    """
    resolved = resolve_weights(weights, S3D_Weights)
    if resolved is not None and gating:
        raise ValueError(
            "torchvision's S3D weights have no self-gating parameters; use gating=False to load them"
        )
    model = S3D(
        num_classes=classes_for(resolved, num_classes), gating=gating, **kwargs
    )
    if resolved is not None:
        load_weights(model, resolved, progress=progress)
    return model
