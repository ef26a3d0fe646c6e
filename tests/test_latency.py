"""The latency task: exact optimal accuracies, causal windows, and accuracy rising with the allowed delay."""

from __future__ import annotations

import itertools

import pytest
import torch

from vidconv.experiments.temporal.latency import (
    HALF_WINDOW,
    latency_experiment,
    majority_clips,
    optimal_accuracy,
    train_window_net,
    window_net,
)
from vidconv.utils.device import one_cpu_thread


@pytest.fixture(autouse=True)
def one_thread():
    with one_cpu_thread(
        torch.device("cpu")
    ):  # tiny networks: threads only contend on a shared CPU
        yield


def test_optimal_accuracy_by_hand():
    assert optimal_accuracy(range(-2, 3)) == 1.0  # the whole window
    assert optimal_accuracy([]) == 0.5  # nothing: a coin
    # 3 of 5 bits seen: right when they agree (2/8), else right unless both unseen bits disagree (3/4)
    assert optimal_accuracy([-2, -1, 0]) == pytest.approx(2 / 8 + 6 / 8 * 3 / 4)
    assert optimal_accuracy([-2, -1, 0, 1]) == optimal_accuracy(
        [-2, -1, 0]
    )  # a 4th bit breaks no tie
    assert (
        optimal_accuracy([-9, 7]) == 0.5
    )  # offsets outside the window are ignored


def test_labels_are_the_window_majority():
    video, labels = majority_clips(3, 12, noise=0.0, seed=4)
    bits = video[:, 0, :, 0, 0]  # noise 0: the frame is its bit
    for n, t in itertools.product(range(3), range(12)):
        if HALF_WINDOW <= t < 12 - HALF_WINDOW:
            assert labels[n, t] == int(bits[n, t - 2 : t + 3].sum() > 0)
        else:
            assert labels[n, t] == -1


@pytest.mark.parametrize("retention, protention", [(3, 0), (2, 2), (0, 4)])
def test_window_net_sees_exactly_its_window(retention, protention):
    torch.manual_seed(0)
    net = window_net(retention, protention).double()
    x = torch.randn(1, 1, 20, 2, 2, dtype=torch.float64, requires_grad=True)
    net(x)[0, 10].backward()
    touched = {t for t in range(20) if x.grad[0, 0, t].abs().sum() > 0}
    assert touched == set(range(10 - retention, 10 + protention + 1))


def test_causal_accuracy_rises_with_the_allowed_delay():
    acc = {
        d: sum(train_window_net(6, 0, d, seed=s) for s in (0, 1)) / 2
        for d in (0, 2)
    }
    assert acc[0] == pytest.approx(
        optimal_accuracy([-2, -1, 0]), abs=0.04
    )  # it learns what it can see
    assert (
        acc[2] > acc[0] + 0.1
    )  # waiting 2 frames shows it the label's whole window
    assert acc[2] > 0.95


def test_latency_table_rows():
    table = latency_experiment(delays=(0, 2), steps=60)
    rows = {r["variant"]: r for r in table.rows}
    assert set(rows) == {
        "causal, late by 0",
        "causal, late by 2",
        "centred",
        "look-ahead",
    }
    assert (
        rows["centred"]["latency (frames)"] == 2
        and rows["look-ahead"]["latency (frames)"] == 4
    )
    assert (
        rows["causal, late by 2"]["optimal"]
        == rows["centred"]["optimal"]
        == 1.0
    )
    assert (
        rows["look-ahead"]["optimal"] == rows["causal, late by 0"]["optimal"]
    )  # each misses one end
