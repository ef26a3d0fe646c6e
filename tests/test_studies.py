"""The study runner: protocol, statistics, CLI, and the stored results."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from functools import partial

import pytest
import torch
from scipy import stats as sps
from torch import nn
from torch.utils.data import TensorDataset

from vidconv.experiments import studies
from vidconv.experiments.__main__ import main
from vidconv.experiments.studies import r2plus1d, runner, stats
from vidconv.experiments.studies.protocol import (
    Budget,
    Splits,
    choose_lr,
    run_once,
)

CPU = torch.device("cpu")


# --- statistics: recomputed with scipy directly -----------------------------


def test_summary_is_the_t_interval_of_the_mean():
    xs = [0.91, 0.95, 0.88, 0.97, 0.93]
    s = stats.summary(xs)
    low, high = sps.t.interval(
        0.95, len(xs) - 1, loc=sum(xs) / len(xs), scale=sps.sem(xs)
    )
    assert s["n"] == 5 and math.isclose(s["sd"], sps.tstd(xs))
    assert math.isclose(s["low"], low) and math.isclose(s["high"], high)


def test_paired_difference_is_scipys_paired_t_test():
    a, b = [0.9, 0.8, 0.95, 0.85, 0.9], [0.7, 0.75, 0.9, 0.6, 0.8]
    d = stats.paired_difference(a, b)
    test = sps.ttest_rel(a, b)
    ci = test.confidence_interval(0.95)
    assert math.isclose(d["low"], ci.low) and math.isclose(d["high"], ci.high)
    assert math.isclose(d["p"], test.pvalue)
    assert "higher than" in stats.verdict(d, "a", "b", "top-1")


def test_an_interval_with_zero_is_no_detectable_difference():
    d = stats.paired_difference([0.9, 0.8, 0.7], [0.8, 0.9, 0.7])
    assert d["low"] < 0 < d["high"]
    assert stats.verdict(d, "a", "b", "top-1") == (
        "top-1: no difference detectable with 3 seeds"
    )


def test_constant_differences_give_a_point_interval():
    d = stats.paired_difference([1.0, 1.0], [0.5, 0.5])
    assert d["low"] == d["high"] == 0.5 and d["p"] == 0.0


@pytest.mark.parametrize(
    "bad, error", [([0.5], ValueError), ("0.5", TypeError), (0.5, TypeError)]
)
def test_statistics_refuse_what_has_no_spread(bad, error):
    with pytest.raises(error, match="values"):
        stats.summary(bad)


def test_paired_difference_needs_one_value_per_shared_seed():
    with pytest.raises(ValueError, match="one value per shared seed"):
        stats.paired_difference([1, 2, 3], [1, 2])


# --- the protocol ------------------------------------------------------------


def tiny_splits(n: int = 48) -> Splits:
    """Two linearly separable classes of 1x2x2x2 'clips'."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3 * n, 1, 2, 2, 2, generator=g)  # (N, C, T, H, W)
    y = (x[:, 0, 0, 0, 0] > 0).long()
    parts = [
        TensorDataset(x[i * n : (i + 1) * n], y[i * n : (i + 1) * n])
        for i in range(3)
    ]
    return Splits(*parts)


def tiny_net() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)
    )


def test_a_run_is_a_function_of_its_seed():
    budget = Budget(max_epochs=4, patience=2, batch_size=16)
    one = run_once(
        tiny_net, tiny_splits(), lr=1e-2, seed=3, budget=budget, device=CPU
    )
    two = run_once(
        tiny_net, tiny_splits(), lr=1e-2, seed=3, budget=budget, device=CPU
    )
    other = run_once(
        tiny_net, tiny_splits(), lr=1e-2, seed=4, budget=budget, device=CPU
    )
    assert one == two and one["history"] != other["history"]


def test_early_stopping_keeps_the_best_validation_epoch():
    budget = Budget(max_epochs=40, patience=3, batch_size=16)
    run = run_once(
        tiny_net, tiny_splits(), lr=0.3, seed=0, budget=budget, device=CPU
    )
    losses = [r["val_loss"] for r in run["history"]]
    best = losses.index(min(losses)) + 1
    assert run["best_epoch"] == best
    if len(losses) < budget.max_epochs:  # stopped: patience epochs waited
        assert len(losses) == best + budget.patience


def test_the_rate_is_chosen_on_validation():
    budget = Budget(max_epochs=3, patience=3, batch_size=16)
    chosen, tried = choose_lr(
        tiny_net,
        tiny_splits(),
        grid=(1e-5, 3e-2),
        seed=7,
        budget=budget,
        device=CPU,
    )
    best = max(tried, key=lambda r: (r["val_top1"], -r["val_loss"]))
    assert chosen == best["lr"] == 3e-2 and len(tried) == 2


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"max_epochs": 0, "patience": 1}, ValueError, "max_epochs"),
        (
            {"max_epochs": 3, "patience": 1, "min_epochs": 5},
            ValueError,
            "min_epochs",
        ),
        ({"max_epochs": 3, "patience": True}, TypeError, "patience"),
    ],
)
def test_budgets_are_checked(options, error, match):
    with pytest.raises(error, match=match):
        Budget(**options)


