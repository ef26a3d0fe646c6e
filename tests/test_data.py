"""Synthetic clips, video files, frame sampling, transforms and the folder dataset."""

from __future__ import annotations

import filecmp
import hashlib
import importlib.util
import pathlib

import pytest
import torch
from torch.utils.data import DataLoader
from torchvision.models.video import R3D_18_Weights

from vidconv.data import sampling as S
from vidconv.data.folder import VideoFolder
from vidconv.data.synthetic import RotatingBlobs, rotation_speeds
from vidconv.data.transforms import (
    KINETICS_MEAN,
    KINETICS_STD,
    KineticsEval,
    KineticsTrain,
)
from vidconv.data.video_io import (
    read_frames,
    read_video,
    video_info,
    write_video,
)

pytestmark = pytest.mark.video

ROOT = pathlib.Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- synthetic clips


def test_same_seed_gives_bit_identical_clips_in_any_order():
    a, b = RotatingBlobs(20, seed=3), RotatingBlobs(20, seed=3)
    for i in (7, 0, 19, 7):
        assert torch.equal(a[i][0], b[i][0]) and a[i][1] == b[i][1]
    assert not torch.equal(a[0][0], RotatingBlobs(20, seed=4)[0][0])
    # The bytes of one clip, recorded once: the same clip on any machine (float64 maths, seeded generator).
    digest = hashlib.sha256(
        RotatingBlobs(4, seed=0)[1][0].numpy().tobytes()
    ).hexdigest()
    assert (
        digest
        == "838bfa25f6f1b59b2a1b22dbf145f25ce9ea5e511d4be0cb1c0baa86153a9241"
    )


def test_every_class_shows_the_same_set_of_frames():
    blobs = RotatingBlobs(4, frames=7, num_classes=6, noise=0.0)
    frame_sets = []
    for speed in blobs.speeds:
        clip = blobs.render(2, speed)  # same nuisances, another class
        frame_sets.append(
            sorted(tuple(f.flatten().tolist()) for f in clip[0])
        )  # (T, H, W) frames as a set
    assert all(s == frame_sets[0] for s in frame_sets)


def test_reversing_a_clip_gives_the_opposite_class():
    blobs = RotatingBlobs(4, frames=7, num_classes=4, noise=0.0)
    clip = blobs.render(1, 2, start=3)
    reversed_start = (3 + 2 * 6) % 7
    assert torch.equal(clip.flip(1), blobs.render(1, -2, start=reversed_start))
    assert blobs.speeds.index(-2) != blobs.speeds.index(2)


def test_per_frame_features_averaged_over_time_cannot_separate_classes():
    blobs = RotatingBlobs(8, num_classes=4, noise=0.0)
    feature = torch.nn.Conv2d(3, 8, 3)  # any per-frame model
    with torch.no_grad():
        pooled = [
            feature(blobs.render(5, s).transpose(0, 1)).mean(0)
            for s in blobs.speeds
        ]  # (8, H', W') each
    for p in pooled[1:]:
        torch.testing.assert_close(p, pooled[0], rtol=1e-5, atol=1e-6)


def test_parameters_and_their_errors():
    assert rotation_speeds(7, 6) == [1, -1, 2, -2, 3, -3]
    assert rotation_speeds(8, 4) == [1, -1, 3, -3]
    clip, label = RotatingBlobs(
        3, frames=11, size=24, num_classes=10, noise=0.1
    )[2]
    assert (
        clip.shape == (3, 11, 24, 24)
        and label == 2
        and 0 <= clip.min()
        and clip.max() <= 1
    )
    with pytest.raises(ValueError, match="only 4 classes are possible"):
        RotatingBlobs(frames=8, num_classes=5)
    with pytest.raises(ValueError, match="noise must be"):
        RotatingBlobs(noise=-1)
    with pytest.raises(IndexError, match="out of range"):
        RotatingBlobs(3)[3]


# ----------------------------------------------------------------------------- video files


def test_round_trip_through_mp4(tmp_path):
    clip, _ = RotatingBlobs(2, frames=9, size=32, noise=0.0)[1]
    path = write_video(tmp_path / "a" / "clip.mp4", clip, fps=12)
    info = video_info(path)
    assert (info.frames, info.height, info.width, info.fps, info.codec) == (
        9,
        32,
        32,
        12.0,
        "h264",
    )
    back = read_video(path)
    assert back.shape == clip.shape
    assert (back - clip).abs().mean() < 0.02  # lossy, but close


def test_encoding_is_reproducible_and_the_shipped_samples_match_their_script(
    tmp_path,
):
    spec = importlib.util.spec_from_file_location(
        "make_sample_clips", ROOT / "tools" / "make_sample_clips.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.main(tmp_path)
    assert len(written) == 6
    for path in written:
        shipped = ROOT / "data" / "samples" / path.relative_to(tmp_path)
        assert filecmp.cmp(path, shipped, shallow=False), (
            f"{shipped} differs from what its script writes"
        )


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "not found"),
        (b"", "empty"),
        (b"this is not a video at all", "not a readable video file"),
    ],
)
def test_bad_files_are_named(tmp_path, content, message):
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises((ValueError, FileNotFoundError), match=message) as err:
        read_video(path)
    assert str(path) in str(err.value)


