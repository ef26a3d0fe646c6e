"""Streaming a causal network over a video equals the offline run; memory counted per frame."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidconv.experiments.temporal.streaming_video import (
    causal_video_net,
    stream_vs_window,
)
from vidconv.temporal.thick_present import PhenomenologicalConv3D


def test_stream_and_window_equal_offline_and_the_bytes_add_up():
    net = causal_video_net(channels=4, blocks=1, retention=2)
    video = torch.rand(1, 3, 12, 8, 10)
    table, worst = stream_vs_window(net, video)
    assert worst < 1e-5 and len(table.rows) == 12
    last = table.rows[-1]
    # buffers: stem 2 past frames of 3 channels, two block convs 2 past frames of 4 channels each
    assert last["stream kept KiB"] * 1024 == 4 * 8 * 10 * (
        2 * 3 + 2 * 4 + 2 * 4
    )
    rf = 1 + 3 * 2  # three causal convs of retention 2
    assert last["window kept KiB"] * 1024 == (rf - 1) * 3 * 8 * 10 * 4
    assert last["window activations KiB"] == pytest.approx(
        rf * table.rows[0]["stream activations KiB"]
    )
    assert all(
        r["stream activations KiB"] == table.rows[0]["stream activations KiB"]
        for r in table.rows
    )


def test_a_model_that_looks_ahead_is_refused():
    net = nn.Sequential(PhenomenologicalConv3D(3, 2, 1, 1))
    with pytest.raises(ValueError, match="looks 1 frames ahead"):
        stream_vs_window(net, torch.rand(1, 3, 6, 4, 4))
    with pytest.raises(ValueError, match="batch 1"):
        stream_vs_window(
            causal_video_net(channels=2, blocks=1), torch.rand(2, 3, 6, 4, 4)
        )
