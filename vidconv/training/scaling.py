"""How data-parallel training scales: one DDP training step timed with 1, 2, ... processes.

Every process holds the model and trains on its own batch of ``shape[0]`` clips (*weak scaling*: the
global batch grows with the processes, as when a run moves from one GPU to eight), so with ideal
scaling the step time stays the same and the throughput grows N-fold. Each configuration is a subset
of ``max(nprocs)`` processes started once with ``torch.multiprocessing`` (the engine torchrun uses)
and joined by a file rendezvous, so it runs from a script, a test or a notebook alike. On GPUs: one
GPU per process, NCCL. On the CPU: gloo, and *one thread per process*, so that a core stands in for
a GPU.

Besides the step time, each configuration is timed under ``DistributedDataParallel.no_sync()``, which
skips the gradient all-reduce: the difference is what synchronising the gradients costs.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from vidconv.utils.checks import (
    check_device,
    check_int,
    check_positive_int,
    check_shape,
)
from vidconv.utils.device import one_cpu_thread
from vidconv.utils.table import Table
from vidconv.utils.timing import synchronize


def _time_steps(
    model: DistributedDataParallel,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    device: torch.device,
    steps: int,
    warmup: int,
) -> dict[bool, list[float]]:
    """Seconds per step with and without the gradient all-reduce, alternating step by step so that a
    change in the machine's load during the measurement touches both alike."""
    times: dict[bool, list[float]] = {True: [], False: []}
    for i in range(warmup + steps):
        for sync_gradients in (True, False):
            synchronize(device)
            start = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            if sync_gradients:
                F.cross_entropy(
                    model(x), y
                ).backward()  # DDP all-reduces gradient buckets during backward
            else:
                with (
                    model.no_sync()
                ):  # gradients stay local: the step without communication
                    F.cross_entropy(model(x), y).backward()
            opt.step()
            synchronize(device)
            if i >= warmup:
                times[sync_gradients].append(time.perf_counter() - start)
    return times


def _measure(
    rank: int,
    group: dist.ProcessGroup,
    build: Callable[[], nn.Module],
    shape: tuple[int, ...],
    steps: int,
    warmup: int,
    device: torch.device,
) -> dict[str, float]:
    torch.manual_seed(0)
    model = DistributedDataParallel(
        build().to(device),
        device_ids=[device.index] if device.type == "cuda" else None,
        process_group=group,
    )
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(
        rank
    )  # each process its own clips, as with a DistributedSampler
    x = torch.randn(shape, generator=gen).to(device)
    with torch.no_grad():
        classes = model.module(x[:1]).shape[1]
    y = torch.randint(0, classes, (shape[0],), generator=gen).to(device)
    timed = {}
    for sync_gradients, seconds in _time_steps(
        model, opt, x, y, device, steps, warmup
    ).items():
        times = torch.tensor(seconds, dtype=torch.float64, device=device)
        dist.all_reduce(
            times, op=dist.ReduceOp.MAX, group=group
        )  # a step lasts until its slowest process is done
        timed[sync_gradients] = statistics.median(times.tolist())
    grad_bytes = sum(
        p.numel() * p.element_size()
        for p in model.parameters()
        if p.requires_grad
    )
    return {
        "step": timed[True],
        "no_sync": timed[False],
        "grad_bytes": grad_bytes,
    }


