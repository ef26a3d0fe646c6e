"""The Inception diagram is drawn from the module: its labels must be the module's own numbers."""

import pytest
from torch import nn

from vidconv.book.module_diagram import (
    branch_diagram,
    branch_layout,
    describe_layer,
)
from vidconv.layers.inception import INCEPTION_V1, InceptionBlock3d


@pytest.mark.parametrize("name", ["mixed_3b", "mixed_4e", "mixed_5c"])
def test_layout_matches_the_block(name):
    cin, (b0, b1_mid, b1, b2_mid, b2, b3) = INCEPTION_V1[name]
    block = InceptionBlock3d(cin, b0, b1_mid, b1, b2_mid, b2, b3)
    layout = branch_layout(block)
    assert [b["name"] for b in layout] == [
        "branch0",
        "branch1",
        "branch2",
        "branch3",
    ]
    assert [b["out_channels"] for b in layout] == [b0, b1, b2, b3]
    assert sum(b["out_channels"] for b in layout) == block.out_channels
    assert [len(b["layers"]) for b in layout] == [1, 2, 2, 2]
    assert (
        f"→ {b1_mid}" in layout[1]["layers"][0]["label"]
        and "1x1x1" in layout[1]["layers"][0]["label"]
    )
    assert (
        "3x3x3" in layout[2]["layers"][1]["label"]
        and "max pool 3x3x3" in layout[3]["layers"][0]["label"]
    )
    assert sum(
        layer["parameters"] for b in layout for layer in b["layers"]
    ) == sum(p.numel() for p in block.parameters())


def test_figure_shows_every_layer_and_the_concatenation():
    cin, widths = INCEPTION_V1["mixed_3b"]
    block = InceptionBlock3d(cin, *widths)
    fig = branch_diagram(block)
    texts = [a.text for a in fig.layout.annotations]
    assert "input: 192 channels" in texts
    assert "concatenate: 64 + 128 + 32 + 32 = 256 channels" in texts
    assert sum("conv" in t or "pool" in t for t in texts) == 7


def test_separable_block_shows_both_factors():
    cin, widths = INCEPTION_V1["mixed_3b"]
    layout = branch_layout(InceptionBlock3d(cin, *widths, separable=True))
    assert (
        "1x3x3" in layout[1]["layers"][1]["label"]
        and "3x1x1" in layout[1]["layers"][1]["label"]
    )


def test_strided_conv_and_unknown_layers():
    assert describe_layer(nn.Conv3d(3, 8, (1, 3, 3), stride=(1, 2, 2))) == (
        "conv 1x3x3, stride 1x2x2 → 8",
        8,
    )
    assert describe_layer(nn.ReLU()) == ("ReLU", None)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: branch_layout(nn.Conv3d(1, 1, 1)),
            ValueError,
            "at least 2 children named 'branch",
        ),
        (
            lambda: branch_diagram("block"),
            TypeError,
            "block must be an nn.Module",
        ),
        (lambda: describe_layer(3), TypeError, "layer must be an nn.Module"),
    ],
)
def test_bad_inputs_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
