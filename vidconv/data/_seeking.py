"""Seeking in a video file: number every frame by its timestamp from the
packets alone, start decoding at the keyframe before a clip, and decode
forward. :func:`vidconv.data.video_io.read_frames` is built on it."""

from __future__ import annotations

from typing import Any

import numpy as np


def _presentation_index(container: Any) -> tuple[dict[int, int], list[int]]:
    """From the packets alone (nothing decoded): each frame's pts -> its
    number in display order, and the pts of the keyframes. Empty when some
    packet has no timestamp (then nothing can be sought)."""
    stream = container.streams.video[0]
    stamps, keys = [], []
    for packet in container.demux(stream):
        if packet.size == 0 or getattr(packet, "is_discard", False):
            continue  # the flush packet, or one the decoder never shows
        if packet.pts is None:
            return {}, []
        stamps.append(packet.pts)
        if packet.is_keyframe:
            keys.append(packet.pts)
    order = {pts: i for i, pts in enumerate(sorted(stamps))}
    declared = int(stream.frames)  # 0 when the header does not say
    if len(order) != len(stamps) or (declared and declared != len(order)):
        return {}, []  # numbering by pts might shift frames: do not seek
    return order, keys


def seek_start(container: Any, first: int) -> tuple[int, dict[int, int]]:
    """Seek to the last keyframe shown at or before frame ``first``; return
    its frame number (0 when the file cannot be sought) and the pts map."""
    stream = container.streams.video[0]
    order, keys = _presentation_index(container)
    usable = [k for k in keys if order.get(k, first + 1) <= first]
    start_pts = max(usable, key=order.get, default=None)
    # Back to the start whatever happens: demuxing consumed the file.
    container.seek(
        start_pts if start_pts is not None else 0,
        stream=stream,
        backward=True,
        any_frame=False,
    )
    if start_pts is None:
        return 0, {}
    return order[start_pts], order


def decode_forward(
    container: Any,
    needed: set[int] | None,
    last: int | None,
    start: int,
    order: dict[int, int],
) -> tuple[dict[int, np.ndarray] | None, int]:
    """Decode forward from where the container stands: the frames in
    ``needed`` (all when None) and how far it got. With ``order`` each
    frame is numbered by its pts (``None`` back if one is not in it),
    without, by counting from ``start``."""
    kept, decoded = {}, start
    for frame in container.decode(container.streams.video[0]):
        if order and frame.pts not in order:
            return None, decoded
        index = order[frame.pts] if order else decoded
        if index < start:  # a leading frame of an open GOP: not ours
            continue
        if needed is None or index in needed:
            kept[index] = frame.to_ndarray(format="rgb24")
        decoded = index + 1
        if last is not None and decoded > last:
            break
    return kept, decoded
