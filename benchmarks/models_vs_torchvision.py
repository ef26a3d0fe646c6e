"""Forward + backward time of vidconv's models against torchvision's, as a ratio, on this machine.

Both networks of a pair get the same weights and the same clip; runs alternate between them so that
drift (thermal, other processes) hits both alike; each figure is the median of --repeats runs after
one warm-up. A ratio above 1 means vidconv is slower. Run: ``python benchmarks/models_vs_torchvision.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torchvision.models import video as tv

import vidconv.models as M

PAIRS = {  # name -> clip shape (B, C, T, H, W); the smallest clips that keep the timing meaningful
    "r3d_18": (2, 3, 8, 112, 112),
    "mc3_18": (2, 3, 8, 112, 112),
    "r2plus1d_18": (2, 3, 8, 112, 112),
    "s3d": (1, 3, 13, 209, 209),
}


def step(model: torch.nn.Module, clip: torch.Tensor) -> float:
    start = time.perf_counter()
    model(clip).sum().backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=list(PAIRS))
    args = parser.parse_args()
    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; median of {args.repeats} forward+backward runs"
    )
    print(
        f"{'model':<12} {'clip':<18} {'vidconv s':>10} {'torchvision s':>14} {'ratio':>7}"
    )
    for name in args.models:
        theirs = getattr(tv, name)().train()
        ours = getattr(M, name)().train()
        ours.load_state_dict(theirs.state_dict())
        clip = torch.randn(PAIRS[name])
        step(ours, clip), step(theirs, clip)  # warm-up
        t_ours, t_theirs = [], []
        for _ in range(args.repeats):
            t_ours.append(step(ours, clip))
            t_theirs.append(step(theirs, clip))
        a, b = statistics.median(t_ours), statistics.median(t_theirs)
        print(
            f"{name:<12} {'x'.join(map(str, PAIRS[name])):<18} {a:>10.3f} {b:>14.3f} {a / b:>7.3f}"
        )


if __name__ == "__main__":
    main()
