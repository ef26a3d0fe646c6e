"""The bad inputs tried on every public family of vidconv, one table and one parametrised test per family.

Each row is ``(what is wrong, call, expected error type, pattern the message must match)``. The pattern
names the argument (or the file), so a row passes only when the error says *what* was wrong — an error
raised from deep inside torch, av or Python fails it. ``call`` receives a temporary folder.
After the tables: the behaviour that the fixes restored (results, not just errors).
"""

from __future__ import annotations

import os
import socket
from unittest import mock

import numpy as np
import pytest
import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import vidconv
from vidconv.analysis.counting import count_flops, count_macs, count_parameters
from vidconv.analysis.model_summary import summary
from vidconv.analysis.receptive_field import (
    AxisLayer,
    empirical_receptive_field,
    frames_reached,
    layers_along_axis,
    receptive_field,
    temporal_stack,
)
from vidconv.data import sampling as S
from vidconv.data.folder import VideoFolder
from vidconv.data.synthetic import RotatingBlobs, rotation_speeds
from vidconv.data.transforms import (
    KineticsEval,
    KineticsTrain,
    center_crop,
    crop,
    normalize,
    resize,
)
from vidconv.data.video_io import read_video, video_info, write_video
from vidconv.experiments.beyond.movinet_streaming import (
    stream_vs_offline,
    streaming_cost,
)
from vidconv.experiments.relevance.compression import (
    compression_probe,
    query_clip_batch,
    ridge_probe_accuracy,
    uniform_merge,
)
from vidconv.experiments.relevance.context import (
    moving_frames_batch,
    roc_auc,
    window_sweep,
)
from vidconv.experiments.relevance.selection import (
    TokenClassifier,
    keep_ratio_frontier,
    present_event_batch,
)
from vidconv.experiments.relevance.token_budget import (
    SelfAttention,
    token_budget,
)
from vidconv.experiments.small_run import BlobTask, SmallRun
from vidconv.experiments.video.per_frame_vs_temporal import (
    cnn_3d,
    per_frame_cnn,
    temporal_vs_per_frame,
)
from vidconv.layers import blocks
from vidconv.layers.inflate import inflate_conv, inflate_network
from vidconv.layers.kernels import moving_bar
from vidconv.models import (
    C3D,
    SlowFast,
    VideoResNet,
    c3d,
    i3d,
    r3d_18,
    s3d,
    slowfast_r50,
    x3d,
)
from vidconv.models.movinet import movinet_a0
from vidconv.models.resnet import BasicBlock, BasicStem
from vidconv.temporal.relevance import (
    TemporalRelevanceModule,
    ThickPresentTokenSelector,
    VideoRelevanceCompressor,
)
from vidconv.temporal.streaming import StreamingInference
from vidconv.temporal.thick_present import (
    CausalPool3d,
    CausalResidual,
    PhenomenologicalConv3D,
    ThickPresentConvolution,
    temporal_extent,
)
from vidconv.training import (
    ShardSampler,
    ddp,
    distributed,
    distributed_loader,
    enable_checkpointing,
    evaluate,
    fit,
    param_groups,
    topk_correct,
    train_one_epoch,
)
from vidconv.training.scaling import ddp_step_time

CLIP = torch.rand(3, 4, 8, 8)  # (C, T, H, W) in [0, 1]
X = torch.zeros(1, 4, 5, 5, 5)  # (B, C, T, H, W)
W = torch.zeros(2, 4, 3, 3, 3)
TINY = nn.Sequential(nn.Conv3d(3, 2, 3, padding=1))


def run_row(row, tmp_path):
    _, call, error, pattern = row
    with pytest.raises(error, match=pattern):
        call(tmp_path)


def ids(table):
    return [row[0] for row in table]


# ----------------------------------------------------------------------------- conv

CONV = [
    (
        "complex input",
        lambda _: vidconv.conv3d(X.to(torch.complex64), W),
        TypeError,
        "input must be a real floating",
    ),
    (
        "float64 input, float32 weight",
        lambda _: vidconv.conv3d(X.double(), W),
        TypeError,
        "weight has dtype torch.float32",
    ),
    (
        "float64 bias",
        lambda _: vidconv.conv3d(X, W, torch.zeros(2, dtype=torch.float64)),
        TypeError,
        "bias has dtype",
    ),
    (
        "zero-length kernel axis",
        lambda _: vidconv.conv3d(X, torch.zeros(2, 4, 0, 3, 3)),
        ValueError,
        "kernel tap",
    ),
    (
        "no output channel",
        lambda _: vidconv.conv3d(X, torch.zeros(0, 4, 3, 3, 3)),
        ValueError,
        "weight must have",
    ),
    (
        "groups True",
        lambda _: vidconv.conv3d(X, W, groups=True),
        TypeError,
        "groups must be an int",
    ),
    (
        "groups 0",
        lambda _: vidconv.conv3d(X, W, groups=0),
        ValueError,
        "groups must be >= 1",
    ),
    (
        "padding True",
        lambda _: vidconv.conv3d(X, W, padding=True),
        TypeError,
        "padding must be an int",
    ),
    (
        "dilation of 2 values",
        lambda _: vidconv.conv3d(X, W, dilation=(1, 2)),
        ValueError,
        "dilation must be",
    ),
    (
        "stride float",
        lambda _: vidconv.conv3d(X, W, stride=1.0),
        TypeError,
        "stride must be an int",
    ),
    (
        "output size, negative padding",
        lambda _: vidconv.conv_output_size(5, 3, padding=-1),
        ValueError,
        "padding must be >= 0",
    ),
    (
        "output size, float size",
        lambda _: vidconv.conv_output_size(5.0, 3),
        TypeError,
        "size must be an int",
    ),
]


