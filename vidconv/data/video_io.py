"""Reading and writing video files with PyAV (FFmpeg bindings; torchvision 0.29 reads no video).

Clips are ``(C, T, H, W)`` float tensors in [0, 1] on the Python side, RGB. Every failure names the
file: a missing path, an empty or non-video file, a file with no video stream, and a truncated file
(fewer decodable frames than its header declares) each raise an error that says which file and why.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidconv.data._seeking import decode_forward, seek_start
from vidconv.utils.checks import check_choice, check_int, check_tensor


def _av():
    """PyAV, imported on first use so that vidconv works without it for everything but files."""
    try:
        import av
    except ImportError as err:
        raise ImportError(
            "reading and writing video files needs PyAV: pip install 'vidconv[video]' (or: pip install av)"
        ) from err
    return av


@dataclass(frozen=True)
class VideoInfo:
    """What a video file's header says."""

    path: str
    frames: int
    fps: float
    height: int
    width: int
    codec: str


def _open(path: str | os.PathLike) -> tuple[Path, Any]:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a str or os.PathLike naming a video file, got {type(path).__name__}"
        )
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"video file not found: {p}")
    if p.is_dir():
        raise IsADirectoryError(f"expected a video file, got a directory: {p}")
    if p.stat().st_size == 0:
        raise ValueError(f"video file is empty (0 bytes): {p}")
    av = _av()
    try:
        container = av.open(str(p))
    except av.error.FFmpegError as err:
        raise ValueError(f"not a readable video file: {p} ({err})") from err
    if not container.streams.video:
        container.close()
        raise ValueError(f"file has no video stream: {p}")
    return p, container


def video_info(path: str | os.PathLike) -> VideoInfo:
    """Frame count, frame rate, size and codec from the file's header (nothing is decoded)."""
    p, container = _open(path)
    with container:
        stream = container.streams.video[0]
        return VideoInfo(
            str(p),
            int(stream.frames),
            float(stream.average_rate or 0),
            stream.height,
            stream.width,
            stream.codec_context.name,
        )


def read_video(path: str | os.PathLike) -> torch.Tensor:
    """Decode every frame: ``(3, T, H, W)`` float32 in [0, 1]."""
    return read_frames(path)


def _check_indices(
    indices: Sequence[int] | None, frames: int, path: Path
) -> list[int] | None:
    """``indices`` as a list of frame numbers inside the video (``frames``
    from its header; 0 when the header does not say)."""
    if indices is None:
        return None
    if isinstance(indices, (str, bytes)) or not isinstance(indices, Sequence):
        raise TypeError(
            "indices must be a sequence of frame numbers, "
            f"got {type(indices).__name__}"
        )
    if not indices:
        raise ValueError(
            "indices must name at least one frame, got an empty sequence"
        )
    wanted = [check_int(i, "frame index", minimum=0) for i in indices]
    outside = [i for i in wanted if frames and i >= frames]
    if outside:
        raise ValueError(
            f"frame indices {outside[:5]} are outside {path}, which has "
            f"{frames} frames (0..{frames - 1})"
        )
    return wanted


def _sought(container: Any, wanted: list[int]) -> dict[int, np.ndarray] | None:
    """The frames in ``wanted`` decoded from the keyframe before the first,
    or None where that cannot be trusted (no timestamps, a seek that lands
    elsewhere, a frame missing, any decoder error): then the caller decodes
    from frame 0, so seeking never makes a readable file fail."""
    try:
        start, order = seek_start(container, min(wanted))
        if not order:
            return None
        kept, _ = decode_forward(
            container, set(wanted), max(wanted), start, order
        )
    except _av().error.FFmpegError:
        return None
    return kept if kept is not None and set(wanted) <= set(kept) else None


