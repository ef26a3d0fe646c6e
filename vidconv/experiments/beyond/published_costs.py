"""SlowFast's and X3D's published cost figures next to what :func:`vidconv.summary` counts.

Both papers write "GFLOPs" for multiply-adds (one fused multiply-add, one "FLOP"; fvcore counts the
same way); torch's FLOP counter counts two per multiply-add, so the comparable column is our GMACs.
Each figure is for the paper's own input: SlowFast-R50 8x8 on one view of 8 Slow and 32 Fast frames of
256 x 256 pixels (it is tested fully convolutionally on 256-pixel crops), X3D on its training clip.
Our counts agree with every quoted figure to its last printed digit; X3D's parameter counts agree
once batch norms' scale and shift are left out (the full counts are PySlowFast's "3.8" and "6.2" M).
Models are built on the meta device: nothing is allocated or computed.
"""

from __future__ import annotations

import torch
from torch import nn

from vidconv.analysis.model_summary import summary
from vidconv.models.slowfast import slowfast_r50
from vidconv.models.x3d import X3D_SIZES, x3d
from vidconv.utils.table import Table

#: (model, builder, input shape, quoted GFLOPs (multiply-adds) and M parameters as printed, their source)
PUBLISHED: list[tuple[str, object, tuple[int, ...], str, str, str]] = [
    (
        "SlowFast-R50 8x8",
        slowfast_r50,
        (1, 3, 32, 256, 256),
        "65.7",
        "34.57",
        "GFLOPs: Feichtenhofer et al. 2019, Kinetics-400 comparison; params: pytorchvideo model zoo",
    ),
    *[
        (
            f"X3D-{size.upper()}",
            lambda s=size: x3d(s),
            X3D_SIZES[size].input_shape,
            gflops,
            mparams,
            "Feichtenhofer 2020, Table 3 (GFLOPs also in PySlowFast's model zoo)",
        )
        for size, gflops, mparams in (
            ("xs", "0.60", "3.76"),
            ("s", "1.96", "3.76"),
            ("m", "4.73", "3.76"),
            ("l", "18.37", "6.08"),
        )
    ],
]


def _batch_norm_parameters(model: nn.Module) -> int:
    return sum(
        p.numel()
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        for p in m.parameters()
    )


def published_vs_measured() -> Table:
    """One row per model: its input, the quoted GFLOPs and parameters, and ours (GMACs; parameters with
    and without batch norms' scale and shift, which X3D's table leaves out)."""
    rows = []
    for name, build, shape, gflops, mparams, source in PUBLISHED:
        with torch.device("meta"):
            model = build()  # type: ignore[operator]
        table = summary(model, shape, depth=1)
        rows.append(
            {
                "model": name,
                "input (T, H, W)": "x".join(map(str, shape[2:])),
                "quoted GFLOPs (MACs)": gflops,
                "our GMACs": round(table.total_macs / 1e9, 3),
                "our GFLOPs (2 per MAC)": round(table.total_flops / 1e9, 3),
                "quoted M params": mparams,
                "our M params": round(table.total_parameters / 1e6, 3),
                "ours without BN": round(
                    (table.total_parameters - _batch_norm_parameters(model))
                    / 1e6,
                    3,
                ),
                "source": source,
            }
        )
    return Table(rows, floatfmt=".3f")
