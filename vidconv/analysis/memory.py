"""What a training step keeps for the backward pass, counted exactly.

Autograd saves, during the forward pass, the tensors each operation needs to
compute its gradients (a convolution its input, a ReLU its output, a batch norm
its input and statistics). Those tensors live until ``backward()`` frees them;
for 3D CNNs they, not the parameters, are what fills a GPU.
:func:`saved_tensor_memory` counts them with
:func:`torch.autograd.graph.saved_tensors_hooks`: every saved tensor passes
through a "pack" hook, and the bytes of its *storage* are summed once per
storage (a tensor saved twice — a ReLU's output is also the next convolution's
input — or a view of another saved tensor costs nothing more). Parameters and
buffers (a batch norm's running statistics) are left out: they are in memory
whether or not a step trains. Each storage is charged to the innermost module
running when it was first saved.

It works on any device, ``meta`` included (shapes and dtypes without memory or
arithmetic), so the full-size networks can be counted on a laptop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from vidconv.utils.checks import check_tensor
from vidconv.utils.table import Table

# Saved by functional code of the top-level forward.
OUTSIDE = "(outside any module)"


def _storage_key(t: torch.Tensor) -> int:
    # The StorageImpl's address: the same for every view of one storage, on
    # every device (meta too, where data pointers are all 0). Tensors are kept
    # alive while counting, so no address is reused.
    return t.untyped_storage()._cdata


@dataclass
class SavedMemory:
    """Bytes saved for backward: ``total`` and, per module name, the storages
    first saved there."""

    total: int
    per_layer: dict[str, int] = field(default_factory=dict)
    tensors: int = 0  # saved tensors seen (before merging shared storages)

    @property
    def mib(self) -> float:
        """``total`` in MiB (2**20 bytes)."""
        return self.total / 2**20

    def table(self, top: int | None = None) -> Table:
        """The per-layer bytes as a :class:`~vidconv.utils.table.Table`,
        largest first (``top`` rows)."""
        rows = sorted(self.per_layer.items(), key=lambda kv: -kv[1])
        if top is not None:
            rows = rows[:top]
        return Table(
            [
                {
                    "layer": name,
                    "saved MiB": round(b / 2**20, 3),
                    "share": round(b / self.total, 3) if self.total else 0.0,
                }
                for name, b in rows
            ]
        )


def saved_tensor_memory(
    model: nn.Module, x: torch.Tensor, *, per_layer: bool = True
) -> SavedMemory:
    """Run ``model(x)`` with autograd recording and count the bytes it saves
    for the backward pass.

    The model is run as it is (train or eval mode: a train-mode batch norm
    saves more); no backward pass is run and the graph is freed before
    returning. ``x`` may be on any device, ``meta`` included.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    check_tensor(x, "x")
    if not torch.is_grad_enabled():
        raise RuntimeError(
            "saved_tensor_memory needs autograd: "
            "it was called under torch.no_grad()"
        )
    # Parameters and buffers: resident either way.
    params = {_storage_key(p) for p in model.parameters()}
    params |= {_storage_key(b) for b in model.buffers()}
    # storage key -> one tensor on it (kept alive while counting)
    seen: dict[int, torch.Tensor] = {}
    owner: dict[int, str] = {}
    stack: list[str] = [OUTSIDE]
    n_saved = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal n_saved
        n_saved += 1
        key = _storage_key(t)
        if key not in params and key not in seen:
            seen[key] = t
            owner[key] = stack[-1]
        # Never return ``t`` itself: an operation that saves its own output
        # (ReLU, sigmoid) would then hold that output through its own grad_fn,
        # a reference cycle that outlives this call and leaked the whole
        # graph's activations. A detached view shares the storage but not the
        # graph.
        return t.detach()

    def enter(name: str):
        def hook(module: nn.Module, args: tuple) -> None:
            stack.append(name)

        return hook

    def leave(module: nn.Module, args: tuple, output: object) -> None:
        stack.pop()  # returns None: the output is left unchanged

    handles = []
    if per_layer:
        for name, module in model.named_modules():
            if name:  # the root is OUTSIDE
                handles.append(module.register_forward_pre_hook(enter(name)))
                handles.append(module.register_forward_hook(leave))
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(x)
    finally:
        for h in handles:
            h.remove()
    del out  # frees the graph and every saved tensor not held by ``seen``
    layers: dict[str, int] = {}
    total = 0
    for key, t in seen.items():
        nbytes = t.untyped_storage().nbytes()
        total += nbytes
        layers[owner[key]] = layers.get(owner[key], 0) + nbytes
    # The graph's saved variables keep ``pack`` alive, ``pack`` keeps ``seen``,
    # and ``seen`` the graph's tensors: a cycle through C++ that Python's
    # collector cannot see. Emptying ``seen`` breaks it.
    seen.clear()
    return SavedMemory(total=total, per_layer=layers, tensors=n_saved)
