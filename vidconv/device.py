"""Where the book's code runs: the GPU when there is one, the CPU otherwise."""

from __future__ import annotations

import torch


def default_device() -> torch.device:
    """``cuda`` if a CUDA GPU is usable, else ``mps`` on Apple silicon, else ``cpu``."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
