"""Where the book's code runs: the GPU when there is one, the CPU otherwise."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def default_device() -> torch.device:
    """``cuda`` if a CUDA GPU is usable, else ``mps`` on Apple silicon, else ``cpu``."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if (
        getattr(torch.backends, "mps", None) is not None
        and torch.backends.mps.is_available()
    ):
        return torch.device("mps")
    return torch.device("cpu")


@contextlib.contextmanager
def one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run the block on one CPU thread when ``device`` is the CPU, then restore the thread count.

    The book's experiments train networks so small that a second thread costs more in synchronisation
    than it saves, and on a shared CPU it can cost far more; on a GPU nothing changes.
    """
    if not isinstance(device, torch.device):
        raise TypeError(
            f"device must be a torch.device, got {type(device).__name__}"
        )
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
