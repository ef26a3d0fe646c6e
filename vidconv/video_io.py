"""Reading and writing video files with PyAV (FFmpeg bindings; torchvision 0.29 reads no video).

Clips are ``(C, T, H, W)`` float tensors in [0, 1] on the Python side, RGB. Every failure names the
file: a missing path, an empty or non-video file, a file with no video stream, and a truncated file
(fewer decodable frames than its header declares) each raise an error that says which file and why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from vidconv._checks import check_tensor


@dataclass(frozen=True)
class VideoInfo:
    """What a video file's header says."""

    path: str
    frames: int
    fps: float
    height: int
    width: int
    codec: str


def _open(path: str | os.PathLike) -> tuple[Path, av.container.InputContainer]:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"video file not found: {p}")
    if p.is_dir():
        raise IsADirectoryError(f"expected a video file, got a directory: {p}")
    if p.stat().st_size == 0:
        raise ValueError(f"video file is empty (0 bytes): {p}")
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
        return VideoInfo(str(p), int(stream.frames), float(stream.average_rate or 0), stream.height, stream.width,
                         stream.codec_context.name)


def read_video(path: str | os.PathLike) -> torch.Tensor:
    """Decode every frame: ``(3, T, H, W)`` float32 in [0, 1]."""
    p, container = _open(path)
    frames = []
    with container:
        stream = container.streams.video[0]
        declared = int(stream.frames)
        try:
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))  # (H, W, 3) uint8
        except av.error.FFmpegError as err:
            raise ValueError(f"video file is damaged or truncated: {p} ({err})") from err
    if not frames:
        raise ValueError(f"no frame could be decoded from {p}")
    if declared and len(frames) < declared:
        raise ValueError(f"video file is truncated: {p} declares {declared} frames, only {len(frames)} decode")
    video = torch.from_numpy(np.stack(frames))  # (T, H, W, 3) uint8
    return video.permute(3, 0, 1, 2).float().div(255)  # (3, T, H, W)


def write_video(path: str | os.PathLike, clip: torch.Tensor, *, fps: int = 25, crf: int = 18) -> Path:
    """Encode ``clip`` ``(C, T, H, W)`` (C = 1 or 3, values in [0, 1]) as H.264 MP4 and return the path.

    Encoding is single-threaded with fixed settings, so the same clip gives the same bytes each time
    (with the same FFmpeg build). H.264 in yuv420p needs even heights and widths.
    """
    check_tensor(clip, "clip", ndim=4, layout="(C, T, H, W)")
    c, t, h, w = clip.shape
    if c not in (1, 3):
        raise ValueError(f"clip must have 1 or 3 channels (C, T, H, W), got shape {tuple(clip.shape)}")
    if h % 2 or w % 2:
        raise ValueError(f"H.264 needs even height and width, got {h}x{w} in shape {tuple(clip.shape)}")
    if t == 0:
        raise ValueError(f"clip has no frames: shape {tuple(clip.shape)}")
    if isinstance(fps, bool) or not isinstance(fps, int) or fps < 1:
        raise ValueError(f"fps must be a positive int, got {fps!r}")
    frames = (clip.detach().cpu().clamp(0, 1).expand(3, -1, -1, -1) * 255).round().to(torch.uint8)  # (3, T, H, W)
    frames = frames.permute(1, 2, 3, 0).contiguous().numpy()  # (T, H, W, 3)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(p), mode="w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.thread_count = 1
        stream.options = {"crf": str(crf), "preset": "medium", "threads": "1"}
        for array in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return p
