"""summary()'s receptive fields through global pooling, squeeze-excitation, running sums and strided slicing,
against what gradients measure (vidconv.empirical_receptive_field)."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

import vidconv
from vidconv import empirical_receptive_field, summary
from vidconv.layers.gates import SqueezeExcite
from vidconv.models import movinet_a0, x3d


class Gate(nn.Module):
    """Squeeze-excitation: a global average, a 1x1x1 conv, a sigmoid, multiplied back onto the grid."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Conv3d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3, 4), keepdim=True)  # (B, C, 1, 1, 1)
        return x * torch.sigmoid(self.fc(s))


def se_net(rng: random.Random) -> nn.Sequential:
    """Unpadded convs (random kernels and strides) with two gates: then the union of the windows of every
    unit the gate pools is exactly the part of the clip that any path reaches."""
    layers: list[nn.Module] = []
    for i in range(4):
        k = tuple(rng.randint(1, 3) for _ in range(3))
        s = tuple(rng.randint(1, 2) for _ in range(3))
        layers += [nn.Conv3d(2 if i else 1, 2, k, stride=s), nn.ReLU()]
        if i in (1, 2):
            layers.append(Gate(2))
    return nn.Sequential(*layers)


@pytest.mark.parametrize("seed", range(6))
def test_squeeze_excitation_field_equals_the_gradient(seed):
    rng = random.Random(seed)
    net = se_net(rng)
    shape = (
        1,
        1,
        rng.randint(24, 30),
        rng.randint(24, 30),
        rng.randint(24, 30),
    )
    report = summary(net, shape)
    for axis in range(3):
        assert (
            report.output_field.size[axis]
            == empirical_receptive_field(net, shape, axis=axis).span
        ), axis
    # The gate does not change the grid: its stride is that of the convs alone.
    convs = [m for m in net if isinstance(m, nn.Conv3d)]
    for axis in range(3):
        assert report.output_field.jump[axis] == vidconv.cumulative_stride(
            vidconv.layers_along_axis(nn.Sequential(*convs), axis)
        )


def test_a_gate_pooled_twice_does_not_compound():
    """Ten gates in a row: the field stays the whole clip (no layer widens it) and the stride stays 1."""
    net = nn.Sequential(nn.Conv3d(1, 2, 3), *[Gate(2) for _ in range(10)])
    report = summary(net, (1, 1, 9, 10, 11))
    assert report.output_field.size == (
        9,
        10,
        11,
    ) and report.output_field.jump == (1, 1, 1)
    assert [
        empirical_receptive_field(net, (1, 1, 9, 10, 11), axis=a).span
        for a in range(3)
    ] == [9, 10, 11]


