"""Activation checkpointing: recompute chosen blocks in the backward pass instead of storing their
activations, trading compute for memory."""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


def enable_checkpointing(model: nn.Module, module_types: tuple[type[nn.Module], ...]) -> int:
    """Recompute every submodule of the given types during backward instead of storing its activations.

    Only ``forward`` of those instances is wrapped; parameters, buffers and state-dict keys are
    untouched. Returns how many modules were wrapped.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if isinstance(module_types, type):
        module_types = (module_types,)  # one class given alone
    if (not isinstance(module_types, tuple) or not module_types
            or not all(isinstance(t, type) and issubclass(t, nn.Module) for t in module_types)):
        raise TypeError(f"module_types must be a tuple of nn.Module subclasses such as (BasicBlock,), got {module_types!r}")
    count = 0
    for m in model.modules():
        if isinstance(m, module_types) and m is not model and not getattr(m, "_vidconv_checkpointed", False):
            original = m.forward

            @functools.wraps(original)
            def forward(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                if torch.is_grad_enabled():
                    return checkpoint(_original, *args, use_reentrant=False, **kwargs)
                return _original(*args, **kwargs)

            m.forward = forward
            m._vidconv_checkpointed = True
            count += 1
    if count == 0:
        raise ValueError(f"no submodule of type {[t.__name__ for t in module_types]} found to checkpoint")
    return count
