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
import torch.nn.functional as F
from torch import nn


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


class StreamState(nn.Module):
    """A layer that may carry state from one chunk of a stream to the next."""

    streaming: bool = False

    def reset_stream(self) -> None:
        raise NotImplementedError

    def stream_state_bytes(self) -> int:
        raise NotImplementedError


class CausalConv3d(StreamState):
    """A (depthwise) 3D convolution whose temporal padding is causal: ``k_t - 1`` frames in front.

    Offline it pads with zeros; streaming it pads with the last ``k_t - 1`` frames of the previous chunk
    (zeros before the first). ``causal=False`` pads ``k_t // 2`` frames on both sides (the "base" models)
    and cannot stream. Spatial padding is ``k // 2`` on each side; the temporal stride is 1 (as in every
    MoViNet-A0 layer), so each input frame gives one output frame.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int, int],
        stride: tuple[int, int, int] = (1, 1, 1),
        *,
        groups: int = 1,
        causal: bool = True,
    ) -> None:
        super().__init__()
        if stride[0] != 1:
            raise ValueError(
                f"CausalConv3d supports temporal stride 1 only, got stride {stride}"
            )
        kt, kh, kw = kernel_size
        self.causal = causal
        self.past_frames = kt - 1 if causal else 0
        pad_t = 0 if causal else kt // 2
        self.conv = nn.Conv3d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=(pad_t, kh // 2, kw // 2),
            groups=groups,
            bias=False,
        )
        self.stream_buffer: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.past_frames == 0:
            return self.conv(x)
        b, c, _, h, w = x.shape
        if self.streaming:
            past = self.stream_buffer
            if past is None:  # the zeros the offline model pads with
                past = x.new_zeros(b, c, self.past_frames, h, w)
            x = torch.cat([past, x], dim=2)  # (B, C, k_t - 1 + T, H, W)
            self.stream_buffer = x[
                :, :, -self.past_frames :
            ].detach()  # (B, C, k_t - 1, H, W)
        else:
            x = F.pad(
                x, (0, 0, 0, 0, self.past_frames, 0)
            )  # (B, C, k_t - 1 + T, H, W): zeros in front
        return self.conv(x)

    def reset_stream(self) -> None:
        self.stream_buffer = None

    def stream_state_bytes(self) -> int:
        buf = self.stream_buffer
        return 0 if buf is None else buf.numel() * buf.element_size()


class CumulativeAvgPool(StreamState):
    """Average over space, then over time up to each frame: ``(B, C, T, H, W) -> (B, C, T, 1, 1)``.

    Causal: output ``t`` is the mean of frames ``0..t`` (a running sum over the per-frame means, divided
    by the frame count). Streaming continues the sum and the count across chunks. ``causal=False``
    averages over the whole clip: ``(B, C, 1, 1, 1)``.
    """

    def __init__(self, *, causal: bool = True) -> None:
        super().__init__()
        self.causal = causal
        self.stream_sum: torch.Tensor | None = None  # (B, C, 1, 1, 1)
        self.frames_seen = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.causal:
            return x.mean(dim=(2, 3, 4), keepdim=True)  # (B, C, 1, 1, 1)
        frame_means = x.mean(dim=(3, 4), keepdim=True)  # (B, C, T, 1, 1)
        running = frame_means.cumsum(dim=2)  # (B, C, T, 1, 1)
        t = x.shape[2]
        count = torch.arange(1, t + 1, device=x.device, dtype=x.dtype).view(
            1, 1, t, 1, 1
        )
        if self.streaming:
            if self.stream_sum is not None:
                running = running + self.stream_sum
            count = count + self.frames_seen
            self.stream_sum = running[:, :, -1:].detach()  # (B, C, 1, 1, 1)
            self.frames_seen += t
        return running / count

    def reset_stream(self) -> None:
        self.stream_sum = None
        self.frames_seen = 0

    def stream_state_bytes(self) -> int:
        s = self.stream_sum
        return (
            0 if s is None else s.numel() * s.element_size() + 8
        )  # + the frame count (an int64)


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


class SqueezeExcitation(nn.Module):
    """Rescale each channel by a gate computed from its (cumulative) average over space and time."""

    def __init__(
        self,
        channels: int,
        hidden: int,
        activation: type[nn.Module],
        gating: type[nn.Module],
        *,
        causal: bool = True,
    ) -> None:
        super().__init__()
        self.pool = CumulativeAvgPool(causal=causal)
        self.reduce = nn.Conv3d(channels, hidden, 1)
        self.act = activation()
        self.expand = nn.Conv3d(hidden, channels, 1)
        self.gate = gating()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.pool(x)  # (B, C, T, 1, 1) causal, (B, C, 1, 1, 1) offline
        return x * self.gate(self.expand(self.act(self.reduce(s))))


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
        self.se = SqueezeExcitation(
            expand_channels,
            make_divisible(0.25 * expand_channels),
            activation,
            gating,
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
