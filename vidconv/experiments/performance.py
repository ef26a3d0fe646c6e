"""Chapter 8's measurements: what a training step of a 3D CNN keeps in memory and how long it takes.

* :func:`memory_scaling` — saved-for-backward bytes (:func:`vidconv.analysis.memory.saved_tensor_memory`) over a
  grid of clip shapes, next to the study guide's estimate (the input clip's bytes) and a per-voxel law.
* :func:`recipe_grid` — one training step under each recipe (bf16 autocast, ``channels_last_3d``,
  activation checkpointing, ``cudnn.benchmark``, ``torch.compile``), time and memory against fp32 eager
  in the same run.
* :func:`grouped_vs_dense` — a dense, a depthwise and a depthwise-separable 3x3x3 convolution: FLOPs
  against time, with and without ``channels_last_3d``.
* :func:`matmul_throughput` and :func:`conv_intensity` — the device's measured dense-matmul FLOP/s (the
  honest peak) and each convolution's arithmetic intensity, for a roofline.

Timings are medians of a few repeats after a warm-up; on CUDA every timing synchronises.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn

from vidconv.analysis.counting import count_flops
from vidconv.analysis.memory import saved_tensor_memory
from vidconv.training import enable_checkpointing
from vidconv.training.steps import gradient_steps
from vidconv.utils.checks import (
    check_device,
    check_positive_int,
    check_shape,
)
from vidconv.utils.table import Table
from vidconv.utils.timing import median_seconds

RECIPES = (
    "fp32 eager",
    "bf16 autocast",
    "channels_last_3d",
    "checkpointing",
    "cudnn.benchmark",
    "torch.compile",
    "bf16 + channels_last_3d + compile",
)


def guide_estimate_bytes(
    shape: Sequence[int], dtype: torch.dtype = torch.float32
) -> int:
    """The study guide's ``estimate_memory_usage``, in bytes: the elements of the input clip times their size."""
    shape = check_shape(shape, "shape", ndim=5)
    return (
        torch.Size(shape).numel() * torch.empty((), dtype=dtype).element_size()
    )


def _model_on(
    build: Callable[[], nn.Module], device: torch.device
) -> nn.Module:
    if not callable(build):
        raise TypeError(
            f"build must be a callable returning an nn.Module, got {type(build).__name__}"
        )
    with torch.device(device):
        model = build()
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"build() must return an nn.Module, got {type(model).__name__}"
        )
    return model.train()


def memory_scaling(
    build: Callable[[], nn.Module],
    shapes: Sequence[Sequence[int]],
    *,
    device: torch.device | str = "meta",
) -> Table:
    """Saved-for-backward MiB of ``build()`` for each clip shape ``(B, C, T, H, W)``, in train mode.

    Columns: the measurement, the study guide's estimate (the input clip alone), their ratio, and the bytes per
    input voxel ``B*T*H*W`` — constant when memory follows the law ``bytes = a * B * T * H * W``.
    On ``meta`` (the default) nothing is allocated: full-size networks cost no memory to count.
    """
    device = (
        torch.device(device)
        if isinstance(device, str)
        else check_device(device)
    )
    if not shapes:
        raise ValueError(
            "shapes must contain at least one (B, C, T, H, W) shape, got none"
        )
    model = _model_on(build, device)
    rows = []
    for shape in shapes:
        b, c, t, h, w = check_shape(shape, "each shape", ndim=5)
        saved = saved_tensor_memory(
            model, torch.empty(b, c, t, h, w, device=device), per_layer=False
        ).total
        guide = guide_estimate_bytes((b, c, t, h, w))
        rows.append(
            {
                "B": b,
                "T": t,
                "H=W": h if h == w else f"{h}x{w}",
                "saved MiB": round(saved / 2**20, 2),
                "guide estimate MiB": round(guide / 2**20, 2),
                "saved / guide": round(saved / guide, 1),
                "bytes per voxel": round(saved / (b * t * h * w), 2),
            }
        )
    return Table(rows)


def _recipe(
    name: str,
    model: nn.Module,
    x: torch.Tensor,
    block_types: tuple[type[nn.Module], ...],
):
    """(model, input, autocast on?) for a recipe; cudnn.benchmark is switched by the caller."""
    bf16 = "bf16" in name
    if "channels_last_3d" in name:
        model, x = (
            model.to(memory_format=torch.channels_last_3d),
            x.contiguous(memory_format=torch.channels_last_3d),
        )
    if name == "checkpointing":
        if not block_types:
            raise ValueError(
                "the checkpointing recipe needs block_types, e.g. (BasicBlock,), got ()"
            )
        enable_checkpointing(model, block_types)
    return model, x, bf16


