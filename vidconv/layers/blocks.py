"""Convolution building blocks that differ in how they treat time.

* :class:`PerFrameConv2d` — a 2D convolution applied to every frame on its own (no temporal extent).
* :class:`FullConv3d` — the full ``3 x 3 x 3`` spatio-temporal convolution (R3D).
* :class:`Conv3dNoTemporal` — a ``1 x 3 x 3`` convolution: 3D in layout, 2D in effect (the upper layers of MC3).
* :class:`Conv2Plus1d` — a spatial ``1 x k_s x k_s`` convolution followed by a temporal ``k_t x 1 x 1``
  one; by default the middle width M gives it (up to rounding down) the parameters of the full
  ``k_t x k_s x k_s`` convolution it replaces (Tran et al., 2018, "A Closer Look at Spatiotemporal
  Convolutions for Action Recognition", eq. 5). The released R(2+1)D networks instead compute M once
  per residual block from the block's input width and use it for both convolutions, so a block's
  second convolution has fewer parameters than a full 3D one whenever the block widens the channels.
* :class:`ConvBnReLU3d` — convolution, batch norm, ReLU: the unit of Inception networks.
* :class:`SeparableConv3d` — S3D's spatial-then-temporal convolution, each with batch norm and ReLU
  (Xie et al., 2018, "Rethinking Spatiotemporal Feature Learning").

The first three are the *conv builders* of the video ResNets: they share the signature
``(in_channels, out_channels, *, mid_channels=None, stride=1, padding=1)`` and say through ``downsample_stride`` how the
matching shortcut must stride. Their child layout matches torchvision's, so state dicts carry over.

All take and return clips laid out as ``(B, C, T, H, W)``.
"""

from __future__ import annotations

import torch
from torch import nn

from vidconv.layers.gates import SelfGating  # noqa: F401  (its old home)
from vidconv.utils.checks import (
    check_clip_channels,
    check_conv_args,
    check_conv_fits,
    check_nonnegative_int,
    check_positive_int,
)


def midplanes_for_2plus1d(
    in_channels: int,
    out_channels: int,
    temporal_kernel_size: int = 3,
    spatial_kernel_size: int = 3,
) -> int:
    """Middle width M of a (2+1)D block with the parameter count of a full
    k_t x k_s x k_s convolution.

    Solves ``M * (k_s^2 N_in + k_t N_out) = k_t k_s^2 N_in N_out`` for M and
    rounds down (Tran et al. 2018, eq. 5), so the block has at most as many
    conv weights as the full convolution, and fewer by less than
    ``k_s^2 N_in + k_t N_out`` (one middle channel's worth). Sizes for which
    eq. 5 rounds down to no middle channel at all raise ``ValueError``.
    """
    n_in, n_out, k_t, k_s = _check_midplanes_args(
        in_channels, out_channels, temporal_kernel_size, spatial_kernel_size
    )
    return (k_t * k_s * k_s * n_in * n_out) // (k_s * k_s * n_in + k_t * n_out)


def _check_midplanes_args(
    in_channels: int, out_channels: int, k_t: int, k_s: int
) -> tuple[int, int, int, int]:
    """The four sizes as ints, refused where eq. 5 rounds down to M = 0."""
    n_in = check_positive_int(in_channels, "in_channels")
    n_out = check_positive_int(out_channels, "out_channels")
    k_t = check_positive_int(k_t, "temporal_kernel_size")
    k_s = check_positive_int(k_s, "spatial_kernel_size")
    if k_t * k_s * k_s * n_in * n_out < k_s * k_s * n_in + k_t * n_out:
        raise ValueError(
            "midplanes_for_2plus1d: eq. 5 rounds down to M = 0 middle "
            f"channels for in_channels={n_in}, out_channels={n_out}, "
            f"temporal_kernel_size={k_t}, spatial_kernel_size={k_s}; use "
            "more channels or a larger kernel, or pass mid_channels"
        )
    return n_in, n_out, k_t, k_s


