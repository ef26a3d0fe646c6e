"""Data-parallel scaling of one training step: DDP with 1, 2, ... processes, ratios against 1 process.

Runs vidconv.training.scaling.ddp_step_time (the function Chapter 8 calls): each process trains the
same model on its own batch (weak scaling), one GPU per process with NCCL on a GPU machine, one CPU core
per process with gloo otherwise. For each process count: ms per step, ms with the gradient all-reduce
skipped (DDP's no_sync), clips/s, and the speed-up and scaling efficiency against the 1-process run of
the same invocation. Writes a JSON with the device, torch/CUDA versions, the UTC date and every number.

On a GPU machine the default is R(2+1)D-18 on 8 clips of 16x112x112 per GPU, for 1, 2, 4, ... up to
every GPU; on a CPU Chapter 8's small 3D CNN (vidconv.training.example.tiny_video_net, 32 channels) on
4 clips of 8x32x32, for 1 and 2 processes.

    python benchmarks/ddp_step_time.py --out result.json
    python benchmarks/ddp_step_time.py --nproc 1 2 4 8 --out result.json
"""

import argparse
import datetime
import functools
import json
import os
import platform

import torch

from vidconv.models import r2plus1d_18
from vidconv.training.example import tiny_video_net
from vidconv.training.scaling import ddp_step_time


def _default_nprocs(available: int) -> list[int]:
    counts = [1]
    while counts[-1] * 2 <= available:
        counts.append(counts[-1] * 2)
    if counts[-1] != available:
        counts.append(available)
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--nproc",
        type=int,
        nargs="+",
        help="process counts, starting with 1 (default: 1, 2, 4, ... up to the GPUs, or 1 2 on a CPU)",
    )
    ap.add_argument(
        "--batch",
        type=int,
        help="clips per process and step (default 8 on GPU, 4 on CPU)",
    )
    ap.add_argument(
        "--frames",
        type=int,
        help="frames per clip (default 16 on GPU, 8 on CPU)",
    )
    ap.add_argument(
        "--size",
        type=int,
        help="height = width (default 112 on GPU, 32 on CPU)",
    )
    ap.add_argument(
        "--steps",
        type=int,
        default=10,
        help="timed steps per configuration (median; default 10)",
    )
    ap.add_argument(
        "--device",
        choices=("cuda", "cpu"),
        help="default: cuda when there is a GPU",
    )
    ap.add_argument(
        "--out", default="ddp_step_time.json", help="JSON file to write"
    )
    args = ap.parse_args()

    cuda = (
        args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    ) == "cuda"
    available = torch.cuda.device_count() if cuda else (os.cpu_count() or 1)
    nprocs = args.nproc or (
        _default_nprocs(available)
        if cuda
        else [n for n in (1, 2) if n <= available]
    )
    b = args.batch or (8 if cuda else 4)
    t = args.frames or (16 if cuda else 8)
    s = args.size or (112 if cuda else 32)
    if cuda:
        build, model_name = r2plus1d_18, "r2plus1d_18"
    else:  # a partial of a module-level function: each spawned process can rebuild it (Chapter 8's CPU run)
        build, model_name = (
            functools.partial(tiny_video_net, 4, 32),
            "tiny_video_net(4, width=32)",
        )
    shape = (b, 3, t, s, s)
    table = ddp_step_time(
        build,
        shape,
        nprocs=nprocs,
        device="cuda" if cuda else "cpu",
        steps=args.steps,
    )
    result = {
        "device": torch.cuda.get_device_name(0)
        if cuda
        else platform.processor() or platform.machine(),
        "gpus": torch.cuda.device_count() if cuda else 0,
        "cpu_cores": os.cpu_count(),
        "backend": "nccl" if cuda else "gloo",
        "threads_per_process": None if cuda else 1,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "model": model_name,
        "shape_per_process": list(shape),
        "steps": args.steps,
        "rows": table.rows,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(table)
    print(
        f"device: {result['device']} ({result['backend']}); ratios against 1 process in this run; wrote {args.out}"
    )


if __name__ == "__main__":
    main()
