"""I3D: Inception-v1 inflated to 3D (Carreira & Zisserman, 2017, "Quo Vadis, Action Recognition?
A New Model and the Kinetics Dataset", https://arxiv.org/abs/1705.07750).

Every layer of the 2D Inception-v1 (GoogLeNet with batch norm) gets a temporal extent: the 7x7 stem
becomes 7x7x7 with stride 2 in time too, 3x3 convolutions become 3x3x3, and the pools keep time
intact until the fourth stage (1x3x3 pools first, then 3x3x3 and 2x2x2). Module names follow the
endpoints of DeepMind's release (``conv3d_1a_7x7``, ``mixed_3b`` ...), written in lower case.

Two choices differ from that release, both documented where they are made: padding is symmetric
(TensorFlow pads "SAME" asymmetrically for even totals), and the head averages over all positions
(the release uses a 2x7x7 average pool then averages the logits over time), so any clip of at least
5 frames of 17x17 pixels is accepted.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from vidconv.layers.blocks import ConvBnReLU3d
from vidconv.layers.inception import INCEPTION_V1, InceptionBlock3d
from vidconv.models._clip import check_clip, check_head
from vidconv.utils.checks import (
    check_int,
    guard_train_batch_norm,
)


class I3D(nn.Module):
    """Inflated Inception-v1 over clips ``(B, 3, T, H, W)`` (RGB stream)."""

    min_frames = 5
    min_size = 17

    def __init__(
        self, num_classes: int = 400, dropout: float = 0.5, in_channels: int = 3
    ) -> None:
        super().__init__()
        check_head(num_classes, dropout)
        check_int(in_channels, "in_channels", minimum=1)
        self.in_channels = (
            in_channels  # 3 for RGB, 2 for the optical-flow stream
        )

        def mixed(name: str) -> InceptionBlock3d:
            cin, widths = INCEPTION_V1[name]
            return InceptionBlock3d(cin, *widths)

        self.features = nn.Sequential(
            OrderedDict(
                [
                    (
                        "conv3d_1a_7x7",
                        ConvBnReLU3d(in_channels, 64, 7, stride=2),
                    ),  # (B, 64, T/2, H/2, W/2)
                    (
                        "maxpool3d_2a_3x3",
                        nn.MaxPool3d(
                            (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)
                        ),
                    ),  # (B, 64, T/2, H/4, W/4)
                    ("conv3d_2b_1x1", ConvBnReLU3d(64, 64)),
                    ("conv3d_2c_3x3", ConvBnReLU3d(64, 192, 3)),
                    (
                        "maxpool3d_3a_3x3",
                        nn.MaxPool3d(
                            (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)
                        ),
                    ),  # (B, 192, T/2, H/8, W/8)
                    ("mixed_3b", mixed("mixed_3b")),
                    ("mixed_3c", mixed("mixed_3c")),
                    (
                        "maxpool3d_4a_3x3",
                        nn.MaxPool3d(3, stride=2, padding=1),
                    ),  # (B, 480, T/4, H/16, W/16)
                    ("mixed_4b", mixed("mixed_4b")),
                    ("mixed_4c", mixed("mixed_4c")),
                    ("mixed_4d", mixed("mixed_4d")),
                    ("mixed_4e", mixed("mixed_4e")),
                    ("mixed_4f", mixed("mixed_4f")),
                    (
                        "maxpool3d_5a_2x2",
                        nn.MaxPool3d(2, stride=2),
                    ),  # (B, 832, T/8, H/32, W/32)
                    ("mixed_5b", mixed("mixed_5b")),
                    (
                        "mixed_5c",
                        mixed("mixed_5c"),
                    ),  # (B, 1024, T/8, H/32, W/32)
                ]
            )
        )
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.logits = nn.Conv3d(1024, num_classes, 1, bias=True)
        guard_train_batch_norm(self, type(self).__name__)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_clip(x, self)
        x = self.avgpool(self.features(x))  # (B, 1024, 1, 1, 1)
        return self.logits(self.dropout(x)).flatten(1)  # (B, num_classes)


def i3d(
    *, num_classes: int = 400, dropout: float = 0.5, in_channels: int = 3
) -> I3D:
    """I3D (RGB stream by default; ``in_channels=2`` for the flow stream). No pretrained weights:
    DeepMind's checkpoints are TensorFlow files, and torchvision has no I3D."""
    return I3D(
        num_classes=num_classes, dropout=dropout, in_channels=in_channels
    )
