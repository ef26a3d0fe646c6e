"""One stream-state protocol: MoViNet's causal layers and the thick
present's stream through the same driver, exactly as they run offline."""

import pytest
import torch
from torch import nn

from vidconv.layers.causal import (
    CausalConv3d,
    CumulativeAvgPool,
    StreamState,
    stream_layers,
    streaming,
)
from vidconv.temporal.streaming import StreamingInference
from vidconv.temporal.thick_present import CausalPool3d, PhenomenologicalConv3D


def _mixed_net() -> nn.Module:
    return nn.Sequential(
        CausalConv3d(2, 4, (3, 3, 3)),
        nn.ReLU(),
        PhenomenologicalConv3D(4, 4, 2),
        CausalPool3d(2, mode="avg"),
        CausalConv3d(4, 4, (2, 1, 1), groups=4),
        CumulativeAvgPool(),
    ).double()


def test_every_causal_layer_follows_the_protocol():
    net = _mixed_net()
    assert len(stream_layers(net)) == 5
    assert all(isinstance(m, StreamState) for m in stream_layers(net))


def test_movinet_and_thick_present_layers_stream_together_exactly():
    torch.manual_seed(0)
    net = _mixed_net().eval()
    clip = torch.randn(1, 2, 7, 5, 5, dtype=torch.float64)
    with torch.no_grad():
        offline = net(clip)  # (1, 4, 7, 1, 1)
    stream = StreamingInference(net)
    frames = [stream.step(clip[:, :, t]) for t in range(7)]
    streamed = torch.stack(frames, dim=2)  # (1, 4, 7, 1, 1)
    assert torch.allclose(streamed, offline, atol=1e-12)
    stream.reset()
    assert stream.state_bytes() == 0


def test_streaming_context_restores_offline_mode():
    net = _mixed_net()
    with streaming(net) as layers:
        assert all(m.streaming for m in layers)
    assert not any(m.streaming for m in stream_layers(net))


def test_chunks_of_any_size_give_the_offline_output():
    torch.manual_seed(1)
    net = _mixed_net().eval()
    clip = torch.randn(1, 2, 9, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        offline = net(clip)
        with streaming(net):
            chunks = [net(clip[:, :, a:b]) for a, b in ((0, 4), (4, 5), (5, 9))]
    assert torch.allclose(torch.cat(chunks, dim=2), offline, atol=1e-12)


@pytest.mark.parametrize(
    "layer",
    [
        CausalConv3d(2, 2, (3, 1, 1), causal=False),
        CumulativeAvgPool(causal=False),
        PhenomenologicalConv3D(2, 2, 1, 1),
    ],
)
def test_layers_that_look_ahead_are_refused(layer):
    with pytest.raises(ValueError, match="ahead"):
        StreamingInference(nn.Sequential(layer))


def test_a_one_frame_pool_still_counts_the_frames_it_streamed():
    pool = CausalPool3d(1, mode="avg")
    with streaming(pool):
        for _ in range(3):
            pool(torch.rand(1, 2, 1, 3, 3))
    assert pool.stream_seen == 3
    pool.reset_stream()
    assert pool.stream_seen == 0
