"""The shared quick-comparison run: it is the shared epoch loop on one
seeded loader, scoring between epochs leaves training alone, and its
budget is checked where it is made."""

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from vidconv.data.synthetic import RotatingBlobs
from vidconv.experiments.small_run import (
    BlobTask,
    SmallRun,
    precise_batch_norm,
    train_and_test,
)
from vidconv.training.loop import train_one_epoch
from vidconv.training.steps import seeded_loader

CPU = torch.device("cpu")
RUN = SmallRun(train_clips=24, test_clips=12, epochs=2, batch_size=8, lr=1e-2)


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    # float64: float32 convolutions on the CPU may round differently from
    # run to run, and Adam's first steps (about lr * sign(gradient)) turn
    # last-bit differences into differences of lr.
    x = torch.randn(n, 3, 4, 6, 6, generator=g, dtype=torch.float64)
    return TensorDataset(x, (x.mean((1, 2, 3, 4)) > 0).long())


def _net():
    return nn.Sequential(
        nn.Conv3d(3, 4, 3, padding=1, bias=False),  # BN follows
        nn.BatchNorm3d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),
        nn.Linear(4, 2),
    ).double()


def _same_weights(a, b):
    return all(
        torch.equal(p, q)
        for p, q in zip(a.state_dict().values(), b.state_dict().values())
    )


def test_every_epoch_is_train_one_epoch_on_one_seeded_loader():
    train, test = _data(24, 0), _data(12, 1)
    arm = train_and_test(_net, train, test, RUN, seed=3, device=CPU)
    torch.manual_seed(3)
    ref = _net()
    opt = torch.optim.Adam(ref.parameters(), lr=RUN.lr)
    loader = seeded_loader(train, RUN.batch_size, 3)
    for _ in range(RUN.epochs):
        train_one_epoch(ref, loader, opt, device=CPU, progress=False)
    assert _same_weights(arm.model, ref)
    ref.eval()
    with torch.no_grad():
        x, y = test.tensors
        top1 = (ref(x).argmax(1) == y).float().mean().item()
    assert arm.top1 == pytest.approx(top1)
    assert len(arm.epochs) == RUN.epochs and arm.curve == []
    assert not arm.model.training


def test_scoring_every_epoch_does_not_change_the_weights():
    train, test = _data(24, 0), _data(12, 1)
    plain = train_and_test(_net, train, test, RUN, seed=0, device=CPU)
    scored = train_and_test(
        _net,
        train,
        test,
        RUN,
        seed=0,
        device=CPU,
        curve=True,
        untrained=True,
    )
    assert _same_weights(plain.model, scored.model)
    assert len(scored.curve) == RUN.epochs
    assert scored.curve[-1] == scored.top1 == plain.top1
    assert 0.0 <= scored.untrained_top1 <= 1.0


def test_precise_batch_norm_is_the_training_set_average():
    train = _data(24, 0)
    model = _net()
    precise_batch_norm(model, train.tensors[0], batch_size=8)
    norm = model[1]
    with torch.no_grad():
        h = model[0](train.tensors[0])  # (N, 4, T, H, W)
    torch.testing.assert_close(norm.running_mean, h.mean((0, 2, 3, 4)))
    assert norm.momentum == 0.1


@pytest.mark.parametrize(
    "change, error, message",
    [
        ({"epochs": 0}, ValueError, "epochs must be >= 1"),
        ({"lr": -1.0}, ValueError, "lr must be in"),
        ({"train_clips": 2.5}, TypeError, "train_clips must be an int"),
    ],
)
def test_a_bad_budget_is_refused_where_it_is_made(change, error, message):
    with pytest.raises(error, match=message):
        RUN.replace(**change)


def test_run_must_be_a_small_run():
    with pytest.raises(TypeError, match="run must be a SmallRun, got dict"):
        train_and_test(
            _net, _data(8, 0), _data(8, 1), {"epochs": 1}, seed=0, device=CPU
        )


def test_a_task_splits_into_seeded_train_and_reversed_test_clips():
    task = BlobTask(frames=7, num_classes=4)
    run = SmallRun(train_clips=8, test_clips=4)
    train, test = task.splits(run, 5, reversed_test=True)
    blobs = RotatingBlobs(4, seed=6, **task.options())
    x, y = test.tensors  # (8, 3, 7, 16, 16): 4 clips, then the same reversed
    assert train.tensors[0].shape == (8, 3, 7, 16, 16) and x.shape[0] == 8
    assert torch.equal(x[:4], torch.stack([blobs[i][0] for i in range(4)]))
    assert torch.equal(x[4:], x[:4].flip(2))
    speeds = blobs.speeds
    assert [speeds[c] for c in y[4:]] == [-speeds[c] for c in y[:4]]
    again, _ = task.splits(run, 5)
    assert torch.equal(again.tensors[0], train.tensors[0])
