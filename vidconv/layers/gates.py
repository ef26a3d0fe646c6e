"""Channel gates: each channel of a clip rescaled by a number in (0, 1)
computed from the whole clip.

One module covers the three gates of the book's networks:

* S3D-G's self-gating (Xie et al., 2018): one ``C x C`` map of the
  global average, no bottleneck — ``SqueezeExcite(C)``, named
  :class:`SelfGating`.
* X3D's squeeze-excitation (Hu et al., 2018): a ``C -> hidden -> C``
  bottleneck with ReLU — ``SqueezeExcite(C, hidden)``.
* MoViNet's causal squeeze-excitation: the average runs over the frames
  seen so far (``causal=True``), so the gate at frame ``t`` ignores the
  future and can stream — ``SqueezeExcite(C, hidden, causal=True)``.
"""

from __future__ import annotations

import torch
from torch import nn

from vidconv.layers.causal import CumulativeAvgPool
from vidconv.utils.checks import check_clip_channels, check_positive_int


class SqueezeExcite(nn.Module):
    """``x * gating(expand(activation(reduce(pool(x)))))``, per channel.

    ``hidden=None`` drops the bottleneck: one ``C x C`` map (self-gating).
    The maps are ``1 x 1 x 1`` convolutions so that a causal pool's
    ``(B, C, T, 1, 1)`` gives one gate per frame.
    """

    def __init__(
        self,
        channels: int,
        hidden: int | None = None,
        *,
        activation: type[nn.Module] = nn.ReLU,
        gating: type[nn.Module] = nn.Sigmoid,
        causal: bool = False,
    ) -> None:
        super().__init__()
        check_positive_int(channels, "channels")
        inner = channels if hidden is None else hidden
        check_positive_int(inner, "hidden")
        self.channels = channels
        self.pool = CumulativeAvgPool(causal=causal)
        if hidden is None:
            self.reduce, self.act = nn.Identity(), nn.Identity()
        else:
            self.reduce, self.act = nn.Conv3d(channels, inner, 1), activation()
        self.expand = nn.Conv3d(inner, channels, 1)
        self.gate = gating()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_clip_channels(x, self.channels, type(self).__name__, self)
        s = self.pool(x)  # (B, C, 1, 1, 1); causal: (B, C, T, 1, 1)
        return x * self.gate(self.expand(self.act(self.reduce(s))))


class SelfGating(SqueezeExcite):
    """S3D-G's feature gating: a squeeze-excite without the bottleneck."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
