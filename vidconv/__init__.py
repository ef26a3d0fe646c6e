"""vidconv — the small library behind the book *3D convolutional networks for video*.

Importing vidconv touches no network and loads no weights.
"""

from vidconv.analysis.counting import count_flops, count_macs, count_parameters
from vidconv.analysis.memory import SavedMemory, saved_tensor_memory
from vidconv.analysis.model_summary import ModelSummary, summary
from vidconv.analysis.receptive_field import (
    AxisLayer,
    MeasuredField,
    cumulative_stride,
    empirical_receptive_field,
    frames_reached,
    layers_along_axis,
    receptive_field,
    receptive_field_table,
    temporal_stack,
)
from vidconv.layers.blocks import (
    Conv2Plus1d,
    PerFrameConv2d,
    midplanes_for_2plus1d,
)
from vidconv.layers.conv import conv3d, conv_output_size
from vidconv.utils.device import default_device

__version__ = "0.1.0"

__all__ = [
    "AxisLayer",
    "Conv2Plus1d",
    "MeasuredField",
    "ModelSummary",
    "PerFrameConv2d",
    "SavedMemory",
    "conv3d",
    "conv_output_size",
    "count_flops",
    "count_macs",
    "count_parameters",
    "cumulative_stride",
    "default_device",
    "empirical_receptive_field",
    "frames_reached",
    "layers_along_axis",
    "midplanes_for_2plus1d",
    "receptive_field",
    "receptive_field_table",
    "saved_tensor_memory",
    "summary",
    "temporal_stack",
]
