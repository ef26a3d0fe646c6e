"""Causal layers that can stream: the output at frame ``t`` depends on
frames ``<= t`` only, and a stream carries a fixed-size state from one
chunk to the next.

* :class:`StreamState` — the protocol every streamable layer follows
  (``streaming``, ``past_frames``, ``stream_buffer``, ``with_past``,
  ``reset_stream()``, ``stream_state_bytes()``), and :func:`streaming`,
  which switches a whole network into stream mode. vidconv's two causal
  stacks — MoViNet's and the thick present's — both stand on it.
* :class:`CausalConv3d` — ``k_t - 1`` frames of padding in front; streaming,
  the previous chunk's last ``k_t - 1`` frames (its ``stream_buffer``).
* :class:`CumulativeAvgPool` — the running average up to each frame.

The state lives in plain attributes, not in ``register_buffer``: it belongs
to one video, not to the model, and stays out of ``state_dict``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


class StreamState(nn.Module):
    """A layer that may carry state from one chunk of a stream to the next.

    Its window reaches ``past_frames`` input frames before the current one.
    Offline those are padding; streaming they are the previous chunk's last
    frames, kept in ``stream_buffer`` — so a stream reproduces the offline
    output exactly. ``causal=False`` marks a layer that looks ahead (or at
    the whole clip) and so cannot stream.
    """

    streaming: bool = False
    causal: bool = True
    past_frames: int = 0
    stream_buffer: torch.Tensor | None = None

    def with_past(
        self,
        x: torch.Tensor,
        padding: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``x`` with its ``past_frames`` earlier frames in front.

        Offline, and at a stream's first chunk, they are ``padding(x)``
        (zeros by default); streaming, they are the previous chunk's last
        frames, and this chunk's last frames are kept for the next one.
        """
        n = self.past_frames
        if n == 0:
            return x
        past = self.stream_buffer if self.streaming else None
        if past is None:
            b, c, _, h, w = x.shape
            past = padding(x) if padding else x.new_zeros(b, c, n, h, w)
        window = torch.cat([past, x], dim=2)  # (B, C, past + T, H, W)
        if self.streaming:
            self.stream_buffer = window[:, :, -n:].detach()  # (B, C, n, H, W)
        return window

    def reset_stream(self) -> None:
        """Forget the video streamed so far."""
        self.stream_buffer = None

    def stream_state_bytes(self) -> int:
        """Bytes this layer holds between chunks."""
        buf = self.stream_buffer
        return 0 if buf is None else buf.numel() * buf.element_size()


def stream_layers(model: nn.Module) -> list[StreamState]:
    """Every layer of ``model`` that carries stream state."""
    return [m for m in model.modules() if isinstance(m, StreamState)]


@contextmanager
def streaming(model: nn.Module) -> Iterator[list[StreamState]]:
    """Run ``model``'s stream-state layers in stream mode inside the block."""
    layers = stream_layers(model)
    for m in layers:
        m.streaming = True
    try:
        yield layers
    finally:
        for m in layers:
            m.streaming = False


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
        # zeros in front offline; streaming, the last chunk's frames
        return self.conv(self.with_past(x))  # (B, C', T, H', W')


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
