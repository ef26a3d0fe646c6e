"""Receptive-field formulas against what gradients measure."""

import random

import pytest
import torch
from torch import nn

import vidconv
from vidconv import (
    AxisLayer,
    empirical_receptive_field,
    frames_reached,
    receptive_field,
    temporal_stack,
)


def temporal_stack_with_pooling(layers, pool_every: int) -> nn.Sequential:
    modules = []
    for i, layer in enumerate(layers):
        if i % pool_every == pool_every - 1:
            modules.append(
                nn.MaxPool3d(
                    (layer.kernel_size, 1, 1),
                    stride=(layer.stride, 1, 1),
                    dilation=(layer.dilation, 1, 1),
                )
            )
        else:
            modules.append(
                nn.Conv3d(
                    1,
                    1,
                    (layer.kernel_size, 1, 1),
                    stride=(layer.stride, 1, 1),
                    dilation=(layer.dilation, 1, 1),
                )
            )
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


def random_layers(rng: random.Random, dilate: bool) -> list[AxisLayer]:
    return [
        AxisLayer(
            rng.randint(1, 4),
            rng.randint(1, 2),
            rng.randint(1, 3) if dilate else 1,
        )
        for _ in range(rng.randint(1, 5))
    ]


@pytest.mark.parametrize("seed", range(25))
def test_formula_equals_gradient_span(seed):
    rng = random.Random(seed)
    layers = random_layers(rng, dilate=seed % 2 == 0)
    span = receptive_field(layers)
    measured = empirical_receptive_field(
        temporal_stack(layers), (1, 1, 2 * span + 8, 1, 1)
    )
    assert measured.span == span
    # The exact set of reached frames, not only the span, matches the index calculation.
    offset = measured.positions[0]
    assert [p - offset for p in measured.positions] == frames_reached(layers)[0]


def test_max_pooling_is_measured_like_its_average_twin():
    layers = [
        AxisLayer(3),
        AxisLayer(2, 2),
        AxisLayer(3),
        AxisLayer(2, 2),
        AxisLayer(3),
    ]
    net = temporal_stack_with_pooling(layers, pool_every=2)
    assert (
        empirical_receptive_field(net, (1, 1, 64, 1, 1)).span
        == receptive_field(layers)
        == 18
    )


def test_known_values():
    assert receptive_field([AxisLayer(3)] * 5) == 11
    assert (
        receptive_field([(3, 2)] * 3) == 15
    )  # not 13, as the "(k-1) * own stride" rule says
    assert vidconv.cumulative_stride([(3, 2), (3, 1), (2, 2)]) == 4
    assert frames_reached([(3, 1, 2), (3, 1, 2)])[0] == [
        0,
        2,
        4,
        6,
        8,
    ]  # holes at odd frames


def test_spatial_axes_of_a_real_3d_network():
    net = nn.Sequential(
        nn.Conv3d(1, 2, (3, 5, 3), stride=(1, 2, 1), padding=(1, 2, 1)),
        nn.ReLU(),
        nn.MaxPool3d((1, 2, 2)),
        nn.Conv3d(2, 1, 3, padding=1),
    )
    for axis in range(3):
        layers = vidconv.layers_along_axis(net, axis)
        assert empirical_receptive_field(
            net, (1, 1, 24, 40, 40), axis=axis
        ).span == receptive_field(layers)


