"""What every family uses: input checks, device choice, result tables.

* :mod:`~vidconv.utils.checks` — the shared argument and tensor checks
  (``ValueError`` / ``TypeError`` naming what was expected and received).
* :mod:`~vidconv.utils.device` — the default device, one CPU thread.
* :mod:`~vidconv.utils.timing` — wall time, synchronised on CUDA.
* :mod:`~vidconv.utils.table` — :class:`Table`, Markdown on the site, text
  elsewhere.
"""

from vidconv.utils.device import default_device, one_cpu_thread
from vidconv.utils.table import Table

__all__ = ["Table", "default_device", "one_cpu_thread"]
