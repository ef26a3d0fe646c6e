"""X3D's expansion axes, measured: multiply-adds and parameters as each axis of X3D-XS grows alone.

X3D (Feichtenhofer, CVPR 2020) grows a tiny network one axis at a time. Here every axis of
:data:`~vidconv.models.x3d.X3D_AXES` that changes the cost is doubled step by step from X3D-XS
(4 frames of 160 x 160, width 2.0, bottleneck 2.25, depth 2.2), the others held, and the network is
counted on the meta device (no memory, no arithmetic: a few seconds for all of them).

* ``frames`` doubles the input frames. It stands for both temporal axes of the paper: a longer clip
  (gamma_t) and a higher frame rate (gamma_tau) both feed more frames.
* ``crop`` multiplies height and width by sqrt(2), doubling the pixels.
* ``width_factor``, ``bottleneck_factor``, ``depth_factor`` double the network's own factors.

Input axes leave the parameters unchanged; network axes grow them, width fastest (a 1x1x1 conv's
weights grow with both its input and its output width).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from vidconv.analysis.counting import count_macs, count_parameters
from vidconv.models.x3d import X3D, X3D_SIZES
from vidconv.utils.checks import check_int
from vidconv.utils.table import Table

#: How much one step multiplies each axis: the frames, the pixels, or the factor, twice.
EXPANSION_STEPS: dict[str, float] = {
    "frames": 2.0,
    "crop": math.sqrt(2.0),
    "width_factor": 2.0,
    "bottleneck_factor": 2.0,
    "depth_factor": 2.0,
}


@dataclass
class ExpansionResult:
    """One row per (axis, step) in ``table``; ``curves[axis]`` holds that axis's rows, step 0 first."""

    table: Table
    curves: dict[str, list[dict]]


def x3d_expansion(
    steps: int = 2, *, axes: Sequence[str] | None = None, base: str = "xs"
) -> ExpansionResult:
    """GMACs and parameters of X3D-``base`` with each of ``axes`` (default all of :data:`EXPANSION_STEPS`)
    grown ``steps`` times by its step, one axis at a time.

    Rows: axis, step, the axis's value, input shape, GMACs per clip (multiply-adds; FLOPs are twice that),
    millions of parameters, and the GMACs as a multiple of the base model's. Counting takes a few CPU
    seconds for ``steps=2``; the deepest models cost the most (depth 8.8 is 98 blocks to 2.2's 26).
    """
    steps = check_int(steps, "steps", minimum=0, maximum=6)
    axes = list(EXPANSION_STEPS if axes is None else axes)
    unknown = [a for a in axes if a not in EXPANSION_STEPS]
    if unknown or not axes:
        raise ValueError(
            f"axes must be a non-empty list drawn from {list(EXPANSION_STEPS)}, got {axes!r}"
        )
    if base not in X3D_SIZES:
        raise ValueError(
            f"base must be one of {sorted(X3D_SIZES)}, got {base!r}"
        )
    start = X3D_SIZES[base]
    base_macs = None
    curves: dict[str, list[dict]] = {}
    for axis in axes:
        curves[axis] = []
        for k in range(steps + 1):
            value = getattr(start, axis) * EXPANSION_STEPS[axis] ** k
            if axis in ("frames", "crop"):
                value = int(round(value))
            spec = replace(start, **{axis: value})
            with torch.device("meta"):
                model = X3D(
                    width_factor=spec.width_factor,
                    bottleneck_factor=spec.bottleneck_factor,
                    depth_factor=spec.depth_factor,
                )
            macs = count_macs(model, spec.input_shape)
            base_macs = (
                base_macs or macs
            )  # step 0 of the first axis is the base model
            curves[axis].append(
                {
                    "axis": axis,
                    "step": k,
                    "value": round(value, 3)
                    if isinstance(value, float)
                    else value,
                    "input (T, H, W)": "x".join(map(str, spec.input_shape[2:])),
                    "GMACs": round(macs / 1e9, 3),
                    "M params": round(count_parameters(model) / 1e6, 3),
                    "x base GMACs": round(macs / base_macs, 2),
                }
            )
    return ExpansionResult(
        Table([row for rows in curves.values() for row in rows]), curves
    )