class _CheckedConv3d(nn.Conv3d):
    """A bias-free 3x3 (x3 in time when ``filters_time``) conv builder whose
    forward first checks the clip's rank and channels."""

    filters_time = True  # a 3-frame kernel that strides time like space

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        mid_channels: int | None = None,
        stride: int = 1,
        padding: int = 1,
    ) -> None:
        check_conv_args(
            type(self).__name__, in_channels, out_channels, 3, stride, padding
        )
        # mid_channels is accepted and ignored so that all conv builders
        # share one signature.
        t = self.filters_time
        super().__init__(
            in_channels,
            out_channels,
            kernel_size=(3 if t else 1, 3, 3),
            stride=self.downsample_stride(stride),
            padding=(padding if t else 0, padding, padding),
            bias=False,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_clip_channels(x, self.in_channels, type(self).__name__, self)
        check_conv_fits(x, self, type(self).__name__)
        return super().forward(x)


class FullConv3d(_CheckedConv3d):
    """A ``3 x 3 x 3`` convolution without bias, striding alike in time and space (R3D's conv builder)."""

    @staticmethod
    def downsample_stride(stride: int) -> tuple[int, int, int]:
        """Stride of the 1x1x1 shortcut that must match this conv's output grid."""
        return (stride, stride, stride)


class Conv3dNoTemporal(_CheckedConv3d):
    """A ``1 x 3 x 3`` convolution without bias: each frame is filtered alone (MC3's upper layers)."""

    filters_time = False

    @staticmethod
    def downsample_stride(stride: int) -> tuple[int, int, int]:
        """Time is never strided by this conv, so neither is its shortcut."""
        return (1, stride, stride)


def _check_2plus1d_args(
    in_channels: int,
    out_channels: int,
    mid_channels: int | None,
    k_t: int,
    k_s: int,
    stride: int,
    padding: int | None,
    temporal_stride: int | None = None,
) -> tuple[int, int, int, int]:
    """Conv2Plus1d's arguments checked: its M, temporal stride, temporal and
    spatial padding."""
    check_conv_args(
        "Conv2Plus1d", in_channels, out_channels, 1, stride, padding
    )
    check_positive_int(k_t, "temporal_kernel_size")
    check_positive_int(k_s, "spatial_kernel_size")
    if mid_channels is None:
        mid_channels = midplanes_for_2plus1d(
            in_channels, out_channels, k_t, k_s
        )
    check_positive_int(mid_channels, "mid_channels")
    check_positive_int(stride, "stride")
    if temporal_stride is None:
        temporal_stride = stride
    check_positive_int(temporal_stride, "temporal_stride")
    if padding is None:
        return mid_channels, temporal_stride, (k_t - 1) // 2, (k_s - 1) // 2
    check_nonnegative_int(padding, "padding")
    return mid_channels, temporal_stride, padding, padding


class Conv2Plus1d(nn.Sequential):
    """(2+1)D convolution: spatial conv, batch norm, ReLU, temporal conv.

    Laid out like torchvision's ``Conv2Plus1D`` (children ``0`` to ``3``) so
    that state dicts match.

    Args:
        in_channels, out_channels: channels of the input and output clip.
        mid_channels: keyword only (a third positional number would read as a
            kernel size, as it does for :class:`PerFrameConv2d`): the width M
            between the two convolutions. ``None`` picks the M of
            :func:`midplanes_for_2plus1d`, the full 3D convolution's
            parameter count.
        temporal_kernel_size, spatial_kernel_size: ``k_t`` and ``k_s`` of the
            factorised ``k_t x k_s x k_s`` kernel.
        stride: applied spatially by the first conv and temporally by the
            second; ``temporal_stride``, when given, replaces it in the
            second (R(2+1)D's stem strides space only).
        padding: ``None`` keeps "same"-style padding ``(kernel_size - 1) // 2``
            on each axis; an int pads every axis by that much.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        mid_channels: int | None = None,
        temporal_kernel_size: int = 3,
        spatial_kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        temporal_stride: int | None = None,
    ) -> None:
        k_t, k_s = temporal_kernel_size, spatial_kernel_size
        mid_channels, t_stride, pad_t, pad_s = _check_2plus1d_args(
            in_channels,
            out_channels,
            mid_channels,
            k_t,
            k_s,
            stride,
            padding,
            temporal_stride,
        )
        super().__init__(
            nn.Conv3d(
                in_channels,
                mid_channels,
                (1, k_s, k_s),
                stride=(1, stride, stride),
                padding=(0, pad_s, pad_s),
                bias=False,
            ),
            nn.BatchNorm3d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv3d(
                mid_channels,
                out_channels,
                (k_t, 1, 1),
                stride=(t_stride, 1, 1),
                padding=(pad_t, 0, 0),
                bias=False,
            ),
        )
        self.in_channels = in_channels

    @staticmethod
    def downsample_stride(stride: int) -> tuple[int, int, int]:
        """The block strides time (second conv) and space (first conv), so the
        shortcut strides both."""
        return (stride, stride, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        name = type(self).__name__
        check_clip_channels(x, self.in_channels, name, self)
        check_positive_int(x.shape[2], f"{name} input's frame count T")
        for conv in (self[0], self[3]):  # too small a clip for either conv
            check_conv_fits(x, conv, name)
        return super().forward(x)


class PerFrameConv2d(nn.Module):
    """A 2D convolution applied to each frame independently: no information crosses frames."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        padding: int | None = None,
        bias: bool = False,
    ) -> None:
        check_conv_args(
            "PerFrameConv2d",
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
        )
        super().__init__()
        pad = (kernel_size - 1) // 2 if padding is None else padding
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=pad,
            bias=bias,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_clip_channels(x, self.conv.in_channels, type(self).__name__, self)
        check_conv_fits(x, self.conv, type(self).__name__)
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)  # (B*T, C, H, W)
        y = self.conv(frames)  # (B*T, C', H', W')
        return y.reshape(b, t, *y.shape[1:]).transpose(
            1, 2
        )  # (B, C', T, H', W')


