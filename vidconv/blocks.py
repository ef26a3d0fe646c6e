"""Convolution building blocks that differ in how they treat time.

* :class:`PerFrameConv2d` — a 2D convolution applied to every frame on its own (no temporal extent).
* ``nn.Conv3d`` — the full spatio-temporal convolution.
* :class:`Conv2Plus1d` — a spatial ``1 x d x d`` convolution followed by a temporal ``t x 1 x 1`` one,
  with the intermediate width chosen so that it has as many parameters as the full 3D convolution
  (Tran et al., 2018, "A Closer Look at Spatiotemporal Convolutions for Action Recognition").

All take and return clips laid out as ``(B, C, T, H, W)``.
"""

from __future__ import annotations

import torch
from torch import nn

from vidconv._checks import check_positive_int, check_tensor


def midplanes_for_2plus1d(in_channels: int, out_channels: int, temporal_kernel: int = 3, spatial_kernel: int = 3) -> int:
    """Intermediate width M of a (2+1)D block with the parameter count of a full t x d x d convolution.

    Solves ``M * (d*d*N_in + t*N_out) = t*d*d*N_in*N_out`` for M and rounds down (Tran et al. 2018, eq. 5).
    """
    n_in = check_positive_int(in_channels, "in_channels")
    n_out = check_positive_int(out_channels, "out_channels")
    t = check_positive_int(temporal_kernel, "temporal_kernel")
    d = check_positive_int(spatial_kernel, "spatial_kernel")
    return (t * d * d * n_in * n_out) // (d * d * n_in + t * n_out)


class Conv2Plus1d(nn.Sequential):
    """(2+1)D convolution: spatial conv, batch norm, ReLU, temporal conv.

    Laid out like torchvision's ``Conv2Plus1D`` (children ``0`` to ``3``) so that state dicts match.

    Args:
        in_channels, out_channels: channels of the input and output clip.
        mid_channels: width between the two convolutions; ``None`` picks the value that matches the
            parameter count of a full 3D convolution (:func:`midplanes_for_2plus1d`).
        temporal_kernel, spatial_kernel: ``t`` and ``d`` of the factorised ``t x d x d`` kernel.
        stride: applied spatially by the first conv and temporally by the second.
        padding: ``None`` keeps "same"-style padding ``(kernel - 1) // 2`` on each axis.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mid_channels: int | None = None,
        *,
        temporal_kernel: int = 3,
        spatial_kernel: int = 3,
        stride: int = 1,
        padding: int | None = None,
    ) -> None:
        if mid_channels is None:
            mid_channels = midplanes_for_2plus1d(in_channels, out_channels, temporal_kernel, spatial_kernel)
        check_positive_int(mid_channels, "mid_channels")
        check_positive_int(stride, "stride")
        pad_s = (spatial_kernel - 1) // 2 if padding is None else check_positive_int(padding, "padding", minimum=0)
        pad_t = (temporal_kernel - 1) // 2 if padding is None else padding
        super().__init__(
            nn.Conv3d(in_channels, mid_channels, (1, spatial_kernel, spatial_kernel),
                      stride=(1, stride, stride), padding=(0, pad_s, pad_s), bias=False),
            nn.BatchNorm3d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv3d(mid_channels, out_channels, (temporal_kernel, 1, 1),
                      stride=(stride, 1, 1), padding=(pad_t, 0, 0), bias=False),
        )
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_tensor(x, "clip", ndim=5, layout="(B, C, T, H, W)")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"expected {self.in_channels} input channels, got a clip of shape {tuple(x.shape)}")
        return super().forward(x)


class PerFrameConv2d(nn.Module):
    """A 2D convolution applied to each frame independently: no information crosses frames."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, *, stride: int = 1,
                 padding: int | None = None, bias: bool = False) -> None:
        super().__init__()
        pad = (kernel_size - 1) // 2 if padding is None else padding
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=pad, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_tensor(x, "clip", ndim=5, layout="(B, C, T, H, W)")
        if x.shape[1] != self.conv.in_channels:
            raise ValueError(f"expected {self.conv.in_channels} input channels, got a clip of shape {tuple(x.shape)}")
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)  # (B*T, C, H, W)
        y = self.conv(frames)  # (B*T, C', H', W')
        return y.reshape(b, t, *y.shape[1:]).transpose(1, 2)  # (B, C', T, H', W')
