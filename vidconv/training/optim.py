"""Optimizer parameter groups for fine-tuning: the backbone and the head at their own learning rates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn


def param_groups(model: nn.Module, head: str | Sequence[str], *, backbone_lr: float, head_lr: float,
                 weight_decay: float = 0.0) -> list[dict[str, Any]]:
    """Two optimizer groups: parameters under the ``head`` module name(s), and all others."""
    names = [head] if isinstance(head, str) else list(head)
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise ValueError(f"no module named {missing} in {type(model).__name__}; children: {[n for n, _ in model.named_children()]}")
    head_params = {id(p) for n in names for p in modules[n].parameters()}
    head_list = [p for p in model.parameters() if id(p) in head_params]
    backbone = [p for p in model.parameters() if id(p) not in head_params]
    return [{"params": backbone, "lr": backbone_lr, "weight_decay": weight_decay},
            {"params": head_list, "lr": head_lr, "weight_decay": weight_decay}]
