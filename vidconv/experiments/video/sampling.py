"""Chapter 2's frame-sampling measurements: every strategy by name, short videos, and what a sampler misses.

* :func:`clip_indices` — the clips one strategy takes from a video, by the strategy's name.
* :func:`short_video_table` — what each strategy returns when the video is shorter than the clip.
* :func:`coverage` — how much of a video a strategy's frames span, and the largest gap between them.
* :func:`frame_sets_per_class` — RotatingBlobs: every class is made of the same frames (measured).
"""

from __future__ import annotations

import torch

from vidconv.data import sampling as S
from vidconv.data.synthetic import RotatingBlobs
from vidconv.utils.checks import check_nonnegative_int, check_positive_int
from vidconv.utils.table import Table

#: Strategy names, in the order the chapter shows them.
STRATEGIES = (
    "uniform",
    "random-sparse",
    "dense-centre",
    "strided",
    "multi-clip",
)


def clip_indices(
    strategy: str,
    video_frames: int,
    clip_len: int,
    *,
    stride: int = 1,
    num_clips: int = 3,
    seed: int = 0,
) -> list[list[int]]:
    """The clips (lists of frame indices) that ``strategy`` takes from a ``video_frames``-frame video.

    Every strategy but ``multi-clip`` gives one clip. ``uniform`` and ``random-sparse`` spread the clip over
    the whole video and ignore ``stride``; ``strided`` starts at frame 0; ``random-sparse`` draws with ``seed``.
    """
    if strategy not in STRATEGIES:
        raise ValueError(
            f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}"
        )
    check_positive_int(video_frames, "video_frames")
    check_positive_int(clip_len, "clip_len")
    check_positive_int(stride, "stride")
    check_positive_int(num_clips, "num_clips")
    if strategy == "uniform":
        return [S.uniform_indices(video_frames, clip_len)]
    if strategy == "random-sparse":
        generator = torch.Generator().manual_seed(
            check_nonnegative_int(seed, "seed")
        )
        return [S.random_sparse_indices(video_frames, clip_len, generator)]
    if strategy == "dense-centre":
        return [S.dense_center_indices(video_frames, clip_len, stride)]
    if strategy == "strided":
        return [S.strided_indices(video_frames, clip_len, stride)]
    return S.multi_clip_indices(video_frames, clip_len, num_clips, stride)


def coverage(clips: list[list[int]], video_frames: int) -> dict:
    """Span of the chosen frames as a share of the video, distinct frames, repeats and the largest gap."""
    check_positive_int(video_frames, "video_frames")
    if not clips or not all(clips):
        raise ValueError(
            "clips must be a non-empty list of non-empty index lists"
        )
    chosen = sorted({i for clip in clips for i in clip})
    gaps = [b - a for a, b in zip(chosen, chosen[1:])]
    return {
        "distinct frames": len(chosen),
        "repeated": sum(len(c) for c in clips) - len(chosen),
        "span %": round(100 * (chosen[-1] - chosen[0] + 1) / video_frames, 1),
        "largest gap": max(gaps, default=0),
    }


def short_video_table(
    video_lengths: tuple[int, ...] = (1, 5, 16, 40),
    clip_len: int = 16,
    stride: int = 2,
) -> Table:
    """What every strategy returns for videos shorter than, equal to and longer than the clip it asks for."""
    rows = []
    for frames in video_lengths:
        for strategy in STRATEGIES:
            clips = clip_indices(
                strategy, frames, clip_len, stride=stride, num_clips=2
            )
            rows.append(
                {
                    "video frames": frames,
                    "strategy": strategy,
                    "clip lengths": "/".join(str(len(c)) for c in clips),
                    "first clip": " ".join(map(str, clips[0])),
                    **coverage(clips, frames),
                }
            )
    return Table(rows)


def frame_sets_per_class(dataset: RotatingBlobs, index: int = 0) -> Table:
    """Clip ``index`` rendered as every class (noise off): how far each class's frames are from class 0's.

    For each frame of a class the nearest frame of class 0 is found; "max distance" is the largest such
    distance over the clip (0 means every frame also occurs in class 0), and "frame order" says where.
    """
    if not isinstance(dataset, RotatingBlobs):
        raise TypeError(
            f"dataset must be a RotatingBlobs, got {type(dataset).__name__}"
        )
    check_nonnegative_int(index, "index")
    clean = RotatingBlobs(
        dataset.num_clips,
        frames=dataset.frames,
        size=dataset.size,
        num_classes=dataset.num_classes,
        noise=0.0,
        seed=dataset.seed,
    )
    flat = [
        clean.render(index, s)[0].flatten(1) for s in clean.speeds
    ]  # (T, H*W) per class, one channel
    rows = []
    for label, (speed, frames) in enumerate(zip(clean.speeds, flat)):
        distance = torch.cdist(
            frames.double(), flat[0].double()
        )  # (T, T) frame-to-frame distances
        nearest = distance.min(dim=1)
        rows.append(
            {
                "class": label,
                "speed (positions/frame)": speed,
                "frame order (class 0's frame)": " ".join(
                    map(str, nearest.indices.tolist())
                ),
                "max distance": float(nearest.values.max()),
                "same clip as class 0": torch.equal(frames, flat[0]),
            }
        )
    return Table(rows, floatfmt=".3g")
