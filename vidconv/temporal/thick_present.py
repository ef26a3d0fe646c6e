"""Convolutions whose temporal kernel is "the thickness of the present".

In Husserl's analysis of time-consciousness the present is not a point: it holds a *retention* of
what just passed and a *protention* of what is about to come. A temporal convolution has exactly
that structure, and an asymmetric one says how much of each:

* :class:`PhenomenologicalConv3D` — the output at frame ``t`` sees frames ``t - retention`` to
  ``t + protention`` and nothing else. ``protention_frames=0`` makes it causal: it can run on a live
  stream, one frame at a time (:mod:`vidconv.temporal.streaming`).
* :class:`ThickPresentConvolution` — a centred present of any thickness, odd or even.
* :class:`CausalPool3d` — max or average pooling over the last ``k`` frames (temporal stride 1).
* :class:`CausalResidual` — ``body(x) + shortcut(x)`` for causal bodies.
* :func:`temporal_extent` — measured retention, protention and receptive field of any network.

Every layer keeps the number of frames: padding goes where the window reaches past the clip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from vidconv._checks import (check_clip_channels, check_conv_args, check_int, check_like, check_nonnegative_int,
                             check_positive_int, check_tensor)
from vidconv.receptive_field import empirical_receptive_field


class PhenomenologicalConv3D(nn.Conv3d):
    """3D convolution whose output frame ``t`` sees exactly frames ``t - retention ... t + protention``.

    Args:
        in_channels, out_channels: channels.
        retention_frames: how many past frames each output sees (>= 0).
        protention_frames: how many future frames each output sees (>= 0); 0 = causal.
        spatial_kernel: odd spatial kernel size; space is zero-padded to keep H and W.
        dilation: temporal dilation: the window then spans ``(retention + protention) * dilation + 1``
            frames but reads only every ``dilation``-th one.
        bias: learn a bias.

    The temporal kernel has ``retention + protention + 1`` taps; zeros are padded before the first frame
    (``retention * dilation``) and after the last (``protention * dilation``), so T is kept.
    """

    def __init__(self, in_channels: int, out_channels: int, retention_frames: int, protention_frames: int = 0, *,
                 spatial_kernel: int = 3, dilation: int = 1, bias: bool = True) -> None:
        check_conv_args(type(self).__name__, in_channels, out_channels)
        check_nonnegative_int(retention_frames, "retention_frames")
        check_nonnegative_int(protention_frames, "protention_frames")
        check_positive_int(spatial_kernel, "spatial_kernel")
        check_positive_int(dilation, "dilation")
        if spatial_kernel % 2 == 0:
            raise ValueError(f"spatial_kernel must be odd so that H and W are kept, got {spatial_kernel}")
        self.retention_frames = retention_frames
        self.protention_frames = protention_frames
        pad = spatial_kernel // 2
        super().__init__(in_channels, out_channels, (retention_frames + protention_frames + 1, spatial_kernel, spatial_kernel),
                         padding=(0, pad, pad), dilation=(dilation, 1, 1), bias=bias)
        self.streaming = False  # set by vidconv.temporal.streaming: read one frame per call, remember the past
        self.stream_buffer: torch.Tensor | None = None

    @property
    def past_frames(self) -> int:
        """Input frames before the current one that the window reaches (what a stream must remember)."""
        return self.retention_frames * self.dilation[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_clip_channels(x, self.in_channels, type(self).__name__, self)
        if self.streaming:
            return self._step(x)
        future = self.protention_frames * self.dilation[0]
        x = F.pad(x, (0, 0, 0, 0, self.past_frames, future))  # (B, C, past + T + future, H, W)
        return super().forward(x)  # (B, C_out, T, H, W)

    def _step(self, x: torch.Tensor) -> torch.Tensor:
        if self.stream_buffer is None:  # the offline layer pads the past with zeros; so does the stream
            self.stream_buffer = x.new_zeros(x.shape[0], x.shape[1], self.past_frames, *x.shape[3:])
        window = torch.cat([self.stream_buffer, x], dim=2)  # (B, C, past + new, H, W)
        self.stream_buffer = window[:, :, window.shape[2] - self.past_frames:].detach()
        return super().forward(window)  # (B, C_out, new, H, W)


class ThickPresentConvolution(PhenomenologicalConv3D):
    """A temporal window of ``present_thickness`` frames centred on the current one.

    For an even thickness the extra frame is in the past: thickness 4 sees ``t-2 ... t+1``.
    The output has as many frames as the input for every thickness.
    """

    def __init__(self, in_channels: int, out_channels: int, present_thickness: int, *, spatial_kernel: int = 3,
                 bias: bool = True) -> None:
        check_positive_int(present_thickness, "present_thickness")
        super().__init__(in_channels, out_channels, retention_frames=present_thickness // 2,
                         protention_frames=present_thickness - 1 - present_thickness // 2,
                         spatial_kernel=spatial_kernel, bias=bias)
        self.present_thickness = present_thickness


class CausalPool3d(nn.Module):
    """Pool over the current and the previous ``kernel - 1`` frames (and a ``spatial x spatial`` window).

    Temporal stride is 1, so T is kept; the past before the first frame is padded with the first frame
    for max pooling would otherwise see zeros, so the pad is ``-inf`` for max and 0 (not counted) for
    average pooling. Spatial stride is ``spatial_stride`` (default 1, no padding needed for 1).
    """

    def __init__(self, temporal_kernel: int, spatial_kernel: int = 1, *, mode: Literal["max", "avg"] = "max",
                 spatial_stride: int = 1) -> None:
        super().__init__()
        self.temporal_kernel = check_positive_int(temporal_kernel, "temporal_kernel")
        self.spatial_kernel = check_positive_int(spatial_kernel, "spatial_kernel")
        self.spatial_stride = check_positive_int(spatial_stride, "spatial_stride")
        if mode not in ("max", "avg"):
            raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
        if spatial_kernel % 2 == 0:
            raise ValueError(f"spatial_kernel must be odd, got {spatial_kernel}")
        self.mode = mode
        self.streaming = False
        self.stream_buffer: torch.Tensor | None = None

    @property
    def past_frames(self) -> int:  # noqa: D102
        return self.temporal_kernel - 1

    def path_counting_twin(self) -> CausalPool3d:
        """Average pooling of the same geometry: its gradient reaches every frame of the window."""
        return CausalPool3d(self.temporal_kernel, self.spatial_kernel, mode="avg", spatial_stride=self.spatial_stride)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        k, s, p = (self.temporal_kernel, self.spatial_kernel, self.spatial_kernel), (1, self.spatial_stride, self.spatial_stride), (0, self.spatial_kernel // 2, self.spatial_kernel // 2)
        if self.mode == "max":
            return F.max_pool3d(x, k, s, p)
        # count_include_pad=False: the spatial zeros are not averaged in; the temporal pad is handled by _past
        return F.avg_pool3d(x, k, s, p, count_include_pad=False)

    def _past(self, x: torch.Tensor) -> torch.Tensor:
        fill = float("-inf") if self.mode == "max" else float("nan")
        return x.new_full((x.shape[0], x.shape[1], self.past_frames, *x.shape[3:]), fill)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_tensor(x, "CausalPool3d input", ndim=5, layout="(B, C, T, H, W)")
        if self.streaming:
            if self.stream_buffer is None:
                self.stream_buffer = self._past(x)
            window = torch.cat([self.stream_buffer, x], dim=2)
            self.stream_buffer = window[:, :, window.shape[2] - self.past_frames:].detach()
        else:
            window = torch.cat([self._past(x), x], dim=2)  # (B, C, past + T, H, W)
        if self.mode == "max":
            return self._pool(window)
        # Average only over frames that exist: NaN marks the padded past.
        valid = (~torch.isnan(window)).to(x.dtype)
        summed = self._pool(torch.nan_to_num(window, nan=0.0)) * self.temporal_kernel
        counts = self._pool(valid) * self.temporal_kernel
        return summed / counts


class CausalResidual(nn.Module):
    """``body(x) + shortcut(x)``; both must keep T (and agree on C, H, W)."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        if not isinstance(body, nn.Module) or (shortcut is not None and not isinstance(shortcut, nn.Module)):
            raise TypeError("body and shortcut must be nn.Modules")
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        a, b = self.body(x), self.shortcut(x)
        if a.shape != b.shape:
            raise ValueError(f"residual body gives {tuple(a.shape)} but shortcut gives {tuple(b.shape)}")
        return a + b


