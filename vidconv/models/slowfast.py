"""SlowFast (Feichtenhofer, Fan, Malik & He, ICCV 2019, "SlowFast Networks for Video Recognition",
https://arxiv.org/abs/1812.03982).

Two ResNet pathways read one clip at two frame rates:

* the **Slow** pathway sees every ``alpha``-th frame with the full width (64, 128, 256, 512 bottleneck
  channels): appearance, at a low frame rate; its first two stages have no temporal kernel at all;
* the **Fast** pathway sees every frame with ``beta`` (1/8) of the width: motion, cheaply;
* **lateral connections** after the stem and after stages 1-3 carry Fast features into the Slow pathway:
  a ``k_t x 1 x 1`` conv with temporal stride ``alpha`` puts them on the Slow pathway's frame grid, and
  they are concatenated to its channels (``lateral_ratio * beta * C`` of them).

The head averages each pathway over time and space, concatenates the two and classifies. (pytorchvideo's
head averages fixed 8x7x7 and 32x7x7 windows, then the windows: the same on the 8 + 32 frame, 224-pixel
training clip; a global average lets one network take any clip.)

Module for module this is pytorchvideo's ``create_slowfast`` (the released SlowFast-R50 8x8), with
names a diagram can show (``slow.layer2``, ``laterals.1``); :mod:`vidconv.models.pytorchvideo_keys`
renames state dicts between the two, so their weights load with ``strict=True`` both ways.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from vidconv.layers.blocks import Conv3dNoTemporal
from vidconv.models.resnet import BasicStem, Bottleneck
from vidconv.utils.checks import (
    check_clip_channels,
    check_int,
    check_int_sequence,
    check_like,
    check_number,
    check_positive_int,
    guard_train_batch_norm,
)


class SlowFastStem(nn.Sequential):
    """A pathway's stem: :class:`~vidconv.models.resnet.BasicStem` (``k_t x 7 x 7`` conv, BN, ReLU, H and W
    halved) and a ``1 x 3 x 3`` max pool that halves them again."""

    def __init__(self, out_channels: int, *, temporal_kernel_size: int) -> None:
        stem = BasicStem(
            out_channels, temporal_kernel_size=temporal_kernel_size
        )
        super().__init__(
            *stem, nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        )


class FastToSlow(nn.Sequential):
    """A lateral connection: ``k_t x 1 x 1`` conv with temporal stride ``alpha``, BN, ReLU.

    It maps Fast features ``(B, C_f, T, H, W)`` to ``(B, ratio * C_f, ceil(T / alpha), H, W)``, the Slow
    pathway's frame grid, where :class:`SlowFast` concatenates them to the Slow features.
    """

    def __init__(
        self,
        fast_channels: int,
        *,
        alpha: int,
        ratio: int = 2,
        kernel_size: int = 7,
    ) -> None:
        c = check_positive_int(fast_channels, "fast_channels")
        k = check_positive_int(kernel_size, "lateral_kernel_size")
        if k % 2 == 0:
            raise ValueError(
                f"lateral_kernel_size must be odd (centred on a slow frame), got {k}"
            )
        out = check_positive_int(ratio, "lateral_ratio") * c
        super().__init__(
            nn.Conv3d(
                c,
                out,
                (k, 1, 1),
                stride=(check_positive_int(alpha, "alpha"), 1, 1),
                padding=(k // 2, 0, 0),
                bias=False,
            ),
            nn.BatchNorm3d(out),
            nn.ReLU(inplace=True),
        )


class Pathway(nn.Module):
    """One pathway: a stem and four bottleneck stages (``layer1`` .. ``layer4``, the paper's res2 .. res5).

    ``in_widths[i]`` is what stage ``i`` reads: for the Slow pathway its own output plus what the lateral
    connection before it concatenated.
    """

    def __init__(
        self,
        stem: nn.Module,
        in_widths: Sequence[int],
        widths: Sequence[int],
        layers: Sequence[int],
        temporal_kernels: Sequence[int],
    ) -> None:
        super().__init__()
        self.stem = stem
        for i, (cin, width, depth, k_t) in enumerate(
            zip(in_widths, widths, layers, temporal_kernels)
        ):
            stride = (
                1 if i == 0 else 2
            )  # res2 keeps H, W (the stem pooled); res3-res5 halve them
            self.add_module(
                f"layer{i + 1}", _stage(cin, width, depth, stride, k_t)
            )

    def stages(self) -> list[nn.Module]:
        """``[layer1, layer2, layer3, layer4]``."""
        return [self.layer1, self.layer2, self.layer3, self.layer4]


def _stage(
    in_channels: int,
    channels: int,
    depth: int,
    stride: int,
    temporal_kernel_size: int,
) -> nn.Sequential:
    """Bottleneck blocks whose middle conv is ``1 x 3 x 3`` (time is never strided) and whose first conv
    is ``k_t x 1 x 1``; the first block strides H and W and projects the shortcut."""
    out = channels * Bottleneck.expansion
    downsample = None
    if stride != 1 or in_channels != out:
        downsample = nn.Sequential(
            nn.Conv3d(
                in_channels, out, 1, stride=(1, stride, stride), bias=False
            ),
            nn.BatchNorm3d(out),
        )
    blocks = [
        Bottleneck(
            in_channels,
            channels,
            Conv3dNoTemporal,
            stride,
            downsample,
            temporal_kernel_size=temporal_kernel_size,
        )
    ]
    blocks += [
        Bottleneck(
            out,
            channels,
            Conv3dNoTemporal,
            temporal_kernel_size=temporal_kernel_size,
        )
        for _ in range(1, depth)
    ]
    return nn.Sequential(*blocks)


class SlowFast(nn.Module):
    """SlowFast over one clip ``(B, 3, T, H, W)`` at the Fast frame rate, or over ``[slow, fast]``.

    Given one clip, the Slow pathway reads ``clip[:, :, ::alpha]``, so ``T`` must be a multiple of
    ``alpha``. Given two clips (sampled as you like, e.g. PySlowFast's evenly spaced slow frames), the
    Slow one must have ``ceil(T_fast / alpha)`` frames. Returns logits ``(B, num_classes)``.

    Args:
        layers: bottleneck blocks per stage; (3, 4, 6, 3) is ResNet-50.
        widths: Slow bottleneck widths per stage (outputs are 4x); the Slow stem has ``widths[0]`` channels.
        alpha: frame-rate ratio, Fast frames per Slow frame (and the laterals' temporal stride).
        beta: channel ratio, Fast width / Slow width (1/8); each ``width * beta`` must be a whole number.
        lateral_ratio: a lateral connection outputs ``lateral_ratio`` times the Fast channels it reads.
        lateral_kernel_size: temporal kernel of the lateral convs (7 in the released models; the paper says 5).
        slow_temporal_kernels, fast_temporal_kernels: ``k_t`` of each stage's first conv; the Slow pathway's
            stem is ``1 x 7 x 7`` and the Fast one's ``5 x 7 x 7``.
        num_classes, dropout: the classifier.
    """

    def __init__(
        self,
        *,
        layers: Sequence[int] = (3, 4, 6, 3),
        widths: Sequence[int] = (64, 128, 256, 512),
        alpha: int = 4,
        beta: float = 1 / 8,
        lateral_ratio: int = 2,
        lateral_kernel_size: int = 7,
        slow_temporal_kernels: Sequence[int] = (1, 1, 3, 3),
        fast_temporal_kernels: Sequence[int] = (3, 3, 3, 3),
        num_classes: int = 400,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        layers = check_int_sequence(layers, "layers", length=4, minimum=1)
        widths = check_int_sequence(widths, "widths", length=4, minimum=1)
        slow_kt = check_int_sequence(
            slow_temporal_kernels, "slow_temporal_kernels", length=4, minimum=1
        )
        fast_kt = check_int_sequence(
            fast_temporal_kernels, "fast_temporal_kernels", length=4, minimum=1
        )
        self.alpha = check_positive_int(alpha, "alpha")
        self.beta = check_number(
            beta, "beta", minimum=0.0, maximum=1.0, exclusive_minimum=True
        )
        ratio = check_positive_int(lateral_ratio, "lateral_ratio")
        check_positive_int(num_classes, "num_classes")
        check_number(
            dropout, "dropout", minimum=0.0, maximum=1.0, exclusive_maximum=True
        )
        fast_widths = tuple(round(w * self.beta) for w in widths)
        if any(
            f < 1 or abs(f - w * self.beta) > 1e-6
            for f, w in zip(fast_widths, widths)
        ):
            raise ValueError(
                f"beta * widths must be whole numbers >= 1 (the Fast pathway's widths), "
                f"got beta={beta} and widths={widths}"
            )
        expansion = Bottleneck.expansion
        slow_out = [
            w * expansion for w in widths
        ]  # what each Slow stage outputs
        fast_out = [f * expansion for f in fast_widths]
        # The Slow stage i reads its predecessor's output plus the lateral's ratio x Fast channels.
        slow_in = [widths[0] + ratio * fast_widths[0]] + [
            s + ratio * f for s, f in zip(slow_out[:3], fast_out[:3])
        ]
        fast_in = [fast_widths[0]] + fast_out[:3]
        self.slow = Pathway(
            SlowFastStem(widths[0], temporal_kernel_size=1),
            slow_in,
            widths,
            layers,
            slow_kt,
        )
        self.fast = Pathway(
            SlowFastStem(fast_widths[0], temporal_kernel_size=5),
            fast_in,
            fast_widths,
            layers,
            fast_kt,
        )
        self.laterals = nn.ModuleList(
            FastToSlow(
                c,
                alpha=self.alpha,
                ratio=ratio,
                kernel_size=lateral_kernel_size,
            )
            for c in [fast_widths[0]] + fast_out[:3]
        )
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(slow_out[3] + fast_out[3], num_classes)
        guard_train_batch_norm(self, type(self).__name__)

    def split(
        self, x: torch.Tensor | Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The two pathways' inputs ``(slow, fast)`` for a clip (or a checked ``[slow, fast]`` pair)."""
        name = type(self).__name__
        if isinstance(x, (list, tuple)):
            if len(x) != 2:
                raise ValueError(
                    f"{name} takes one clip or a pair [slow, fast], got a sequence of {len(x)}"
                )
            slow, fast = (
                check_clip_channels(c, 3, f"{name} {p}", self)
                for c, p in zip(x, ("slow", "fast"))
            )
            want = -(
                -fast.shape[2] // self.alpha
            )  # ceil(T_fast / alpha): the laterals' output length
            if (
                slow.shape[2] != want
                or slow.shape[0] != fast.shape[0]
                or slow.shape[3:] != fast.shape[3:]
            ):
                raise ValueError(
                    f"{name} needs a slow clip of ceil(T_fast / alpha={self.alpha}) = {want} frames "
                    f"with the fast clip's batch, height and width; got slow {tuple(slow.shape)} "
                    f"and fast {tuple(fast.shape)}"
                )
            return slow, fast
        check_clip_channels(x, 3, name, self)
        t = x.shape[2]
        if t < self.alpha or t % self.alpha:
            raise ValueError(
                f"{name} needs a clip whose frame count is a multiple of alpha={self.alpha} (the "
                f"Slow pathway reads every {self.alpha}th frame, the Fast one all of them), "
                f"got T={t} in shape {tuple(x.shape)}"
            )
        return x[
            :, :, :: self.alpha
        ], x  # (B, 3, T/alpha, H, W), (B, 3, T, H, W)

    def forward(self, x: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:  # noqa: D102
        slow, fast = self.split(x)
        if slow.shape[0] == 0:
            raise ValueError(
                f"{type(self).__name__} got an empty batch: shape {tuple(slow.shape)}"
            )
        check_like(
            fast, f"{type(self).__name__} input", self, type(self).__name__
        )
        slow, fast = (
            self.slow.stem(slow),
            self.fast.stem(fast),
        )  # (B, 64, T/a, H/4, W/4), (B, 8, T, H/4, W/4)
        for i, (slow_stage, fast_stage) in enumerate(
            zip(self.slow.stages(), self.fast.stages())
        ):
            slow = torch.cat(
                [slow, self.laterals[i](fast)], dim=1
            )  # (B, C_s + ratio * C_f, T/a, H', W')
            slow, fast = slow_stage(slow), fast_stage(fast)
        slow = self.avgpool(slow).flatten(1)  # (B, 4 * widths[3])
        fast = self.avgpool(fast).flatten(1)  # (B, 4 * beta * widths[3])
        return self.fc(
            self.dropout(torch.cat([slow, fast], dim=1))
        )  # (B, num_classes)


def slowfast_r50(
    *,
    num_classes: int = 400,
    alpha: int = 4,
    beta: float = 1 / 8,
    lateral_ratio: int = 2,
    lateral_kernel_size: int = 7,
    dropout: float = 0.5,
) -> SlowFast:
    """SlowFast-R50 as released (the "8x8" model: 8 Slow frames and 32 Fast frames, ``alpha=4``).

    34,566,488 parameters, as pytorchvideo's ``create_slowfast``. No weights are downloaded; to use
    pytorchvideo's Kinetics-400 checkpoint, rename its keys with
    :func:`vidconv.models.pytorchvideo_keys.slowfast_from_pytorchvideo` and ``load_state_dict``.
    """
    return SlowFast(
        num_classes=check_int(num_classes, "num_classes", minimum=1),
        alpha=alpha,
        beta=beta,
        lateral_ratio=lateral_ratio,
        lateral_kernel_size=lateral_kernel_size,
        dropout=dropout,
    )
