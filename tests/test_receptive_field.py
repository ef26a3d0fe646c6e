"""Receptive-field formulas against what gradients measure."""

import random

import pytest
import torch
from torch import nn

import vidconv
from vidconv import AxisLayer, empirical_receptive_field, frames_reached, receptive_field, temporal_stack


def temporal_stack_with_pooling(layers, pool_every: int) -> nn.Sequential:
    modules = []
    for i, layer in enumerate(layers):
        if i % pool_every == pool_every - 1:
            modules.append(nn.MaxPool3d((layer.kernel_size, 1, 1), stride=(layer.stride, 1, 1), dilation=(layer.dilation, 1, 1)))
        else:
            modules.append(nn.Conv3d(1, 1, (layer.kernel_size, 1, 1), stride=(layer.stride, 1, 1), dilation=(layer.dilation, 1, 1)))
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


def random_layers(rng: random.Random, dilate: bool) -> list[AxisLayer]:
    return [AxisLayer(rng.randint(1, 4), rng.randint(1, 2), rng.randint(1, 3) if dilate else 1) for _ in range(rng.randint(1, 5))]


@pytest.mark.parametrize("seed", range(25))
def test_formula_equals_gradient_span(seed):
    rng = random.Random(seed)
    layers = random_layers(rng, dilate=seed % 2 == 0)
    span = receptive_field(layers)
    measured = empirical_receptive_field(temporal_stack(layers), (1, 1, 2 * span + 8, 1, 1))
    assert measured.span == span
    # The exact set of reached frames, not only the span, matches the index calculation.
    offset = measured.positions[0]
    assert [p - offset for p in measured.positions] == frames_reached(layers)[0]


def test_max_pooling_is_measured_like_its_average_twin():
    layers = [AxisLayer(3), AxisLayer(2, 2), AxisLayer(3), AxisLayer(2, 2), AxisLayer(3)]
    net = temporal_stack_with_pooling(layers, pool_every=2)
    assert empirical_receptive_field(net, (1, 1, 64, 1, 1)).span == receptive_field(layers) == 18


def test_known_values():
    assert receptive_field([AxisLayer(3)] * 5) == 11
    assert receptive_field([(3, 2)] * 3) == 15  # not 13, as the "(k-1) * own stride" rule says
    assert vidconv.cumulative_stride([(3, 2), (3, 1), (2, 2)]) == 4
    assert frames_reached([(3, 1, 2), (3, 1, 2)])[0] == [0, 2, 4, 6, 8]  # holes at odd frames


def test_spatial_axes_of_a_real_3d_network():
    net = nn.Sequential(nn.Conv3d(1, 2, (3, 5, 3), stride=(1, 2, 1), padding=(1, 2, 1)), nn.ReLU(),
                        nn.MaxPool3d((1, 2, 2)), nn.Conv3d(2, 1, 3, padding=1))
    for axis in range(3):
        layers = vidconv.layers_along_axis(net, axis)
        assert empirical_receptive_field(net, (1, 1, 24, 40, 40), axis=axis).span == receptive_field(layers)


def test_receptive_field_table_rows():
    rows = vidconv.receptive_field_table([(3, 2), (3, 1)])
    assert [r["receptive_field"] for r in rows] == [3, 7]
    assert [r["cumulative_stride"] for r in rows] == [2, 2]


@pytest.mark.parametrize("call, error, message", [
    (lambda: receptive_field([(0, 1)]), ValueError, "kernel_size must be >= 1"),
    (lambda: receptive_field([(3, 1, 1, 1)]), TypeError, "layer 0"),
    (lambda: receptive_field(3), TypeError, "sequence of AxisLayer"),
    (lambda: empirical_receptive_field(nn.Conv3d(1, 1, 3), (1, 1, 2, 5, 5)), ValueError, "cannot process an input of shape"),
    (lambda: empirical_receptive_field(nn.Conv3d(1, 1, 3), (1, 1, 8, 8)), ValueError, "must have 5 entries"),
    (lambda: empirical_receptive_field(nn.Conv3d(1, 1, 3), (1, 1, 8, 8, 8), axis=3), ValueError, "axis must be"),
    (lambda: empirical_receptive_field(nn.Flatten(), (1, 1, 8, 8, 8)), ValueError, "must return a \\(B, C, T, H, W\\)"),
    (lambda: vidconv.layers_along_axis("net"), TypeError, "model must be an nn.Module"),
    (lambda: empirical_receptive_field("net", (1, 1, 8, 8, 8)), TypeError, "model must be an nn.Module"),
    (lambda: temporal_stack([(3, 1)], channels=0), ValueError, "channels must be >= 1"),
])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_batch_norm_statistics_cannot_empty_the_measured_field():
    """With running_mean = 10 a positive probe turns negative after the batch norm; ReLU would cut every path."""
    net = nn.Sequential(nn.Conv3d(1, 1, (3, 1, 1)), nn.BatchNorm3d(1), nn.ReLU(), nn.Conv3d(1, 1, (3, 1, 1)))
    with torch.no_grad():
        net[1].running_mean.fill_(10.0)
    net.eval()
    measured = empirical_receptive_field(net, (1, 1, 21, 1, 1))
    assert (measured.span, measured.count) == (5, 5)


def test_a_field_that_nothing_reaches_is_an_error_not_an_empty_answer():
    class Blocker(nn.Module):
        def forward(self, x):
            return x * 0

    with pytest.raises(ValueError, match="no input position reaches"):
        empirical_receptive_field(nn.Sequential(nn.Conv3d(1, 1, 3), Blocker()), (1, 1, 9, 9, 9))


def test_meta_models_are_measured_without_values():
    layers = [AxisLayer(3, 2), AxisLayer(3, 1, 2), AxisLayer(2)]
    with torch.device("meta"):
        net = temporal_stack(layers)
    measured = empirical_receptive_field(net, (1, 1, 64, 1, 1))
    assert measured.span == receptive_field(layers)
    assert all(p.is_meta for p in net.parameters())  # the model itself is untouched


def test_summary_fields_use_the_one_recurrence():
    from vidconv.model_summary import Field
    from vidconv.receptive_field import extend_field

    rng = random.Random(3)
    for _ in range(50):
        layers = random_layers(rng, dilate=True)
        f = Field()
        for layer in layers:
            f = f.through((layer.kernel_size,) * 3, (layer.stride,) * 3, (layer.dilation,) * 3)
        assert f.size == (receptive_field(layers),) * 3
        assert f.jump == (vidconv.cumulative_stride(layers),) * 3
    assert extend_field(5, 2, 3, 2, 3) == (5 + 2 * 3 * 2, 4)
