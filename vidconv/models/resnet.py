"""Video ResNets: R3D, MC3 and R(2+1)D (Tran et al., 2018, "A Closer Look at Spatiotemporal
Convolutions for Action Recognition", https://arxiv.org/abs/1711.11248).

One network class, :class:`VideoResNet`, is parametrised by its stem and by the conv builder of each
of its four stages; the three published 18-layer variants differ only there:

=============  ==========================  ====================================================
builder        stem                        stages 1-4
=============  ==========================  ====================================================
r3d_18         3x7x7 conv                  full 3x3x3 convs everywhere
mc3_18         3x7x7 conv                  3x3x3 in stage 1, 1x3x3 ("mixed convolution") after
r2plus1d_18    1x7x7 then 3x1x1 conv       (2+1)D convs everywhere
=============  ==========================  ====================================================

Module names and order match torchvision's ``torchvision.models.video`` networks, so their state
dicts — and torchvision's Kinetics-400 weights — load with ``strict=True`` in both directions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torchvision.models.video import (
    MC3_18_Weights,
    R2Plus1D_18_Weights,
    R3D_18_Weights,
)

from vidconv.layers.blocks import (
    Conv2Plus1d,
    Conv3dNoTemporal,
    FullConv3d,
    midplanes_for_2plus1d,
)
from vidconv.models._clip import check_clip, check_head
from vidconv.models.weights import classes_for, load_weights, resolve_weights
from vidconv.utils.checks import (
    check_bool,
    check_int_sequence,
    check_positive_int,
    guard_train_batch_norm,
)

ConvBuilder = type[FullConv3d] | type[Conv3dNoTemporal] | type[Conv2Plus1d]


class BasicBlock(nn.Module):
    """Two convolutions and a shortcut: ``relu(conv2(conv1(x)) + shortcut(x))``."""

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        channels: int,
        conv: ConvBuilder,
        stride: int = 1,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        # One middle width per block, from the block's input width, for both of its convs: that is
        # what the released R(2+1)D models (and torchvision) do, so their weights fit. When the block
        # widens (in_channels < channels) its second conv therefore has fewer weights than a full 3D
        # conv: layer2.0.conv2 gets M = 230, not the 288 of eq. 5 for 128 -> 128.
        mid = midplanes_for_2plus1d(in_channels, channels)
        self.conv1 = nn.Sequential(
            conv(in_channels, channels, mid_channels=mid, stride=stride),
            nn.BatchNorm3d(channels),
            nn.ReLU(inplace=True),
        )
        self.conv2 = nn.Sequential(
            conv(channels, channels, mid_channels=mid), nn.BatchNorm3d(channels)
        )
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + shortcut)


class Bottleneck(nn.Module):
    """1x1x1 reduce, the builder's conv, 1x1x1 expand (x4), and a shortcut.

    ``temporal_kernel_size`` (odd, keyword only) makes the reducing conv ``k_t x 1 x 1``: SlowFast's
    blocks put their temporal filtering there, before a ``1 x 3 x 3`` spatial conv.
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        channels: int,
        conv: ConvBuilder,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        temporal_kernel_size: int = 1,
    ) -> None:
        super().__init__()
        k_t = check_positive_int(temporal_kernel_size, "temporal_kernel_size")
        if k_t % 2 == 0:
            raise ValueError(
                f"temporal_kernel_size must be odd so that T is kept, got {k_t}"
            )
        mid = midplanes_for_2plus1d(in_channels, channels)
        out = channels * self.expansion
        self.conv1 = nn.Sequential(
            nn.Conv3d(
                in_channels,
                channels,
                (k_t, 1, 1),
                padding=(k_t // 2, 0, 0),
                bias=False,
            ),
            nn.BatchNorm3d(channels),
            nn.ReLU(inplace=True),
        )
        self.conv2 = nn.Sequential(
            conv(channels, channels, mid_channels=mid, stride=stride),
            nn.BatchNorm3d(channels),
            nn.ReLU(inplace=True),
        )
        self.conv3 = nn.Sequential(
            nn.Conv3d(channels, out, 1, bias=False), nn.BatchNorm3d(out)
        )
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv3(self.conv2(self.conv1(x))) + shortcut)


