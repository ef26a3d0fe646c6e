"""Exact frame-by-frame inference for causal networks (in the spirit of
MoViNets' stream buffers, Kondratyuk et al. 2021, and of continual inference,
Hedegaard & Iosifidis 2022).

A causal network's output at frame ``t`` depends only on frames ``<= t``. Run
offline on a whole clip, each causal layer pads the past with zeros; run as a
stream, each one keeps the last few input frames it needs in a buffer that
starts as those same zeros. The stream therefore reproduces the offline outputs
exactly, holds only ``retention`` frames per layer in memory, and does the same
work for every new frame however long the video has been running.

Networks may be built from any causal
:class:`~vidconv.layers.causal.StreamState` layer
(:class:`~vidconv.temporal.thick_present.PhenomenologicalConv3D` with
``protention_frames=0``, :class:`~vidconv.temporal.thick_present.CausalPool3d`,
MoViNet's :class:`~vidconv.layers.causal.CausalConv3d` and
:class:`~vidconv.layers.causal.CumulativeAvgPool`),
:class:`~vidconv.temporal.thick_present.CausalResidual`, ``nn.Sequential``,
1-frame ``nn.Conv3d`` layers and pointwise layers (activations, dropout, batch
norm in eval mode). Anything else is refused up front: it might look at the
future, or at the whole clip.
"""

from __future__ import annotations

import torch
from torch import nn

from vidconv.layers.causal import StreamState, stream_layers, streaming
from vidconv.temporal.thick_present import (
    CausalResidual,
    PhenomenologicalConv3D,
)
from vidconv.utils.checks import check_like, check_tensor

_POINTWISE = (
    nn.ReLU,
    nn.ReLU6,
    nn.GELU,
    nn.SiLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.LeakyReLU,
    nn.Hardswish,
    nn.Identity,
    nn.Dropout,
    nn.Dropout3d,
    nn.BatchNorm3d,
)
_CONTAINERS = (nn.Sequential, CausalResidual)


def _check_streamable(model: nn.Module) -> None:
    inside_a_stream_layer = tuple(
        f"{name}."
        for name, m in model.named_modules()
        if isinstance(m, StreamState) and name
    )
    for name, m in model.named_modules():
        if name.startswith(inside_a_stream_layer):
            continue  # its parent pads and buffers for it
        where = (
            f"layer {name!r} ({type(m).__name__})"
            if name
            else f"the model ({type(m).__name__})"
        )
        if isinstance(m, PhenomenologicalConv3D):
            if m.protention_frames:
                raise ValueError(
                    f"{where} looks {m.protention_frames} frames ahead; "
                    "a stream has no future frames (use protention_frames=0)"
                )
        elif isinstance(m, StreamState):
            if not m.causal:
                raise ValueError(
                    f"{where} looks ahead or at the whole clip (causal="
                    "False); a stream has no future frames"
                )
        elif isinstance(m, nn.Conv3d):
            # One frame in must give one frame out, from that frame alone: no
            # temporal extent, stride or padding ("same" with a 1-frame kernel
            # pads nothing; "valid" never pads).
            pad_t = 0 if isinstance(m.padding, str) else m.padding[0]
            if (m.kernel_size[0], m.stride[0], pad_t) != (1, 1, 0):
                raise ValueError(
                    f"{where} has temporal kernel size {m.kernel_size[0]}, "
                    f"stride {m.stride[0]} and padding {pad_t}; "
                    "a streamed Conv3d must have 1, 1 and 0 in time (a "
                    "1-frame kernel, e.g. (1, 3, 3) with padding (0, 1, 1)); "
                    "use PhenomenologicalConv3D for a temporal window"
                )
        elif isinstance(m, nn.GroupNorm):
            raise ValueError(
                f"{where} normalises over time; it cannot run frame by frame"
            )
        elif not isinstance(m, _POINTWISE + _CONTAINERS):
            raise ValueError(
                f"{where} is not one of vidconv's causal layers, so it "
                "may see the future or the whole clip; streaming supports "
                "causal StreamState layers (PhenomenologicalConv3D, "
                "CausalPool3d, CausalConv3d, CumulativeAvgPool), "
                "CausalResidual, nn.Sequential, 1-frame Conv3d and "
                "pointwise layers"
            )


class StreamingInference:
    """Run a causal network one frame at a time, exactly as it would run on the
    whole clip.

    >>> stream = StreamingInference(model)  # doctest: +SKIP
    >>> for frame in frames:  # each (B, C, H, W)
    ...     y = stream.step(frame)  # this frame's output (B, C_out, H', W')
    >>> stream.reset()  # before the next video

    Puts the model in eval mode (batch norm must use its running statistics
    frame by frame).
    """

    def __init__(self, model: nn.Module) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(
                f"model must be an nn.Module, got {type(model).__name__}"
            )
        _check_streamable(model)
        self.model = model.eval()
        self._layers = stream_layers(model)
        self._frame_shape: tuple[int, ...] | None = None
        self.frames_seen = 0

    @property
    def buffered_frames(self) -> int:
        """Frames held in memory across all layers: the sum of their
        retentions."""
        return sum(m.past_frames for m in self._layers)

    def state_bytes(self) -> int:
        """Bytes the layers hold between frames (their stream buffers)."""
        return sum(m.stream_state_bytes() for m in self._layers)

    def reset(self) -> None:
        """Forget the past: the next frame starts a new video."""
        for m in self._layers:
            m.reset_stream()
        self._frame_shape = None
        self.frames_seen = 0

    @torch.no_grad()
    def step(self, frame: torch.Tensor) -> torch.Tensor:
        """Feed one frame ``(B, C, H, W)``; return the network's output at
        that frame."""
        check_tensor(frame, "frame", ndim=4, layout="(B, C, H, W)")
        check_like(frame, "frame", self.model, "the model")
        if (
            self._frame_shape is not None
            and tuple(frame.shape) != self._frame_shape
        ):
            raise ValueError(
                f"frame shape {tuple(frame.shape)} differs from this video's "
                f"{self._frame_shape}; "
                "call reset() before a new video"
            )
        self._frame_shape = tuple(frame.shape)
        with streaming(self.model):
            # (B, C, 1, H, W) -> (B, C_out, 1, H', W')
            out = self.model(frame.unsqueeze(2))
        self.frames_seen += 1
        return out.squeeze(2)
