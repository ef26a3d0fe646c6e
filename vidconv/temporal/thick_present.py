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

from vidconv.analysis._probe import measuring, probe_input
from vidconv.analysis.receptive_field import empirical_receptive_field
from vidconv.layers.causal import StreamState
from vidconv.utils.checks import (
    check_clip_channels,
    check_conv_args,
    check_int,
    check_nonnegative_int,
    check_positive_int,
    check_tensor,
)


class PhenomenologicalConv3D(StreamState, nn.Conv3d):
    """3D convolution whose output frame ``t`` sees exactly frames ``t - retention ... t + protention``.

    Args:
        in_channels, out_channels: channels.
        retention_frames: how many past frames each output sees (>= 0).
        protention_frames: how many future frames each output sees (>= 0); 0 = causal.
        spatial_kernel_size: odd spatial kernel size; space is zero-padded to keep H and W.
        dilation: temporal dilation: the window then spans ``(retention + protention) * dilation + 1``
            frames but reads only every ``dilation``-th one.
        bias: learn a bias.

    The temporal kernel size is ``retention + protention + 1`` taps; zeros are padded before the first frame
    (``retention * dilation``) and after the last (``protention * dilation``), so T is kept.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        retention_frames: int,
        protention_frames: int = 0,
        *,
        spatial_kernel_size: int = 3,
        dilation: int = 1,
        bias: bool = True,
    ) -> None:
        check_conv_args(type(self).__name__, in_channels, out_channels)
        check_nonnegative_int(retention_frames, "retention_frames")
        check_nonnegative_int(protention_frames, "protention_frames")
        check_positive_int(spatial_kernel_size, "spatial_kernel_size")
        check_positive_int(dilation, "dilation")
        if spatial_kernel_size % 2 == 0:
            raise ValueError(
                f"spatial_kernel_size must be odd so that H and W are kept, got {spatial_kernel_size}"
            )
        self.retention_frames = retention_frames
        self.protention_frames = protention_frames
        pad = spatial_kernel_size // 2
        temporal_kernel_size = retention_frames + protention_frames + 1
        super().__init__(
            in_channels,
            out_channels,
            (temporal_kernel_size, spatial_kernel_size, spatial_kernel_size),
            padding=(0, pad, pad),
            dilation=(dilation, 1, 1),
            bias=bias,
        )
        self.causal = protention_frames == 0  # only then can it stream

    @property
    def past_frames(self) -> int:
        """Input frames before the current one that the window reaches (what a stream must remember)."""
        return self.retention_frames * self.dilation[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        name = type(self).__name__
        check_clip_channels(x, self.in_channels, name, self)
        check_positive_int(x.shape[2], f"{name} input's frame count T")
        future = self.protention_frames * self.dilation[0]
        x = self.with_past(x)  # (B, C, past + T, H, W)
        x = F.pad(x, (0, 0, 0, 0, 0, future))  # (B, C, past + T + future, H, W)
        return super().forward(x)  # (B, C_out, T, H, W)


class ThickPresentConvolution(PhenomenologicalConv3D):
    """A temporal window of ``present_thickness`` frames centred on the current one.

    ``present_thickness`` is the temporal kernel size, named for the concept this layer illustrates
    (the "thickness" of the present); ``self.kernel_size[0]`` holds the same number. For an even
    thickness the extra frame is in the past: thickness 4 sees ``t-2 ... t+1``. The output has as
    many frames as the input for every thickness.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        present_thickness: int,
        *,
        spatial_kernel_size: int = 3,
        bias: bool = True,
    ) -> None:
        check_positive_int(present_thickness, "present_thickness")
        super().__init__(
            in_channels,
            out_channels,
            retention_frames=present_thickness // 2,
            protention_frames=present_thickness - 1 - present_thickness // 2,
            spatial_kernel_size=spatial_kernel_size,
            bias=bias,
        )
        self.present_thickness = present_thickness