def _training_step(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    labels: torch.Tensor,
    bf16: bool,
) -> None:
    def loss_of(x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            return nn.functional.cross_entropy(model(x), labels)

    gradient_steps(opt, loss_of, [(x, labels)])


def _forward_backward(module: nn.Module, x: torch.Tensor) -> None:
    module(x).sum().backward()


def recipe_grid(
    build: Callable[[], nn.Module],
    shape: Sequence[int],
    *,
    device: torch.device | str,
    recipes: Sequence[str] = RECIPES[:4],
    block_types: tuple[type[nn.Module], ...] = (),
    repeats: int = 3,
    num_classes: int | None = None,
) -> Table:
    """One SGD training step (forward, cross-entropy, backward, update) of ``build()`` under each recipe.

    Every recipe starts from the same initial weights and the same batch. Columns: saved-for-backward MiB
    (exact), peak allocated MiB (CUDA only), median seconds per step, and speed and memory relative to
    the first recipe of the list (put "fp32 eager" first). bf16 uses ``torch.autocast`` (the current API)
    on the device's own type, CPU included.
    """
    device = (
        torch.device(device)
        if isinstance(device, str)
        else check_device(device)
    )
    shape = check_shape(shape, "shape", ndim=5)
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown or not recipes:
        raise ValueError(
            f"recipes must be a non-empty subset of {RECIPES}, got {tuple(recipes)!r}"
        )
    torch.manual_seed(0)
    base = _model_on(build, torch.device("cpu"))
    x0 = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    if num_classes is None:
        with torch.no_grad():  # on a copy: the probe must not move the batch norms' running statistics
            num_classes = copy.deepcopy(base)(x0).shape[1]
    classes = check_positive_int(num_classes, "num_classes")
    labels = torch.randint(
        classes, (shape[0],), generator=torch.Generator().manual_seed(1)
    ).to(device)
    rows = [
        _recipe_row(
            name,
            build_state=(base, x0, labels),
            device=device,
            shape=shape,
            block_types=block_types,
            repeats=repeats,
        )
        for name in recipes
    ]
    for r in rows:
        r["speed-up"] = round(rows[0]["ms / step"] / r["ms / step"], 2)
        r["memory ratio"] = round(r["saved MiB"] / rows[0]["saved MiB"], 3)
    return Table(rows)


def _recipe_row(
    name: str,
    *,
    build_state: tuple[nn.Module, torch.Tensor, torch.Tensor],
    device: torch.device,
    shape: Sequence[int],
    block_types: tuple[type[nn.Module], ...],
    repeats: int,
) -> dict:
    """Measure one recipe. Its model, optimiser and batch live only in this call, so nothing of one
    recipe is still allocated while the next is measured; the peak is that of the timed steady-state
    steps (after the warm-up, which for torch.compile includes compilation and autotuning)."""
    base, x0, labels = build_state
    model, x, bf16 = _recipe(
        name, copy.deepcopy(base).to(device), x0.to(device), block_types
    )
    bench = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = name == "cudnn.benchmark" or bench
    step_model = torch.compile(model) if "compile" in name else model
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    step = partial(_training_step, step_model, opt, x, labels, bf16)
    resident = peak = None
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            saved = saved_tensor_memory(model, x, per_layer=False).total
        for _ in range(2 if "compile" in name else 1):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            resident = (
                torch.cuda.memory_allocated(device) / 2**20
            )  # weights, gradients, batch, workspaces
        seconds = median_seconds(step, device, repeats=repeats, warmup=0)
        peak = (
            torch.cuda.max_memory_allocated(device) / 2**20
            if device.type == "cuda"
            else None
        )
    finally:
        torch.backends.cudnn.benchmark = bench
        if "compile" in name:
            torch.compiler.reset()  # compiled code holds the model: free it before the next recipe
    row = {"recipe": name, "saved MiB": round(saved / 2**20, 2)}
    if (
        device.type == "cuda"
    ):  # allocated before a step, and the most allocated during one
        row |= {"resident MiB": round(resident, 1), "peak MiB": round(peak, 1)}
    else:
        row["peak MiB"] = None
    return row | {
        "ms / step": round(1e3 * seconds, 2),
        "clips / s": round(shape[0] / seconds, 2),
    }


def grouped_vs_dense(
    channels: int,
    shape: Sequence[int],
    *,
    device: torch.device | str,
    repeats: int = 5,
) -> Table:
    """A dense, a depthwise (groups = channels) and a depthwise-separable (+ 1x1x1) 3x3x3 convolution,
    ``channels`` in and out, forward + backward on a clip of ``shape = (B, T, H, W)``: FLOPs, time, and
    time per FLOP relative to the dense one, in the default layout and in ``channels_last_3d``.
    """
    device = (
        torch.device(device)
        if isinstance(device, str)
        else check_device(device)
    )
    channels = check_positive_int(channels, "channels")
    b, t, h, w = check_shape(shape, "shape", ndim=4)
    torch.manual_seed(0)
    convs = {
        "dense 3x3x3": nn.Conv3d(channels, channels, 3, padding=1, bias=False),
        "depthwise 3x3x3": nn.Conv3d(
            channels, channels, 3, padding=1, groups=channels, bias=False
        ),
        "separable (dw + 1x1x1)": nn.Sequential(
            nn.Conv3d(
                channels, channels, 3, padding=1, groups=channels, bias=False
            ),
            nn.Conv3d(channels, channels, 1, bias=False),
        ),
    }
    rows = []
    for layout, fmt in (
        ("contiguous", torch.contiguous_format),
        ("channels_last_3d", torch.channels_last_3d),
    ):
        for name, conv in convs.items():
            flops = count_flops(conv, (b, channels, t, h, w))
            conv = conv.to(device).to(memory_format=fmt)
            x = (
                torch.randn(b, channels, t, h, w, device=device)
                .contiguous(memory_format=fmt)
                .requires_grad_()
            )
            sec = median_seconds(
                partial(_forward_backward, conv, x), device, repeats=repeats
            )
            rows.append(
                {
                    "layout": layout,
                    "conv": name,
                    "forward MFLOPs": round(flops / 1e6, 3),
                    "ms fwd+bwd": round(1e3 * sec, 3),
                }
            )
    dense = {r["layout"]: r for r in rows if r["conv"] == "dense 3x3x3"}
    for r in rows:
        d = dense[r["layout"]]
        r["FLOPs / dense"] = round(r["forward MFLOPs"] / d["forward MFLOPs"], 4)
        r["time / dense"] = round(r["ms fwd+bwd"] / d["ms fwd+bwd"], 3)
    return Table(rows)


def matmul_throughput(
    device: torch.device | str,
    *,
    n: int = 1024,
    dtype: torch.dtype = torch.float32,
    repeats: int = 5,
) -> float:
    """Measured FLOP/s of an ``n x n`` by ``n x n`` matmul (``2 n^3`` FLOPs): this device's honest peak."""
    device = (
        torch.device(device)
        if isinstance(device, str)
        else check_device(device)
    )
    n = check_positive_int(n, "n")
    a = torch.randn(n, n, device=device, dtype=dtype)
    bm = torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n**3 / median_seconds(lambda: a @ bm, device, repeats=repeats)


def conv_intensity(
    model: nn.Module, shape: Sequence[int], *, bytes_per_element: int = 4
) -> Table:
    """Per Conv3d of ``model`` on an input of ``shape``: forward FLOPs, the bytes it must move at least
    (input + weight + output, each read or written once) and their ratio, the arithmetic intensity in
    FLOP/byte. Runs on ``meta``: no memory, no arithmetic.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    shape = check_shape(shape, "shape", ndim=5)
    bytes_per_element = check_positive_int(
        bytes_per_element, "bytes_per_element"
    )
    meta = copy.deepcopy(model).to("meta").eval()
    rows = []

    def hook(name: str):
        def record(conv: nn.Conv3d, args: tuple, out: torch.Tensor) -> None:
            x = args[0]
            k = (
                conv.weight[0].numel()
            )  # (C_in / groups) * kt * kh * kw multiply-adds per output element
            flops = 2 * out.numel() * k
            moved = bytes_per_element * (
                x.numel() + conv.weight.numel() + out.numel()
            )
            rows.append(
                {
                    "conv": name,
                    "output": "x".join(map(str, out.shape[1:])),
                    "MFLOPs": round(flops / 1e6, 2),
                    "MB moved": round(moved / 1e6, 3),
                    "FLOP / byte": round(flops / moved, 1),
                }
            )

        return record

    handles = [
        m.register_forward_hook(hook(n))
        for n, m in meta.named_modules()
        if isinstance(m, nn.Conv3d)
    ]
    try:
        with torch.no_grad():
            meta(torch.empty(shape, device="meta"))
    finally:
        for hnd in handles:
            hnd.remove()
    return Table(rows)