@pytest.mark.parametrize("row", CONV, ids=ids(CONV))
def test_conv(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- receptive fields

RECEPTIVE_FIELDS = [
    (
        "16 layers kernel 3 stride 3 (43M frames)",
        lambda _: frames_reached([(3, 3)] * 16),
        ValueError,
        r"receptive_field\(\) for the span",
    ),
    (
        "a string of layers",
        lambda _: frames_reached("33"),
        TypeError,
        "layers must be a sequence",
    ),
    (
        "kernel 0",
        lambda _: frames_reached([(0, 1)]),
        ValueError,
        "kernel_size must be >= 1",
    ),
    (
        "stride True",
        lambda _: receptive_field([(3, True)]),
        TypeError,
        "stride must be an int",
    ),
    (
        "a layer as a list",
        lambda _: receptive_field([[3, 1]]),
        TypeError,
        "layer 0 must be",
    ),
    (
        "float kernel",
        lambda _: AxisLayer(3.0),
        TypeError,
        "kernel_size must be an int",
    ),
    (
        "input_shape of 4 entries",
        lambda _: empirical_receptive_field(TINY, (1, 3, 5, 5)),
        ValueError,
        "input_shape must have 5 entries",
    ),
    (
        "model not a module",
        lambda _: empirical_receptive_field("net", (1, 3, 5, 5, 5)),
        TypeError,
        "model must be an nn.Module",
    ),
    (
        "axis 3",
        lambda _: layers_along_axis(TINY, axis=3),
        ValueError,
        "axis must be 0",
    ),
    (
        "channels 0",
        lambda _: temporal_stack([(3,)], channels=0),
        ValueError,
        "channels must be >= 1",
    ),
    (
        "output_index an int",
        lambda _: empirical_receptive_field(
            TINY, (1, 3, 5, 5, 5), output_index=2
        ),
        TypeError,
        "output_index must be a sequence of 3 ints",
    ),
    (
        "output_index of 2 entries",
        lambda _: empirical_receptive_field(
            TINY, (1, 3, 5, 5, 5), output_index=(2, 2)
        ),
        ValueError,
        "output_index must be a sequence of 3 ints",
    ),
    (
        "output_index outside the output",
        lambda _: empirical_receptive_field(
            TINY, (1, 3, 5, 5, 5), output_index=(5, 0, 0)
        ),
        ValueError,
        r"output_index must be a \(t, h, w\) inside the output \(5, 5, 5\)",
    ),
    (
        "axis True",
        lambda _: empirical_receptive_field(TINY, (1, 3, 5, 5, 5), axis=True),
        TypeError,
        "axis must be an int",
    ),
    (
        "max pool returning indices",
        lambda _: empirical_receptive_field(
            nn.MaxPool3d(2, return_indices=True), (1, 3, 4, 4, 4)
        ),
        ValueError,
        "returns its arg-max indices",
    ),
]


@pytest.mark.parametrize("row", RECEPTIVE_FIELDS, ids=ids(RECEPTIVE_FIELDS))
def test_receptive_fields(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- counting and summary

COUNTING = [
    (
        "model a string",
        lambda _: count_parameters("r3d"),
        TypeError,
        "model must be an nn.Module",
    ),
    (
        "zero frames",
        lambda _: count_flops(TINY, (1, 3, 0, 8, 8)),
        ValueError,
        "input_shape must contain positive",
    ),
    (
        "shape a string",
        lambda _: count_flops(TINY, "1x3x4x8x8"),
        TypeError,
        "input_shape must be a sequence",
    ),
    (
        "float size",
        lambda _: count_macs(TINY, (1, 3, 4, 8, 8.0)),
        ValueError,
        "input_shape must contain positive",
    ),
    (
        "summary depth True",
        lambda _: summary(TINY, (1, 3, 4, 8, 8), depth=True),
        TypeError,
        "depth must be an int",
    ),
    (
        "summary depth 0",
        lambda _: summary(TINY, (1, 3, 4, 8, 8), depth=0),
        ValueError,
        "depth must be >= 1",
    ),
    (
        "summary 3-entry shape",
        lambda _: summary(TINY, (1, 3, 4)),
        ValueError,
        "input_shape must have 5 entries",
    ),
]


@pytest.mark.parametrize("row", COUNTING, ids=ids(COUNTING))
def test_counting(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- models

BN_MESSAGE = (
    r"training mode .* more than one value per channel.*model\.eval\(\)"
)

MODELS = [
    (
        "r3d_18 train mode, batch of 1 at the minimum clip",
        lambda _: r3d_18().train()(torch.rand(1, 3, 8, 16, 16)),
        ValueError,
        BN_MESSAGE,
    ),
    (
        "i3d train mode, batch of 1 at the minimum clip",
        lambda _: i3d().train()(torch.rand(1, 3, 5, 17, 17)),
        ValueError,
        BN_MESSAGE,
    ),
    (
        "float64 clip into a float32 model",
        lambda _: r3d_18().eval()(
            torch.rand(1, 3, 8, 16, 16, dtype=torch.float64)
        ),
        TypeError,
        "VideoResNet input has dtype torch.float64 but VideoResNet has dtype torch.float32",
    ),
    (
        "i3d in_channels -1",
        lambda _: i3d(in_channels=-1),
        ValueError,
        "in_channels must be >= 1",
    ),
    (
        "i3d in_channels 0",
        lambda _: i3d(in_channels=0),
        ValueError,
        "in_channels must be >= 1",
    ),
    (
        "C3D num_classes True",
        lambda _: C3D(num_classes=True),
        TypeError,
        "num_classes must be an int",
    ),
    (
        "c3d dropout NaN",
        lambda _: c3d(dropout=float("nan")),
        ValueError,
        "dropout must be a finite number",
    ),
    (
        "s3d gating 1",
        lambda _: s3d(gating=1),
        TypeError,
        "gating must be True or False",
    ),
    (
        "r3d_18 num_classes 0",
        lambda _: r3d_18(num_classes=0),
        ValueError,
        "num_classes must be a positive int",
    ),
    (
        "a stage of 0 blocks",
        lambda _: VideoResNet(
            BasicBlock, [blocks.FullConv3d] * 4, [1, 1, 0, 1], BasicStem
        ),
        ValueError,
        "layers must have every entry >= 1",
    ),
    (
        "SlowFast clip shorter than the fast pathway's stride alpha",
        lambda _: SlowFast(layers=(1, 1, 1, 1), widths=(8, 8, 8, 8)).eval()(
            torch.rand(1, 3, 2, 32, 32)
        ),
        ValueError,
        r"multiple of alpha=4 .*got T=2",
    ),
    (
        "SlowFast grey clip",
        lambda _: SlowFast(layers=(1, 1, 1, 1), widths=(8, 8, 8, 8)).eval()(
            torch.rand(1, 1, 8, 32, 32)
        ),
        ValueError,
        r"SlowFast expects 3 channels \(B, 3, T, H, W\), got shape \(1, 1, 8, 32, 32\)",
    ),
    (
        "SlowFast alpha 2.5",
        lambda _: slowfast_r50(alpha=2.5),
        TypeError,
        "alpha must be an int",
    ),
    (
        "X3D unknown size",
        lambda _: x3d("xxl"),
        ValueError,
        r"size must be one of \['l', 'm', 's', 'xs'\].*got 'xxl'",
    ),
    (
        "X3D grey clip",
        lambda _: x3d("xs").eval()(torch.rand(1, 1, 4, 32, 32)),
        ValueError,
        r"X3D expects 3 channels \(B, 3, T, H, W\), got shape \(1, 1, 4, 32, 32\)",
    ),
]


@pytest.mark.parametrize("row", MODELS, ids=ids(MODELS))
def test_models(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- blocks

BLOCKS = [
    (
        "PerFrameConv2d padding -1",
        lambda _: blocks.PerFrameConv2d(3, 8, padding=-1),
        ValueError,
        "padding must be >= 0",
    ),
    (
        "PerFrameConv2d kernel_size 0",
        lambda _: blocks.PerFrameConv2d(3, 8, kernel_size=0),
        ValueError,
        "kernel_size must be >= 1",
    ),
    (
        "ConvBnReLU3d kernel 0",
        lambda _: blocks.ConvBnReLU3d(3, 8, 0),
        ValueError,
        "kernel_size must be >= 1",
    ),
    (
        "FullConv3d in_channels 0",
        lambda _: blocks.FullConv3d(0, 8),
        ValueError,
        "in_channels must be >= 1",
    ),
    (
        "Conv3dNoTemporal stride 0",
        lambda _: blocks.Conv3dNoTemporal(3, 8, stride=0),
        ValueError,
        "stride must be >= 1",
    ),
    (
        "Conv2Plus1d stride -1",
        lambda _: blocks.Conv2Plus1d(3, 8, stride=-1),
        ValueError,
        "stride must be >= 1",
    ),
    (
        "SeparableConv3d stride True",
        lambda _: blocks.SeparableConv3d(3, 8, stride=True),
        TypeError,
        "stride must be an int",
    ),
    (
        "SelfGating channels 0",
        lambda _: blocks.SelfGating(0),
        ValueError,
        "channels must be >= 1",
    ),
    (
        "float64 clip into FullConv3d",
        lambda _: blocks.FullConv3d(3, 4)(
            torch.zeros(1, 3, 3, 4, 4, dtype=torch.float64)
        ),
        TypeError,
        "FullConv3d input has dtype torch.float64",
    ),
    (
        "4 channels into a 3-channel block",
        lambda _: blocks.ConvBnReLU3d(3, 8)(torch.zeros(1, 4, 2, 4, 4)),
        ValueError,
        "ConvBnReLU3d expects 3 channels",
    ),
    (
        "Conv2Plus1d on a clip of 0 frames",
        lambda _: blocks.Conv2Plus1d(3, 8)(torch.zeros(1, 3, 0, 8, 8)),
        ValueError,
        "Conv2Plus1d input's frame count T must be >= 1, got 0",
    ),
    (
        "Conv2Plus1d padding 0, fewer frames than the temporal kernel",
        lambda _: blocks.Conv2Plus1d(3, 8, padding=0)(
            torch.zeros(1, 3, 2, 8, 8)
        ),
        ValueError,
        r"Conv2Plus1d input is too small along T: 2 \(\+0 padding\) < kernel",
    ),
    (
        "Conv2Plus1d temporal kernel 0 with mid_channels given",
        lambda _: blocks.Conv2Plus1d(
            3, 8, mid_channels=4, temporal_kernel_size=0
        ),
        ValueError,
        "temporal_kernel_size must be >= 1, got 0",
    ),
    (
        "eq. 5 rounds down to no middle channel",
        lambda _: blocks.midplanes_for_2plus1d(1, 1, 1, 1),
        ValueError,
        "M = 0 middle channels for in_channels=1, out_channels=1, "
        "temporal_kernel_size=1, spatial_kernel_size=1",
    ),
    (
        "moving bar start 1.5",
        lambda _: moving_bar(start=1.5),
        TypeError,
        "start must be an int, got float 1.5",
    ),
    (
        "inflated conv on an image",
        lambda _: inflate_conv(nn.Conv2d(3, 8, 3))(torch.randn(1, 3, 8, 8)),
        ValueError,
        r"InflatedConv3d input must have 5 dimensions \(B, C, T, H, W\), "
        r"got shape \(1, 3, 8, 8\)",
    ),
    (
        "inflated ResNet-18 on an image",
        lambda _: inflate_network(torchvision.models.resnet18())(
            torch.randn(1, 3, 8, 8)
        ),
        ValueError,
        r"InflatedConv3d input must have 5 dimensions \(B, C, T, H, W\), "
        r"got shape \(1, 3, 8, 8\)",
    ),
    (
        "inflated conv on a clip of 0 frames",
        lambda _: inflate_conv(nn.Conv2d(3, 8, 3))(torch.randn(1, 3, 0, 8, 8)),
        ValueError,
        "InflatedConv3d input is too small along T: 0",
    ),
]


@pytest.mark.parametrize("row", BLOCKS, ids=ids(BLOCKS))
def test_blocks(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- sampling

SAMPLING = [
    (
        "clip_len True",
        lambda _: S.uniform_indices(10, True),
        TypeError,
        "clip_len must be an int",
    ),
    (
        "0 frames",
        lambda _: S.uniform_indices(0, 4),
        ValueError,
        "video_frames must be >= 1",
    ),
    (
        "float frame count",
        lambda _: S.uniform_indices(10.0, 4),
        TypeError,
        "video_frames must be an int",
    ),
    (
        "frame count a string",
        lambda _: S.dense_center_indices("10", 4),
        TypeError,
        "video_frames must be an int",
    ),
    (
        "start -1",
        lambda _: S.strided_indices(10, 4, start=-1),
        ValueError,
        "start must be >= 0",
    ),
    (
        "start past the end",
        lambda _: S.strided_indices(10, 4, start=20),
        ValueError,
        "start must be a frame of the video, 0 to 9; "
        "got start=20 for video_frames=10",
    ),
    (
        "start at the end",
        lambda _: S.strided_indices(10, 4, start=10),
        ValueError,
        "got start=10 for video_frames=10",
    ),
    (
        "num_clips 0",
        lambda _: S.multi_clip_indices(10, 4, num_clips=0),
        ValueError,
        "num_clips must be >= 1",
    ),
    (
        "stride 0",
        lambda _: S.dense_center_indices(10, 4, stride=0),
        ValueError,
        "stride must be >= 1",
    ),
    (
        "generator an int",
        lambda _: S.random_sparse_indices(10, 4, generator=0),
        TypeError,
        "generator must be a torch.Generator",
    ),
    (
        "numpy bool clip_len",
        lambda _: S.uniform_indices(10, np.bool_(True)),
        TypeError,
        "clip_len must be an int",
    ),
]


@pytest.mark.parametrize("row", SAMPLING, ids=ids(SAMPLING))
def test_sampling(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- transforms

TRANSFORMS = [
    (
        "crop size 0",
        lambda _: crop(CLIP, 0, 0, 0),
        ValueError,
        "size must be >= 1",
    ),
    (
        "crop size -2",
        lambda _: crop(CLIP, 0, 0, -2),
        ValueError,
        "size must be >= 1",
    ),
    (
        "crop top -1",
        lambda _: crop(CLIP, -1, 0, 2),
        ValueError,
        "top must be >= 0",
    ),
    (
        "crop top 0.5",
        lambda _: crop(CLIP, 0.5, 0, 2),
        TypeError,
        "top must be an int",
    ),
    (
        "center_crop -1",
        lambda _: center_crop(CLIP, -1),
        ValueError,
        "size must be >= 1",
    ),
    (
        "center_crop larger than the frame",
        lambda _: center_crop(CLIP, 9),
        ValueError,
        "larger than the frames 8x8",
    ),
    (
        "std of zeros",
        lambda _: normalize(CLIP, std=(0, 0, 0)),
        ValueError,
        r"std\[0\] must be in \(0",
    ),
    (
        "std NaN",
        lambda _: normalize(CLIP, std=(1, float("nan"), 1)),
        ValueError,
        r"std\[1\] must be a finite",
    ),
    (
        "mean of 1 value",
        lambda _: normalize(CLIP, mean=(0.5,)),
        ValueError,
        "mean must be 3 numbers",
    ),
    (
        "resize to an int",
        lambda _: resize(CLIP, 112),
        TypeError,
        r"size must be a pair \(H, W\)",
    ),
    (
        "resize to 0 rows",
        lambda _: resize(CLIP, (0, 4)),
        ValueError,
        "size must have every entry >= 1",
    ),
    (
        "resize a 0-frame clip",
        lambda _: resize(torch.zeros(3, 0, 8, 8), (4, 4)),
        ValueError,
        "clip is empty",
    ),
    (
        "uint8 clip",
        lambda _: resize((CLIP * 255).to(torch.uint8), (4, 4)),
        TypeError,
        "clip must be a real floating",
    ),
    (
        "KineticsEval resize_size int",
        lambda _: KineticsEval(resize_size=128),
        TypeError,
        "resize_size must be a pair",
    ),
    (
        "flip_p 2",
        lambda _: KineticsTrain(flip_p=2),
        ValueError,
        r"flip_p must be in \[0, 1\]",
    ),
    (
        "crop larger than the resize",
        lambda _: KineticsTrain(crop_size=200),
        ValueError,
        "crop_size 200 does not fit",
    ),
    (
        "generator an int",
        lambda _: KineticsTrain(generator=1),
        TypeError,
        "generator must be a torch.Generator",
    ),
]


@pytest.mark.parametrize("row", TRANSFORMS, ids=ids(TRANSFORMS))
def test_transforms(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- video files


def _dir(tmp, name):
    (tmp / name).mkdir()
    return tmp / name


VIDEO_FILES = [
    (
        "a 0..255 clip",
        lambda t: write_video(t / "a.mp4", CLIP * 255),
        ValueError,
        r"clip values must be in \[0, 1\]",
    ),
    (
        "a NaN clip",
        lambda t: write_video(
            t / "a.mp4", torch.full((3, 2, 8, 8), float("nan"))
        ),
        ValueError,
        "clip contains 384 NaN",
    ),
    (
        "a normalised clip",
        lambda t: write_video(t / "a.mp4", normalize(CLIP)),
        ValueError,
        "clip values must be in",
    ),
    (
        "crf 'abc'",
        lambda t: write_video(t / "a.mp4", CLIP, crf="abc"),
        TypeError,
        "crf must be an int",
    ),
    (
        "crf 60",
        lambda t: write_video(t / "a.mp4", CLIP, crf=60),
        ValueError,
        "crf must be <= 51",
    ),
    (
        "fps 0",
        lambda t: write_video(t / "a.mp4", CLIP, fps=0),
        ValueError,
        "fps must be >= 1",
    ),
    (
        "fps True",
        lambda t: write_video(t / "a.mp4", CLIP, fps=True),
        TypeError,
        "fps must be an int",
    ),
    (
        "a .txt path",
        lambda t: write_video(t / "a.txt", CLIP),
        ValueError,
        r"must end in \.mp4.*a\.txt",
    ),
    (
        "a directory path",
        lambda t: write_video(_dir(t, "d.mp4"), CLIP),
        IsADirectoryError,
        r"directory: .*d\.mp4",
    ),
    (
        "path an int",
        lambda t: write_video(3, CLIP),
        TypeError,
        "path must be a str or os.PathLike",
    ),
    (
        "a 0-frame clip",
        lambda t: write_video(t / "a.mp4", torch.zeros(3, 0, 8, 8)),
        ValueError,
        "clip is empty",
    ),
    (
        "odd width",
        lambda t: write_video(t / "a.mp4", torch.zeros(3, 2, 8, 9)),
        ValueError,
        "even height and width",
    ),
    (
        "read path an int",
        lambda t: read_video(123),
        TypeError,
        "path must be a str or os.PathLike",
    ),
    (
        "read a directory",
        lambda t: read_video(t),
        IsADirectoryError,
        "got a directory",
    ),
    (
        "info of a missing file",
        lambda t: video_info(t / "missing.mp4"),
        FileNotFoundError,
        r"missing\.mp4",
    ),
]


@pytest.mark.parametrize("row", VIDEO_FILES, ids=ids(VIDEO_FILES))
def test_video_files(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- folder dataset


def _tree(tmp):
    """root/a/v.mp4 with a 4-frame video."""
    write_video(tmp / "root" / "a" / "v.mp4", torch.full((3, 4, 8, 8), 0.5))
    return tmp / "root"


FOLDER = [
    (
        "missing folder",
        lambda t: VideoFolder(t / "nope"),
        FileNotFoundError,
        "dataset folder not found",
    ),
    (
        "a file as root",
        lambda t: VideoFolder(_tree(t) / "a" / "v.mp4"),
        NotADirectoryError,
        "must be a folder",
    ),
    (
        "root an int",
        lambda t: VideoFolder(3),
        TypeError,
        "root must be a str or os.PathLike",
    ),
    (
        "extensions without a dot",
        lambda t: VideoFolder(_tree(t), extensions="mp4"),
        ValueError,
        "extensions must be suffixes",
    ),
    (
        "clip_len 0",
        lambda t: VideoFolder(_tree(t), clip_len=0),
        ValueError,
        "clip_len must be >= 1",
    ),
    (
        "sampler a string",
        lambda t: VideoFolder(_tree(t), sampler="uniform"),
        TypeError,
        "sampler must be callable",
    ),
    (
        "transform an int",
        lambda t: VideoFolder(_tree(t), transform=3),
        TypeError,
        "transform must be callable",
    ),
    (
        "sampler out of range",
        lambda t: VideoFolder(_tree(t), 2, sampler=lambda n, k: [0, n])[0],
        ValueError,
        r"must return 2 frame indices in \[0, 4\) for .*v\.mp4",
    ),
    (
        "index a string",
        lambda t: VideoFolder(_tree(t))["0"],
        TypeError,
        "index must be an int",
    ),
    (
        "index past the end",
        lambda t: VideoFolder(_tree(t))[5],
        IndexError,
        "index 5 out of range for 1 videos",
    ),
]


@pytest.mark.parametrize("row", FOLDER, ids=ids(FOLDER))
def test_folder(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- synthetic data

SYNTHETIC = [
    (
        "0 clips",
        lambda _: RotatingBlobs(0),
        ValueError,
        "num_clips must be >= 1",
    ),
    (
        "2 frames",
        lambda _: RotatingBlobs(frames=2),
        ValueError,
        "frames must be >= 3",
    ),
    (
        "noise NaN",
        lambda _: RotatingBlobs(noise=float("nan")),
        ValueError,
        "noise must be a finite number",
    ),
    (
        "noise True",
        lambda _: RotatingBlobs(noise=True),
        TypeError,
        "noise must be a number",
    ),
    (
        "seed -1",
        lambda _: RotatingBlobs(seed=-1),
        ValueError,
        "seed must be >= 0",
    ),
    (
        "seed 2**70",
        lambda _: RotatingBlobs(seed=2**70),
        ValueError,
        "seed must be <= ",
    ),
    (
        "size 4",
        lambda _: RotatingBlobs(size=4),
        ValueError,
        "size must be >= 8",
    ),
    (
        "index 1.0",
        lambda _: RotatingBlobs(3)[1.0],
        TypeError,
        "index must be an int",
    ),
    (
        "index 5 of 3",
        lambda _: RotatingBlobs(3)[5],
        IndexError,
        "index 5 out of range",
    ),
    (
        "1 class",
        lambda _: rotation_speeds(7, 1),
        ValueError,
        "num_classes must be >= 2",
    ),
    (
        "num_classes True",
        lambda _: RotatingBlobs(num_classes=True),
        TypeError,
        "num_classes must be an int",
    ),
]


@pytest.mark.parametrize("row", SYNTHETIC, ids=ids(SYNTHETIC))
def test_synthetic(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- training


def _net(classes: int = 3) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 2 * 4 * 4, classes))


def _loader(labels, clips=None):
    clips = torch.rand(len(labels), 3, 2, 4, 4) if clips is None else clips
    return DataLoader(
        TensorDataset(clips, torch.as_tensor(labels)), batch_size=2
    )


def _sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.1)


def _train(labels, clips=None, **kwargs):
    model = _net()
    return train_one_epoch(
        model, _loader(labels, clips), _sgd(model), progress=False, **kwargs
    )


TRAINING = [
    (
        "label >= the class count",
        lambda _: _train([0, 3], device="cpu"),
        ValueError,
        r"class indices in \[0, 3\)",
    ),
    (
        "float labels",
        lambda _: _train([0.0, 1.0], device="cpu"),
        TypeError,
        "labels must be integer class indices",
    ),
    (
        "a NaN in a clip",
        lambda _: _train(
            [0, 1], torch.full((2, 3, 2, 4, 4), float("nan")), device="cpu"
        ),
        ValueError,
        r"clips \(train, batch 0\) contains 192 NaN",
    ),
    (
        "float64 clips",
        lambda _: _train(
            [0, 1], torch.rand(2, 3, 2, 4, 4, dtype=torch.float64), device="cpu"
        ),
        TypeError,
        "clips .* has dtype torch.float64",
    ),
    (
        "device an int",
        lambda _: _train([0, 1], device=3),
        TypeError,
        "device must be a torch.device",
    ),
    (
        "device 'gpu'",
        lambda _: _train([0, 1], device="gpu"),
        ValueError,
        "device must name a torch device",
    ),
    (
        "amp 'yes'",
        lambda _: _train([0, 1], device="cpu", amp="yes"),
        TypeError,
        "amp must be True or False",
    ),
    (
        "optimizer None",
        lambda _: train_one_epoch(_net(), _loader([0, 1]), None, device="cpu"),
        TypeError,
        "optimizer must be a torch.optim.Optimizer",
    ),
    (
        "loader None",
        lambda _: train_one_epoch(_net(), None, _sgd(_net()), device="cpu"),
        TypeError,
        "loader must be an iterable",
    ),
    (
        "fit epochs -3",
        lambda _: fit(
            _net(),
            _loader([0, 1]),
            epochs=-3,
            optimizer=_sgd(_net()),
            device="cpu",
        ),
        ValueError,
        "epochs must be >= 1",
    ),
    (
        "fit epochs True",
        lambda _: fit(
            _net(),
            _loader([0, 1]),
            epochs=True,
            optimizer=_sgd(_net()),
            device="cpu",
        ),
        TypeError,
        "epochs must be an int",
    ),
    (
        "model output not (B, classes)",
        lambda _: evaluate(nn.Identity(), _loader([0, 1]), device="cpu"),
        ValueError,
        r"the model must return logits \(B, classes\)",
    ),
    (
        "evaluate label out of range",
        lambda _: evaluate(_net(), _loader([0, 7]), device="cpu"),
        ValueError,
        r"class indices in \[0, 3\)",
    ),
    (
        "topk ks 0",
        lambda _: topk_correct(
            torch.zeros(2, 3), torch.tensor([0, 1]), ks=(0,)
        ),
        ValueError,
        "ks entry must be >= 1",
    ),
    (
        "topk float labels",
        lambda _: topk_correct(torch.zeros(2, 3), torch.tensor([0.0, 1.0])),
        TypeError,
        "labels must be integer",
    ),
    (
        "negative learning rate",
        lambda _: param_groups(_net(), "1", backbone_lr=-1, head_lr=1),
        ValueError,
        r"backbone_lr must be in \[0",
    ),
    (
        "head ''",
        lambda _: param_groups(_net(), "", backbone_lr=1, head_lr=1),
        ValueError,
        "head must name",
    ),
    (
        "checkpoint types of strings",
        lambda _: enable_checkpointing(_net(), ("Linear",)),
        TypeError,
        "module_types must be a tuple of nn.Module subclasses",
    ),
]


@pytest.mark.parametrize("row", TRAINING, ids=ids(TRAINING))
def test_training(row, tmp_path):
    run_row(row, tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _under_torchrun(call, **env):
    """``call()`` in a process that torchrun might have started: a gloo group of one process."""
    env = {
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        **env,
    }
    with mock.patch.dict(
        os.environ, {k: v for k, v in env.items() if v is not None}
    ):
        for k in [k for k, v in env.items() if v is None]:
            os.environ.pop(k, None)
        try:
            return call()
        finally:
            ddp.shutdown()


def _fit_under_torchrun(loader, **env):
    model = _net()
    return _under_torchrun(
        lambda: fit(
            model,
            loader,
            epochs=1,
            optimizer=_sgd(model),
            device="cpu",
            progress=False,
        ),
        **env,
    )


def _with_world(n, call):
    with mock.patch.object(ddp, "world_size", return_value=n):
        return call()


DISTRIBUTED = [
    (
        "fit under torchrun, sampler not distributed",
        lambda _: _fit_under_torchrun(_loader([0, 1])),
        ValueError,
        r"loader: under torchrun \(1 processes\) each process must read its own share.*sampler SequentialSampler",
    ),
    (
        "fit under torchrun, LOCAL_RANK missing",
        lambda _: _fit_under_torchrun(_loader([0, 1]), LOCAL_RANK=None),
        RuntimeError,
        r"\['LOCAL_RANK'\] missing.*torchrun --nproc_per_node",
    ),
    (
        "LOCAL_RANK not a number",
        lambda _: _fit_under_torchrun(_loader([0, 1]), LOCAL_RANK="a"),
        ValueError,
        "LOCAL_RANK must be an integer, got 'a'",
    ),
    (
        "evaluate under torchrun, a list of batches",
        lambda _: _under_torchrun(
            lambda: (
                ddp.init("cpu")
                and evaluate(
                    _net(),
                    [(torch.rand(2, 3, 2, 4, 4), torch.tensor([0, 1]))],
                    device="cpu",
                )
            )
        ),
        TypeError,
        r"loader: under torchrun .* through a DataLoader with sampler=DistributedSampler\(dataset\) or ShardSampler",
    ),
    (
        "global batch 7 over 2 processes",
        lambda _: _with_world(
            2,
            lambda: distributed_loader(
                TensorDataset(torch.zeros(8)), 7, train=True
            ),
        ),
        ValueError,
        "batch_size .* must be divisible by 2; got 7",
    ),
    (
        "loader given its own sampler",
        lambda _: distributed_loader(
            TensorDataset(torch.zeros(8)), 4, train=True, sampler=None
        ),
        TypeError,
        "chooses sampler itself",
    ),
    (
        "train_one_epoch under torchrun, model not DDP",
        lambda _: _under_torchrun(
            lambda: train_one_epoch(
                _net(),
                _loader([0, 1]),
                _sgd(_net()),
                device="cpu",
                progress=False,
            )
        ),
        ValueError,
        r"must be wrapped in DistributedDataParallel.*vidconv.training.distributed\(model\)",
    ),
    (
        "sync_batchnorm on the CPU",
        lambda _: _under_torchrun(
            lambda: distributed(_net(), "cpu", sync_batchnorm=True)
        ),
        ValueError,
        "sync_batchnorm=True needs CUDA",
    ),
    (
        "shard rank 2 of 2",
        lambda _: ShardSampler(range(4), 2, 2),
        ValueError,
        "rank must be < num_replicas=2",
    ),
    (
        "fit checkpoint 3",
        lambda _: fit(
            _net(),
            _loader([0, 1]),
            epochs=1,
            optimizer=_sgd(_net()),
            device="cpu",
            checkpoint=3,
        ),
        TypeError,
        "checkpoint must be a file path",
    ),
    (
        "step time nprocs (2, 1)",
        lambda _: ddp_step_time(_net, (2, 3, 2, 4, 4), nprocs=(2, 1)),
        ValueError,
        "nprocs must start with 1",
    ),
    (
        "step time on 99 cores",
        lambda _: ddp_step_time(_net, (2, 3, 2, 4, 4), nprocs=(1, 99)),
        ValueError,
        "asks for 99 processes but this machine has",
    ),
    (
        "step time shape 4-D",
        lambda _: ddp_step_time(_net, (2, 3, 4, 4)),
        ValueError,
        "shape must have 5 entries",
    ),
]


@pytest.mark.parametrize("row", DISTRIBUTED, ids=ids(DISTRIBUTED))
def test_distributed(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- thick present

THICK_PRESENT = [
    (
        "0 input channels",
        lambda _: PhenomenologicalConv3D(0, 8, 2),
        ValueError,
        "in_channels must be >= 1",
    ),
    (
        "0 output channels",
        lambda _: PhenomenologicalConv3D(3, 0, 2),
        ValueError,
        "out_channels must be >= 1",
    ),
    (
        "retention -1",
        lambda _: PhenomenologicalConv3D(3, 8, -1),
        ValueError,
        "retention_frames must be >= 0",
    ),
    (
        "even spatial kernel",
        lambda _: PhenomenologicalConv3D(3, 8, 1, spatial_kernel_size=2),
        ValueError,
        "spatial_kernel_size must be odd",
    ),
    (
        "float64 clip",
        lambda _: PhenomenologicalConv3D(3, 8, 1)(
            torch.zeros(1, 3, 4, 5, 5, dtype=torch.float64)
        ),
        TypeError,
        "PhenomenologicalConv3D input has dtype torch.float64",
    ),
    (
        "clip of 0 frames",
        lambda _: PhenomenologicalConv3D(3, 8, 2)(torch.zeros(1, 3, 0, 5, 5)),
        ValueError,
        "PhenomenologicalConv3D input's frame count T must be >= 1, got 0",
    ),
    (
        "thickness 0",
        lambda _: ThickPresentConvolution(3, 8, 0),
        ValueError,
        "present_thickness must be >= 1",
    ),
    (
        "pool kernel 0",
        lambda _: CausalPool3d(0),
        ValueError,
        "kernel_size must be >= 1",
    ),
    (
        "pool mode 'mean'",
        lambda _: CausalPool3d(2, mode="mean"),
        ValueError,
        "mode must be 'max' or 'avg'",
    ),
    (
        "residual body a string",
        lambda _: CausalResidual("conv"),
        TypeError,
        "body and shortcut must be nn.Modules",
    ),
    (
        "extent over 2 frames",
        lambda _: temporal_extent(PhenomenologicalConv3D(1, 1, 1), 1, frames=2),
        ValueError,
        "frames must be >= 3",
    ),
    (
        "extent size 0",
        lambda _: temporal_extent(PhenomenologicalConv3D(1, 1, 1), 1, size=0),
        ValueError,
        "size must be >= 1",
    ),
]


@pytest.mark.parametrize("row", THICK_PRESENT, ids=ids(THICK_PRESENT))
def test_thick_present(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- streaming


def _stream():
    return StreamingInference(
        nn.Sequential(PhenomenologicalConv3D(3, 4, 2), nn.ReLU())
    )


def _two_shapes():
    stream = _stream()
    stream.step(torch.zeros(1, 3, 5, 5))
    stream.step(torch.zeros(1, 3, 6, 6))


STREAMING = [
    (
        "a 3-frame Conv3d",
        lambda _: StreamingInference(nn.Conv3d(3, 4, 3)),
        ValueError,
        "temporal kernel size 3",
    ),
    (
        "model a string",
        lambda _: StreamingInference("net"),
        TypeError,
        "model must be an nn.Module",
    ),
    (
        "a layer that sees the future",
        lambda _: StreamingInference(PhenomenologicalConv3D(3, 4, 1, 1)),
        ValueError,
        "looks 1 frames ahead",
    ),
    (
        "float64 frame",
        lambda _: _stream().step(torch.zeros(1, 3, 5, 5, dtype=torch.float64)),
        TypeError,
        "frame has dtype torch.float64",
    ),
    (
        "a clip instead of a frame",
        lambda _: _stream().step(torch.zeros(1, 3, 2, 5, 5)),
        ValueError,
        r"frame must have 4 dimensions \(B, C, H, W\)",
    ),
    (
        "integer frame",
        lambda _: _stream().step(torch.zeros(1, 3, 5, 5, dtype=torch.long)),
        TypeError,
        "frame must be a real floating",
    ),
    (
        "frame size changes",
        lambda _: _two_shapes(),
        ValueError,
        r"call reset\(\)",
    ),
]


@pytest.mark.parametrize("row", STREAMING, ids=ids(STREAMING))
def test_streaming(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- relevance

RELEVANCE = [
    (
        "float64 steps",
        lambda _: TemporalRelevanceModule(8, 3, 2)(
            torch.randn(1, 4, 8, dtype=torch.float64)
        ),
        TypeError,
        "x has dtype torch.float64 but TemporalRelevanceModule has dtype torch.float32",
    ),
    (
        "mask of 0.5",
        lambda _: TemporalRelevanceModule(8, 3, 2)(
            torch.randn(1, 4, 8), torch.full((1, 4), 0.5)
        ),
        ValueError,
        r"mask of dtype torch.float32 must hold only 0 \(padding\) and 1 \(valid\)",
    ),
    (
        "hidden_dim True",
        lambda _: TemporalRelevanceModule(True),
        TypeError,
        "hidden_dim must be an int",
    ),
    (
        "window 0",
        lambda _: TemporalRelevanceModule(8, temporal_window=0),
        ValueError,
        "temporal_window must be >= 1",
    ),
    (
        "selector float64",
        lambda _: ThickPresentTokenSelector(8)(
            torch.randn(1, 4, 8, dtype=torch.float64)
        ),
        TypeError,
        "x has dtype torch.float64",
    ),
    (
        "compressor float64 text",
        lambda _: VideoRelevanceCompressor(8, 4)(
            torch.randn(1, 4, 2, 8), torch.randn(1, 3, 8, dtype=torch.float64)
        ),
        TypeError,
        "text has dtype torch.float64 but tokens has dtype torch.float32",
    ),
    (
        "compressor 0 frames",
        lambda _: VideoRelevanceCompressor(8, 0),
        ValueError,
        "num_frames must be >= 1",
    ),
    (
        "integer tokens",
        lambda _: VideoRelevanceCompressor(8, 4)(
            torch.zeros(1, 4, 2, 8, dtype=torch.long)
        ),
        TypeError,
        "tokens must be a real floating",
    ),
]


@pytest.mark.parametrize("row", RELEVANCE, ids=ids(RELEVANCE))
def test_relevance(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- widgets


def _widgets():
    pytest.importorskip("plotly")
    from vidconv.book import widgets

    return widgets


WIDGETS = [
    (
        "kernel 3 stride 3 depth 14",
        lambda _: _widgets().receptive_field_figure(
            kernel_size=3, stride=3, depth=14
        ),
        ValueError,
        r"receptive_field\(\) for the span",
    ),
    (
        "depth 0",
        lambda _: _widgets().receptive_field_figure(depth=0),
        ValueError,
        "depth must be >= 1",
    ),
    (
        "kernel True",
        lambda _: _widgets().receptive_field_figure(kernel_size=True),
        TypeError,
        "kernel_size must be an int",
    ),
    (
        "kernel channel -1",
        lambda _: _widgets().kernel_figure(
            torch.zeros(2, 3, 3, 3, 3), out_channel=-1
        ),
        ValueError,
        "out_channel must be >= 0",
    ),
]


@pytest.mark.parametrize("row", WIDGETS, ids=ids(WIDGETS))
def test_widgets(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- experiments

EXPERIMENTS = [
    (
        "epochs -1",
        lambda _: temporal_vs_per_frame(SmallRun(epochs=-1)),
        ValueError,
        "epochs must be >= 1",
    ),
    (
        "batch_size 0",
        lambda _: temporal_vs_per_frame(SmallRun(batch_size=0)),
        ValueError,
        "batch_size must be >= 1",
    ),
    (
        "lr 0",
        lambda _: temporal_vs_per_frame(SmallRun(lr=0)),
        ValueError,
        r"lr must be in \(0",
    ),
    (
        "device 'gpu'",
        lambda _: temporal_vs_per_frame(device="gpu"),
        ValueError,
        "device must name a torch device",
    ),
    (
        "train_clips True",
        lambda _: temporal_vs_per_frame(SmallRun(train_clips=True)),
        TypeError,
        "train_clips must be an int",
    ),
    (
        "run a dict",
        lambda _: temporal_vs_per_frame({"epochs": 2}),
        TypeError,
        "run must be a SmallRun, got dict",
    ),
    (
        "SmallRun.replace(epochs=0)",
        lambda _: SmallRun().replace(epochs=0),
        ValueError,
        "epochs must be >= 1",
    ),
    (
        "unknown option",
        lambda _: temporal_vs_per_frame(colour=3),
        TypeError,
        "unexpected keyword argument 'colour'",
    ),
    (
        "task a dict",
        lambda _: temporal_vs_per_frame(SmallRun(), {"frames": 7}),
        TypeError,
        "task must be a BlobTask, got dict",
    ),
    (
        "BlobTask 6 classes on 8 frames",
        lambda _: BlobTask(frames=8, num_classes=6),
        ValueError,
        "with 8 frames only 4 classes are possible",
    ),
    (
        "1 class",
        lambda _: per_frame_cnn(1),
        ValueError,
        "num_classes must be >= 2",
    ),
    ("width 0", lambda _: cnn_3d(4, width=0), ValueError, "width must be >= 1"),
    # ch. 10: relevance experiments
    (
        "token budget no frames",
        lambda _: token_budget(()),
        ValueError,
        "frames must list at least one clip length",
    ),
    (
        "token budget frames 0",
        lambda _: token_budget((8, 0)),
        ValueError,
        "frames must have every entry >= 1",
    ),
    (
        "image not a multiple of patch",
        lambda _: token_budget(image_size=100, patch_size=16),
        ValueError,
        r"image_size \(100\) must be a multiple of patch_size \(16\)",
    ),
    (
        "attention heads do not divide",
        lambda _: SelfAttention(10, 4),
        ValueError,
        r"dim \(10\) must be divisible",
    ),
    (
        "attention on (N, D)",
        lambda _: SelfAttention(8, 2)(torch.randn(5, 8)),
        ValueError,
        r"x must have 3 dimensions \(B, N, D\)",
    ),
    (
        "windows empty",
        lambda _: window_sweep(()),
        ValueError,
        "windows must name at least one window size",
    ),
    (
        "window 0",
        lambda _: window_sweep((1, 0)),
        ValueError,
        "windows must have every entry >= 1",
    ),
    (
        "moving fraction 2",
        lambda _: moving_frames_batch(2, moving_fraction=2.0),
        ValueError,
        r"moving_fraction must be in \[0, 1\]",
    ),
    (
        "auc one class",
        lambda _: roc_auc(torch.rand(5), torch.ones(5, dtype=torch.bool)),
        ValueError,
        "labels must contain both classes, got 5 positives and 0 negatives",
    ),
    (
        "auc shapes differ",
        lambda _: roc_auc(torch.rand(5), torch.ones(4)),
        ValueError,
        r"labels must be a tensor of the scores' shape \(5,\)",
    ),
    (
        "keep ratio 0",
        lambda _: keep_ratio_frontier((0.0,)),
        ValueError,
        r"keep_ratios must be in \(0, 1\]",
    ),
    (
        "keep ratios a number",
        lambda _: keep_ratio_frontier(0.5),
        ValueError,
        "keep_ratios must be a non-empty sequence",
    ),
    (
        "present longer than steps",
        lambda _: keep_ratio_frontier(steps=4, present=4),
        ValueError,
        "steps must be >= 5",
    ),
    (
        "event batch short",
        lambda _: present_event_batch(
            torch.eye(3, 8), 2, 4, present=3, distractors=2
        ),
        ValueError,
        "steps must be >= 5",
    ),
    (
        "event prototypes 1-D",
        lambda _: present_event_batch(torch.ones(8), 2),
        ValueError,
        r"prototypes must have 2 dimensions \(classes, D\)",
    ),
    (
        "classifier 1 class",
        lambda _: TokenClassifier(8, 1, 10),
        ValueError,
        "num_classes must be >= 2",
    ),
    (
        "compression ratio 0",
        lambda _: compression_probe((2, 0)),
        ValueError,
        "compression_ratios entry must be >= 1",
    ),
    (
        "compression ratios None",
        lambda _: compression_probe(None),
        TypeError,
        "compression_ratios must be a non-empty sequence",
    ),
    (
        "query clips match 1.5",
        lambda _: query_clip_batch(torch.eye(3, 8), 2, match_fraction=1.5),
        ValueError,
        r"match_fraction must be in \[0, 1\]",
    ),
    (
        "probe features differ",
        lambda _: ridge_probe_accuracy(
            torch.rand(6, 3),
            torch.zeros(6, dtype=torch.long),
            torch.rand(2, 4),
            torch.zeros(2, dtype=torch.long),
        ),
        ValueError,
        "test_x must have train_x's 3 features, got 4",
    ),
    (
        "probe float labels",
        lambda _: ridge_probe_accuracy(
            torch.rand(6, 3),
            torch.zeros(6),
            torch.rand(2, 3),
            torch.zeros(2, dtype=torch.long),
        ),
        ValueError,
        "train_y must be a torch.long tensor of 6 class indices",
    ),
    (
        "merge 3-D tokens",
        lambda _: uniform_merge(torch.rand(2, 4, 8), 2),
        ValueError,
        r"tokens must have 4 dimensions \(B, T, N, D\)",
    ),
]


@pytest.mark.parametrize("row", EXPERIMENTS, ids=ids(EXPERIMENTS))
def test_experiments(row, tmp_path):
    run_row(row, tmp_path)


# ----------------------------------------------------------------------------- MoViNet (ch. 11)


def _streamed(chunks):
    model = movinet_a0(num_classes=4)
    for chunk in chunks:
        model.stream(chunk)


MOVINET = [
    (
        "1-channel clip",
        lambda _: movinet_a0(num_classes=4)(torch.rand(1, 1, 2, 40, 40)),
        ValueError,
        r"MoViNet expects 3 channels \(B, 3, T, H, W\), got shape \(1, 1, 2, 40, 40\)",
    ),
    (
        "4-D clip",
        lambda _: movinet_a0(num_classes=4)(torch.rand(1, 3, 40, 40)),
        ValueError,
        r"MoViNet input must have 5 dimensions \(B, C, T, H, W\), got shape \(1, 3, 40, 40\)",
    ),
    (
        "16x16 frames",
        lambda _: movinet_a0(num_classes=4)(torch.rand(1, 3, 2, 16, 16)),
        ValueError,
        r"at least 1 frames of 33x33 pixels .* got shape \(1, 3, 2, 16, 16\)",
    ),
    (
        "uint8 clip",
        lambda _: movinet_a0(num_classes=4)(
            torch.zeros(1, 3, 2, 40, 40, dtype=torch.uint8)
        ),
        TypeError,
        "MoViNet input must be a real floating-point tensor",
    ),
    (
        "0 classes",
        lambda _: movinet_a0(num_classes=0),
        ValueError,
        "num_classes must be >= 1",
    ),
    (
        "unknown activation",
        lambda _: movinet_a0(activation="relu"),
        ValueError,
        "activation must be 'swish' or 'hardswish', got 'relu'",
    ),
    (
        "stream a non-causal model",
        lambda _: movinet_a0(causal=False).stream(torch.rand(1, 3, 1, 40, 40)),
        ValueError,
        "needs a causal MoViNet",
    ),
    (
        "stream a 2-channel chunk",
        lambda _: _streamed([torch.rand(1, 2, 1, 40, 40)]),
        ValueError,
        r"MoViNet.stream expects 3 channels",
    ),
    (
        "chunk of another size mid-stream",
        lambda _: _streamed(
            [torch.rand(1, 3, 1, 40, 40), torch.rand(1, 3, 1, 64, 64)]
        ),
        ValueError,
        r"earlier chunks had \(1, 40, 40\); call reset_stream\(\)",
    ),
    (
        "stream_vs_offline on a non-MoViNet",
        lambda _: stream_vs_offline(TINY, torch.rand(1, 3, 2, 40, 40)),
        TypeError,
        "model must be a vidconv MoViNet",
    ),
    (
        "streaming_cost on 2 videos",
        lambda _: streaming_cost(
            movinet_a0(num_classes=4), torch.rand(2, 3, 2, 40, 40)
        ),
        ValueError,
        r"clip must hold one video \(batch size 1\), got shape \(2, 3, 2, 40, 40\)",
    ),
    (
        "chunk size 0",
        lambda _: stream_vs_offline(
            movinet_a0(num_classes=4), torch.rand(1, 3, 2, 40, 40), (0,)
        ),
        ValueError,
        "chunk_sizes must have every entry >= 1",
    ),
]


@pytest.mark.parametrize("row", MOVINET, ids=ids(MOVINET))
def test_movinet(row, tmp_path):
    run_row(row, tmp_path)


FAMILIES = {
    "conv": CONV,
    "receptive fields": RECEPTIVE_FIELDS,
    "counting": COUNTING,
    "models": MODELS,
    "blocks": BLOCKS,
    "sampling": SAMPLING,
    "transforms": TRANSFORMS,
    "video files": VIDEO_FILES,
    "folder dataset": FOLDER,
    "synthetic data": SYNTHETIC,
    "training": TRAINING,
    "distributed training": DISTRIBUTED,
    "thick present": THICK_PRESENT,
    "streaming": STREAMING,
    "relevance": RELEVANCE,
    "widgets": WIDGETS,
    "experiments": EXPERIMENTS,
    "MoViNet": MOVINET,
}


def test_every_family_has_its_table():
    assert all(len(rows) >= 4 for rows in FAMILIES.values())
    assert sum(len(rows) for rows in FAMILIES.values()) > 150


# ============================================================================= behaviour the fixes restored


def test_eval_mode_with_a_batch_of_one_is_unchanged_and_train_mode_works_with_two():
    model = r3d_18(num_classes=5)
    with torch.no_grad():
        assert model.eval()(torch.rand(1, 3, 8, 16, 16)).shape == (1, 5)
        assert model.train()(torch.rand(2, 3, 8, 16, 16)).shape == (
            2,
            5,
        )  # 2 values per channel at the last BN


def _bn_net(classes: int = 3) -> nn.Module:
    return nn.Sequential(
        nn.Conv3d(3, 4, 1),
        nn.BatchNorm3d(4),
        nn.Flatten(),
        nn.Linear(4 * 2 * 4 * 4, classes),
    )


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_training_takes_a_device_string_and_a_nan_clip_changes_no_parameter_or_statistic():
    torch.manual_seed(0)
    model = _bn_net()
    before = _state(model)
    clips = torch.rand(4, 3, 2, 4, 4)
    clips[3, 0, 0, 0, 0] = float(
        "nan"
    )  # in the second batch: the first one trains
    loader = DataLoader(
        TensorDataset(clips, torch.tensor([0, 1, 2, 0])), batch_size=2
    )
    with pytest.raises(ValueError, match=r"batch 1\) contains 1 NaN"):
        train_one_epoch(
            model, loader, _sgd(model), device="cpu", progress=False
        )
    after_first = _state(model)
    assert any(
        not torch.equal(before[k], after_first[k]) for k in before
    )  # batch 0 trained
    assert all(
        torch.isfinite(v.float()).all() for v in after_first.values()
    )  # nothing NaN, BN stats included


class _Exploding(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 2 * 4 * 4, 3)

    def forward(self, x):
        return self.fc(x.flatten(1)) * float(
            "inf"
        )  # (B, 3): logits that overflow


def test_a_non_finite_loss_stops_training_before_the_optimizer_step():
    model = _Exploding()
    before = _state(model)
    with pytest.raises(
        ValueError, match="the loss is nan .* parameters are unchanged"
    ):
        train_one_epoch(
            model, _loader([0, 1]), _sgd(model), device="cpu", progress=False
        )
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_fit_accepts_a_device_string():
    model = _net()
    history = fit(
        model,
        _loader([0, 1, 2, 0]),
        epochs=1,
        optimizer=_sgd(model),
        device="cpu",
        progress=False,
    )
    assert len(history) == 1 and np.isfinite(history[0]["train_loss"])


def _reference_relevance(module, x, mask=None):
    """The module as first written: nn.MultiheadAttention over the whole sequence with an additive mask."""
    t = x.shape[1]
    offset = torch.arange(t)[None, :] - torch.arange(t)[:, None]  # (T, T)
    past = module.temporal_window // 2
    allowed = (offset >= -past) & (offset <= module.temporal_window - 1 - past)
    if mask is None:
        attn_mask = ~allowed
    else:
        attn_mask = (
            ~(allowed[None] & (mask[:, None, :] | (offset == 0)[None]))
        ).repeat_interleave(module.num_heads, 0)
    h = module.norm(x)
    context, _ = module.attention(
        h, h, h, attn_mask=attn_mask, need_weights=False
    )
    relevance = torch.sigmoid(
        module.score(torch.cat([h, h - context], dim=-1))
    ).squeeze(-1)
    return relevance if mask is None else relevance * mask


@pytest.mark.parametrize("window", [1, 2, 3, 6, 40])
def test_windowed_relevance_equals_multihead_attention_with_a_mask(window):
    torch.manual_seed(window)
    module = TemporalRelevanceModule(8, window, 2).eval()
    x = torch.randn(3, 9, 8)
    mask = torch.rand(3, 9) > 0.3
    with torch.no_grad():
        torch.testing.assert_close(module(x), _reference_relevance(module, x))
        torch.testing.assert_close(
            module(x, mask), _reference_relevance(module, x, mask)
        )


def test_a_nan_reaches_only_the_steps_whose_window_holds_it():
    torch.manual_seed(0)
    module = TemporalRelevanceModule(8, temporal_window=3, num_heads=2).eval()
    x = torch.randn(1, 10, 8)
    x[0, 0] = float("nan")
    with torch.no_grad():
        r = module(x)[0]
        assert (
            torch.isnan(r[:2]).all() and torch.isfinite(r[2:]).all()
        )  # step 1's window (0..2) holds step 0
        # A NaN in a padded (masked) step reaches nothing: padding may hold garbage.
        y = torch.randn(1, 10, 8)
        y[0, 8] = float("nan")
        mask = torch.ones(1, 10, dtype=torch.bool)
        mask[0, 7:] = False
        r = module(y, mask)[0]
        assert torch.isfinite(r).all() and (r[7:] == 0).all()


def test_frames_reached_of_a_deep_stack_is_exact():
    assert frames_reached([(3, 1)] * 200)[0] == list(range(401))
    levels = frames_reached(
        [(2, 2)] * 10
    )  # 2^10 frames, each reached by exactly one path
    assert levels[0] == list(range(1024)) and [
        len(level) for level in levels
    ] == [2**k for k in range(10, -1, -1)]
    assert frames_reached([(2, 3)] * 3)[0] == [
        0,
        1,
        3,
        4,
        9,
        10,
        12,
        13,
    ]  # stride > kernel leaves holes


def test_numpy_integers_are_integers_and_booleans_are_not():
    assert S.uniform_indices(np.int64(10), np.int32(4)) == S.uniform_indices(
        10, 4
    )
    assert all(
        type(i) is int
        for i in S.strided_indices(np.int64(10), 3, np.int8(2), np.uint16(1))
    )
    x, w = torch.randn(1, 2, 5, 6, 6), torch.randn(3, 2, 2, 2, 2)
    torch.testing.assert_close(
        vidconv.conv3d(x, w, stride=np.int64(2), padding=(np.int32(1), 0, 1)),
        torch.nn.functional.conv3d(x, w, stride=2, padding=(1, 0, 1)),
    )
    assert RotatingBlobs(3, seed=np.int64(1))[np.int64(2)][1] == 2


def test_one_extension_as_a_string_and_one_checkpointed_type_alone(tmp_path):
    assert len(VideoFolder(_tree(tmp_path), 2, extensions=".mp4")) == 1
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    assert enable_checkpointing(model, nn.Linear) == 2


def test_a_clip_that_runs_past_the_end_still_repeats_the_last_frame():
    assert S.strided_indices(10, 4, 3, start=5) == [5, 8, 9, 9]
    assert S.strided_indices(10, 4, start=9) == [9, 9, 9, 9]


def test_eq_5_down_to_one_middle_channel_and_an_explicit_m_below_it():
    assert blocks.midplanes_for_2plus1d(2, 2, 1, 1) == 1  # 4 // 4
    assert blocks.midplanes_for_2plus1d(1, 1) == 2  # 27 // 12
    block = blocks.Conv2Plus1d(
        1, 1, mid_channels=1, temporal_kernel_size=1, spatial_kernel_size=1
    )
    assert block(torch.ones(1, 1, 2, 3, 3)).shape == (1, 1, 2, 3, 3)
    with pytest.raises(ValueError, match="M = 0 middle channels"):
        blocks.Conv2Plus1d(1, 1, temporal_kernel_size=1, spatial_kernel_size=1)


def test_crops_that_fit_are_exact_slices():
    assert torch.equal(crop(CLIP, 1, 2, 5), CLIP[:, :, 1:6, 2:7])
    assert torch.equal(center_crop(CLIP, 8), CLIP)
    assert torch.equal(center_crop(CLIP, 4), CLIP[:, :, 2:6, 2:6])


def test_under_autocast_inner_blocks_take_lower_precision_activations():
    # Autocast hands the second block bfloat16 activations on purpose: the dtype check must let them in.
    net = nn.Sequential(blocks.FullConv3d(3, 4), blocks.FullConv3d(4, 4))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(torch.rand(1, 3, 3, 6, 6))
    assert out.dtype == torch.bfloat16 and out.shape == (1, 4, 3, 6, 6)
    with pytest.raises(
        TypeError, match="FullConv3d input has dtype torch.bfloat16"
    ):
        net(
            torch.rand(1, 3, 3, 6, 6, dtype=torch.bfloat16)
        )  # outside autocast the same input is a mistake


# ----------------------------------------------------------------------------- chapter 9 experiments

from vidconv.experiments.temporal.latency import (  # noqa: E402
    latency_experiment,
    majority_clips,
    optimal_accuracy,
    train_window_net,
    window_net,
)
from vidconv.experiments.temporal.lenses import (  # noqa: E402
    influence_profile,
    lens_experiment,
)
from vidconv.experiments.temporal.receptive_field import (  # noqa: E402
    frames_read,
    temporal_profile,
    theoretical_span,
    thick_present_table,
    video_trunk,
)
from vidconv.experiments.temporal.streaming_video import (  # noqa: E402
    causal_video_net,
    stream_vs_window,
)

THICK_PRESENT_EXPERIMENTS = [
    (
        "unknown network",
        lambda _: video_trunk("VGG16"),
        ValueError,
        "name must be one of",
    ),
    (
        "profile of a non-module",
        lambda _: temporal_profile("C3D", (1, 3, 16, 8, 8)),
        TypeError,
        "model must be an nn.Module",
    ),
    (
        "profile shape of rank 4",
        lambda _: temporal_profile(TINY, (1, 3, 16, 8)),
        ValueError,
        "input_shape",
    ),
    (
        "profile draws 0",
        lambda _: temporal_profile(TINY, (1, 3, 8, 4, 4), draws=0),
        ValueError,
        "draws must be >= 1",
    ),
    (
        "span shape of rank 3",
        lambda _: theoretical_span(TINY, (1, 3, 8)),
        ValueError,
        "input_shape",
    ),
    (
        "table of non-profiles",
        lambda _: thick_present_table({"a": 1}),
        TypeError,
        "profiles must be a dict",
    ),
    (
        "table fps 0",
        lambda _: thick_present_table({}, fps=0),
        ValueError,
        "fps must be in",
    ),
    (
        "frames_read channels 0",
        lambda _: frames_read(TINY, 0),
        ValueError,
        "channels must be >= 1",
    ),
    (
        "frames_read t past the end",
        lambda _: frames_read(TINY, 3, frames=4, t=9),
        ValueError,
        "t must be",
    ),
    (
        "clips 0",
        lambda _: majority_clips(0, 8),
        ValueError,
        "clips must be >= 1",
    ),
    (
        "frames shorter than the label window",
        lambda _: majority_clips(2, 4),
        ValueError,
        "frames must be >= 5",
    ),
    (
        "negative noise",
        lambda _: majority_clips(2, 8, noise=-1.0),
        ValueError,
        "noise must be in",
    ),
    (
        "window retention -1",
        lambda _: window_net(-1, 0),
        ValueError,
        "retention",
    ),
    (
        "negative delay",
        lambda _: train_window_net(2, 0, -1),
        ValueError,
        "delay",
    ),
    (
        "visible offsets as a set",
        lambda _: optimal_accuracy({0, 1}),
        TypeError,
        "visible must be a sequence",
    ),
    (
        "visible offset 0.5",
        lambda _: optimal_accuracy([0.5]),
        TypeError,
        "visible must be an int",
    ),
    (
        "optimal half_window -1",
        lambda _: optimal_accuracy([0], half_window=-1),
        ValueError,
        "half_window",
    ),
    (
        "delays as a string",
        lambda _: latency_experiment(delays="012"),
        TypeError,
        "delays must be a non-empty sequence",
    ),
    (
        "empty seeds",
        lambda _: latency_experiment(seeds=()),
        ValueError,
        "seeds must be a non-empty sequence",
    ),
    (
        "influence of a non-module",
        lambda _: influence_profile(None, torch.zeros(2, 30)),
        TypeError,
        "model must be an nn.Module",
    ),
    (
        "influence on a clip",
        lambda _: influence_profile(TINY, torch.zeros(1, 3, 30, 2, 2)),
        ValueError,
        "x must",
    ),
    (
        "influence, too few frames",
        lambda _: influence_profile(TINY, torch.zeros(2, 10)),
        ValueError,
        "x has 10 frames",
    ),
    (
        "lenses frames too few",
        lambda _: lens_experiment(frames=10),
        ValueError,
        "frames must be >= 29",
    ),
    (
        "video net channels 0",
        lambda _: causal_video_net(channels=0),
        ValueError,
        "channels must be >= 1",
    ),
    (
        "stream a frame, not a video",
        lambda _: stream_vs_window(
            causal_video_net(2, 1), torch.zeros(1, 3, 4, 4)
        ),
        ValueError,
        "video must",
    ),
    (
        "stream two videos",
        lambda _: stream_vs_window(
            causal_video_net(2, 1), torch.zeros(2, 3, 4, 4, 4)
        ),
        ValueError,
        "batch 1",
    ),
]
FAMILIES["thick present experiments"] = THICK_PRESENT_EXPERIMENTS


@pytest.mark.parametrize(
    "row", THICK_PRESENT_EXPERIMENTS, ids=ids(THICK_PRESENT_EXPERIMENTS)
)
def test_thick_present_experiments(row, tmp_path):
    run_row(row, tmp_path)