def test_truncated_file_is_named(tmp_path):
    clip, _ = RotatingBlobs(1, frames=9, size=32)[0]
    data = write_video(tmp_path / "full.mp4", clip).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ValueError, match="truncated|damaged") as err:
        read_video(cut)
    assert str(cut) in str(err.value)


def test_write_errors():
    with pytest.raises(ValueError, match="even height and width"):
        write_video("/tmp/x.mp4", torch.zeros(3, 2, 31, 32))
    with pytest.raises(ValueError, match="1 or 3 channels"):
        write_video("/tmp/x.mp4", torch.zeros(2, 2, 32, 32))
    with pytest.raises(ValueError, match=r"4 dimensions \(C, T, H, W\)"):
        write_video("/tmp/x.mp4", torch.zeros(2, 32, 32))


# ----------------------------------------------------------------------------- sampling


@pytest.mark.parametrize(
    "sampler",
    [
        lambda n, k: S.uniform_indices(n, k),
        lambda n, k: S.random_sparse_indices(
            n, k, torch.Generator().manual_seed(0)
        ),
        lambda n, k: S.dense_center_indices(n, k, 2),
        lambda n, k: S.strided_indices(n, k, 3),
    ],
)
@pytest.mark.parametrize("video_frames", [1, 2, 5, 16, 17, 100])
def test_every_sampler_returns_valid_ordered_indices(sampler, video_frames):
    indices = sampler(video_frames, 8)
    assert len(indices) == 8
    assert all(0 <= i < video_frames for i in indices)
    assert indices == sorted(indices)


def test_sampling_edge_cases():
    assert S.uniform_indices(16, 4) == [2, 6, 10, 14]
    assert S.uniform_indices(1, 3) == [
        0,
        0,
        0,
    ]  # a one-frame video repeats its frame
    assert S.uniform_indices(3, 6) == [
        0,
        0,
        1,
        1,
        2,
        2,
    ]  # short videos repeat frames evenly
    assert S.strided_indices(10, 4, 3) == [0, 3, 6, 9]
    assert S.strided_indices(8, 4, 3) == [
        0,
        3,
        6,
        7,
    ]  # length not a multiple of the stride: last frame repeats
    assert S.dense_center_indices(20, 4, 2) == [6, 8, 10, 12]
    assert S.dense_center_indices(3, 5) == [0, 1, 2, 2, 2]
    assert S.multi_clip_indices(20, 4, 3) == [
        [0, 1, 2, 3],
        [8, 9, 10, 11],
        [16, 17, 18, 19],
    ]
    assert S.multi_clip_indices(2, 4, 2) == [[0, 1, 1, 1], [0, 1, 1, 1]]
    assert S.multi_clip_indices(20, 4, 1) == [[8, 9, 10, 11]]
    segments = S.random_sparse_indices(40, 4, torch.Generator().manual_seed(1))
    assert [i // 10 for i in segments] == [
        0,
        1,
        2,
        3,
    ]  # one frame from each segment
    with pytest.raises(ValueError, match="video_frames must be >= 1"):
        S.uniform_indices(0, 4)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        S.strided_indices(10, 4, 0)


# ----------------------------------------------------------------------------- transforms


def test_eval_transform_equals_torchvision_preset():
    torch.manual_seed(0)
    frames = torch.rand(8, 3, 150, 200)  # (T, C, H, W) as torchvision takes it
    theirs = R3D_18_Weights.DEFAULT.transforms()(frames)
    ours = KineticsEval()(frames.transpose(0, 1))
    assert ours.shape == (3, 8, 112, 112)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)


def test_normalisation_statistics():
    mean = torch.tensor(KINETICS_MEAN).view(3, 1, 1, 1)
    flat = mean.expand(3, 4, 128, 171).clone()
    out = KineticsEval()(flat)
    assert out.abs().max() < 1e-5  # the mean maps to 0
    one_std = (mean + torch.tensor(KINETICS_STD).view(3, 1, 1, 1)).expand(
        3, 4, 128, 171
    )
    torch.testing.assert_close(
        KineticsEval()(one_std), torch.ones(3, 4, 112, 112), rtol=0, atol=1e-5
    )


def test_train_augmentation_is_the_same_for_every_frame():
    frame = torch.rand(3, 1, 128, 171)
    clip = frame.expand(-1, 6, -1, -1)  # six identical frames
    for seed in range(5):
        out = KineticsTrain(generator=torch.Generator().manual_seed(seed))(clip)
        assert out.shape == (3, 6, 112, 112)
        assert all(torch.equal(out[:, t], out[:, 0]) for t in range(6))
    flips = {
        torch.equal(
            KineticsTrain(generator=torch.Generator().manual_seed(s))(clip)[
                :, 0, 0
            ],
            KineticsTrain(
                flip_p=0.0, generator=torch.Generator().manual_seed(s)
            )(clip)[:, 0, 0],
        )
        for s in range(12)
    }
    assert flips == {True, False}  # some draws flip, some do not