def test_receptive_field_table_rows():
    rows = vidconv.receptive_field_table([(3, 2), (3, 1)])
    assert [r["receptive_field"] for r in rows] == [3, 7]
    assert [r["cumulative_stride"] for r in rows] == [2, 2]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: receptive_field([(0, 1)]),
            ValueError,
            "kernel_size must be >= 1",
        ),
        (lambda: receptive_field([(3, 1, 1, 1)]), TypeError, "layer 0"),
        (lambda: receptive_field(3), TypeError, "sequence of AxisLayer"),
        (
            lambda: empirical_receptive_field(
                nn.Conv3d(1, 1, 3), (1, 1, 2, 5, 5)
            ),
            ValueError,
            "cannot process an input of shape",
        ),
        (
            lambda: empirical_receptive_field(nn.Conv3d(1, 1, 3), (1, 1, 8, 8)),
            ValueError,
            "must have 5 entries",
        ),
        (
            lambda: empirical_receptive_field(
                nn.Conv3d(1, 1, 3), (1, 1, 8, 8, 8), axis=3
            ),
            ValueError,
            "axis must be",
        ),
        (
            lambda: empirical_receptive_field(nn.Flatten(), (1, 1, 8, 8, 8)),
            ValueError,
            "must return a \\(B, C, T, H, W\\)",
        ),
        (
            lambda: vidconv.layers_along_axis("net"),
            TypeError,
            "model must be an nn.Module",
        ),
        (
            lambda: empirical_receptive_field("net", (1, 1, 8, 8, 8)),
            TypeError,
            "model must be an nn.Module",
        ),
        (
            lambda: temporal_stack([(3, 1)], channels=0),
            ValueError,
            "channels must be >= 1",
        ),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_batch_norm_statistics_cannot_empty_the_measured_field():
    """With running_mean = 10 a positive probe turns negative after the batch norm; ReLU would cut every path."""
    net = nn.Sequential(
        nn.Conv3d(1, 1, (3, 1, 1)),
        nn.BatchNorm3d(1),
        nn.ReLU(),
        nn.Conv3d(1, 1, (3, 1, 1)),
    )
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
        empirical_receptive_field(
            nn.Sequential(nn.Conv3d(1, 1, 3), Blocker()), (1, 1, 9, 9, 9)
        )


def test_meta_models_are_measured_without_values():
    layers = [AxisLayer(3, 2), AxisLayer(3, 1, 2), AxisLayer(2)]
    with torch.device("meta"):
        net = temporal_stack(layers)
    measured = empirical_receptive_field(net, (1, 1, 64, 1, 1))
    assert measured.span == receptive_field(layers)
    assert all(
        p.is_meta for p in net.parameters()
    )  # the model itself is untouched


def test_summary_fields_use_the_one_recurrence():
    from vidconv.analysis.model_summary import Field
    from vidconv.analysis.receptive_field import extend_field

    rng = random.Random(3)
    for _ in range(50):
        layers = random_layers(rng, dilate=True)
        f = Field()
        for layer in layers:
            f = f.through(
                (layer.kernel_size,) * 3,
                (layer.stride,) * 3,
                (layer.dilation,) * 3,
            )
        assert f.size == (receptive_field(layers),) * 3
        assert f.jump == (vidconv.cumulative_stride(layers),) * 3
    assert extend_field(5, 2, 3, 2, 3) == (5 + 2 * 3 * 2, 4)


# ----------------------------------------------------------------------------- max pooling's twin, small maps


