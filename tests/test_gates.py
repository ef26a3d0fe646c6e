"""The one channel-gate module, recomputed with torch."""

import pytest
import torch
from torch import nn

from vidconv.layers.gates import SelfGating, SqueezeExcite


def test_self_gating_is_a_linear_map_of_the_channel_means():
    torch.manual_seed(0)
    gate = SelfGating(5).double()
    x = torch.randn(2, 5, 3, 4, 4, dtype=torch.float64)  # (B, C, T, H, W)
    w = gate.expand.weight.flatten(1)  # (C, C)
    g = torch.sigmoid(x.mean(dim=(2, 3, 4)) @ w.T + gate.expand.bias)
    assert torch.allclose(gate(x), x * g[:, :, None, None, None])


def test_self_gating_initialises_like_the_linear_layer_it_replaced():
    torch.manual_seed(3)
    gate = SelfGating(6)
    torch.manual_seed(3)
    linear = nn.Linear(6, 6)
    assert torch.equal(gate.expand.weight.flatten(1), linear.weight)
    assert torch.equal(gate.expand.bias, linear.bias)


def test_bottleneck_gate_matches_squeeze_excitation():
    torch.manual_seed(1)
    gate = SqueezeExcite(8, 2).double()
    x = torch.randn(1, 8, 2, 3, 3, dtype=torch.float64)
    s = x.mean(dim=(2, 3, 4))  # (B, C)
    hidden = torch.relu(s @ gate.reduce.weight.flatten(1).T + gate.reduce.bias)
    g = torch.sigmoid(
        hidden @ gate.expand.weight.flatten(1).T + gate.expand.bias
    )
    assert torch.allclose(gate(x), x * g[:, :, None, None, None])


def test_causal_gate_at_frame_t_ignores_later_frames():
    torch.manual_seed(2)
    gate = SqueezeExcite(4, 2, causal=True).double()
    x = torch.randn(1, 4, 6, 3, 3, dtype=torch.float64)
    full = gate(x)
    for t in range(1, 7):
        assert torch.allclose(gate(x[:, :, :t]), full[:, :, :t])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: SqueezeExcite(0), "channels"),
        (lambda: SqueezeExcite(4, 0), "hidden"),
        (lambda: SqueezeExcite(4.0), "channels"),
    ],
)
def test_bad_sizes_are_refused(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


def test_wrong_channels_named():
    with pytest.raises(ValueError, match="expects 4 channels"):
        SqueezeExcite(4)(torch.zeros(1, 3, 2, 2, 2))
