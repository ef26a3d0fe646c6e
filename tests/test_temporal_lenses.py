"""Influence profiles of five temporal architectures: causal, and as wide as each one's structure says."""

from __future__ import annotations

import pytest
import torch

from vidconv.experiments.temporal.lenses import (
    LENSES,
    DiagonalSSM,
    WindowedAttention,
    conv_model,
    dilated_model,
    influence_profile,
    lens_experiment,
)
from vidconv.utils.device import one_cpu_thread

FUTURE, MAX_LAG = 3, 24
LAGS = list(range(-FUTURE, MAX_LAG + 1))


@pytest.fixture(autouse=True)
def one_thread():
    with one_cpu_thread(
        torch.device("cpu")
    ):  # tiny networks: threads only contend on a shared CPU
        yield


def lags_reached(model):
    torch.manual_seed(0)
    p = influence_profile(
        model, torch.randn(4, 36), max_lag=MAX_LAG, future=FUTURE
    )
    assert p.sum().item() == pytest.approx(1.0)
    return {lag for lag, v in zip(LAGS, p.tolist()) if v > 0}


@pytest.mark.parametrize("name", LENSES)
def test_every_lens_is_causal(name):
    torch.manual_seed(0)
    assert min(lags_reached(LENSES[name]())) >= 0


def test_window_models_reach_their_window_and_no_further():
    torch.manual_seed(0)
    assert lags_reached(conv_model(8)) == set(range(8))
    assert lags_reached(WindowedAttention(8)) == set(range(8))
    assert lags_reached(dilated_model()) == {0, 1, 6, 7, 12, 13, 18, 19}


def test_recurrent_and_state_space_models_reach_every_lag():
    torch.manual_seed(0)
    assert lags_reached(LENSES["recurrent (GRU)"]()) == set(range(MAX_LAG + 1))
    assert lags_reached(DiagonalSSM()) == set(range(MAX_LAG + 1))


def test_ssm_influence_is_its_kernel():
    # linear and time-invariant: d y_t / d x_{t-l} is the kernel tap K_l (plus d at lag 0), for every t
    torch.manual_seed(0)
    ssm = DiagonalSSM()
    with torch.no_grad():
        ssm.d.fill_(0.3)
    p = influence_profile(ssm, torch.randn(2, 30), max_lag=10, future=0)
    k = ssm.kernel(11).detach()
    k[0] += 0.3
    torch.testing.assert_close(p, k.abs() / k.abs().sum(), atol=1e-6, rtol=1e-5)


def test_trained_lenses_find_the_task_lag():
    table, profiles = lens_experiment(steps=120)
    rows = {r["architecture"]: r for r in table.rows}
    for name in (
        "3D convolution",
        "dilated convolution",
        "recurrent (GRU)",
        "windowed attention",
    ):
        assert rows[name]["peak lag"] == 6 and rows[name]["test MSE"] < 0.5, (
            rows[name]
        )  # predicting 0 scores 1
    assert (
        rows["3D convolution"]["test MSE"] < 0.1
        and rows["dilated convolution"]["test MSE"] < 0.1
    )
    assert all(r["share in future"] == 0 for r in rows.values())
    assert (
        rows["3D convolution"]["share beyond lag 8"] == 0
        and rows["windowed attention"]["share beyond lag 8"] == 0
    )
    assert set(profiles) == set(LENSES)


def test_bad_sequences():
    with pytest.raises(ValueError, match=r"x must have 2 dimensions|\(B, T\)"):
        influence_profile(conv_model(), torch.randn(2, 3, 30))
    with pytest.raises(ValueError, match="at least 29"):
        influence_profile(
            conv_model(), torch.randn(2, 20), max_lag=24, future=4
        )