@dataclass(frozen=True)
class TemporalExtent:
    """How far in time one output frame of a network reaches."""

    retention: int  # frames of the past it sees
    protention: int  # frames of the future it needs: the latency of a live system, in frames
    receptive_field: int  # retention + 1 + protention

    @property
    def causal(self) -> bool:  # noqa: D102
        return self.protention == 0


def temporal_extent(model: nn.Module, channels: int, *, frames: int = 64, size: int = 5) -> TemporalExtent:
    """Measure retention, protention and temporal receptive field of a network that keeps T.

    Backpropagates from the output at the middle frame (a clip of ``frames`` frames, ``size`` pixels)
    and reads which input frames can change it. Make ``frames`` larger than twice the expected reach.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    check_positive_int(channels, "channels")
    check_positive_int(frames, "frames", minimum=3)
    check_int(size, "size", minimum=1)
    shape: Sequence[int] = (1, channels, frames, size, size)
    middle = frames // 2
    with torch.no_grad():
        out = model(torch.zeros(shape))
    if out.dim() != 5 or out.shape[2] != frames:
        raise ValueError(f"temporal_extent needs a network that keeps the number of frames; {frames} in, "
                         f"output shape {tuple(out.shape)}")
    measured = empirical_receptive_field(model, shape, axis=0, output_index=(middle, out.shape[3] // 2, out.shape[4] // 2))
    first, last = measured.positions[0], measured.positions[-1]
    if first == 0 or last == frames - 1:
        raise ValueError(f"the receptive field reaches the ends of the {frames}-frame probe; pass a larger frames=")
    return TemporalExtent(middle - first, last - middle, last - first + 1)
