"""Property-based tests (Hypothesis) over vidconv's public API.

For every generated input a call either returns a correct result — checked against torch or an
invariant — or raises ValueError/TypeError (a file error for files) whose message names the argument;
never another exception, never a hang (each example has a deadline). Deterministic for CI
(``derandomize=True``, no example database) and small: the whole file runs in well under a minute.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vidconv
from vidconv.analysis.receptive_field import frames_reached, receptive_field
from vidconv.data import sampling as S
from vidconv.data.transforms import center_crop, crop, normalize, resize
from vidconv.data.video_io import read_video, write_video
from vidconv.layers.blocks import PerFrameConv2d
from vidconv.temporal.relevance import TemporalRelevanceModule
from vidconv.utils.checks import check_int


def fast(max_examples: int, seconds: float = 2.0):
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=timedelta(seconds=seconds),
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
        ],
    )


@contextlib.contextmanager
def refused_naming(
    *names: str, errors=(ValueError, TypeError), valid: bool = False
):
    """The block may raise only ``errors``, and the message must name one of ``names``; if the input is
    ``valid``, it may not raise at all."""
    try:
        yield
    except errors as err:
        assert not valid, f"a valid input was refused: {err}"
        assert any(n in str(err) for n in names), (
            f"message does not name {names}: {err}"
        )


def is_int(value) -> bool:
    """Python and NumPy integers count; bools do not."""
    return isinstance(value, (int, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


# Integers as a user may pass them, and things that are not integers.
ints = st.integers(-3, 12)
int_like = st.one_of(ints, ints.map(np.int64), ints.map(np.int32))
not_ints = st.one_of(
    st.booleans(),
    st.floats(-3, 12),
    st.text(max_size=2),
    st.none(),
    st.just(np.bool_(True)),
)
any_count = st.one_of(int_like, not_ints)


@fast(150)
@given(value=any_count, minimum=st.integers(-1, 2))
def test_check_int_returns_a_python_int_or_names_the_argument(value, minimum):
    with refused_naming("count", valid=is_int(value) and value >= minimum):
        out = check_int(value, "count", minimum=minimum)
        assert (
            type(out) is int
            and out == value
            and out >= minimum
            and not isinstance(value, (bool, np.bool_))
        )


# ----------------------------------------------------------------------------- convolution


@fast(60, seconds=5)
@given(
    b=st.integers(1, 2),
    groups=st.integers(1, 2),
    cin_g=st.integers(1, 2),
    cout_g=st.integers(1, 2),
    size=st.tuples(*[st.integers(1, 6)] * 3),
    kernel=st.tuples(*[st.integers(1, 3)] * 3),
    stride=st.one_of(st.integers(0, 3), st.tuples(*[st.integers(1, 3)] * 3)),
    padding=st.one_of(
        st.integers(-1, 2),
        st.tuples(*[st.integers(0, 2)] * 3),
        st.sampled_from(["same", "valid"]),
    ),
    dilation=st.one_of(st.integers(1, 2), st.tuples(*[st.integers(1, 2)] * 3)),
    bias=st.booleans(),
)
def test_conv3d_equals_torch_or_names_the_argument(
    b, groups, cin_g, cout_g, size, kernel, stride, padding, dilation, bias
):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(
        b, groups * cin_g, *size, generator=gen, dtype=torch.float64
    )
    w = torch.randn(
        groups * cout_g, cin_g, *kernel, generator=gen, dtype=torch.float64
    )
    bvec = (
        torch.randn(groups * cout_g, generator=gen, dtype=torch.float64)
        if bias
        else None
    )
    args = dict(
        stride=stride, padding=padding, dilation=dilation, groups=groups
    )
    try:
        expected = F.conv3d(x, w, bvec, **args)
    except RuntimeError:
        expected = None  # torch refuses: so must we, with a named argument
    with refused_naming(
        "stride", "padding", "input is too small", "dilation", "groups"
    ):
        out = vidconv.conv3d(x, w, bvec, **args)
        assert expected is not None, (
            "vidconv.conv3d accepted what F.conv3d refuses"
        )
        torch.testing.assert_close(out, expected)
        return
    assert expected is None or expected.numel() == 0, (
        "vidconv.conv3d refused what F.conv3d computes"
    )


@fast(100)
@given(
    size=int_like,
    kernel_size=int_like,
    stride=int_like,
    padding=int_like,
    dilation=int_like,
)
def test_conv_output_size_matches_the_convolution(
    size, kernel_size, stride, padding, dilation
):
    with refused_naming("size", "kernel_size", "stride", "padding", "dilation"):
        n = vidconv.conv_output_size(
            size, kernel_size, stride, padding, dilation
        )
        x, w = (
            torch.zeros(1, 1, int(size), 1, 1),
            torch.zeros(1, 1, int(kernel_size), 1, 1),
        )
        out = F.conv3d(
            x,
            w,
            stride=(int(stride), 1, 1),
            padding=(int(padding), 0, 0),
            dilation=(int(dilation), 1, 1),
        )
        assert out.shape[2] == n


@fast(40, seconds=5)
@given(
    t=st.integers(1, 3),
    hw=st.integers(1, 7),
    kernel=st.integers(-1, 4),
    stride=st.integers(0, 3),
    padding=st.one_of(st.none(), st.integers(-1, 2)),
)
def test_per_frame_conv_equals_conv2d_on_every_frame_or_names_the_argument(
    t, hw, kernel, stride, padding
):
    with refused_naming("kernel_size", "stride", "padding", "too small"):
        layer = PerFrameConv2d(2, 3, kernel, stride=stride, padding=padding)
        x = torch.randn(1, 2, t, hw, hw)
        out = layer(x)
        expected = torch.stack(
            [layer.conv(x[:, :, i]) for i in range(t)], dim=2
        )  # (B, C', T, H', W')
        torch.testing.assert_close(out, expected)


# ----------------------------------------------------------------------------- receptive fields


def _reached_by_paths(stack):
    """Every path enumerated: the definition, exponential, only for small stacks."""
    levels = [[0]]
    for k, s, d in reversed(stack):
        levels.insert(
            0, sorted({j * s + i * d for j in levels[0] for i in range(k)})
        )
    return levels


layer = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3))


@fast(80, seconds=3)
@given(stack=st.lists(layer, max_size=20))
def test_frames_reached_is_exact_or_refused_quickly(stack):
    with refused_naming("receptive_field()"):
        levels = frames_reached(stack)
        assert len(levels) == len(stack) + 1 and levels[-1] == [0]
        assert (
            levels[0][0] == 0 and levels[0][-1] == receptive_field(stack) - 1
        )  # the span is the formula
        if receptive_field(stack) <= 5000:
            assert levels == _reached_by_paths(stack)


@fast(5, seconds=3)
@given(depth=st.integers(14, 40))
def test_deep_kernel_3_stride_3_stacks_never_hang(depth):
    with pytest.raises(ValueError, match=r"receptive_field\(\)"):
        frames_reached([(3, 3)] * depth)


# ----------------------------------------------------------------------------- sampling

samplers = st.sampled_from(
    [
        lambda n, k: S.uniform_indices(n, k),
        lambda n, k: S.random_sparse_indices(
            n, k, torch.Generator().manual_seed(0)
        ),
        lambda n, k: S.dense_center_indices(n, k, 2),
        lambda n, k: S.strided_indices(n, k, 3, int(is_int(n) and n > 1)),
        lambda n, k: S.multi_clip_indices(n, k, 3)[1],
    ]
)


@fast(200)
@given(
    sampler=samplers,
    video_frames=st.one_of(int_like, st.integers(1, 500), not_ints),
    clip_len=st.one_of(int_like, st.integers(1, 64), not_ints),
)
def test_samplers_give_valid_ordered_indices_or_name_the_count(
    sampler, video_frames, clip_len
):
    valid = (
        is_int(video_frames)
        and is_int(clip_len)
        and video_frames >= 1
        and clip_len >= 1
    )
    with refused_naming("video_frames", "clip_len", valid=valid):
        indices = sampler(video_frames, clip_len)
        assert len(indices) == clip_len and all(
            type(i) is int and 0 <= i < video_frames for i in indices
        )
        assert indices == sorted(indices)


# ----------------------------------------------------------------------------- transforms


@fast(150)
@given(
    t=st.integers(0, 2),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    top=int_like,
    left=int_like,
    size=int_like,
)
def test_crop_is_a_slice_or_names_the_argument(t, h, w, top, left, size):
    clip = torch.rand(3, t, h, w)
    with refused_naming("top", "left", "size", "clip"):
        out = crop(clip, top, left, size)
        assert torch.equal(
            out, clip[:, :, top : top + size, left : left + size]
        ) and out.shape[2:] == (size, size)


@fast(100)
@given(
    h=st.integers(1, 9), w=st.integers(1, 9), size=st.one_of(int_like, not_ints)
)
def test_center_crop_is_centred_or_names_the_size(h, w, size):
    clip = torch.rand(3, 2, h, w)
    with refused_naming("size"):
        out = center_crop(clip, size)
        assert out.shape[2:] == (size, size)
        top, left = round((h - size) / 2), round((w - size) / 2)
        assert torch.equal(
            out, clip[:, :, top : top + size, left : left + size]
        )


@fast(100)
@given(
    size=st.one_of(
        st.tuples(int_like, int_like),
        int_like,
        st.lists(st.integers(1, 9), max_size=3),
        not_ints,
    ),
    frames=st.integers(0, 2),
)
def test_resize_matches_interpolate_or_names_the_argument(size, frames):
    clip = torch.rand(3, frames, 6, 7)
    with refused_naming("size", "clip"):
        out = resize(clip, size)
        h, w = size
        expected = F.interpolate(
            clip.transpose(0, 1),
            size=(int(h), int(w)),
            mode="bilinear",
            align_corners=False,
        )
        torch.testing.assert_close(out, expected.transpose(0, 1))


stats = st.lists(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-2, 2),
        st.booleans(),
    ),
    min_size=0,
    max_size=4,
)


@fast(100)
@given(mean=stats, std=stats)
def test_normalize_is_finite_or_names_mean_or_std(mean, std):
    clip = torch.rand(3, 2, 4, 4)
    with refused_naming("mean", "std"):
        out = normalize(clip, mean, std)
        assert torch.isfinite(out).all()
        m, s = (
            torch.tensor(mean).view(3, 1, 1, 1),
            torch.tensor(std).view(3, 1, 1, 1),
        )
        torch.testing.assert_close(out, (clip - m) / s)


# ----------------------------------------------------------------------------- video files


@fast(12, seconds=10)
@given(
    t=st.integers(1, 3),
    half_h=st.integers(1, 12),
    half_w=st.integers(1, 12),
    channels=st.sampled_from([1, 3]),
    spoil=st.sampled_from([None, "nan", "high", "low"]),
)
def test_write_video_round_trips_any_even_size_or_refuses_bad_pixels(
    tmp_path, t, half_h, half_w, channels, spoil
):
    clip = torch.rand(
        channels,
        t,
        2 * half_h,
        2 * half_w,
        generator=torch.Generator().manual_seed(t),
    )
    if spoil is not None:
        clip[0, 0, 0, 0] = {"nan": float("nan"), "high": 1.5, "low": -0.1}[
            spoil
        ]
    with refused_naming("clip"):
        back = read_video(write_video(tmp_path / "v.mp4", clip))
        assert spoil is None and back.shape == (3, *clip.shape[1:])


@fast(25, seconds=5)
@given(
    content=st.one_of(
        st.binary(max_size=64), st.binary(min_size=200, max_size=400)
    )
)
def test_any_bytes_that_are_not_a_video_are_named(tmp_path, content):
    path = tmp_path / "junk.mp4"
    path.write_bytes(content)
    with pytest.raises(ValueError) as err:
        read_video(path)
    assert str(path) in str(err.value)


@fast(8, seconds=10)
@given(cut=st.floats(0.05, 0.95))
def test_a_cut_video_is_named_or_reads_whole_frames(tmp_path, cut):
    whole = write_video(
        tmp_path / "whole.mp4",
        torch.rand(3, 6, 16, 16, generator=torch.Generator().manual_seed(0)),
    )
    data = whole.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(len(data) * cut)])
    try:
        video = read_video(path)
    except ValueError as err:
        assert str(path) in str(err)
    else:
        assert video.shape == (
            3,
            6,
            16,
            16,
        )  # the cut removed no frame data (e.g. only trailing metadata)


# ----------------------------------------------------------------------------- relevance


@fast(30, seconds=5)
@given(
    b=st.integers(1, 2),
    t=st.integers(1, 9),
    window=st.integers(1, 12),
    nan_at=st.integers(0, 8),
    masked=st.lists(st.booleans(), min_size=9, max_size=9),
)
def test_relevance_in_unit_interval_and_a_nan_stays_in_its_windows(
    b, t, window, nan_at, masked
):
    torch.manual_seed(0)
    module = TemporalRelevanceModule(8, window, 2).eval()
    mask = torch.tensor(masked[:t]).expand(b, t).clone()
    mask[:, 0] = True
    x = torch.randn(b, t, 8)
    with torch.no_grad():
        r = module(x, mask)
        assert ((r >= 0) & (r <= 1)).all() and (r[~mask] == 0).all()
        if nan_at < t:
            x[:, nan_at] = float("nan")
            r = module(x, mask)
            past, future = window // 2, window - 1 - window // 2
            sees = torch.tensor(
                [nan_at - future <= s <= nan_at + past for s in range(t)]
            )  # windows holding it
            if not mask[0, nan_at]:
                sees = torch.zeros(
                    t, dtype=torch.bool
                )  # a padded step reaches nobody but itself
                sees[nan_at] = True
            safe = ~sees & mask[0]
            assert torch.isfinite(r[:, safe]).all()
