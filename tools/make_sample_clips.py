"""Write the sample videos the book ships in data/samples/ (rerunnable; same bytes every run).

Two classes of vidconv.data.synthetic.RotatingBlobs (clockwise and counter-clockwise by one position per
frame), three clips each, 11 frames of 32x32 pixels, H.264 MP4 in the UCF101-style folder layout that
vidconv.data.folder.VideoFolder reads. Run: python tools/make_sample_clips.py [OUT_DIR]
"""

from __future__ import annotations

import pathlib
import sys

from vidconv.data.synthetic import RotatingBlobs
from vidconv.data.video_io import write_video

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main(out: pathlib.Path) -> list[pathlib.Path]:
    blobs = RotatingBlobs(
        6, frames=11, size=32, num_classes=2, noise=0.02, seed=2026
    )
    written = []
    for index in range(len(blobs)):
        clip, label = blobs[index]
        name = blobs.classes[label].replace(" ", "_")
        written.append(
            write_video(out / name / f"clip_{index:02d}.mp4", clip, fps=10)
        )
    return written


if __name__ == "__main__":
    target = (
        pathlib.Path(sys.argv[1])
        if len(sys.argv) > 1
        else ROOT / "data" / "samples"
    )
    for path in main(target):
        print(path, path.stat().st_size, "bytes")
