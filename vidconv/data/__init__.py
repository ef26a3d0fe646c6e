"""Video as data: files, frame sampling, transforms and datasets.

* :mod:`~vidconv.data.video_io` — read, write and inspect video files (PyAV), reproducibly encoded.
* :mod:`~vidconv.data.sampling` — which frames make a clip: uniform, random-sparse, dense, strided, multi-clip.
* :mod:`~vidconv.data.transforms` — resize, crop, normalise; the Kinetics train/eval recipes.
* :mod:`~vidconv.data.synthetic` — RotatingBlobs, clips whose classes differ only in frame order.
* :mod:`~vidconv.data.folder` — VideoFolder, a dataset over a ``class/video`` folder tree.

Video files need PyAV (``pip install vidconv[video]``); it is imported only when a file is touched.
"""
