"""The SlowFast diagram is read from the module: shapes from a meta forward pass, kernels from the convs."""

import pytest
from torch import nn

from vidconv.book.pathway_diagram import pathway_diagram, pathway_layout
from vidconv.models import slowfast_r50


def test_layout_follows_alpha_and_beta():
    model = slowfast_r50()
    layout = pathway_layout(model, (1, 3, 32, 64, 64))
    shapes = layout["shapes"]
    assert (
        shapes["slow.layer4"][1] * model.alpha == shapes["fast.layer4"][1] == 32
    )  # frame-rate ratio
    assert (
        shapes["fast.layer4"][0] / shapes["slow.layer4"][0] == model.beta
    )  # channel ratio
    assert shapes["laterals.0"][:2] == (
        2 * shapes["fast.stem"][0],
        shapes["slow.stem"][1],
    )
    assert (
        layout["kernels"]["slow.layer1"][0] == 1
        and layout["kernels"]["fast.stem"][0] == 5
    )
    assert (
        next(model.parameters()).device.type == "cpu"
    )  # the model itself is untouched


def test_diagram_has_both_pathways_and_every_lateral():
    fig = pathway_diagram(slowfast_r50(), (1, 3, 32, 64, 64))
    assert [t.name for t in fig.data] == ["slow pathway", "fast pathway"]
    assert len(fig.layout.annotations) == 4


def test_a_single_pathway_model_is_refused():
    with pytest.raises(
        ValueError, match="must have 'slow', 'fast' and 'laterals'"
    ):
        pathway_layout(nn.Conv3d(3, 4, 1), (1, 3, 4, 8, 8))
