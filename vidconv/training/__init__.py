"""Training video classifiers on any device.

* :mod:`~vidconv.training.loop` — ``train_one_epoch``, ``evaluate`` (clip and video top-k), ``fit``.
* :mod:`~vidconv.training.checkpointing` — recompute blocks in backward to save activation memory.
* :mod:`~vidconv.training.optim` — parameter groups for fine-tuning (backbone vs head).
"""

from vidconv.training.checkpointing import enable_checkpointing
from vidconv.training.loop import autocast, evaluate, fit, topk_correct, train_one_epoch
from vidconv.training.optim import param_groups

__all__ = ["autocast", "enable_checkpointing", "evaluate", "fit", "param_groups", "topk_correct", "train_one_epoch"]