def test_the_rate_seed_is_not_a_comparison_seed():
    with pytest.raises(ValueError, match="lr_seed"):
        runner.Setting(
            seeds=(0, 100),
            lr_grid=(1e-3,),
            budget=Budget(max_epochs=2, patience=1),
            lr_seed=100,
        )


def test_every_full_setting_can_carry_a_conclusion():
    for name in studies.names():
        full = studies.get(name).settings["full"]
        assert len(full.seeds) >= 5 and len(full.lr_grid) >= 2, name
        assert full.budget.patience >= 2, name


# --- the studies of chapter 5 -----------------------------------------------


def test_the_arms_have_equal_parameters():
    for name in studies.names():
        counts = [
            a["parameters"] for a in studies.get(name).describe().values()
        ]
        assert max(counts) - min(counts) <= 0.01 * max(counts), name


def test_per_conv_midplanes_give_each_conv_the_full_convs_weights():
    net = r2plus1d.per_conv_miniature()
    conv = net.layer2[0].conv2[0]  # (2+1)D: 8 -> 8 inside a widening block
    full = 27 * 8 * 8
    weights = sum(
        m.weight.numel() for m in conv.modules() if isinstance(m, nn.Conv3d)
    )
    assert full - (9 * 8 + 3 * 8) < weights <= full


def test_validation_is_held_out_from_training():
    s = r2plus1d.splits(train=16, val=8, test=8)
    train, val = s.train.tensors[0], s.val.tensors[0]
    assert len(train) == 16 and len(val) == 8
    assert not any(torch.equal(v, t) for v in val for t in train)


# --- the runner and its command line -----------------------------------------


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="r2plus1d-equal-parameters"):
        studies.get("r3d")
    run = subprocess.run(
        [sys.executable, "-m", "vidconv.experiments", "run", "r3d"],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    assert "r2plus1d-equal-parameters" in run.stderr


def test_an_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="quick"):
        runner.run_study(studies.get(studies.names()[0]), "medium")


def test_list_prints_every_study(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in studies.names())


def test_run_writes_results_with_provenance(tmp_path, capsys):
    out = tmp_path / "result.json"
    assert main(["run", "r2plus1d-equal-parameters", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {r["arm"] for r in result["runs"]} == {"R3D", "R(2+1)D"}
    assert all(r["history"] for r in result["runs"])
    assert {
        "command",
        "vidconv",
        "git_commit",
        "torch",
        "cpu",
        "threads",
        "date",
        "wall_seconds",
    } <= set(result["provenance"])
    assert "run r2plus1d-equal-parameters" in result["provenance"]["command"]


# --- stored results: each one re-run and compared ----------------------------

VECTOR_KERNELS = pytest.mark.skipif(
    torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"),
    reason="stored histories are exact under AVX2/AVX-512 kernels only "
    "(see vidconv.experiments.studies.runner.reproduce)",
)


@pytest.mark.slow
@VECTOR_KERNELS
@pytest.mark.parametrize("name", studies.stored())
def test_a_stored_result_reproduces(name):
    kept = studies.load(name)
    assert kept["setting"] == "full" and len(kept["config"]["seeds"]) >= 5
    assert studies.reproduce(studies.get(name), kept) == []


@VECTOR_KERNELS
def test_an_edited_stored_number_is_caught():
    name = studies.stored()[0]
    kept = copy.deepcopy(studies.load(name))
    first = kept["runs"][0]
    first["history"][1]["train_loss"] *= 1.01
    problems = studies.reproduce(studies.get(name), kept)
    assert len(problems) == 1 and "epoch 2: train_loss" in problems[0]


def test_every_stored_result_is_a_known_study():
    assert set(studies.stored()) <= set(studies.names())
    assert studies.stored(), "no stored result: nothing carries chapter 5"


def test_load_refuses_a_study_without_a_result(monkeypatch):
    monkeypatch.setattr(studies, "stored", partial(list, ()))
    with pytest.raises(ValueError, match="no stored result"):
        studies.load(studies.names()[0])


def test_compare_puts_each_arm_against_the_baseline():
    per_arm = {"A": [0.5, 0.6, 0.7], "B": [0.8, 0.9, 1.0]}
    (row,) = stats.compare(per_arm, "top-1").rows
    d = stats.paired_difference(per_arm["B"], per_arm["A"])
    assert row["difference"] == f"{d['mean']:+.3f}"
    assert row["verdict"].startswith("B higher than A")
    with pytest.raises(ValueError, match="baseline"):
        stats.compare(per_arm, "top-1", baseline="C")


def test_provenance_says_when_the_code_differs_from_its_commit(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("x = 1\n")
    git = [
        "git",
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "-C",
        str(tmp_path),
    ]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    clean = runner._git_commit(package)
    assert len(clean) == 40 and not clean.endswith("-dirty")
    (package / "a.py").write_text("x = 2\n")
    assert runner._git_commit(package) == clean + "-dirty"
