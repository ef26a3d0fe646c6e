"""The building blocks the networks are made of.

* :mod:`~vidconv.layers.conv` — ``conv3d`` from scratch, output sizes.
* :mod:`~vidconv.layers.blocks` — 3D, (2+1)D, separable and per-frame
  convolutions; the (2+1)D middle width.
* :mod:`~vidconv.layers.inception` — the inflated Inception block.
* :mod:`~vidconv.layers.inflate` — 2D layers and networks made 3D (I3D).
* :mod:`~vidconv.layers.kernels` — hand-made motion kernels, the moving bar.
* :mod:`~vidconv.layers.causal` — causal convolution and pooling that
  stream chunk by chunk (the stream-state protocol).
* :mod:`~vidconv.layers.gates` — squeeze-excitation and self-gating:
  channels rescaled by a gate computed from the whole clip.
* :mod:`~vidconv.layers.attention` — self-attention, every product explicit.
"""

from vidconv.layers.attention import SelfAttention
from vidconv.layers.blocks import (
    Conv2Plus1d,
    PerFrameConv2d,
    midplanes_for_2plus1d,
)
from vidconv.layers.causal import (
    CausalConv3d,
    CumulativeAvgPool,
    StreamState,
    stream_layers,
    streaming,
)
from vidconv.layers.conv import conv3d, conv_output_size
from vidconv.layers.gates import SelfGating, SqueezeExcite
from vidconv.layers.inception import InceptionBlock3d
from vidconv.layers.inflate import (
    InflatedConv3d,
    inflate_batchnorm,
    inflate_conv,
    inflate_network,
    inflate_pool,
)

__all__ = [
    "CausalConv3d",
    "Conv2Plus1d",
    "CumulativeAvgPool",
    "InceptionBlock3d",
    "InflatedConv3d",
    "PerFrameConv2d",
    "SelfAttention",
    "SelfGating",
    "SqueezeExcite",
    "StreamState",
    "conv3d",
    "conv_output_size",
    "inflate_batchnorm",
    "inflate_conv",
    "inflate_network",
    "inflate_pool",
    "midplanes_for_2plus1d",
    "stream_layers",
    "streaming",
]
