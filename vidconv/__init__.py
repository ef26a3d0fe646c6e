"""vidconv — the small library behind the book *3D convolutional networks for video*.

Importing vidconv touches no network and loads no weights.
"""

from vidconv import analysis as _analysis
from vidconv.analysis import *  # noqa: F403  (its __all__: counting, memory, fields)
from vidconv.layers.blocks import (
    Conv2Plus1d,
    PerFrameConv2d,
    midplanes_for_2plus1d,
)
from vidconv.layers.conv import conv3d, conv_output_size
from vidconv.utils.device import default_device

__version__ = "0.1.0"

__all__ = [
    *_analysis.__all__,
    "Conv2Plus1d",
    "PerFrameConv2d",
    "conv3d",
    "conv_output_size",
    "default_device",
    "midplanes_for_2plus1d",
]
