"""The Inception module in 3D, shared by I3D and S3D.

Four branches see the same input and are concatenated along channels::

    branch0: 1x1x1 conv                      -> b0 channels
    branch1: 1x1x1 conv (b1_mid), 3x3x3 conv -> b1 channels
    branch2: 1x1x1 conv (b2_mid), 3x3x3 conv -> b2 channels
    branch3: 3x3x3 max pool, 1x1x1 conv      -> b3 channels

I3D uses full 3x3x3 convolutions in branches 1 and 2 (Carreira & Zisserman, 2017 — the 2D network's
5x5 branch was already 3x3 in the Inception-v1 they inflate); S3D replaces them with separable
1x3x3 + 3x1x1 convolutions, and S3D-G gates the output of every branch (Xie et al., 2018).
The child layout matches torchvision's ``SepInceptionBlock3D`` so that S3D weights load.
"""

from __future__ import annotations

import torch
from torch import nn

from vidconv.layers.blocks import ConvBnReLU3d, SeparableConv3d
from vidconv.layers.gates import SelfGating
from vidconv.utils.checks import check_clip_channels


class InceptionBlock3d(nn.Module):
    """Inception module over clips; output has ``b0 + b1 + b2 + b3`` channels and the input's (T, H, W).

    Args:
        in_channels: input channels.
        b0, b1_mid, b1, b2_mid, b2, b3: branch widths (see the module docstring).
        separable: S3D's separable 3x3x3 convolutions instead of full ones (I3D).
        gating: S3D-G self-gating on every branch output.
    """

    def __init__(
        self,
        in_channels: int,
        b0: int,
        b1_mid: int,
        b1: int,
        b2_mid: int,
        b2: int,
        b3: int,
        *,
        separable: bool = False,
        gating: bool = False,
    ) -> None:
        super().__init__()

        def spatio_temporal(cin: int, cout: int) -> nn.Module:
            return (
                SeparableConv3d(cin, cout, 3)
                if separable
                else ConvBnReLU3d(cin, cout, 3)
            )

        self.in_channels = in_channels
        self.branch0 = ConvBnReLU3d(in_channels, b0)
        self.branch1 = nn.Sequential(
            ConvBnReLU3d(in_channels, b1_mid), spatio_temporal(b1_mid, b1)
        )
        self.branch2 = nn.Sequential(
            ConvBnReLU3d(in_channels, b2_mid), spatio_temporal(b2_mid, b2)
        )
        self.branch3 = nn.Sequential(
            nn.MaxPool3d(3, stride=1, padding=1), ConvBnReLU3d(in_channels, b3)
        )
        # Registered only when used, so that an ungated block's state dict is torchvision's.
        self.gates = (
            nn.ModuleList(SelfGating(c) for c in (b0, b1, b2, b3))
            if gating
            else None
        )
        self.out_channels = b0 + b1 + b2 + b3

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_clip_channels(x, self.in_channels, "InceptionBlock3d")
        outs = [
            self.branch0(x),
            self.branch1(x),
            self.branch2(x),
            self.branch3(x),
        ]
        if self.gates is not None:
            outs = [gate(o) for gate, o in zip(self.gates, outs)]
        return torch.cat(outs, dim=1)  # (B, b0 + b1 + b2 + b3, T, H, W)


# Branch widths (b0, b1_mid, b1, b2_mid, b2, b3) of Inception-v1's nine modules, by their names in
# the I3D and S3D papers. Both networks keep them unchanged.
INCEPTION_V1 = {
    "mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}