class BasicStem(nn.Sequential):
    """R3D/MC3 stem: a 3x7x7 conv that halves height and width, batch norm, ReLU.

    ``temporal_kernel_size`` (odd, time kept) is 3 as released; 1 filters each frame alone.
    """

    def __init__(
        self, out_channels: int = 64, *, temporal_kernel_size: int = 3
    ) -> None:
        check_positive_int(out_channels, "out_channels")
        k_t = check_positive_int(temporal_kernel_size, "temporal_kernel_size")
        if k_t % 2 == 0:
            raise ValueError(
                f"temporal_kernel_size must be odd so that T is kept, got {k_t}"
            )
        super().__init__(
            nn.Conv3d(
                3,
                out_channels,
                (k_t, 7, 7),
                stride=(1, 2, 2),
                padding=(k_t // 2, 3, 3),
                bias=False,
            ),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
        )


class R2Plus1dStem(nn.Sequential):
    """R(2+1)D stem: the 3x7x7 conv factorised into 1x7x7 (``mid_channels``, 45 as released) and 3x1x1."""

    def __init__(
        self, out_channels: int = 64, *, mid_channels: int = 45
    ) -> None:
        check_positive_int(out_channels, "out_channels")
        check_positive_int(mid_channels, "mid_channels")
        factorised = Conv2Plus1d(  # 1x7x7 (stride 2 in space), then 3x1x1
            3,
            out_channels,
            mid_channels=mid_channels,
            spatial_kernel_size=7,
            stride=2,
            temporal_stride=1,
        )
        super().__init__(
            *factorised,  # children 0-3, as torchvision numbers them
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
        )


class VideoResNet(nn.Module):
    """A ResNet over clips ``(B, 3, T, H, W)``: stem, four stages, global average pool, linear classifier.

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        conv_builders: the conv builder of each of the four stages.
        layers: number of blocks in each stage.
        stem: builds the stem; called with no argument, it must output ``widths[0]`` channels.
        num_classes: width of the classifier.
        zero_init_residual: start each residual branch at zero (its last batch norm's scale is 0).
        widths: channels of the four stages (before a bottleneck's expansion); the released networks
            use (64, 128, 256, 512); narrower ones make CPU-sized miniatures of the same topology.
    """

    in_channels = 3  # RGB clips, as for I3D
    min_frames = 1
    min_size = 1

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        conv_builders: Sequence[ConvBuilder],
        layers: Sequence[int],
        stem: Callable[[], nn.Module],
        num_classes: int = 400,
        zero_init_residual: bool = False,
        *,
        widths: Sequence[int] = (64, 128, 256, 512),
    ) -> None:
        super().__init__()
        check_head(num_classes)
        check_int_sequence(layers, "layers", length=4, minimum=1)
        check_bool(zero_init_residual, "zero_init_residual")
        check_int_sequence(widths, "widths", length=4, minimum=1)
        if len(conv_builders) != 4 or len(layers) != 4:
            raise ValueError(
                f"need 4 conv builders and 4 stage depths, got {len(conv_builders)} and {len(layers)}"
            )
        self.widths = tuple(int(w) for w in widths)
        self.inplanes = self.widths[
            0
        ]  # builder state, as in torchvision: the width the next stage reads
        self.stem = stem()
        self.layer1 = self._stage(
            block, conv_builders[0], self.widths[0], layers[0], stride=1
        )
        self.layer2 = self._stage(
            block, conv_builders[1], self.widths[1], layers[1], stride=2
        )
        self.layer3 = self._stage(
            block, conv_builders[2], self.widths[2], layers[2], stride=2
        )
        self.layer4 = self._stage(
            block, conv_builders[3], self.widths[3], layers[3], stride=2
        )
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(self.widths[3] * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(
                    m.weight, mode="fan_out", nonlinearity="relu"
                )
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    last = (
                        m.conv3[1] if isinstance(m, Bottleneck) else m.conv2[1]
                    )
                    nn.init.zeros_(last.weight)
        guard_train_batch_norm(self, type(self).__name__)

    def _stage(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        conv: ConvBuilder,
        channels: int,
        depth: int,
        stride: int,
    ) -> nn.Sequential:
        out = channels * block.expansion
        downsample = None
        if stride != 1 or self.inplanes != out:
            # The shortcut must land on the same grid as the block: stride it as the conv builder strides.
            downsample = nn.Sequential(
                nn.Conv3d(
                    self.inplanes,
                    out,
                    1,
                    stride=conv.downsample_stride(stride),
                    bias=False,
                ),
                nn.BatchNorm3d(out),
            )
        blocks = [block(self.inplanes, channels, conv, stride, downsample)]
        self.inplanes = out
        blocks += [block(out, channels, conv) for _ in range(1, depth)]
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_clip(x, self)
        x = self.stem(x)  # (B, widths[0], T, H/2, W/2)
        x = self.layer4(
            self.layer3(self.layer2(self.layer1(x)))
        )  # (B, widths[3], T/8, H/16, W/16) for R3D
        x = self.avgpool(x).flatten(1)  # (B, widths[3] * expansion)
        return self.fc(x)


def _video_resnet(
    conv_builders: Sequence[ConvBuilder],
    stem: Callable[[], nn.Module],
    weights_enum: Any,
    weights: Any,
    progress: bool,
    num_classes: int,
    **kwargs: Any,
) -> VideoResNet:
    resolved = resolve_weights(weights, weights_enum)
    model = VideoResNet(
        BasicBlock,
        conv_builders,
        [2, 2, 2, 2],
        stem,
        num_classes=classes_for(resolved, num_classes),
        **kwargs,
    )
    if resolved is not None:
        load_weights(model, resolved, progress=progress)
    return model


def r3d_18(
    *,
    weights: R3D_18_Weights | str | None = None,
    progress: bool = True,
    num_classes: int = 400,
    **kwargs: Any,
) -> VideoResNet:
    """R3D-18: an 18-layer ResNet of full 3x3x3 convolutions (Tran et al., 2018; Hara et al., 2018).

    Args:
        weights: ``None``; a ``torchvision.models.video.R3D_18_Weights`` member or its name; or ``"DEFAULT"``.
            Loaded through torch's hub cache; offline and uncached, fails at once with a message.
        progress: show a download progress bar.
        num_classes: classifier width (must match the weights' 400 classes when weights are given).
    """
    return _video_resnet(
        [FullConv3d] * 4,
        BasicStem,
        R3D_18_Weights,
        weights,
        progress,
        num_classes,
        **kwargs,
    )


def mc3_18(
    *,
    weights: MC3_18_Weights | str | None = None,
    progress: bool = True,
    num_classes: int = 400,
    **kwargs: Any,
) -> VideoResNet:
    """MC3-18: 3D convolutions in the first stage only, 1x3x3 ("2D") convolutions above (Tran et al., 2018).

    Arguments as for :func:`r3d_18`, with ``torchvision.models.video.MC3_18_Weights``.
    """
    return _video_resnet(
        [FullConv3d] + [Conv3dNoTemporal] * 3,
        BasicStem,
        MC3_18_Weights,
        weights,
        progress,
        num_classes,
        **kwargs,
    )


def r2plus1d_18(
    *,
    weights: R2Plus1D_18_Weights | str | None = None,
    progress: bool = True,
    num_classes: int = 400,
    **kwargs: Any,
) -> VideoResNet:
    """R(2+1)D-18: every 3x3x3 convolution factorised into 1x3x3 and 3x1x1 (Tran et al., 2018).

    Arguments as for :func:`r3d_18`, with ``torchvision.models.video.R2Plus1D_18_Weights``.
    """
    return _video_resnet(
        [Conv2Plus1d] * 4,
        R2Plus1dStem,
        R2Plus1D_18_Weights,
        weights,
        progress,
        num_classes,
        **kwargs,
    )
