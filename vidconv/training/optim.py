"""Optimizer parameter groups for fine-tuning: the backbone and the head at their own learning rates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from vidconv.utils.checks import check_number


def param_groups(
    model: nn.Module,
    head: str | Sequence[str],
    *,
    backbone_lr: float,
    head_lr: float,
    weight_decay: float = 0.0,
) -> list[dict[str, Any]]:
    """Two optimizer groups: parameters under the ``head`` module name(s), and all others."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    if not isinstance(head, str) and (
        not isinstance(head, Sequence)
        or not all(isinstance(n, str) for n in head)
    ):
        raise TypeError(
            f"head must be a module name or a sequence of module names, got {head!r}"
        )
    names = [head] if isinstance(head, str) else list(head)
    if not names or "" in names:
        raise ValueError(
            f"head must name at least one submodule (not the whole model ''), got {head!r}"
        )
    backbone_lr = check_number(backbone_lr, "backbone_lr", minimum=0.0)
    head_lr = check_number(head_lr, "head_lr", minimum=0.0)
    weight_decay = check_number(weight_decay, "weight_decay", minimum=0.0)
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise ValueError(
            f"no module named {missing} in {type(model).__name__}; children: {[n for n, _ in model.named_children()]}"
        )
    head_params = {id(p) for n in names for p in modules[n].parameters()}
    head_list = [p for p in model.parameters() if id(p) in head_params]
    backbone = [p for p in model.parameters() if id(p) not in head_params]
    return [
        {"params": backbone, "lr": backbone_lr, "weight_decay": weight_decay},
        {"params": head_list, "lr": head_lr, "weight_decay": weight_decay},
    ]