def _worker(
    rank: int,
    world: int,
    store: str,
    build: Callable[[], nn.Module],
    shape: tuple[int, ...],
    nprocs: list[int],
    steps: int,
    warmup: int,
    cuda: bool,
    queue,
) -> None:
    """One of ``max(nprocs)`` processes; for each count n, ranks 0..n-1 train together while the others
    wait, idle, at a barrier. Rank 0 puts each result on ``queue``. Starting the processes once (not
    once per count) saves a second of Python and torch start-up per count."""
    if cuda:
        device = torch.device("cuda", rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    # On the CPU one core per process stands in for one GPU per process.
    with one_cpu_thread(device):
        dist.init_process_group(
            "nccl" if cuda else "gloo",
            init_method=f"file://{store}",
            rank=rank,
            world_size=world,
        )
        try:
            for n in nprocs:
                # every process takes part in creating every group, even one it is not in
                group = (
                    dist.group.WORLD
                    if n == world
                    else dist.new_group(list(range(n)))
                )
                if rank < n:
                    result = _measure(
                        rank, group, build, shape, steps, warmup, device
                    )
                    if rank == 0:
                        queue.put(result)
                dist.barrier()
        finally:
            dist.destroy_process_group()


def ddp_step_time(
    build: Callable[[], nn.Module],
    shape: Sequence[int],
    *,
    nprocs: Sequence[int] = (1, 2),
    device: torch.device | str = "cpu",
    steps: int = 5,
    warmup: int = 2,
) -> Table:
    """Median time of one SGD step of ``build()`` under DDP for each process count in ``nprocs``.

    ``build`` must be picklable (a module-level function or a ``functools.partial`` of one): every
    process builds its own copy. ``shape`` is one process's batch ``(B, C, T, H, W)``. The first entry
    of ``nprocs`` must be 1, the reference of every ratio. Columns: clips per step over all processes,
    ms per step, ms without the gradient all-reduce (``no_sync``), the gradient MiB each all-reduce moves,
    throughput (clips/s), speed-up over one process and scaling efficiency (speed-up / processes).
    """
    if not callable(build):
        raise TypeError(
            f"build must be a callable that returns an nn.Module, got {type(build).__name__}"
        )
    shape = check_shape(shape, "shape", ndim=5)
    device = check_device(device)
    if device.type not in ("cpu", "cuda"):
        raise ValueError(
            f"device must be 'cpu' (gloo) or 'cuda' (NCCL), got {str(device)!r}"
        )
    if isinstance(nprocs, (int, str)) or not nprocs:
        raise TypeError(
            f"nprocs must be a non-empty sequence of process counts such as (1, 2), got {nprocs!r}"
        )
    nprocs = [check_int(n, "nprocs entry", minimum=1) for n in nprocs]
    if nprocs[0] != 1:
        raise ValueError(
            f"nprocs must start with 1, the reference of the ratios, got {nprocs}"
        )
    available = (
        torch.cuda.device_count()
        if device.type == "cuda"
        else (os.cpu_count() or 1)
    )
    if max(nprocs) > available:
        unit = (
            "GPUs"
            if device.type == "cuda"
            else "CPU cores (one thread per process)"
        )
        raise ValueError(
            f"nprocs asks for {max(nprocs)} processes but this machine has {available} {unit}"
        )
    steps = check_positive_int(steps, "steps")
    warmup = check_int(warmup, "warmup", minimum=0)
    queue = mp.get_context("spawn").SimpleQueue()
    with (
        tempfile.TemporaryDirectory() as tmp
    ):  # the file rendezvous: no port to find or collide on
        mp.start_processes(
            _worker,
            args=(
                max(nprocs),
                os.path.join(tmp, "store"),
                build,
                shape,
                nprocs,
                steps,
                warmup,
                device.type == "cuda",
                queue,
            ),
            nprocs=max(nprocs),
            start_method="spawn",
        )
    rows = []
    for n in nprocs:
        result = queue.get()
        clips = n * shape[0]
        rows.append(
            {
                "processes": n,
                "clips / step": clips,
                "ms / step": round(1e3 * result["step"], 2),
                "ms, no all-reduce": round(1e3 * result["no_sync"], 2),
                "gradient MiB": round(result["grad_bytes"] / 2**20, 3),
                "clips / s": round(clips / result["step"], 1),
            }
        )
    for row in rows:
        row["speed-up"] = round(row["clips / s"] / rows[0]["clips / s"], 2)
        row["efficiency"] = round(row["speed-up"] / row["processes"], 2)
    return Table(rows)