# ----------------------------------------------------------------------------- folder dataset


def test_folder_dataset_over_the_shipped_samples_with_workers():
    ds = VideoFolder(ROOT / "data" / "samples", clip_len=8)
    assert (
        ds.classes == ["clockwise_x1", "counterclockwise_x1"] and len(ds) == 6
    )
    batches = list(DataLoader(ds, batch_size=2, num_workers=2))
    clips = torch.cat([b[0] for b in batches])
    labels = torch.cat([b[1] for b in batches])
    assert clips.shape == (6, 3, 8, 32, 32) and sorted(labels.tolist()) == [
        0,
        0,
        0,
        1,
        1,
        1,
    ]


def test_folder_dataset_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset folder not found"):
        VideoFolder(tmp_path / "missing")
    (tmp_path / "class_a").mkdir()
    (tmp_path / "class_a" / "notes.txt").write_text("no video here")
    with pytest.raises(ValueError, match="no video files"):
        VideoFolder(tmp_path)
    (tmp_path / "class_a" / "broken.mp4").write_bytes(b"garbage")
    ds = VideoFolder(tmp_path, clip_len=4)
    with pytest.raises(ValueError, match="broken.mp4"):
        ds[0]


@pytest.mark.parametrize("height, width", [(16, 32), (18, 32), (270, 480)])
def test_every_even_size_round_trips(tmp_path, height, width):
    # Heights of 2 mod 4 (18, 270) once failed: the chroma planes were reshaped into whole rows of W.
    ys = torch.linspace(0, 1, height).view(1, 1, height, 1)
    xs = torch.linspace(0, 1, width).view(1, 1, 1, width)
    clip = torch.cat(
        [
            ys.expand(1, 3, height, width),
            xs.expand(1, 3, height, width),
            (ys * xs).expand(1, 3, height, width),
        ]
    )  # (3, 3, H, W): smooth, different per channel
    back = read_video(write_video(tmp_path / "even.mp4", clip, crf=0))
    assert back.shape == clip.shape
    assert (
        (back - clip).abs().mean() < 0.02
    )  # measured 0.014, 0.013, 0.005; misplaced chroma gives ~0.2


def test_the_smallest_clip_round_trips(tmp_path):
    assert read_video(
        write_video(tmp_path / "tiny.mp4", torch.full((3, 1, 2, 2), 0.5))
    ).shape == (3, 1, 2, 2)


def test_write_video_clamps_rounding_but_refuses_another_range(tmp_path):
    """Resampling leaves values like 1 + 1e-7: written as 1. A clip a grey level outside [0, 1] is refused."""
    clip = torch.rand(3, 2, 16, 16, generator=torch.Generator().manual_seed(0))
    clip[0, 0, 0, 0], clip[1, 0, 0, 0] = 1 + 1e-7, -1e-7
    write_video(tmp_path / "ok.mp4", clip)
    assert read_video(tmp_path / "ok.mp4").shape == (3, 2, 16, 16)
    clip[0, 0, 0, 0] = 1 + 1.5 / 255
    with pytest.raises(ValueError, match="must be in \\[0, 1\\]"):
        write_video(tmp_path / "bad.mp4", clip)


def test_read_frames_equals_indexing_the_whole_decode(tmp_path):
    clip, _ = RotatingBlobs(1, frames=9, size=32)[0]
    path = write_video(tmp_path / "v.mp4", clip)
    whole = read_video(path)  # (3, 9, 32, 32)
    for indices in ([0], [8], [3, 1, 1, 7], list(range(9))):
        assert read_frames(path, indices).equal(whole[:, indices])
    with pytest.raises(
        ValueError,
        match=r"frame indices \[9\] are outside .*v.mp4, which has 9",
    ) as err:
        read_frames(path, [2, 9])
    assert str(path) in str(err.value)
    for bad, error in (
        ([], ValueError),
        ([-1], ValueError),
        ([1.5], TypeError),
        ("12", TypeError),
    ):
        with pytest.raises(error):
            read_frames(path, bad)


def test_folder_items_decode_only_the_sampled_frames_and_equal_the_full_decode(
    tmp_path, monkeypatch
):
    clips = RotatingBlobs(2, frames=12, size=32)
    for i in range(2):
        write_video(tmp_path / "a" / f"v{i}.mp4", clips[i][0])
    ds = VideoFolder(tmp_path, clip_len=4)
    import vidconv.data.folder as folder

    monkeypatch.setattr(
        folder,
        "read_video",
        lambda *_: pytest.fail("the whole video was decoded"),
    )
    for i in range(2):
        clip, _ = ds[i]
        full = read_video(ds.samples[i][0])
        assert clip.equal(full[:, ds.sampler(12, 4)])
