"""Chapter 5's experiments: the rank of a linear (2+1)D block, equal-parameter miniatures, per-stage costs."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vidconv import count_macs, count_parameters
from vidconv.experiments.r2plus1d.factorisation import (
    compose_2plus1d,
    eckart_young_error,
    factorisation_curve,
    fit_linear_2plus1d,
    kernel_matrix,
    rank_bound,
)
from vidconv.experiments.r2plus1d.vs_r3d import (
    EQUAL_PARAMETER_RUN,
    KINDS,
    equal_parameter_experiment,
    matched_widths,
    miniature,
    parameters_of,
    stage_conv,
    stage_costs,
    stage_shapes,
    time_stage_convs,
)
from vidconv.experiments.small_run import SmallRun
from vidconv.layers.blocks import Conv2Plus1d, FullConv3d, midplanes_for_2plus1d
from vidconv.models import r2plus1d_18, r3d_18


def _kernel(n_out=6, n_in=5, k_t=3, k_s=3, seed=0):
    return torch.randn(
        n_out,
        n_in,
        k_t,
        k_s,
        k_s,
        generator=torch.Generator().manual_seed(seed),
        dtype=torch.float64,
    )


def test_a_linear_2plus1d_block_is_the_3d_conv_of_its_composed_kernel():
    # Conv2Plus1d without its middle batch norm and ReLU: the two convs in a row, padding included.
    torch.manual_seed(0)
    block = Conv2Plus1d(5, 6, mid_channels=4).double()
    linear = nn.Sequential(block[0], block[3])
    kernel = compose_2plus1d(block[0].weight, block[3].weight)
    x = torch.randn(2, 5, 6, 7, 7, dtype=torch.float64)
    assert torch.allclose(linear(x), F.conv3d(x, kernel, padding=1), atol=1e-12)
    # ... and its kernel matrix has rank at most M.
    assert torch.linalg.matrix_rank(kernel_matrix(kernel)) == 4


def test_kernel_matrix_rows_index_output_and_time_columns_input_and_space():
    w = _kernel()
    a = kernel_matrix(w)
    assert a.shape == (6 * 3, 5 * 9) and rank_bound(w) == 18
    assert a[2 * 3 + 1, 4 * 9 + 2 * 3 + 0] == w[2, 4, 1, 2, 0]


def test_fit_error_falls_with_m_and_matches_eckart_young():
    table = factorisation_curve(5, 6, [1, 3, 6, 9, 12, 15, 17])
    fit = [r["fit error"] for r in table.rows]
    best = [r["Eckart-Young error"] for r in table.rows]
    assert all(a > b for a, b in itertools.pairwise(fit)), fit
    assert fit[0] < 1.0 and fit[-1] > 0.0
    # ALS never beats the closed form, and reaches it (Eckart-Young: the discarded singular values).
    for f, b in zip(fit, best):
        assert b - 1e-12 <= f <= b + 1e-6
    # Recomputed with torch's SVD.
    sigma = torch.linalg.svdvals(kernel_matrix(_kernel(6, 5, seed=0)))
    assert best[2] == pytest.approx(
        float(sigma[6:].norm() / sigma.norm()), rel=1e-12
    )


@pytest.mark.parametrize(
    "n_in, n_out, extra", [(5, 6, 0), (2, 7, 3), (4, 1, 0)]
)
def test_with_m_at_least_the_rank_bound_the_fit_is_exact(n_in, n_out, extra):
    w = _kernel(n_out, n_in, seed=1)
    bound = rank_bound(w)
    assert bound == min(3 * n_out, 9 * n_in)
    fit = fit_linear_2plus1d(w, bound + extra)
    assert fit.error < 1e-12
    assert torch.allclose(fit.kernel, w, atol=1e-10)
    x = torch.randn(1, n_in, 5, 6, 6, dtype=torch.float64)
    assert torch.allclose(fit.block()(x), F.conv3d(x, w, padding=1), atol=1e-10)
    # One below the bound, a generic kernel cannot be reproduced.
    assert fit_linear_2plus1d(w, bound - 1).error > 1e-3


def test_the_papers_m_is_always_below_the_rank_bound():
    for n_in, n_out in [
        (1, 1),
        (3, 64),
        (64, 64),
        (64, 128),
        (512, 512),
        (7, 300),
    ]:
        w = torch.empty(n_out, n_in, 3, 3, 3, device="meta")
        m = midplanes_for_2plus1d(n_in, n_out)
        assert m < min(3 * n_out, 9 * n_in) == rank_bound(w)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: kernel_matrix(torch.zeros(3, 3, 3, 3)),
            ValueError,
            r"5 dimensions \(N_out, N_in, k_t, k_s, k_s\)",
        ),
        (
            lambda: kernel_matrix(torch.zeros(2, 2, 3, 3, 2)),
            ValueError,
            "square spatial kernel",
        ),
        (
            lambda: kernel_matrix(
                torch.zeros(2, 2, 3, 3, 3, dtype=torch.int64)
            ),
            TypeError,
            "floating-point",
        ),
        (
            lambda: fit_linear_2plus1d(_kernel(), 0),
            ValueError,
            "mid_channels must be >= 1, got 0",
        ),
        (
            lambda: fit_linear_2plus1d(_kernel(), 2, iterations=0),
            ValueError,
            "iterations must be >= 1",
        ),
        (
            lambda: eckart_young_error(_kernel(), 2.0),
            TypeError,
            "mid_channels must be an int",
        ),
        (
            lambda: compose_2plus1d(
                torch.zeros(4, 5, 1, 3, 3), torch.zeros(6, 3, 3, 1, 1)
            ),
            ValueError,
            "middle width",
        ),
        (
            lambda: compose_2plus1d(
                torch.zeros(4, 5, 3, 3, 3), torch.zeros(6, 4, 3, 1, 1)
            ),
            ValueError,
            "temporal size 1",
        ),
        (
            lambda: factorisation_curve(4, 4, []),
            ValueError,
            "at least one middle width",
        ),
        (
            lambda: factorisation_curve(4, 4, [0]),
            ValueError,
            "every entry of mids must be >= 1",
        ),
        (
            lambda: miniature("R4D", (4, 8, 16, 32)),
            ValueError,
            "kind must be one of",
        ),
        (
            lambda: miniature("R3D", (4, 8, 16)),
            ValueError,
            "widths must be a sequence of 4 ints",
        ),
        (
            lambda: matched_widths((4, 8, 16, 32), tolerance=0),
            ValueError,
            "tolerance must be in",
        ),
        (
            lambda: equal_parameter_experiment(seeds=()),
            ValueError,
            "seeds must be a non-empty sequence",
        ),
        (
            lambda: equal_parameter_experiment((0,), SmallRun(epochs=0)),
            ValueError,
            "epochs must be >= 1",
        ),
        (
            lambda: stage_costs(nn.Conv3d(3, 3, 3), (1, 3, 8, 32, 32)),
            TypeError,
            "must be a vidconv VideoResNet",
        ),
        (
            lambda: stage_shapes(
                miniature("R3D", (4, 8, 16, 32)), (1, 3, 8, 32)
            ),
            ValueError,
            "input_shape",
        ),
        (
            lambda: stage_conv(miniature("R3D", (4, 8, 16, 32)), "stem"),
            ValueError,
            "stage must be one of",
        ),
        (
            lambda: time_stage_convs(
                miniature("R3D", (4, 8, 16, 32)), (1, 3, 4, 16, 16), repeats=0
            ),
            ValueError,
            "repeats must be >= 1",
        ),
    ],
)
def test_bad_inputs_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "widths, layers",
    [
        ((4, 8, 16, 32), (1, 1, 1, 1)),
        ((64, 128, 256, 512), (2, 2, 2, 2)),
        ((5, 5, 7, 3), (1, 3, 1, 2)),
    ],
)
def test_closed_form_parameters_equal_the_built_network(kind, widths, layers):
    with torch.device("meta"):
        model = miniature(kind, widths, layers=layers, num_classes=7)
    assert parameters_of(
        kind, widths, layers=layers, num_classes=7
    ) == count_parameters(model)


def test_miniatures_use_vidconvs_builders_and_matched_widths_agree_within_one_percent():
    r3d = miniature("R3D", (4, 8, 16, 32))
    widths = matched_widths((4, 8, 16, 32))
    r21 = miniature("R(2+1)D", widths)
    assert {type(m) for m in r3d.modules()} >= {
        FullConv3d
    } and Conv2Plus1d not in {type(m) for m in r3d.modules()}
    assert sum(isinstance(m, Conv2Plus1d) for m in r21.modules()) == 8
    assert r21.widths == widths and r3d.widths == (4, 8, 16, 32)
    a, b = count_parameters(r3d), count_parameters(r21)
    assert abs(a - b) <= 0.01 * a
    # At R3D's own widths the released rule (M from each block's input width) makes R(2+1)D smaller.
    assert count_parameters(miniature("R(2+1)D", (4, 8, 16, 32))) < 0.99 * a


def test_equal_parameter_experiment_records_every_step_and_is_reproducible():
    run = EQUAL_PARAMETER_RUN.replace(
        train_clips=32, test_clips=16, epochs=2, batch_size=16
    )
    first = equal_parameter_experiment((0, 1), run)
    again = equal_parameter_experiment((0, 1), run)
    for kind in KINDS:
        assert first.losses[kind].shape == (2, 4)
        assert torch.equal(first.losses[kind], again.losses[kind])
        assert first.test_accuracy[kind] == again.test_accuracy[kind]
        assert all(0.0 <= a <= 1.0 for a in first.test_accuracy[kind])
    # Different seeds: different initialisation and batch order.
    assert not torch.equal(first.losses["R3D"][0], first.losses["R3D"][1])
    p = first.parameters
    assert abs(p["R3D"] - p["R(2+1)D"]) <= 0.01 * p["R3D"]


def test_thread_count_is_restored():
    before = torch.get_num_threads()
    equal_parameter_experiment(
        (0,), SmallRun(train_clips=16, test_clips=8, epochs=1, batch_size=16)
    )
    assert torch.get_num_threads() == before


def test_stage_costs_match_the_stages_and_the_whole_network():
    with torch.device("meta"):
        r3d, r21 = r3d_18(), r2plus1d_18()
    shape = (1, 3, 16, 112, 112)
    for model in (r3d, r21):
        table = stage_costs(model, shape)
        assert [r["stage"] for r in table.rows] == [
            "stem",
            "layer1",
            "layer2",
            "layer3",
            "layer4",
        ]
        fc = (
            model.fc.in_features * model.fc.out_features + model.fc.out_features
        )
        assert sum(
            r["parameters"] for r in table.rows
        ) + fc == count_parameters(model)
        assert sum(
            r["MACs"] for r in table.rows
        ) + model.fc.in_features * model.fc.out_features == count_macs(
            model, shape
        )
    shapes = stage_shapes(r21, shape)
    assert shapes["layer2"] == (1, 64, 16, 56, 56) and shapes["avgpool"] == (
        1,
        512,
        2,
        7,
        7,
    )


def test_stage_conv_timing_runs_each_stages_conv_on_its_input():
    model = miniature("R(2+1)D", (4, 8, 16, 32))
    table = time_stage_convs(model, (1, 3, 8, 32, 32), repeats=1)
    rows = table.rows
    assert [r["stage"] for r in rows] == [
        "layer1",
        "layer2",
        "layer3",
        "layer4",
    ]
    assert (
        rows[0]["conv input"] == "4x8x16x16"
        and rows[3]["conv input"] == "32x1x2x2"
    )
    assert rows[1]["parameters"] == count_parameters(
        stage_conv(model, "layer2")
    )
    assert all(r["seconds (fwd + bwd)"] > 0 for r in rows)
    # The model itself is untouched (copies are timed).
    assert all(p.grad is None for p in model.parameters())