def batch_norm_3d(channels: int) -> nn.BatchNorm3d:
    """Batch norm as in the TensorFlow-trained Inception video nets (I3D, S3D): eps 1e-3, momentum 1e-3."""
    return nn.BatchNorm3d(channels, eps=1e-3, momentum=1e-3)


class ConvBnReLU3d(nn.Sequential):
    """Convolution (no bias), batch norm, ReLU; "same" padding for odd kernels. Children ``0``, ``1``, ``2``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int, int] = 1,
        stride: int | tuple[int, int, int] = 1,
    ) -> None:
        check_conv_args(
            "ConvBnReLU3d", in_channels, out_channels, kernel_size, stride
        )
        k = (
            (kernel_size,) * 3
            if isinstance(kernel_size, int)
            else tuple(kernel_size)
        )
        super().__init__(
            nn.Conv3d(
                in_channels,
                out_channels,
                k,
                stride=stride,
                padding=tuple((n - 1) // 2 for n in k),
                bias=False,
            ),
            batch_norm_3d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_clip_channels(x, self[0].in_channels, type(self).__name__, self)
        return super().forward(x)


def _check_separable_args(
    in_channels: int, out_channels: int, kernel_size: int, stride: int
) -> None:
    """SeparableConv3d's arguments: a conv's, with an int kernel and stride."""
    check_conv_args(
        "SeparableConv3d", in_channels, out_channels, kernel_size, stride
    )
    check_positive_int(kernel_size, "kernel_size")
    check_positive_int(stride, "stride")


class SeparableConv3d(nn.Sequential):
    """S3D's separable convolution: ``1 x k x k`` then ``k x 1 x 1``, each
    followed by batch norm and ReLU.

    Unlike :class:`Conv2Plus1d` the middle width equals ``out_channels``, so it
    has fewer parameters than the full ``k x k x k`` convolution it replaces.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
    ) -> None:
        _check_separable_args(in_channels, out_channels, kernel_size, stride)
        super().__init__(
            ConvBnReLU3d(
                in_channels,
                out_channels,
                (1, kernel_size, kernel_size),
                stride=(1, stride, stride),
            ),
            ConvBnReLU3d(
                out_channels,
                out_channels,
                (kernel_size, 1, 1),
                stride=(stride, 1, 1),
            ),
        )
