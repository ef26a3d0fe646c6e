"""MoViNet-A0: size against the paper, causality, and streaming that equals the offline causal model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidconv.analysis.counting import count_macs, count_parameters
from vidconv.analysis.model_summary import summary
from vidconv.experiments.beyond.movinet_streaming import (
    randomize,
    stream_vs_offline,
    streaming_cost,
)
from vidconv.layers.causal import CausalConv3d, CumulativeAvgPool
from vidconv.models import MoViNet, movinet_a0
from vidconv.models.movinet import A0_SPEC
from vidconv.models.movinet_blocks import MoViNetBlock, make_divisible

# Kondratyuk et al. 2021, Table 1 (Kinetics-600): MoViNet-A0, 50x172x172 input, 3.1M parameters, 2.71 GFLOPs,
# where a "FLOP" is one multiply-add (the authors' convention, as in X3D).
PAPER_PARAMS_M = 3.1
PAPER_GFLOPS = 2.71


def _model(dtype=torch.float32, **kwargs) -> MoViNet:
    return (
        randomize(movinet_a0(num_classes=7, **kwargs), seed=1).to(dtype).eval()
    )


def test_parameters_match_the_paper():
    model = movinet_a0()  # 600 Kinetics classes, as in the paper
    assert round(count_parameters(model) / 1e6, 1) == PAPER_PARAMS_M
    assert sum(isinstance(m, MoViNetBlock) for m in model.modules()) == sum(
        len(layers) for _, layers in A0_SPEC
    )


def test_multiply_adds_match_the_paper_within_the_pointwise_work():
    with torch.device("meta"):
        model = movinet_a0()
    macs = count_macs(model, (1, 3, 50, 172, 172))
    # The counter sees convolutions and matrix products only; batch norm, activations, gating and pooling
    # (about one operation per activation) make up the rest of the paper's figure.
    assert 0.95 * PAPER_GFLOPS * 1e9 < macs < PAPER_GFLOPS * 1e9
    assert summary(model, (1, 3, 50, 172, 172)).total_macs == macs


def test_squeeze_excitation_width_is_a_quarter_rounded_to_eight():
    assert [make_divisible(0.25 * c) for c in (24, 80, 184, 112, 344)] == [
        8,
        24,
        48,
        32,
        88,
    ]
    block = movinet_a0().blocks[2][1]
    assert block.se.reduce.out_channels == 32 and block.feature[
        0
    ].conv.kernel_size == (3, 3, 3)


def test_frame_logits_end_with_forward_and_never_look_ahead():
    model = _model(torch.float64)
    x = torch.randn(1, 3, 6, 36, 36, dtype=torch.float64)
    with torch.no_grad():
        per_frame = model.frame_logits(x)
        torch.testing.assert_close(per_frame[..., -1], model(x))
        later = x.clone()
        later[:, :, 4:] = torch.randn_like(
            later[:, :, 4:]
        )  # change frames 4 and 5 only
        changed = model.frame_logits(later)
    torch.testing.assert_close(
        changed[..., :4], per_frame[..., :4], rtol=0, atol=1e-12
    )
    assert (changed[..., 4:] - per_frame[..., 4:]).abs().max() > 1e-3


def test_the_base_model_looks_ahead_and_cannot_stream():
    model = _model(torch.float64, causal=False)
    x = torch.randn(1, 3, 6, 40, 40, dtype=torch.float64)
    with torch.no_grad():
        a = model.blocks[:2](
            model.stem(x)
        )  # (B, 32, T, H', W'): frame 0 here sees frames 1..2 of the input
        x[:, :, 5] = 0
        b = model.blocks[:2](model.stem(x))
    assert (a[:, :, 3:5] - b[:, :, 3:5]).abs().max() > 1e-6
    assert count_parameters(model) == count_parameters(_model(torch.float64))
    with pytest.raises(ValueError, match="needs a causal MoViNet"):
        model.stream(x)


@pytest.mark.parametrize(
    ("dtype", "tolerance"), [(torch.float64, 1e-10), (torch.float32, 1e-5)]
)
def test_stream_equals_offline_after_every_chunk(dtype, tolerance):
    model = _model(dtype)
    x = torch.randn(2, 3, 7, 36, 36, dtype=dtype)
    table = stream_vs_offline(model, x, chunk_sizes=(1, 3, 7))
    assert [r["chunks"] for r in table.rows] == [7, 3, 1]
    assert max(r["max |stream - offline|"] for r in table.rows) <= tolerance


def test_the_stream_forgets_with_reset_and_keeps_its_state_out_of_the_state_dict():
    model = _model()
    keys = set(model.state_dict())
    x = torch.randn(1, 3, 3, 36, 36)
    first = [model.stream(x[:, :, t : t + 1]) for t in range(3)][-1]
    model.reset_stream()
    assert model.stream_state_bytes() == 0 and model.frames_streamed == 0
    again = [model.stream(x[:, :, t : t + 1]) for t in range(3)][-1]
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert set(model.state_dict()) == keys


def test_stream_state_is_constant_and_equals_the_buffers_of_the_spec():
    model = _model()
    x = torch.randn(1, 3, 8, 40, 40)
    sizes = []
    for t in range(8):
        model.stream(x[:, :, t : t + 1])
        sizes.append(model.stream_state_bytes())
    assert len(set(sizes)) == 1
    # Expected: each temporal conv keeps k_t - 1 frames of its input; each pool a (B, C) sum and a count.
    expected, side = 0, 20  # 40 pixels after the stride-2 stem
    for _, layers in A0_SPEC:
        for expand, (kt, _, _), (_, s, _) in layers:
            expected += (
                4 * (kt - 1) * expand * side * side + 4 * expand + 8
            )  # conv buffer before its stride
            side = -(-side // s)
    expected += 4 * 480 + 8  # the head's pool
    assert sizes[0] == expected
    kernels = [kernel for _, layers in A0_SPEC for _, kernel, _ in layers]
    assert sum(
        isinstance(m, CausalConv3d) and m.past_frames > 0
        for m in model.modules()
    ) == sum(k[0] > 1 for k in kernels)
    assert (
        sum(isinstance(m, CumulativeAvgPool) for m in model.modules())
        == len(kernels) + 1
    )


def test_hard_swish_variant_streams_exactly():
    model = _model(activation="hardswish")
    assert isinstance(model.stem[2], nn.Hardswish) and isinstance(
        model.blocks[0][0].se.gate, nn.Hardsigmoid
    )
    table = stream_vs_offline(
        model, torch.randn(1, 3, 4, 36, 36), chunk_sizes=(1, 3)
    )
    assert max(r["max |stream - offline|"] for r in table.rows) <= 1e-5


def test_streaming_cost_equalities_and_memory_held():
    model = _model()
    table, series = streaming_cost(
        model, torch.randn(1, 3, 4, 36, 36), window=2
    )
    gap = {r["way"]: r["max |logits - growing clip|"] for r in table.rows}
    assert gap["stream"] <= 1e-5 and gap["offline, growing clip"] == 0
    assert (
        gap["offline, sliding window"] > 1e-4
    )  # a window forgets the frames before it
    assert series["frame"] == [1, 2, 3, 4]
    assert len(set(series["stream KiB"])) == 1
    frame_kib = 3 * 36 * 36 * 4 / 1024
    assert series["offline, growing clip KiB"] == pytest.approx(
        [t * frame_kib for t in range(1, 5)]
    )
    assert series["offline, sliding window KiB"][-1] == pytest.approx(
        2 * frame_kib
    )
    assert all(
        ms > 0
        for way in ("stream", "offline, growing clip")
        for ms in series[f"{way} ms"]
    )
