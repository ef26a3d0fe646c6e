"""Measuring a network: receptive fields, parameters and FLOPs, memory.

* :mod:`~vidconv.analysis.receptive_field` — the formula, the frames a unit
  reaches, and the field measured by gradient.
* :mod:`~vidconv.analysis.counting` — parameters, MACs and FLOPs
  (``torch.utils.flop_counter``).
* :mod:`~vidconv.analysis.memory` — what a training step saves for backward.
* :mod:`~vidconv.analysis.model_summary` — a per-layer table of all three.

The private modules are their machinery: ``_field_tracker`` follows a
receptive field through a network, ``_path_counting`` counts the paths that
reach each frame, ``_probe`` runs a network on a meta or small input.
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

__all__ = [
    "AxisLayer",
    "MeasuredField",
    "ModelSummary",
    "SavedMemory",
    "count_flops",
    "count_macs",
    "count_parameters",
    "cumulative_stride",
    "empirical_receptive_field",
    "frames_reached",
    "layers_along_axis",
    "receptive_field",
    "receptive_field_table",
    "saved_tensor_memory",
    "summary",
    "temporal_stack",
]
