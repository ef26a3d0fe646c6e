"""Each stage's convolution of R(2+1)D-18 against R3D-18's: forward + backward time as a ratio, with FLOPs.

The convolution a stage repeats (its last block's second conv: stride 1, middle width from eq. 5) has
the same parameters and the same multiply-adds in both networks (within rounding of M), so any difference in time is the
implementation's: two launches, a batch norm, a ReLU and an intermediate tensor against one dense
3x3x3 kernel. Both are timed by :func:`vidconv.experiments.r2plus1d.vs_r3d.time_stage_convs` (median of
--repeats after a warm-up) in alternating rounds, so that drift hits both alike. A ratio above 1 means
the factorised convolution is slower. Run: ``python benchmarks/stage_costs.py [--device cuda]``.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from vidconv.experiments.r2plus1d.vs_r3d import time_stage_convs
from vidconv.models import r2plus1d_18, r3d_18


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="alternating rounds; the median is reported",
    )
    parser.add_argument(
        "--shape",
        type=int,
        nargs=5,
        default=(2, 3, 16, 112, 112),
        metavar=("B", "C", "T", "H", "W"),
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads on the CPU",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with torch.device("meta"):
        models = {"R3D-18": r3d_18(), "R(2+1)D-18": r2plus1d_18()}
    seconds: dict[str, dict[str, list[float]]] = {name: {} for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            for row in time_stage_convs(
                model, args.shape, repeats=args.repeats, device=args.device
            ).rows:
                seconds[name].setdefault(row["stage"], []).append(
                    row["seconds (fwd + bwd)"]
                )
    print(
        f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} CPU threads, "
        f"input {tuple(args.shape)}, median of {args.rounds} rounds x {args.repeats} repeats"
    )
    print(f"{'stage':<8} {'R3D ms':>9} {'R(2+1)D ms':>11} {'ratio':>7}")
    for stage in seconds["R3D-18"]:
        a = statistics.median(seconds["R3D-18"][stage])
        b = statistics.median(seconds["R(2+1)D-18"][stage])
        print(f"{stage:<8} {1e3 * a:9.1f} {1e3 * b:11.1f} {b / a:7.2f}")


if __name__ == "__main__":
    main()
