"""The layers of a MoViNet (Kondratyuk et al., CVPR 2021, https://arxiv.org/abs/2103.11511), each able
to run offline on a whole clip or as a stream, chunk after chunk, with the same result.

Only two operations in a MoViNet look across time: the depthwise convolutions with a temporal kernel
``k_t > 1`` and the global average pools (in squeeze-excitation and in the head). In causal mode
:class:`CausalConv3d` pads ``k_t - 1`` zero frames in front of the clip (none behind), and
:class:`CumulativeAvgPool` replaces the average over the whole clip by the running average up to each
frame. Then the output at frame ``t`` depends on frames ``<= t`` only, and a stream needs to carry
just two kinds of state from one chunk to the next (the paper's "stream buffer"):

* each temporal convolution keeps its last ``k_t - 1`` input frames, which start as the same zeros the
  offline model pads with;
* each pool keeps the running sum of its per-frame means and the number of frames seen.

Both are fixed in size, so memory does not grow with the length of the video. The state lives in
plain attributes (``stream_buffer``, ``stream_sum``), not in ``register_buffer``: it belongs to one
video, not to the model, and must stay out of ``state_dict``. Everything else (1x1x1 convolutions,
1-frame spatial convolutions, batch norm in eval mode, activations) works frame by frame already.
"""

from __future__ import annotations

import torch
from torch import nn

from vidconv.layers.causal import (  # re-exported
    CausalConv3d,
    CumulativeAvgPool,  # noqa: F401
    StreamState,  # noqa: F401
)
from vidconv.layers.gates import SqueezeExcite


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never more than 10% below it (as the
    MobileNet family sizes its squeeze-excitation layers)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def activation_layers(name: str) -> tuple[type[nn.Module], type[nn.Module]]:
    """The (main, gating) activations: ``"swish"`` (SiLU, sigmoid) or ``"hardswish"`` (their piecewise-
    linear versions, the paper's choice for mobile streaming)."""
    if name == "swish":
        return nn.SiLU, nn.Sigmoid
    if name == "hardswish":
        return nn.Hardswish, nn.Hardsigmoid
    raise ValueError(f"activation must be 'swish' or 'hardswish', got {name!r}")


def conv_bn(
    in_channels: int,
    out_channels: int,
    activation: type[nn.Module] | None,
    kernel_size: tuple[int, int, int] = (1, 1, 1),
    stride: tuple[int, int, int] = (1, 1, 1),
) -> nn.Sequential:
    """A frame-wise convolution (temporal kernel 1), batch norm (TensorFlow's epsilon) and activation."""
    padding = tuple(k // 2 for k in kernel_size)
    layers: list[nn.Module] = [
        nn.Conv3d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            bias=False,
        ),
        nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.01),
    ]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


class MoViNetBlock(nn.Module):
    """An inverted bottleneck: 1x1x1 expansion, depthwise ``k_t x k_h x k_w`` convolution, squeeze-
    excitation, 1x1x1 projection, plus a residual path.

    The residual branch is multiplied by a learned scalar ``rezero`` that starts at 0 (as in the
    reference implementation), so a freshly built block passes its input through. When the block
    changes the width or the resolution, the shortcut is a 3x3 average pool (stride 2, frame by frame)
    and a 1x1x1 projection.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expand_channels: int,
        kernel_size: tuple[int, int, int],
        stride: tuple[int, int, int],
        activation: type[nn.Module],
        gating: type[nn.Module],
        *,
        causal: bool = True,
    ) -> None:
        super().__init__()
        self.expansion = conv_bn(in_channels, expand_channels, activation)
        self.feature = nn.Sequential(
            CausalConv3d(
                expand_channels,
                expand_channels,
                kernel_size,
                stride,
                groups=expand_channels,
                causal=causal,
            ),
            nn.BatchNorm3d(expand_channels, eps=1e-3, momentum=0.01),
            activation(),
        )
        self.se = SqueezeExcite(
            expand_channels,
            make_divisible(0.25 * expand_channels),
            activation=activation,
            gating=gating,
            causal=causal,
        )
        self.projection = conv_bn(expand_channels, out_channels, None)
        self.rezero = nn.Parameter(torch.zeros(1))
        downsample = stride[1] > 1 or stride[2] > 1
        self.skip: nn.Module = nn.Identity()
        if downsample or in_channels != out_channels:
            pool = (
                nn.AvgPool3d(
                    (1, 3, 3),
                    stride=(1, 2, 2),
                    padding=(0, 1, 1),
                    count_include_pad=False,
                )
                if downsample
                else nn.Identity()
            )
            self.skip = nn.Sequential(
                pool, conv_bn(in_channels, out_channels, None)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.projection(self.se(self.feature(self.expansion(x))))
        return self.skip(x) + self.rezero * branch