def test_running_sum_reaches_every_earlier_frame():
    """A causal cumulative average (MoViNet's pool): the last unit reads every frame; the table shows that one."""

    class Running(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv3d(1, 1, (3, 1, 1))

        def forward(self, x):
            y = self.conv(x)  # (B, 1, T - 2, H, W)
            return y.cumsum(dim=2) / torch.arange(1, y.shape[2] + 1).view(
                1, 1, -1, 1, 1
            )

    net, shape = Running(), (1, 1, 12, 3, 3)
    report = summary(net, shape)
    last = empirical_receptive_field(net, shape, output_index=(9, 1, 1))
    first = empirical_receptive_field(net, shape, output_index=(0, 1, 1))
    assert (last.span, first.span) == (12, 3)
    assert report.output_field.size == (
        12,
        1,
        1,
    ) and report.output_field.jump == (1, 1, 1)


def test_strided_slicing_is_a_stride():
    """x[:, :, ::2] keeps every other frame (SlowFast's Slow pathway): a 3-frame conv above it spans 5 frames."""

    class EveryOther(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv3d(1, 1, (3, 1, 1))

        def forward(self, x):
            return self.conv(x[:, :, ::2])  # (B, 1, T/2 - 2, H, W)

    net, shape = EveryOther(), (1, 1, 16, 1, 1)
    field = summary(net, shape).output_field
    measured = empirical_receptive_field(net, shape)
    assert (field.size[0], field.jump[0]) == (measured.span, 2) == (5, 2)
    assert measured.positions[1] - measured.positions[0] == 2


def test_slowfast_slow_pathway_units_are_alpha_frames_apart():
    from vidconv.models import slowfast_r50

    with torch.device("meta"):
        model = slowfast_r50()
    rows = {
        r.name: r for r in summary(model, (1, 3, 32, 224, 224), depth=2).rows
    }
    assert rows["slow.stem"].field.jump == (4, 4, 4) and rows[
        "fast.stem"
    ].field.jump == (1, 4, 4)


def grid_rows(model, shape):
    with torch.device("meta"):
        net = model()
    return net, summary(net, shape).rows


@pytest.mark.parametrize(
    "build, shape, gated_output",
    [
        (movinet_a0, (1, 3, 8, 64, 64), "projection.1"),
        (lambda: x3d("xs"), (1, 3, 4, 64, 64), "conv3.1"),
    ],
    ids=["movinet_a0", "x3d_xs"],
)
def test_gated_networks_have_bounded_strides_and_whole_clip_fields(
    build, shape, gated_output
):
    """MoViNet-A0 and X3D gate every block. Before, each gate multiplied the stride (10^17 samples and more).
    Now every stride is at most the clip, a grid of n units tiles the clip (n * stride = extent, "same" padding),
    every block's gated output sees the whole clip, and no field exceeds the widest window plus the clip."""
    _, rows = grid_rows(build, shape)
    extent = shape[2:]
    blocks = 0
    for r in rows:
        assert all(j <= e for j, e in zip(r.field.jump, extent)), (
            r.name,
            r.field,
        )
        if len(r.output_shape) == 5:
            for a in range(3):
                n = r.output_shape[2 + a]
                if n > 1:
                    assert n * r.field.jump[a] == extent[a], (
                        r.name,
                        a,
                        r.output_shape,
                        r.field,
                    )
        if r.name.endswith(gated_output):  # the projection after a block's gate
            blocks += 1
            assert all(s >= e for s, e in zip(r.field.size, extent)), (
                r.name,
                r.field,
            )
    assert blocks >= 10
    widest = [max(r.field.window[a] for r in rows) for a in range(3)]
    assert all(
        r.field.size[a] <= widest[a] + extent[a] for r in rows for a in range(3)
    )


def test_movinet_gates_leave_windows_and_strides_as_without_them():
    """SE adds the whole clip to every unit and nothing else: the same network without its gates has the same
    window and stride in every other layer."""
    shape = (1, 3, 8, 64, 64)
    with torch.device("meta"):
        gated = movinet_a0()
        plain = movinet_a0()
    for name, m in list(plain.named_modules()):
        if isinstance(m, SqueezeExcite):
            parent, _, attr = name.rpartition(".")
            setattr(plain.get_submodule(parent), attr, nn.Identity())
    plain_rows = {r.name: r.field for r in summary(plain, shape).rows}
    gated_rows = [r for r in summary(gated, shape).rows if r.name in plain_rows]
    assert len(gated_rows) == len(plain_rows)
    for r in gated_rows:
        assert (r.field.window, r.field.jump) == (
            plain_rows[r.name].window,
            plain_rows[r.name].jump,
        ), r.name
        assert r.field.size == tuple(
            max(w, s) for w, s in zip(r.field.window, r.field.shared)
        )


def test_movinet_last_frame_reads_the_whole_clip_by_gradient():
    """The causal pools make the last frame's unit read every frame and pixel; the summary's field covers them."""
    torch.manual_seed(0)
    model = movinet_a0(num_classes=3)

    class Pooled(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model._pooled(x)  # (B, 480, T, 1, 1)

    shape = (1, 3, 6, 64, 64)
    field = summary(Pooled(), shape).output_field
    for axis in range(3):
        measured = empirical_receptive_field(
            Pooled(), shape, axis=axis, output_index=(5, 0, 0)
        )
        assert measured.positions == tuple(range(shape[2 + axis]))
        assert field.size[axis] >= shape[2 + axis]
    assert field.jump == (1, 64, 64)


def test_c3d_classifier_stride_is_the_clip():
    """fc6 reads pool5's 1x4x4 grid: one unit per clip, so its stride is the clip (112), not 4 x 32 = 128."""
    from vidconv.models import c3d

    with torch.device("meta"):
        rows = {r.name: r for r in summary(c3d(), (1, 3, 16, 112, 112)).rows}
    assert rows["classifier.fc6"].field.size == (76, 246, 246)
    assert rows["classifier.fc6"].field.jump == (16, 112, 112)