def _decode(
    container: Any, wanted: list[int] | None, path: Path
) -> dict[int, np.ndarray]:
    """Frame number -> ``(H, W, 3)`` uint8 for the frames in ``wanted``
    (every frame when ``None``), decoding no further than the last one.

    A clip that starts late is first decoded from the keyframe at or before
    its first frame (see :mod:`vidconv.data._seeking`); where that cannot
    be trusted the file is decoded from frame 0, counting frames.
    """
    fresh = None
    if wanted is not None and min(wanted) > 0:
        kept = _sought(container, wanted)
        if kept is not None:
            return kept
        _, fresh = _open(path)  # a new demuxer: some files cannot seek back
        container = fresh
    stream = container.streams.video[0]
    declared = int(stream.frames)
    needed = None if wanted is None else set(wanted)
    last = None if wanted is None else max(wanted)
    try:
        kept, decoded = decode_forward(container, needed, last, 0, {})
    except _av().error.FFmpegError as err:
        raise ValueError(
            f"video file is damaged or truncated: {path} ({err})"
        ) from err
    finally:
        if fresh is not None:
            fresh.close()
    missing = sorted((needed or set()) - set(kept))
    if not kept or missing or (needed is None and decoded < declared):
        raise ValueError(
            f"video file is truncated: {path} declares {declared} frames, "
            f"only {decoded} decode"
            + (f"; frame(s) {missing[:5]} asked for" if missing else "")
        )
    return kept


#: What read_frames can return: the decoder's bytes, or floats in [0, 1].
_DTYPES = (
    torch.uint8,
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
)


