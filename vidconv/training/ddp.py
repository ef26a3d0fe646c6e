"""Data-parallel training with PyTorch's own engine: ``torchrun`` +
``DistributedDataParallel``.

``torchrun --nproc_per_node=N script.py`` starts N copies of the same script and
tells each, through environment variables, who it is (``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``) and where to meet (``MASTER_ADDR``, ``MASTER_PORT``). Each
process holds a full copy of the model and reads its own share of the data; DDP
averages the gradients across processes during ``backward`` (an all-reduce per
bucket of gradients), so every copy takes the same optimizer step and the copies
never drift apart.

* :func:`distributed` joins the process group (NCCL on GPUs, gloo on the CPU,
  chosen from the device) and wraps the model in ``DistributedDataParallel``;
  :func:`~vidconv.training.fit` calls it for you.
* :func:`distributed_loader` splits a *global* batch over the processes: a
  ``DistributedSampler`` for training (shuffled by epoch through ``set_epoch``),
  a :class:`ShardSampler` for evaluation (no padding, so every sample is counted
  once).
* :func:`all_sum` and :func:`agree` are the two collectives the loop needs: sums
  of metrics over the whole dataset, and stopping every process together when
  one of them meets a bad batch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from vidconv.utils.checks import (
    check_bool,
    check_device,
    check_int,
    check_positive_int,
)

# What torchrun sets in every process it starts.
TORCHRUN_ENV = (
    "RANK",
    "LOCAL_RANK",
    "WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
)


def launched() -> bool:
    """True when a launcher such as torchrun started this process (it set
    ``WORLD_SIZE`` or ``RANK``)."""
    return "WORLD_SIZE" in os.environ or "RANK" in os.environ


def is_distributed() -> bool:
    """True once this process has joined a process group."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's number, 0 .. world_size - 1 (0 in a single process)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """How many processes train together (1 in a single process)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Rank 0 (or the only process): the one that prints, shows progress bars
    and writes checkpoints."""
    return rank() == 0


def _env_int(name: str) -> int:
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"environment variable {name} must be an integer, got {value!r}"
        ) from None


def _missing_env() -> RuntimeError:
    missing = [name for name in TORCHRUN_ENV if name not in os.environ]
    return RuntimeError(
        "distributed training needs the environment variables "
        f"{list(TORCHRUN_ENV)} that torchrun sets; {missing} missing. "
        "Start the script with `torchrun --nproc_per_node=N script.py` (or "
        "`python -m torch.distributed.run ...`), or call fit from a single "
        "process without RANK/WORLD_SIZE in the environment."
    )


def init(device: torch.device | str | None = None) -> torch.device:
    """Join the process group that torchrun describes, if torchrun started this
    process; return its device.

    Under torchrun: on CUDA the device is ``cuda:LOCAL_RANK`` (one GPU per
    process) and the backend NCCL; on the CPU the backend is gloo. In a single
    process: just the checked ``device``. Joining twice is harmless, so a script
    that calls it first runs unchanged in one process or many.
    """
    if is_distributed():
        if dist.get_backend() == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")
    if not launched():
        return check_device(device)
    if any(name not in os.environ for name in TORCHRUN_ENV):
        raise _missing_env()
    local_rank = _env_int("LOCAL_RANK")
    device = check_device(
        device
        if device is not None
        else "cuda"
        if torch.cuda.is_available()
        else "cpu"
    )
    if device.type not in ("cuda", "cpu"):
        raise ValueError(
            "distributed training runs on CUDA GPUs (NCCL) or the CPU (gloo), "
            f"got device {str(device)!r}"
        )
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"LOCAL_RANK={local_rank} but this machine has "
                f"{torch.cuda.device_count()} GPU(s): start at most one "
                "process per GPU (--nproc_per_node)"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def shutdown() -> None:
    """Leave the process group (call once at the end of a torchrun script)."""
    if is_distributed():
        dist.destroy_process_group()


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a ``DistributedDataParallel`` wrapper (the model itself
    otherwise)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def distributed(
    model: nn.Module,
    device: torch.device | str | None = None,
    *,
    sync_batchnorm: bool = False,
) -> tuple[DistributedDataParallel, torch.device]:
    """Join the process group (:func:`init`), move ``model`` to this process's
    device and wrap it in DDP.

    The parameters stay the same objects, so an optimizer made before the call
    keeps working. ``sync_batchnorm=True`` turns batch norms into
    ``SyncBatchNorm`` (statistics over the global batch; PyTorch supports it on
    CUDA only); otherwise each process normalises with its own batch's
    statistics. Returns ``(ddp_model, device)``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    check_bool(sync_batchnorm, "sync_batchnorm")
    if not (launched() or is_distributed()):
        raise _missing_env()
    device = init(device)
    if isinstance(model, DistributedDataParallel):
        return model, device
    if sync_batchnorm:
        if device.type != "cuda":
            raise ValueError(
                "sync_batchnorm=True needs CUDA GPUs: "
                "PyTorch's SyncBatchNorm does not run on the CPU"
            )
        # Same Parameter objects.
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.to(device)
    return DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None
    ), device


