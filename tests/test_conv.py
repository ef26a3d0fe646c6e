"""vidconv.conv3d against torch.nn.functional.conv3d, its gradients, its shapes and its errors."""

import random

import pytest
import torch
import torch.nn.functional as F

import vidconv


def random_setting(rng: random.Random) -> dict:
    groups = rng.choice([1, 1, 2, 3])
    setting = {
        "kernel": tuple(rng.randint(1, 3) for _ in range(3)),
        "stride": tuple(rng.randint(1, 3) for _ in range(3)),
        "dilation": tuple(rng.randint(1, 2) for _ in range(3)),
        "padding": tuple(rng.randint(0, 2) for _ in range(3)),
        "groups": groups,
        "c_in": groups * rng.randint(1, 3),
        "c_out": groups * rng.randint(1, 3),
        "bias": rng.random() < 0.5,
    }
    if rng.random() < 0.25:
        setting["stride"], setting["padding"] = 1, rng.choice(["same", "valid"])
    return setting


@pytest.mark.parametrize("seed", range(40))
def test_matches_torch_on_random_settings(seed):
    rng = random.Random(seed)
    s = random_setting(rng)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(
        2,
        s["c_in"],
        rng.randint(5, 9),
        rng.randint(5, 9),
        rng.randint(5, 9),
        generator=gen,
        dtype=torch.float64,
    )
    w = torch.randn(
        s["c_out"],
        s["c_in"] // s["groups"],
        *s["kernel"],
        generator=gen,
        dtype=torch.float64,
    )
    b = (
        torch.randn(s["c_out"], generator=gen, dtype=torch.float64)
        if s["bias"]
        else None
    )
    kw = dict(
        stride=s["stride"],
        padding=s["padding"],
        dilation=s["dilation"],
        groups=s["groups"],
    )
    ours, ref = vidconv.conv3d(x, w, b, **kw), F.conv3d(x, w, b, **kw)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-10)


def test_integer_inputs_agree_exactly():
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(-4, 5, (1, 4, 8, 9, 7), generator=gen).double()
    w = torch.randint(-4, 5, (6, 2, 3, 2, 3), generator=gen).double()
    ours = vidconv.conv3d(
        x, w, stride=(2, 1, 1), padding=(1, 1, 0), dilation=(1, 2, 1), groups=2
    )
    ref = F.conv3d(
        x, w, stride=(2, 1, 1), padding=(1, 1, 0), dilation=(1, 2, 1), groups=2
    )
    assert torch.equal(ours, ref)


def test_float32_close_to_torch():
    torch.manual_seed(0)
    x, w = torch.randn(2, 4, 10, 12, 12), torch.randn(8, 4, 3, 3, 3)
    ref = F.conv3d(x, w, padding=1)
    assert (
        vidconv.conv3d(x, w, padding=1) - ref
    ).abs().max() / ref.abs().max() < 1e-5


def test_gradcheck_float64():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(
        1, 2, 4, 4, 3, dtype=torch.float64, generator=gen, requires_grad=True
    )
    w = torch.randn(
        2, 1, 2, 3, 2, dtype=torch.float64, generator=gen, requires_grad=True
    )
    b = torch.randn(2, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: vidconv.conv3d(
            x, w, b, stride=(1, 2, 1), padding=1, dilation=(2, 1, 1), groups=2
        ),
        (x, w, b),
    )


@pytest.mark.parametrize("seed", range(30))
def test_output_size_formula_matches_conv3d(seed):
    rng = random.Random(seed)
    n, k, s, p, d = (
        rng.randint(4, 40),
        rng.randint(1, 5),
        rng.randint(1, 3),
        rng.randint(0, 2),
        rng.randint(1, 3),
    )
    if n + 2 * p < d * (k - 1) + 1:
        pytest.skip("kernel does not fit")
    layer = torch.nn.Conv3d(
        1, 1, (k, 1, 1), stride=(s, 1, 1), padding=(p, 0, 0), dilation=(d, 1, 1)
    )
    assert (
        vidconv.conv_output_size(n, k, s, p, d)
        == layer(torch.zeros(1, 1, n, 1, 1)).shape[2]
    )


