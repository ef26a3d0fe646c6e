"""MoViNet-A0 streamed frame by frame against re-running the offline model, on whatever device is here.

Runs vidconv.experiments.beyond.movinet_streaming.streaming_cost (the function Chapter 11 calls) on randomised
weights and a random clip: per frame, the time of one ``model.stream`` step, of re-running the causal
model on every frame so far (the growing clip) and on a sliding window, the memory each way keeps
between frames, and the largest logit gap to the growing clip. On a GPU the default is the paper's
input, 50 frames of 172x172; on a CPU a small clip. Writes a JSON with the device, versions and date.

    python benchmarks/movinet_streaming.py --out movinet_streaming.json
"""

import argparse
import datetime
import json
import platform

import torch

from vidconv.experiments.beyond.movinet_streaming import (
    randomize,
    streaming_cost,
)
from vidconv.models import movinet_a0


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--frames", type=int, help="clip length (default 50 on GPU, 12 on CPU)"
    )
    ap.add_argument(
        "--size",
        type=int,
        help="height = width (default 172 on GPU, 48 on CPU)",
    )
    ap.add_argument(
        "--window",
        type=int,
        default=8,
        help="sliding-window length (default 8)",
    )
    ap.add_argument(
        "--no-tf32",
        action="store_true",
        help="turn off cuDNN's TF32 convolutions (PyTorch's default leaves them on)",
    )
    ap.add_argument(
        "--out", default="movinet_streaming.json", help="JSON file to write"
    )
    args = ap.parse_args()
    if args.no_tf32:
        torch.backends.cudnn.allow_tf32 = False

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    t, s = (
        args.frames or (50 if cuda else 12),
        args.size or (172 if cuda else 48),
    )
    model = randomize(movinet_a0()).to(device)
    clip = torch.rand(
        1, 3, t, s, s, generator=torch.Generator().manual_seed(0)
    ).to(device)
    streaming_cost(
        model, clip[:, :, :4], window=args.window
    )  # warm-up: kernels, allocator
    table, series = streaming_cost(model, clip, window=args.window)
    result = {
        "device": torch.cuda.get_device_name(device)
        if cuda
        else platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "model": "movinet_a0 (causal, randomised weights)",
        "clip_shape": list(clip.shape),
        "window": args.window,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "rows": table.rows,
        "series": series,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(table)
    print(f"device: {result['device']}; wrote {args.out}")


if __name__ == "__main__":
    main()