def _comm_device() -> torch.device:
    """Where collective tensors live: the GPU for NCCL, the CPU for gloo."""
    return (
        torch.device("cuda", torch.cuda.current_device())
        if dist.get_backend() == "nccl"
        else torch.device("cpu")
    )


def all_sum(values: Sequence[float]) -> list[float]:
    """Each value summed over every process (float64, so counts stay exact);
    unchanged in one process."""
    if not is_distributed():
        return list(values)
    total = torch.tensor(
        list(values), dtype=torch.float64, device=_comm_device()
    )
    dist.all_reduce(total)
    return total.tolist()


def all_equal(value: int, what: str) -> None:
    """Stop with a ValueError on every process unless ``value`` is the same on
    all of them."""
    if not is_distributed():
        return
    values = torch.zeros(
        world_size(), dtype=torch.float64, device=_comm_device()
    )
    values[rank()] = value
    dist.all_reduce(values)
    if len(set(values.tolist())) > 1:
        raise ValueError(
            f"{what} differs between processes: "
            f"{[int(v) for v in values.tolist()]} by rank. DDP needs the same "
            "number of steps on every process (a DistributedSampler gives that)"
        )


def agree(error: BaseException | None, where: str) -> None:
    """Every process calls this at the same point; if any of them failed there,
    all of them stop.

    Without it one process raising before ``backward`` would leave the others
    waiting forever in DDP's all-reduce. The failing process re-raises its own
    error, the others a RuntimeError naming it.
    """
    if not is_distributed():
        if error is not None:
            raise error
        return
    failed = torch.zeros(world_size(), device=_comm_device())
    if error is not None:
        failed[rank()] = 1
    dist.all_reduce(failed)
    if error is not None:
        raise error
    ranks = failed.nonzero().flatten().tolist()
    if ranks:
        raise RuntimeError(
            f"{where}: the process(es) of rank {ranks} stopped with an error "
            f"(see their output); rank {rank()} stops with them"
        )


def barrier() -> None:
    """Wait until every process gets here (nothing in a single process)."""
    if is_distributed():
        dist.barrier()


