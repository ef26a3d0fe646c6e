"""The book's experiments: each is a seeded function that trains or measures something and returns
a :class:`~vidconv.table.Table` (and the data for its figure). Chapters call them; tests check them.

* :mod:`~vidconv.experiments.per_frame_vs_temporal` — a per-frame 2D CNN vs a 3D and a (2+1)D CNN on
  clips whose classes differ only in the order of their frames.
"""

from vidconv.experiments.per_frame_vs_temporal import cnn_2plus1d, cnn_3d, per_frame_cnn, temporal_vs_per_frame

__all__ = ["cnn_2plus1d", "cnn_3d", "per_frame_cnn", "temporal_vs_per_frame"]
