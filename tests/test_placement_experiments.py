"""The placement experiments of chapter 6, at a size that trains in seconds."""

from __future__ import annotations

import pytest
import torch

from vidconv.experiments.placement.mixed import (
    PLACEMENT_RUN,
    placement_experiment,
)
from vidconv.experiments.placement.s3d import (
    FramewiseMaxPool3d,
    MiniS3D,
    heaviness_experiment,
    inception_block,
)
from vidconv.experiments.small_run import SmallRun


@pytest.fixture(scope="module")
def placement():
    threads = torch.get_num_threads()
    result = placement_experiment(
        ["f-R2D", "R2D", "MC2", "rMC4", "R3D"],
        PLACEMENT_RUN,  # 128 training and 64 test clips, 3 epochs
    )
    result.threads_before = threads
    return result


def test_f_r2d_is_exactly_at_chance(placement):
    acc = {r["member"]: r["test top-1"] for r in placement.table.rows}
    assert acc["f-R2D"] == placement.chance == 0.5


def test_r2d_and_members_with_a_temporal_group_beat_chance(placement):
    acc = {r["member"]: r["test top-1"] for r in placement.table.rows}
    for member in ("R2D", "MC2", "rMC4", "R3D"):
        assert acc[member] >= 0.8, (member, acc)
    assert (
        torch.get_num_threads() == placement.threads_before
    )  # the experiment's one thread was undone


def test_table_reports_groups_parameters_and_cost(placement):
    rows = {r["member"]: r for r in placement.table.rows}
    assert rows["MC2"]["groups (3 = temporal)"] == "32222"
    assert rows["R3D"]["parameters"] > rows["f-R2D"]["parameters"]
    assert (
        rows["R2D"]["MMACs per clip"] < rows["f-R2D"]["MMACs per clip"]
    )  # one time step after conv1


def test_2d_inception_block_ignores_frame_order_and_s3d_block_does_not():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 6, 5, 5)
    order = torch.tensor([5, 3, 1, 0, 2, 4])
    for temporal in (False, True):
        block = inception_block(8, (2, 2, 4, 2, 2, 2), temporal=temporal).eval()
        with torch.no_grad():
            permuted_out = block(x[:, :, order])
            commutes = torch.allclose(
                permuted_out, block(x)[:, :, order], atol=1e-6
            )
        assert commutes == (not temporal)


def test_heaviness_all_2d_is_at_chance():
    result = heaviness_experiment(
        {"2D everywhere": (False,) * 4},
        PLACEMENT_RUN.replace(train_clips=32, epochs=1),
    )
    assert result.table.rows[0]["test top-1"] == result.chance


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: placement_experiment(["MC9"]),
            ValueError,
            "member must be one of",
        ),
        (lambda: placement_experiment([]), ValueError, "at least one member"),
        (
            lambda: placement_experiment(None, PLACEMENT_RUN.replace(epochs=0)),
            ValueError,
            "epochs must be >= 1",
        ),
        (
            lambda: placement_experiment(None, SmallRun(lr=-1.0)),
            ValueError,
            "lr must be in",
        ),
        (
            lambda: heaviness_experiment(None, run=3),
            TypeError,
            "run must be a SmallRun, got int",
        ),
        (lambda: heaviness_experiment({}), ValueError, "at least one setting"),
        (lambda: MiniS3D(2, (True, False)), ValueError, "4 booleans"),
        (
            lambda: inception_block(8, (1, 2, 3), temporal=True),
            ValueError,
            "6 branch widths",
        ),
        (
            lambda: MiniS3D(2, (True,) * 4)(torch.zeros(1, 3, 8, 8)),
            ValueError,
            r"\(B, C, T, H, W\)",
        ),
    ],
)
def test_bad_input_is_refused_with_a_message(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "temporal, reference",
    [
        (True, torch.nn.MaxPool3d(3, 1, 1)),
        (False, torch.nn.MaxPool3d((1, 3, 3), 1, (0, 1, 1))),
    ],
)
def test_framewise_max_pool_equals_max_pool3d(temporal, reference):
    x = torch.randn(2, 5, 6, 7, 8, dtype=torch.float64)
    assert torch.equal(FramewiseMaxPool3d(temporal)(x), reference(x))