def all_merge(
    sums: dict[Any, Any], labels: dict[Any, Any]
) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """Per-key sums (a video's softmax over its clips) and labels merged over
    every process.

    The parts are added in rank order, so every process ends with the same
    numbers; unchanged in one process.
    """
    if not is_distributed():
        return sums, labels
    parts: list[Any] = [None] * world_size()
    dist.all_gather_object(parts, (sums, labels))
    merged: dict[Any, Any] = {}
    merged_labels: dict[Any, Any] = {}
    for part_sums, part_labels in parts:
        for key, value in part_sums.items():
            merged[key] = merged.get(key, 0) + value
        merged_labels.update(part_labels)
    return merged, merged_labels


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + N, rank + 2N, ...`` of a dataset, in order,
    without padding.

    For evaluation: unlike ``DistributedSampler`` it never repeats a sample to
    even out the shards, so sums over all processes count every sample exactly
    once (shards may differ in length by one).
    """

    def __init__(
        self,
        dataset: Dataset,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        if not hasattr(dataset, "__len__"):
            raise TypeError(
                "dataset must have a length (a map-style Dataset), "
                f"got {type(dataset).__name__}"
            )
        self.dataset = dataset
        self.num_replicas = (
            world_size()
            if num_replicas is None
            else check_int(num_replicas, "num_replicas", minimum=1)
        )
        self.rank = (
            (dist.get_rank() if is_distributed() else 0)
            if rank is None
            else check_int(rank, "rank", minimum=0)
        )
        if self.rank >= self.num_replicas:
            raise ValueError(
                f"rank must be < num_replicas={self.num_replicas}, "
                f"got {self.rank}"
            )

    def __iter__(self):
        return iter(range(self.rank, len(self.dataset), self.num_replicas))

    def __len__(self) -> int:
        return len(range(self.rank, len(self.dataset), self.num_replicas))


def distributed_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    train: bool,
    seed: int = 0,
    drop_last: bool = False,
    **loader_kwargs: Any,
) -> DataLoader:
    """A DataLoader for this process's share of ``dataset``; ``batch_size`` is
    the *global* batch.

    ``batch_size`` must be divisible by the number of processes: each reads
    ``batch_size // N`` clips per step. Training shuffles with a
    ``DistributedSampler`` seeded by ``seed`` (``fit`` calls its ``set_epoch``
    every epoch; it pads the last shard by repeating samples when the dataset
    does not divide evenly, as PyTorch does); evaluation reads a
    :class:`ShardSampler`. In a single process it is an ordinary loader in the
    same order as ``N`` processes read together.
    """
    if not hasattr(dataset, "__len__"):
        raise TypeError(
            "dataset must be a map-style Dataset with a length, "
            f"got {type(dataset).__name__}"
        )
    batch_size = check_positive_int(batch_size, "batch_size")
    check_bool(train, "train")
    seed = check_int(seed, "seed", minimum=0)
    n = world_size()
    if batch_size % n:
        raise ValueError(
            f"batch_size is the global batch, split evenly over the {n} "
            f"processes, so it must be divisible by {n}; got {batch_size}"
        )
    for key in ("sampler", "batch_sampler", "shuffle", "batch_size"):
        if key in loader_kwargs:
            raise TypeError(
                f"distributed_loader chooses {key} itself; do not pass it"
            )
    sampler = (
        DistributedSampler(
            dataset,
            num_replicas=n,
            rank=rank(),
            shuffle=True,
            seed=seed,
            drop_last=drop_last,
        )
        if train
        else ShardSampler(dataset)
    )
    return DataLoader(
        dataset,
        batch_size=batch_size // n,
        sampler=sampler,
        drop_last=drop_last,
        **loader_kwargs,
    )


def check_sharded(loader: object, name: str, *, train: bool) -> None:
    """Under a process group, ``loader`` must give this process its own share of
    the data."""
    if not is_distributed():
        return
    sampler = getattr(loader, "sampler", None)
    allowed = (
        (DistributedSampler,) if train else (DistributedSampler, ShardSampler)
    )
    how = (
        "a DataLoader with sampler=DistributedSampler(dataset)"
        + ("" if train else " or ShardSampler(dataset)")
        + " (vidconv.training.ddp.distributed_loader builds one)"
    )
    if not isinstance(loader, DataLoader):
        raise TypeError(
            f"{name}: under torchrun ({world_size()} processes) "
            "each process must read its own share of the data, "
            f"through {how}; got {type(loader).__name__}"
        )
    if not isinstance(sampler, allowed):
        raise ValueError(
            f"{name}: under torchrun ({world_size()} processes) "
            f"each process must read its own share of the data, through {how}; "
            f"got a DataLoader with sampler {type(sampler).__name__}, "
            "so every process would read the whole dataset"
        )
    if sampler.num_replicas != world_size() or sampler.rank != rank():
        raise ValueError(
            f"{name}: the sampler splits the data for rank {sampler.rank} of "
            f"{sampler.num_replicas}, but this process is rank {rank()} of "
            f"{world_size()}"
        )
    if (
        not train
        and isinstance(sampler, DistributedSampler)
        and not sampler.drop_last
        and len(sampler.dataset) % world_size()
    ):
        raise ValueError(
            f"{name}: a DistributedSampler pads {len(sampler.dataset)} "
            f"samples to a multiple of {world_size()} by repeating some, "
            "which would count them twice in the metrics; evaluate with "
            "ShardSampler(dataset) (distributed_loader(..., train=False))"
        )
