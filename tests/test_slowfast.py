"""SlowFast against pytorchvideo's create_slowfast, against the paper's figures, and against bad input."""

from __future__ import annotations

import pytest
import torch
from _pytorchvideo import batch_norm_parameters, pytorchvideo_model, randomize

import vidconv
from vidconv.models import SlowFast, slowfast_r50
from vidconv.models.pytorchvideo_keys import (
    slowfast_from_pytorchvideo,
    slowfast_to_pytorchvideo,
)


@pytest.fixture(scope="module")
def pv_slowfast():
    return pytorchvideo_model("slowfast")


def reference(
    pv_slowfast,
    alpha: int = 4,
    depth: int = 50,
    clip: tuple[int, int, int] = (8, 32, 32),
):
    """pytorchvideo's SlowFast whose head pools exactly the final feature map of ``clip`` (T, H, W):
    its released head averages a fixed window; over the whole map that is our global average."""
    t, h, w = clip
    return pv_slowfast.create_slowfast(
        model_depth=depth,
        slowfast_fusion_conv_stride=(alpha, 1, 1),
        head_pool_kernel_sizes=(
            (t // alpha, h // 32, w // 32),
            (t, h // 32, w // 32),
        ),
    )


def test_parameter_count_equals_pytorchvideo(pv_slowfast):
    with torch.device("meta"):
        ours, theirs = slowfast_r50(), pv_slowfast.create_slowfast()
    assert (
        vidconv.count_parameters(ours)
        == vidconv.count_parameters(theirs)
        == 34_566_488
    )


@pytest.mark.parametrize(
    "alpha, depth, layers",
    [(4, 50, (3, 4, 6, 3)), (8, 18, (1, 1, 1, 1))],
    ids=["r50-alpha4", "bottleneck18-alpha8"],
)
def test_state_dicts_load_both_ways_and_outputs_match(
    alpha, depth, layers, pv_slowfast
):
    torch.manual_seed(0)
    clip = (2 * alpha, 32, 32)
    theirs = randomize(reference(pv_slowfast, alpha, depth, clip), seed=1)
    ours = SlowFast(layers=layers, alpha=alpha).eval()
    # pytorchvideo -> vidconv, strict: every key renamed, every shape equal
    ours.load_state_dict(
        slowfast_from_pytorchvideo(theirs.state_dict()), strict=True
    )
    x = torch.randn(2, 3, *clip)  # (B, 3, T, H, W) at the Fast frame rate
    with torch.no_grad():
        expected = theirs(
            [x[:, :, ::alpha].clone(), x.clone()]
        )  # pytorchvideo takes [slow, fast]
        got = ours(x)
        got_pair = ours([x[:, :, ::alpha], x])
    assert (
        expected.abs().max() > 0.1
    )  # logits of a size where a wrong tensor would show
    assert (got - expected).abs().max() <= 1e-5
    assert torch.equal(got, got_pair)
    # vidconv -> pytorchvideo, strict, into the reference wiped to zeros (so nothing of it survives)
    with torch.no_grad():
        for tensor in theirs.state_dict().values():
            tensor.zero_()
    theirs.load_state_dict(
        slowfast_to_pytorchvideo(ours.state_dict()), strict=True
    )
    with torch.no_grad():
        assert (
            theirs([x[:, :, ::alpha].clone(), x.clone()]) - expected
        ).abs().max() <= 1e-5


def test_key_mapping_is_a_bijection(pv_slowfast):
    with torch.device("meta"):
        theirs = pv_slowfast.create_slowfast().state_dict()
        ours = slowfast_r50().state_dict()
    assert set(slowfast_from_pytorchvideo(theirs)) == set(ours)
    assert (
        slowfast_to_pytorchvideo(slowfast_from_pytorchvideo(theirs)).keys()
        == theirs.keys()
    )
    with pytest.raises(KeyError, match="no rule renames 'stem.0.weight'"):
        slowfast_from_pytorchvideo({"stem.0.weight": 0})


def test_paper_figures():
    # SlowFast paper (Feichtenhofer et al., ICCV 2019), Table 3, SlowFast 8x8 R50: 65.7 GFLOPs x 3 x 10 views;
    # pytorchvideo's model zoo: 65.71 GFLOPs, 34.57 M parameters. Their "FLOPs" are multiply-adds (MACs,
    # half of torch's FLOP counter) and a view is 3 x 256 x 256 (testing is fully convolutional on
    # 256-pixel crops): 8 Slow and 32 Fast frames of 256 x 256.
    with torch.device("meta"):
        model = slowfast_r50()
    assert (
        round(vidconv.count_macs(model, (1, 3, 32, 256, 256)) / 1e9, 2) == 65.71
    )
    assert vidconv.count_flops(
        model, (1, 3, 32, 256, 256)
    ) == 2 * vidconv.count_macs(model, (1, 3, 32, 256, 256))
    # The 224 x 224 training crop costs (224/256)^2 of that: 50.31 GMACs.
    assert (
        round(vidconv.count_macs(model, (1, 3, 32, 224, 224)) / 1e9, 2) == 50.31
    )
    assert round(vidconv.count_parameters(model) / 1e6, 2) == 34.57
    # Batch norms' scale and shift are 60,688 of them. With 5x1x1 lateral convs (the paper's text) instead
    # of the released 8x8 model's 7x1x1, it is 34.48 M: pytorchvideo's figure for its 4x16 model.
    assert batch_norm_parameters(model) == 60_688
    with torch.device("meta"):
        paper_text = slowfast_r50(lateral_kernel_size=5)
    assert round(vidconv.count_parameters(paper_text) / 1e6, 2) == 34.48


def test_summary_shows_the_two_pathways_and_their_frame_rates():
    with torch.device("meta"):
        model = slowfast_r50()
    table = vidconv.summary(model, (1, 3, 32, 224, 224), depth=2)
    rows = {row.name: row for row in table.rows}
    assert rows["slow.layer4"].output_shape == (
        1,
        2048,
        8,
        7,
        7,
    )  # every 4th frame, full width
    assert rows["fast.layer4"].output_shape == (
        1,
        256,
        32,
        7,
        7,
    )  # every frame, 1/8 of the width
    assert rows["laterals.0"].output_shape == (
        1,
        16,
        8,
        56,
        56,
    )  # fast features on the slow frame grid
    assert table.total_macs == vidconv.count_macs(model, (1, 3, 32, 224, 224))


def test_fast_pathway_is_light():
    # Four times the frames at an eighth of the width: counted, the Fast pathway does 10.5% of SlowFast-R50
    # 8x8's multiply-adds and the lateral connections 2.2%: the "lightweight" Fast pathway of the paper.
    with torch.device("meta"):
        model = slowfast_r50()
    table = vidconv.summary(model, (1, 3, 32, 224, 224), depth=2)
    share = {
        part: sum(row.macs for row in table.rows if row.name.startswith(part))
        / table.total_macs
        for part in ("slow.", "fast.", "laterals.")
    }
    assert (
        round(share["fast."], 3) == 0.105
        and round(share["laterals."], 3) == 0.022
    )
    assert share["slow."] > 0.87


BAD = [
    (
        "clip shorter than alpha",
        lambda m: m(torch.zeros(1, 3, 3, 32, 32)),
        ValueError,
        r"multiple of alpha=4 .* got T=3",
    ),
    (
        "frames not a multiple of alpha",
        lambda m: m(torch.zeros(1, 3, 10, 32, 32)),
        ValueError,
        "got T=10",
    ),
    (
        "one channel",
        lambda m: m(torch.zeros(1, 1, 8, 32, 32)),
        ValueError,
        r"expects 3 channels .* got shape",
    ),
    (
        "rank 4",
        lambda m: m(torch.zeros(3, 8, 32, 32)),
        ValueError,
        r"\(B, C, T, H, W\)",
    ),
    (
        "slow clip of the wrong length",
        lambda m: m(
            [torch.zeros(1, 3, 3, 32, 32), torch.zeros(1, 3, 8, 32, 32)]
        ),
        ValueError,
        r"slow clip of ceil\(T_fast / alpha=4\) = 2 frames",
    ),
    (
        "three clips",
        lambda m: m([torch.zeros(1, 3, 2, 32, 32)] * 3),
        ValueError,
        "a sequence of 3",
    ),
    (
        "float64 clip",
        lambda m: m(torch.zeros(1, 3, 8, 32, 32, dtype=torch.float64)),
        TypeError,
        "dtype",
    ),
    (
        "empty batch",
        lambda m: m(torch.zeros(0, 3, 8, 32, 32)),
        ValueError,
        "empty batch",
    ),
    (
        "beta gives fractional widths",
        lambda _: SlowFast(beta=0.3),
        ValueError,
        "beta \\* widths must be whole",
    ),
    ("alpha 0", lambda _: SlowFast(alpha=0), ValueError, "alpha must be >= 1"),
    (
        "even lateral kernel",
        lambda _: SlowFast(lateral_kernel_size=4),
        ValueError,
        "lateral_kernel_size must be odd",
    ),
    (
        "num_classes 0",
        lambda _: slowfast_r50(num_classes=0),
        ValueError,
        "num_classes must be >= 1",
    ),
]


@pytest.fixture(scope="module")
def tiny_slowfast():
    return SlowFast(
        layers=(1, 1, 1, 1), widths=(8, 8, 8, 8), num_classes=3
    ).eval()


@pytest.mark.parametrize("row", BAD, ids=[r[0] for r in BAD])
def test_bad_input(row, tiny_slowfast):
    _, call, error, pattern = row
    with pytest.raises(error, match=pattern):
        call(tiny_slowfast)


def test_vidconv_never_imports_pytorchvideo():
    import subprocess
    import sys

    code = (
        "import sys, vidconv, vidconv.models, vidconv.experiments; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytorchvideo', 'fvcore', 'iopath')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
