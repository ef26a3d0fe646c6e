"""Which frames of a video go into a clip.

Every sampler takes the video's length and returns frame indices (a list of ints, in playing order).
One policy covers videos that are too short for the request: **indices are clamped to the video**,
so a short video repeats its last frame (dense and strided sampling) or repeats frames evenly
(uniform and random-sparse sampling). A one-frame video gives a clip of that frame repeated.
Nothing raises for a short video; a length or count below 1 raises, and so
does a start past the end.

* :func:`uniform_indices` — ``clip_len`` frames spread evenly over the whole video (centres of equal segments).
* :func:`random_sparse_indices` — one random frame from each of ``clip_len`` equal segments (TSN).
* :func:`dense_center_indices` — ``clip_len`` consecutive frames (every ``stride``-th) around the middle.
* :func:`strided_indices` — ``clip_len`` frames every ``stride`` frames from ``start``.
* :func:`multi_clip_indices` — ``num_clips`` dense clips at evenly spaced starts, for averaging
  predictions over a whole video at test time.
"""

from __future__ import annotations

import torch

from vidconv.utils.checks import check_nonnegative_int, check_positive_int


def _check(video_frames: int, clip_len: int) -> tuple[int, int]:
    """Both counts as Python ints (NumPy integers are accepted, so are their results)."""
    return check_positive_int(video_frames, "video_frames"), check_positive_int(
        clip_len, "clip_len"
    )


def _clamp(indices: list[int], video_frames: int) -> list[int]:
    return [min(max(i, 0), video_frames - 1) for i in indices]


def uniform_indices(video_frames: int, clip_len: int) -> list[int]:
    """The centre frame of each of ``clip_len`` equal segments of the video."""
    video_frames, clip_len = _check(video_frames, clip_len)
    return [int((i + 0.5) * video_frames / clip_len) for i in range(clip_len)]


def random_sparse_indices(
    video_frames: int, clip_len: int, generator: torch.Generator | None = None
) -> list[int]:
    """A uniformly random frame inside each of ``clip_len`` equal segments (sorted, as segments are)."""
    video_frames, clip_len = _check(video_frames, clip_len)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    offsets = torch.rand(
        clip_len, generator=generator, dtype=torch.float64
    ).tolist()
    return _clamp(
        [int((i + u) * video_frames / clip_len) for i, u in enumerate(offsets)],
        video_frames,
    )


def strided_indices(
    video_frames: int, clip_len: int, stride: int = 1, start: int = 0
) -> list[int]:
    """``start, start + stride, ...`` (``clip_len`` of them); past the end,
    the last frame repeats. ``start`` must be a frame of the video.
    """
    video_frames, clip_len = _check(video_frames, clip_len)
    stride = check_positive_int(stride, "stride")
    start = check_nonnegative_int(start, "start")
    if start >= video_frames:
        raise ValueError(
            f"start must be a frame of the video, 0 to {video_frames - 1}; "
            f"got start={start} for video_frames={video_frames}"
        )
    return _clamp([start + i * stride for i in range(clip_len)], video_frames)


def dense_center_indices(
    video_frames: int, clip_len: int, stride: int = 1
) -> list[int]:
    """A strided run of ``clip_len`` frames whose span is centred on the middle of the video."""
    video_frames, clip_len = _check(video_frames, clip_len)
    stride = check_positive_int(stride, "stride")
    span = (clip_len - 1) * stride + 1
    start = max((video_frames - span) // 2, 0)
    return strided_indices(video_frames, clip_len, stride, start)


def multi_clip_indices(
    video_frames: int, clip_len: int, num_clips: int, stride: int = 1
) -> list[list[int]]:
    """``num_clips`` strided runs whose starts are spread evenly from the first to the last possible one."""
    video_frames, clip_len = _check(video_frames, clip_len)
    num_clips = check_positive_int(num_clips, "num_clips")
    stride = check_positive_int(stride, "stride")
    last_start = max(video_frames - ((clip_len - 1) * stride + 1), 0)
    starts = [
        round(k * last_start / (num_clips - 1))
        if num_clips > 1
        else last_start // 2
        for k in range(num_clips)
    ]
    return [strided_indices(video_frames, clip_len, stride, s) for s in starts]
