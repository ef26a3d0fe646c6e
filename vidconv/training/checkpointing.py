"""Activation checkpointing: recompute chosen blocks in the backward pass instead of storing their
activations, trading compute for memory.

:func:`enable_checkpointing` puts each chosen block inside a :class:`Checkpointed` wrapper module.
The wrapper is an ordinary module — it deep-copies, pickles (``torch.save(model)``) and moves between
devices with the model — and its state-dict hooks drop its own name from the keys, so a checkpointed
model saves and loads exactly the state dict of the plain one.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

_CHILD = (
    "checkpointed"  # the wrapper's only child; invisible in state-dict keys
)


def _drop_child_name(
    module: nn.Module,
    state_dict: dict[str, Any],
    prefix: str,
    local_metadata: Any,
) -> None:
    """State-dict post-hook: ``<prefix>checkpointed.<key>`` -> ``<prefix><key>`` (order kept)."""
    inner = prefix + _CHILD + "."
    for key in [k for k in state_dict if k.startswith(inner)]:
        state_dict[prefix + key[len(inner) :]] = state_dict.pop(key)


def _add_child_name(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any
) -> None:
    """Load pre-hook: ``<prefix><key>`` -> ``<prefix>checkpointed.<key>``, the inverse of the above."""
    inner = prefix + _CHILD + "."
    for key in [
        k
        for k in state_dict
        if k.startswith(prefix) and not k.startswith(inner)
    ]:
        state_dict[inner + key[len(prefix) :]] = state_dict.pop(key)


class Checkpointed(nn.Module):
    """Runs ``module`` under ``torch.utils.checkpoint`` when gradients are being recorded.

    With autograd off (evaluation, ``torch.no_grad()``) it calls ``module`` directly. Attributes the
    wrapper does not have are looked up on ``module``, so ``model.layer1[0].conv1`` keeps working.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"module must be an nn.Module, got {type(module).__name__}"
            )
        self.checkpointed = module
        self.register_state_dict_post_hook(_drop_child_name)
        self.register_load_state_dict_pre_hook(_add_child_name)

    def forward(self, *args: Any, **kwargs: Any) -> Any:  # noqa: D102
        if torch.is_grad_enabled():
            return checkpoint(
                self.checkpointed, *args, use_reentrant=False, **kwargs
            )
        return self.checkpointed(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if (
                name == _CHILD
            ):  # not registered yet (during __init__ or unpickling)
                raise
            return getattr(self.checkpointed, name)


def enable_checkpointing(
    model: nn.Module, module_types: tuple[type[nn.Module], ...]
) -> int:
    """Recompute every submodule of the given types during backward instead of storing its activations.

    Each outermost matching submodule is replaced, at its place in the model, by a
    :class:`Checkpointed` wrapper around it (a match inside another match is not wrapped twice).
    Parameters and buffers stay the same objects and the state-dict keys are unchanged. Returns how
    many modules were wrapped.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    if isinstance(module_types, type):
        module_types = (module_types,)  # one class given alone
    if (
        not isinstance(module_types, tuple)
        or not module_types
        or not all(
            isinstance(t, type) and issubclass(t, nn.Module)
            for t in module_types
        )
    ):
        raise TypeError(
            f"module_types must be a tuple of nn.Module subclasses such as (BasicBlock,), got {module_types!r}"
        )
    targets: list[str] = []
    for name, m in model.named_modules():
        inside = any(name.startswith(t + ".") for t in targets)
        if (
            name
            and isinstance(m, module_types)
            and not inside
            and not isinstance(m, Checkpointed)
        ):
            parent = (
                model.get_submodule(name.rpartition(".")[0])
                if "." in name
                else model
            )
            if not isinstance(parent, Checkpointed):
                targets.append(name)
    if not targets:
        raise ValueError(
            f"no submodule of type {[t.__name__ for t in module_types]} found to checkpoint"
        )
    for name in targets:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, Checkpointed(parent.get_submodule(attr)))
    return len(targets)