X = torch.zeros(1, 4, 5, 5, 5)
W = torch.zeros(2, 4, 3, 3, 3)

BAD_CALLS = [
    (
        "input not a tensor",
        lambda: vidconv.conv3d([1, 2], W),
        TypeError,
        "input must be a torch.Tensor",
    ),
    (
        "4-D input",
        lambda: vidconv.conv3d(torch.zeros(4, 5, 5, 5), W),
        ValueError,
        "input must have 5 dimensions",
    ),
    (
        "integer input",
        lambda: vidconv.conv3d(X.long(), W),
        TypeError,
        "floating-point",
    ),
    (
        "4-D weight",
        lambda: vidconv.conv3d(X, torch.zeros(2, 4, 3, 3)),
        ValueError,
        "weight must have 5 dimensions",
    ),
    (
        "channel mismatch",
        lambda: vidconv.conv3d(torch.zeros(1, 3, 5, 5, 5), W),
        ValueError,
        "input has 3",
    ),
    (
        "groups not dividing",
        lambda: vidconv.conv3d(X, torch.zeros(3, 2, 1, 1, 1), groups=2),
        ValueError,
        "groups=2",
    ),
    (
        "clip too short",
        lambda: vidconv.conv3d(torch.zeros(1, 4, 2, 5, 5), W),
        ValueError,
        "too small along T",
    ),
    (
        "frame too small",
        lambda: vidconv.conv3d(torch.zeros(1, 4, 5, 2, 5), W),
        ValueError,
        "too small along H",
    ),
    (
        "zero stride",
        lambda: vidconv.conv3d(X, W, stride=0),
        ValueError,
        "stride must be >= 1",
    ),
    (
        "stride of 2 values",
        lambda: vidconv.conv3d(X, W, stride=(1, 2)),
        ValueError,
        "sequence of 3 ints",
    ),
    (
        "negative padding",
        lambda: vidconv.conv3d(X, W, padding=-1),
        ValueError,
        "padding must be >= 0",
    ),
    (
        "unknown padding",
        lambda: vidconv.conv3d(X, W, padding="full"),
        ValueError,
        "'valid' or 'same'",
    ),
    (
        "same with stride",
        lambda: vidconv.conv3d(X, W, padding="same", stride=2),
        ValueError,
        "needs stride 1",
    ),
    (
        "bias length",
        lambda: vidconv.conv3d(X, W, torch.zeros(3)),
        ValueError,
        "bias must have 2 entries",
    ),
    (
        "output size kernel too big",
        lambda: vidconv.conv_output_size(2, 5),
        ValueError,
        "shorter than the kernel",
    ),
    (
        "output size bool",
        lambda: vidconv.conv_output_size(True, 3),
        TypeError,
        "size must be an int",
    ),
]


@pytest.mark.parametrize(
    "name, call, error, message", BAD_CALLS, ids=[c[0] for c in BAD_CALLS]
)
def test_bad_inputs_are_named(name, call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_dtype_and_empty_kernel_disagreements_are_refused_like_torch():
    x, w = torch.randn(1, 2, 4, 4, 4), torch.randn(3, 2, 2, 2, 2)
    for bad_input, bad_weight in [
        (x.double(), w),
        (x, torch.zeros(3, 2, 0, 2, 2)),
    ]:
        with pytest.raises(RuntimeError):
            torch.nn.functional.conv3d(bad_input, bad_weight)
        with pytest.raises((TypeError, ValueError), match="weight"):
            vidconv.conv3d(bad_input, bad_weight)
    with pytest.raises(TypeError, match="real floating"):
        vidconv.conv3d(x.to(torch.complex64), w.to(torch.complex64))
