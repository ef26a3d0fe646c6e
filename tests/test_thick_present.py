"""Asymmetric and causal temporal convolution, their extents, and exact streaming."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vidconv.layers.blocks import SelfGating
from vidconv.temporal.streaming import StreamingInference
from vidconv.temporal.thick_present import (
    CausalPool3d,
    CausalResidual,
    PhenomenologicalConv3D,
    ThickPresentConvolution,
    temporal_extent,
)


@pytest.mark.parametrize(
    "retention, protention, dilation",
    [(0, 0, 1), (2, 0, 1), (1, 2, 1), (3, 1, 1), (2, 0, 2), (0, 3, 1)],
)
def test_output_frame_gradient_is_zero_outside_its_window(
    retention, protention, dilation
):
    torch.manual_seed(0)
    conv = PhenomenologicalConv3D(
        2, 3, retention, protention, dilation=dilation
    ).double()
    x = torch.randn(1, 2, 16, 5, 5, dtype=torch.float64, requires_grad=True)
    y = conv(x)
    assert y.shape[2] == 16
    t = 8
    y[:, :, t].sum().backward()
    touched = x.grad.abs().sum(dim=(0, 1, 3, 4)) > 0  # (T,)
    window = {t + dilation * i for i in range(-retention, protention + 1)}
    assert {i for i in range(16) if touched[i]} == window


@pytest.mark.parametrize("thickness", [1, 2, 3, 4, 5, 8])
def test_thick_present_keeps_frames_for_any_thickness(thickness):
    conv = ThickPresentConvolution(3, 4, thickness)
    for frames in (1, 2, 7):
        assert conv(torch.randn(1, 3, frames, 6, 6)).shape == (
            1,
            4,
            frames,
            6,
            6,
        )
    extent = temporal_extent(conv, 3)
    assert extent.receptive_field == thickness
    assert (extent.retention, extent.protention) == (
        thickness // 2,
        thickness - 1 - thickness // 2,
    )


def test_temporal_extent_of_a_composite_network():
    net = nn.Sequential(
        PhenomenologicalConv3D(1, 4, 2),
        nn.ReLU(),
        CausalResidual(
            nn.Sequential(
                PhenomenologicalConv3D(4, 4, 1, dilation=3),
                CausalPool3d(3, mode="max"),
            )
        ),
        PhenomenologicalConv3D(4, 2, 1, 2),
    )
    extent = temporal_extent(net, 1)
    assert (extent.retention, extent.protention, extent.receptive_field) == (
        2 + 3 + 2 + 1,
        2,
        11,
    )
    assert not extent.causal


def random_causal_network(rng: random.Random, channels: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    c = channels
    for _ in range(rng.randint(2, 6)):
        kind = rng.choice(
            ["conv", "conv", "pool", "relu", "norm", "residual", "pointwise"]
        )
        if kind == "conv":
            out = rng.randint(1, 4)
            layers.append(
                PhenomenologicalConv3D(
                    c,
                    out,
                    rng.randint(0, 3),
                    dilation=rng.randint(1, 2),
                    spatial_kernel_size=rng.choice([1, 3]),
                )
            )
            c = out
        elif kind == "pool":
            layers.append(
                CausalPool3d(
                    rng.randint(1, 3),
                    rng.choice([1, 3]),
                    mode=rng.choice(["max", "avg"]),
                )
            )
        elif kind == "relu":
            layers.append(nn.ReLU())
        elif kind == "norm":
            norm = nn.BatchNorm3d(c)
            norm.running_mean.uniform_(-1, 1)
            norm.running_var.uniform_(0.5, 2)
            layers.append(norm)
        elif kind == "residual":
            layers.append(
                CausalResidual(
                    nn.Sequential(
                        PhenomenologicalConv3D(c, c, rng.randint(0, 2)),
                        nn.ReLU(),
                        PhenomenologicalConv3D(c, c, rng.randint(1, 3)),
                    )
                )
            )
        else:
            out = rng.randint(1, 4)
            layers.append(nn.Conv3d(c, out, 1))
            c = out
    return nn.Sequential(*layers).eval()


@pytest.mark.parametrize("seed", range(20))
def test_streaming_equals_offline_on_random_networks(seed):
    rng = random.Random(seed)
    torch.manual_seed(seed)
    net = random_causal_network(rng, channels=2)
    clip = torch.randn(2, 2, rng.randint(1, 14), 6, 5)
    with torch.no_grad():
        offline = net(clip)
    stream = StreamingInference(net)
    streamed = torch.stack(
        [stream.step(clip[:, :, t]) for t in range(clip.shape[2])], dim=2
    )
    assert streamed.shape == offline.shape
    assert (streamed - offline).abs().max().item() <= 1e-5


def test_reset_separates_videos():
    torch.manual_seed(0)
    net = nn.Sequential(
        PhenomenologicalConv3D(1, 3, 3),
        nn.ReLU(),
        PhenomenologicalConv3D(3, 2, 2),
    ).eval()
    a, b = torch.randn(1, 1, 6, 4, 4), torch.randn(1, 1, 6, 4, 4)
    with torch.no_grad():
        expected_b = net(b)
    stream = StreamingInference(net)
    for t in range(6):
        stream.step(a[:, :, t])
    carried = torch.stack([stream.step(b[:, :, t]) for t in range(6)], dim=2)
    assert (
        carried - expected_b
    ).abs().max() > 1e-3  # without reset, video a leaks into video b
    stream.reset()
    fresh = torch.stack([stream.step(b[:, :, t]) for t in range(6)], dim=2)
    assert (fresh - expected_b).abs().max() <= 1e-5
    assert stream.frames_seen == 6


def test_memory_and_work_per_frame_do_not_grow_with_the_video():
    torch.manual_seed(0)
    net = nn.Sequential(
        PhenomenologicalConv3D(2, 4, 2),
        CausalPool3d(3),
        PhenomenologicalConv3D(4, 4, 4, dilation=2),
    ).eval()
    stream = StreamingInference(net)
    assert stream.buffered_frames == 2 + 2 + 8
    flops = []
    for _ in range(60):
        counter = FlopCounterMode(display=False)
        with counter:
            stream.step(torch.randn(1, 2, 8, 8))
        flops.append(counter.get_total_flops())
        sizes = [
            m.stream_buffer.shape[2]
            for m in net.modules()
            if hasattr(m, "stream_buffer")
        ]
        assert sizes == [2, 2, 8]
    assert len(set(flops)) == 1


@pytest.mark.parametrize(
    "model, message",
    [
        (
            nn.Sequential(nn.Conv3d(1, 1, 3, padding=1)),
            "temporal kernel size 3",
        ),
        (
            nn.Sequential(PhenomenologicalConv3D(1, 1, 1, 1)),
            "looks 1 frames ahead",
        ),
        (
            nn.Sequential(PhenomenologicalConv3D(1, 2, 1), SelfGating(2)),
            "not one of vidconv's causal layers",
        ),
        (nn.Sequential(nn.MaxPool3d(2)), "not one of vidconv's causal layers"),
        (nn.Sequential(nn.GroupNorm(1, 1)), "normalises over time"),
    ],
)
def test_non_causal_networks_are_refused(model, message):
    with pytest.raises(ValueError, match=message):
        StreamingInference(model)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda s: s.step(torch.zeros(1, 2, 1, 4, 4)),
            ValueError,
            r"4 dimensions \(B, C, H, W\)",
        ),
        (
            lambda s: s.step(torch.zeros(1, 3, 4, 4)),
            ValueError,
            "expects 2 channels",
        ),
        (
            lambda s: (
                s.step(torch.zeros(1, 2, 4, 4)),
                s.step(torch.zeros(1, 2, 5, 4)),
            ),
            ValueError,
            "call reset",
        ),
        (
            lambda s: s.step(torch.zeros(1, 2, 4, 4, dtype=torch.int64)),
            TypeError,
            "floating-point",
        ),
    ],
)
def test_bad_frames(call, error, message):
    stream = StreamingInference(nn.Sequential(PhenomenologicalConv3D(2, 2, 1)))
    with pytest.raises(error, match=message):
        call(stream)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: PhenomenologicalConv3D(1, 1, -1),
            ValueError,
            "retention_frames must be >= 0",
        ),
        (
            lambda: PhenomenologicalConv3D(1, 1, 1, spatial_kernel_size=2),
            ValueError,
            "must be odd",
        ),
        (
            lambda: ThickPresentConvolution(1, 1, 0),
            ValueError,
            "present_thickness must be >= 1",
        ),
        (
            lambda: PhenomenologicalConv3D(2, 1, 1)(torch.zeros(1, 3, 4, 4, 4)),
            ValueError,
            r"expects 2 channels .*\(1, 3, 4, 4, 4\)",
        ),
        (
            lambda: PhenomenologicalConv3D(2, 1, 1)(torch.zeros(2, 4, 4, 4)),
            ValueError,
            "5 dimensions",
        ),
        (lambda: CausalPool3d(2, mode="median"), ValueError, "'max' or 'avg'"),
        (
            lambda: CausalResidual(nn.Identity(), shortcut=nn.Conv3d(1, 2, 1))(
                torch.zeros(1, 1, 2, 2, 2)
            ),
            ValueError,
            "shortcut gives",
        ),
        (
            lambda: temporal_extent(nn.MaxPool3d(2), 1),
            ValueError,
            "keeps the number of frames",
        ),
        (
            lambda: temporal_extent(
                PhenomenologicalConv3D(1, 1, 40), 1, frames=16
            ),
            ValueError,
            "larger frames=",
        ),
        (lambda: StreamingInference("net"), TypeError, "nn.Module"),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_streaming_refuses_any_temporal_padding_stride_or_extent():
    with pytest.raises(ValueError, match="padding 1"):
        StreamingInference(nn.Sequential(nn.Conv3d(2, 2, (1, 3, 3), padding=1)))
    with pytest.raises(ValueError, match="stride 2"):
        StreamingInference(nn.Sequential(nn.Conv3d(2, 2, 1, stride=(2, 1, 1))))
    stream = StreamingInference(
        nn.Sequential(nn.Conv3d(2, 2, (1, 3, 3), padding=(0, 1, 1)))
    )
    assert stream.step(torch.randn(1, 2, 5, 5)).shape == (1, 2, 5, 5)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_causal_pool_is_the_plain_pool_over_the_frames_that_exist(mode):
    torch.manual_seed(0)
    k, x = 3, torch.randn(2, 3, 7, 5, 5)
    x[0, 1, 3, 2, 2] = float("nan")  # a genuine NaN is data, not padding
    pool = CausalPool3d(k, mode=mode)
    y = pool(x)
    reduce = (
        (lambda w: w.amax(dim=2))
        if mode == "max"
        else (lambda w: w.mean(dim=2))
    )
    expected = torch.stack(
        [reduce(x[:, :, max(0, t - k + 1) : t + 1]) for t in range(7)], dim=2
    )
    torch.testing.assert_close(y, expected, equal_nan=True)
    nan_frames = torch.isnan(y[0, 1, :, 2, 2]).nonzero().flatten().tolist()
    assert nan_frames == [3, 4, 5]  # exactly the windows that hold it
    assert not torch.isnan(y[1]).any() and not torch.isnan(y[0, 0]).any()
    stream = StreamingInference(nn.Sequential(pool))
    streamed = torch.stack([stream.step(x[:, :, t]) for t in range(7)], dim=2)
    torch.testing.assert_close(streamed, y, equal_nan=True)
