"""Video as data: files, frame sampling, transforms and datasets.

* :mod:`~vidconv.data.video_io` — read, write and inspect video files (PyAV), reproducibly encoded.
* :mod:`~vidconv.data.sampling` — which frames make a clip: uniform, random-sparse, dense, strided, multi-clip.
* :mod:`~vidconv.data.transforms` — resize, crop, normalise; the Kinetics train/eval recipes.
* :mod:`~vidconv.data.synthetic` — RotatingBlobs, clips whose classes differ only in frame order.
* :mod:`~vidconv.data.folder` — VideoFolder, a dataset over a ``class/video`` folder tree.

Video files need PyAV (``pip install vidconv[video]``); it is imported only when a file is touched.
"""

from vidconv.data.folder import VideoFolder
from vidconv.data.sampling import (
    dense_center_indices,
    multi_clip_indices,
    random_sparse_indices,
    strided_indices,
    uniform_indices,
)
from vidconv.data.synthetic import RotatingBlobs, clip_tensors
from vidconv.data.transforms import (
    KineticsEval,
    KineticsTrain,
    center_crop,
    crop,
    normalize,
    resize,
)
from vidconv.data.video_io import (
    VideoInfo,
    read_frames,
    read_video,
    video_info,
    write_video,
)

__all__ = [
    "KineticsEval",
    "KineticsTrain",
    "RotatingBlobs",
    "clip_tensors",
    "VideoFolder",
    "VideoInfo",
    "center_crop",
    "crop",
    "dense_center_indices",
    "multi_clip_indices",
    "normalize",
    "random_sparse_indices",
    "read_frames",
    "read_video",
    "resize",
    "strided_indices",
    "uniform_indices",
    "video_info",
    "write_video",
]
