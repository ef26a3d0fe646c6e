"""Time as the network sees it: causal layers, streaming inference, and relevance.

* :mod:`~vidconv.temporal.thick_present` — causal ("phenomenological") convolutions, pooling and
  residuals, and :func:`~vidconv.temporal.thick_present.temporal_extent`, measured by gradient.
* :mod:`~vidconv.temporal.streaming` — run a causal network one frame at a time, exactly.
* :mod:`~vidconv.temporal.relevance` — attention over time and token selection/compression.
"""