def read_frames(
    path: str | os.PathLike,
    indices: Sequence[int] | None = None,
    *,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The frames at ``indices`` (any order, repeats allowed; every frame
    when ``None``) as ``(3, T, H, W)``: floats in [0, 1], or the decoder's
    own 8-bit values with ``dtype=torch.uint8``.

    Decoding starts at the keyframe at or before the first index asked
    for and stops after the last, and only the chosen frames are converted
    and kept: a 16-frame clip from late in a long video costs a GOP of
    decoding and 16 frames of memory, not the whole video's.
    """
    check_choice(dtype, "dtype", _DTYPES)
    p, container = _open(path)
    with container:
        frames = int(container.streams.video[0].frames)
        wanted = _check_indices(indices, frames, p)
        kept = _decode(container, wanted, p)
    order = sorted(kept) if wanted is None else wanted
    clip = torch.from_numpy(np.stack([kept[i] for i in order]))  # (T, H, W, 3)
    clip = clip.permute(3, 0, 1, 2).contiguous()  # (3, T, H, W) uint8
    return clip if dtype == torch.uint8 else clip.to(dtype).div(255)


def _rgb_to_yuv420(clip: torch.Tensor) -> np.ndarray:
    """RGB in [0, 1] ``(3, T, H, W)`` to 8-bit BT.601 limited-range YUV 4:2:0, stacked as FFmpeg wants.

    FFmpeg's planar layout is the Y plane (H x W), then U and V (H/2 x W/2 each), back to back; PyAV
    takes that byte run shaped ``(3H/2, W)``. The chroma planes are flattened rather than reshaped to
    rows of W, because H/2 x W/2 fills whole rows of W only when H is a multiple of 4.
    Done here rather than by FFmpeg's scaler, whose SIMD paths were seen to give different bytes from
    run to run for the same frames (the output must be reproducible).
    """
    r, g, b = clip[0], clip[1], clip[2]  # (T, H, W) each
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    cb = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    cr = 128 + 112.0 * r - 93.786 * g - 18.214 * b
    t, h, w = y.shape

    def half(c: torch.Tensor) -> torch.Tensor:
        return c.reshape(t, h // 2, 2, w // 2, 2).mean(
            dim=(2, 4)
        )  # (T, H/2, W/2): 2x2 averages

    def u8(c: torch.Tensor) -> np.ndarray:
        return c.round().clamp(0, 255).to(torch.uint8).numpy()

    planes = torch.cat(
        [y.reshape(t, h * w), half(cb).reshape(t, -1), half(cr).reshape(t, -1)],
        dim=1,
    )  # (T, 3HW/2)
    return u8(planes).reshape(
        t, 3 * h // 2, w
    )  # (T, 3H/2, W): the same bytes, in rows of W


_CONTAINERS = (".mp4", ".m4v", ".mov")


def write_video(
    path: str | os.PathLike, clip: torch.Tensor, *, fps: int = 25, crf: int = 18
) -> Path:
    """Encode ``clip`` ``(C, T, H, W)`` (C = 1 or 3, values in [0, 1]) as H.264 MP4 and return the path.

    Encoding is single-threaded with fixed settings, so the same clip gives the same bytes each time
    (with the same FFmpeg build). H.264 in yuv420p needs even heights and widths. Values outside
    [0, 1] (e.g. a clip still in 0..255, or normalised) and NaN are refused rather than clipped into
    pixels; ``crf`` is x264's quality, 0 (lossless) to 51.
    """
    check_tensor(clip, "clip", ndim=4, layout="(C, T, H, W)")
    c, t, h, w = clip.shape
    if c not in (1, 3):
        raise ValueError(
            f"clip must have 1 or 3 channels (C, T, H, W), got shape {tuple(clip.shape)}"
        )
    if t == 0 or h == 0 or w == 0:
        raise ValueError(
            f"clip is empty: shape {tuple(clip.shape)} (C, T, H, W)"
        )
    if h % 2 or w % 2:
        raise ValueError(
            f"H.264 needs even height and width, got {h}x{w} in shape {tuple(clip.shape)}"
        )
    check_int(fps, "fps", minimum=1)
    check_int(crf, "crf", minimum=0, maximum=51)
    values = clip.detach().cpu().to(torch.float64)
    if torch.isnan(values).any():
        raise ValueError(
            f"clip contains {int(torch.isnan(values).sum())} NaN value(s); pixels must be in [0, 1]"
        )
    low, high = float(values.min()), float(values.max())
    # Resampling leaves float rounding just outside [0, 1] (1 + 1e-7): less than half a grey level is
    # rounding, clamped; more is a clip in another range (0..255, normalised), refused.
    slack = 0.5 / 255
    if low < -slack or high > 1.0 + slack:
        raise ValueError(
            f"clip values must be in [0, 1], got min {low:.6g} and max {high:.6g} "
            "(divide 0..255 frames by 255; undo normalisation before writing)"
        )
    values = values.clamp(0.0, 1.0)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a str or os.PathLike naming the video file to write, got {type(path).__name__}"
        )
    p = Path(path)
    if p.suffix.lower() not in _CONTAINERS:
        raise ValueError(
            f"write_video writes H.264 in an MP4 container; the path must end in "
            f"{', '.join(_CONTAINERS)}, got {p}"
        )
    if p.is_dir():
        raise IsADirectoryError(f"cannot write a video over a directory: {p}")
    planes = _rgb_to_yuv420(values.expand(3, -1, -1, -1))  # (T, 3H/2, W)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(
            f"cannot create the folder for video file {p}: {err}"
        ) from err
    av = _av()
    try:
        container = av.open(
            str(p), mode="w", options={"movflags": "+faststart"}
        )
    except (OSError, av.error.FFmpegError) as err:
        raise OSError(
            f"cannot open video file for writing: {p} ({err})"
        ) from err
    with container:
        stream = container.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.thread_count = 1
        # One thread everywhere (x264 otherwise starts lookahead threads): the bytes must not depend on timing.
        stream.options = {
            "crf": str(crf),
            "preset": "medium",
            "threads": "1",
            # macroblock-tree rate control was seen to vary between runs: off.
            "x264-params": "threads=1:lookahead-threads=1:sliced-threads=0:no-mbtree=1",
        }
        for index, array in enumerate(planes):
            frame = av.VideoFrame.from_ndarray(array, format="yuv420p")
            frame.pts = index  # explicit timestamps: one tick of the stream rate (1/fps) per frame
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return p
