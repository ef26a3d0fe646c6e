"""Training video classifiers on any device, in one process or many.

* :mod:`~vidconv.training.loop` — ``train_one_epoch``, ``evaluate`` (clip and video top-k), ``fit``.
* :mod:`~vidconv.training.steps` — ``gradient_steps``: the step loop the experiments share.
* :mod:`~vidconv.training.ddp` — the same loop under ``torchrun`` with DistributedDataParallel: ``distributed``
  wraps the model, ``distributed_loader`` shards the data; metrics are those of the whole dataset.
* :mod:`~vidconv.training.scaling` — step time of data-parallel training for 1, 2, ... processes.
* :mod:`~vidconv.training.example` — a tiny model on RotatingBlobs, run by ``python -m vidconv.training``
  (``torchrun --nproc_per_node=N -m vidconv.training``).
* :mod:`~vidconv.training.checkpointing` — recompute blocks in backward to save activation memory.
* :mod:`~vidconv.training.optim` — parameter groups for fine-tuning (backbone vs head).
"""

from vidconv.training.checkpointing import enable_checkpointing
from vidconv.training.ddp import (
    ShardSampler,
    distributed,
    distributed_loader,
    is_main,
    rank,
    world_size,
)
from vidconv.training.loop import (
    autocast,
    evaluate,
    fit,
    save_checkpoint,
    topk_correct,
    train_one_epoch,
)
from vidconv.training.optim import param_groups
from vidconv.training.steps import gradient_steps

__all__ = [
    "ShardSampler",
    "autocast",
    "distributed",
    "distributed_loader",
    "enable_checkpointing",
    "evaluate",
    "fit",
    "gradient_steps",
    "is_main",
    "param_groups",
    "rank",
    "save_checkpoint",
    "topk_correct",
    "train_one_epoch",
    "world_size",
]
