"""Time one training step of R(2+1)D-18 under each recipe of Chapter 8 on whatever device is here.

Recipes (vidconv.experiments.performance.RECIPES): fp32 eager (the reference), bf16 autocast,
channels_last_3d, activation checkpointing of the residual blocks, cudnn.benchmark, torch.compile, and
bf16 + channels_last_3d + compile. For each: saved-for-backward MiB (exact), peak allocated MiB (CUDA),
ms per step, clips/s and the speed-up over fp32 eager in the same run. Also the device's measured
dense-matmul throughput (fp32, TF32 and bf16) and each recipe's MFU: counted training FLOPs (3 x forward)
per second over that measured peak.

On a GPU the default is R(2+1)D-18 on 8 clips of 16x112x112; on a CPU (no GPU found) a miniature on a
small clip, without torch.compile, so the grid runs in well under a minute. Writes a JSON with the
device name, torch/CUDA/cuDNN versions, the UTC date and every measurement.

    python benchmarks/gpu_recipes.py --out data/benchmarks/gpu_recipes_<device>.json
"""

import argparse
import datetime
import json
import platform

import torch

from vidconv.analysis.counting import count_flops
from vidconv.experiments.performance import (
    RECIPES,
    matmul_throughput,
    recipe_grid,
)
from vidconv.experiments.r2plus1d.vs_r3d import miniature
from vidconv.models import r2plus1d_18
from vidconv.models.resnet import BasicBlock


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--batch", type=int, help="clips per step (default 8 on GPU, 2 on CPU)"
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
        "--repeats",
        type=int,
        default=10,
        help="timed steps per recipe (median; default 10)",
    )
    ap.add_argument(
        "--recipes",
        nargs="*",
        choices=RECIPES,
        help="subset of recipes (default: all on GPU)",
    )
    ap.add_argument(
        "--out", default="gpu_recipes.json", help="JSON file to write"
    )
    args = ap.parse_args()

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    b = args.batch or (8 if cuda else 2)
    t = args.frames or (16 if cuda else 8)
    s = args.size or (112 if cuda else 32)
    if cuda:
        build, model_name = r2plus1d_18, "r2plus1d_18"
        recipes = args.recipes or RECIPES
    else:
        build, model_name = (
            (lambda: miniature("R(2+1)D", (4, 8, 16, 32))),
            "R(2+1)D miniature (4, 8, 16, 32)",
        )
        recipes = args.recipes or RECIPES[:4]
    shape = (b, 3, t, s, s)
    table = recipe_grid(
        build,
        shape,
        device=device,
        recipes=recipes,
        block_types=(BasicBlock,),
        repeats=args.repeats,
    )
    with torch.device("meta"):
        train_flops = 3 * count_flops(build(), shape)  # backward ~ 2 x forward
    peaks = {"float32": matmul_throughput(device, n=4096 if cuda else 512)}
    if cuda:
        peaks["bfloat16"] = matmul_throughput(
            device, n=4096, dtype=torch.bfloat16
        )
        # cuDNN runs float32 convolutions on TF32 tensor cores unless told otherwise (PyTorch's default),
        # so the float32 recipes' MFU is taken against a TF32 matmul, not true float32 arithmetic.
        tf32 = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        peaks["tf32"] = matmul_throughput(device, n=4096)
        torch.backends.cuda.matmul.allow_tf32 = tf32
    fp32_peak = (
        "tf32" if cuda and torch.backends.cudnn.allow_tf32 else "float32"
    )
    rows = table.rows
    for r in rows:
        achieved = train_flops / (r["ms / step"] / 1e3)
        r["TFLOP/s"] = round(achieved / 1e12, 3)
        r["MFU"] = round(
            achieved
            / peaks["bfloat16" if "bf16" in r["recipe"] else fp32_peak],
            3,
        )
    result = {
        "device": torch.cuda.get_device_name(device)
        if cuda
        else platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "model": model_name,
        "input_shape": list(shape),
        "repeats": args.repeats,
        "training_flops_per_step": train_flops,
        "matmul_flops_per_s": peaks,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32 if cuda else None,
        "rows": rows,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(table)
    print(f"device: {result['device']}; matmul peak {peaks}; wrote {args.out}")


if __name__ == "__main__":
    main()