class CausalPool3d(StreamState):
    """Max or average pooling over the current and the previous ``temporal_kernel_size - 1`` frames.

    Temporal stride is 1, so T is kept; space is pooled over a ``spatial_kernel_size`` square window
    (odd, "same" padding) with stride ``spatial_stride``. Before the first frame there is no past:

    * max pooling pads it with copies of the first frame, which every such window holds anyway, so
      the maximum is taken over the frames that exist;
    * average pooling pads it with zeros, which add nothing to the window's sum, and divides by the
      number of frames that exist, ``min(t + 1, k)`` for output frame ``t``.

    A NaN in the input is a NaN in every window that holds it; nothing is used as a marker.
    """

    def __init__(
        self,
        temporal_kernel_size: int,
        spatial_kernel_size: int = 1,
        *,
        mode: Literal["max", "avg"] = "max",
        spatial_stride: int = 1,
    ) -> None:
        super().__init__()
        self.temporal_kernel_size = check_positive_int(
            temporal_kernel_size, "temporal_kernel_size"
        )
        self.spatial_kernel_size = check_positive_int(
            spatial_kernel_size, "spatial_kernel_size"
        )
        self.spatial_stride = check_positive_int(
            spatial_stride, "spatial_stride"
        )
        if mode not in ("max", "avg"):
            raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
        if spatial_kernel_size % 2 == 0:
            raise ValueError(
                f"spatial_kernel_size must be odd, got {spatial_kernel_size}"
            )
        self.mode = mode
        self.stream_seen = (
            0  # frames streamed so far: how many in a window exist
        )

    @property
    def past_frames(self) -> int:
        """Input frames before the current one that the window reaches (what a stream must remember)."""
        return self.temporal_kernel_size - 1

    def path_counting_twin(self) -> CausalPool3d:
        """Average pooling of the same geometry: its gradient reaches every frame of the window."""
        return CausalPool3d(
            self.temporal_kernel_size,
            self.spatial_kernel_size,
            mode="avg",
            spatial_stride=self.spatial_stride,
        )

    def _padding(self, x: torch.Tensor) -> torch.Tensor:
        """The ``k - 1`` frames before the first one: copies of it (max) or zeros (average)."""
        shape = (
            x.shape[0],
            x.shape[1],
            self.past_frames,
            *x.shape[3:],
        )  # (B, C, k - 1, H, W)
        return (
            x[:, :, :1].expand(shape)
            if self.mode == "max"
            else x.new_zeros(shape)
        )

    def reset_stream(self) -> None:  # noqa: D102
        self.stream_buffer, self.stream_seen = None, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_tensor(x, "CausalPool3d input", ndim=5, layout="(B, C, T, H, W)")
        continuing = self.streaming and self.stream_seen > 0
        seen = self.stream_seen if continuing else 0
        window = self.with_past(x, self._padding)  # (B, C, k - 1 + T, H, W)
        if self.streaming:
            self.stream_seen = seen + x.shape[2]
        k, pad = self.temporal_kernel_size, self.spatial_kernel_size // 2
        kernel = (k, self.spatial_kernel_size, self.spatial_kernel_size)
        stride = (1, self.spatial_stride, self.spatial_stride)
        if self.mode == "max":
            return F.max_pool3d(
                window, kernel, stride, (0, pad, pad)
            )  # (B, C, T, H', W')
        # count_include_pad=False leaves the spatial zeros out of the divisor; the temporal zeros stay
        # in, and are corrected by the number of frames that exist in each window, min(t + 1, k).
        mean = F.avg_pool3d(
            window, kernel, stride, (0, pad, pad), count_include_pad=False
        )  # (B, C, T, H', W')
        existing = (torch.arange(x.shape[2], device=x.device) + seen + 1).clamp(
            max=k
        )  # (T,)
        return mean * (k / existing).to(mean.dtype).view(1, 1, -1, 1, 1)


class CausalResidual(nn.Module):
    """``body(x) + shortcut(x)``; both must keep T (and agree on C, H, W)."""

    def __init__(
        self, body: nn.Module, shortcut: nn.Module | None = None
    ) -> None:
        super().__init__()
        if not isinstance(body, nn.Module) or (
            shortcut is not None and not isinstance(shortcut, nn.Module)
        ):
            raise TypeError("body and shortcut must be nn.Modules")
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        a, b = self.body(x), self.shortcut(x)
        if a.shape != b.shape:
            raise ValueError(
                f"residual body gives {tuple(a.shape)} but shortcut gives {tuple(b.shape)}"
            )
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


def temporal_extent(
    model: nn.Module, channels: int, *, frames: int = 64, size: int = 5
) -> TemporalExtent:
    """Measure retention, protention and temporal receptive field of a network that keeps T.

    Backpropagates from the output at the middle frame (a clip of ``frames`` frames, ``size`` pixels)
    of a path-counting copy and reads which input frames can change it. Make ``frames`` larger than
    twice the expected reach. ``model`` is left as it was (mode, parameters, buffers).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    check_positive_int(channels, "channels")
    check_positive_int(frames, "frames", minimum=3)
    check_int(size, "size", minimum=1)
    shape: Sequence[int] = (1, channels, frames, size, size)
    middle = frames // 2
    with measuring(model):  # eval mode, every training flag and buffer restored
        out = model(probe_input(model, shape))
    if out.dim() != 5 or out.shape[2] != frames:
        raise ValueError(
            f"temporal_extent needs a network that keeps the number of frames; {frames} in, "
            f"output shape {tuple(out.shape)}"
        )
    measured = empirical_receptive_field(
        model,
        shape,
        axis=0,
        output_index=(middle, out.shape[3] // 2, out.shape[4] // 2),
    )
    first, last = measured.positions[0], measured.positions[-1]
    if first == 0 or last == frames - 1:
        raise ValueError(
            f"the receptive field reaches the ends of the {frames}-frame probe; pass a larger frames="
        )
    return TemporalExtent(middle - first, last - middle, last - first + 1)