def window_positions(n, k, s, p, d, j):
    """Input samples that output unit ``j`` of a max pool reads: j*s - p + i*d inside the input."""
    return sorted({j * s - p + i * d for i in range(k)} & set(range(n)))


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_sum_pool_twin_has_the_max_pools_grid_and_windows(ceil_mode):
    """Every geometry max pooling accepts, including inputs smaller than the kernel: same output grid, and each
    output unit reads exactly its window (checked against the index formula)."""
    from vidconv.analysis._path_counting import SumPoolTwin

    checked = 0
    for n in range(1, 8):
        for k in range(1, 4):
            for s in range(1, 4):
                for d in (1, 2):
                    for p in range((d * (k - 1) + 1) // 2 + 1):
                        pool = nn.MaxPool3d(
                            (k, 1, 1),
                            (s, 1, 1),
                            (p, 0, 0),
                            (d, 1, 1),
                            ceil_mode=ceil_mode,
                        )
                        x = torch.eye(n, dtype=torch.float64).view(
                            n, 1, n, 1, 1
                        )  # clip i: 1 at frame i
                        try:
                            expected = pool(x).shape
                        except RuntimeError:
                            continue  # max pooling itself refuses this geometry
                        y = SumPoolTwin(pool)(
                            x
                        )  # linear: y[i, 0, j] != 0 iff unit j reads frame i
                        assert y.shape == expected, (n, k, s, p, d)
                        for j in range(y.shape[2]):
                            reached = (
                                torch.nonzero(y[:, 0, j, 0, 0])
                                .flatten()
                                .tolist()
                            )
                            assert reached == window_positions(
                                n, k, s, p, d, j
                            ), (n, k, s, p, d, j)
                        checked += 1
    assert checked > 150


def test_padded_max_pool_on_a_map_smaller_than_its_kernel():
    """A 3x3x3 max pool with padding 1 takes a 2x2 map; the average pool once used in its place raised
    "input image smaller than kernel size" (PyTorch checks that for 3D average pooling only)."""
    net = nn.Sequential(
        nn.Conv3d(1, 1, (3, 1, 1)),
        nn.MaxPool3d(3, stride=1, padding=1),
        nn.Conv3d(1, 1, (3, 1, 1)),
    )
    measured = empirical_receptive_field(net, (1, 1, 21, 2, 2))
    assert (measured.span, measured.count) == (7, 7)
    assert empirical_receptive_field(
        net, (1, 1, 21, 2, 2), axis=1
    ).positions == (0, 1)


def test_dilated_and_ceil_mode_max_pools_are_measured_like_the_formula():
    layers = [AxisLayer(3), AxisLayer(3, 2, 2), AxisLayer(2, 2), AxisLayer(3)]
    net = nn.Sequential(
        nn.Conv3d(1, 1, (3, 1, 1)),
        nn.MaxPool3d((3, 1, 1), (2, 1, 1), dilation=(2, 1, 1)),
        nn.MaxPool3d((2, 1, 1), (2, 1, 1), ceil_mode=True),
        nn.Conv3d(1, 1, (3, 1, 1)),
    )
    measured = empirical_receptive_field(net, (1, 1, 61, 1, 1))
    offset = measured.positions[0]
    assert [p - offset for p in measured.positions] == frames_reached(layers)[0]
    assert measured.span == receptive_field(layers)


def test_a_unit_is_every_channel_at_its_position():
    """Concatenated branches: channel 0 comes from a 1x1x1 branch, the other channels from a 5-frame one.
    The unit's field is the union, as the summary says, not channel 0's single frame."""

    class TwoBranches(nn.Module):
        def __init__(self):
            super().__init__()
            self.narrow, self.wide = (
                nn.Conv3d(1, 1, 1),
                nn.Conv3d(1, 1, (5, 1, 1), padding=(2, 0, 0)),
            )

        def forward(self, x):
            return torch.cat(
                [self.narrow(x), self.wide(x)], dim=1
            )  # (B, 2, T, H, W)

    net = TwoBranches()
    measured = empirical_receptive_field(net, (1, 1, 15, 1, 1))
    assert measured.positions == (5, 6, 7, 8, 9)
    assert (
        vidconv.summary(net, (1, 1, 15, 1, 1)).output_field.size[0]
        == measured.span
    )


@pytest.mark.parametrize("build", ["i3d", "s3d"])
def test_inception_networks_at_small_frame_sizes_match_the_theoretical_span(
    build,
):
    """I3D and S3D at 24-32 pixels (3x3 pools with padding 1 on 2x2 and 1x1 maps in mixed_4 and mixed_5): the
    gradient reaches exactly the frames of the theoretical span of chapter 9, and in space (the field is wider
    than the frame) every pixel."""
    from vidconv import models
    from vidconv.experiments.temporal.receptive_field import theoretical_span

    torch.manual_seed(0)
    trunk = getattr(models, build)().features
    shape = (
        1,
        3,
        112,
        24,
        24,
    )  # long enough that the centre unit's 99 frames fit inside the clip
    size, _, first, last, _ = theoretical_span(trunk, shape)
    assert (size, first, last) == (99, 9, 107)
    assert empirical_receptive_field(trunk, shape, axis=0).positions == tuple(
        range(first, last + 1)
    )
    small = (1, 3, 8, 32, 32)
    assert vidconv.summary(trunk, small).output_field.size[1] > 32
    assert empirical_receptive_field(trunk, small, axis=1).positions == tuple(
        range(32)
    )
