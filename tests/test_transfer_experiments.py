"""The transfer experiment of chapter 7: strategies, frozen layers, and the label-efficiency result."""

import statistics

import pytest
import torch

from vidconv.experiments import transfer as T


@pytest.fixture(scope="module")
def smallest_budget():
    """The chapter's settings at its smallest label budget, on its three seeds."""
    return T.transfer_experiment(budgets=(8,), seeds=(0, 1, 2))


def test_pretrained_strategies_beat_scratch_at_the_smallest_budget(
    smallest_budget,
):
    result = smallest_budget
    assert (
        result.source_accuracy > 0.9
    )  # the pretrained network did learn the source task
    scratch = statistics.mean(result.curves["scratch"][8])
    for strategy in T.STRATEGIES:
        if strategy != "scratch":
            assert (
                statistics.mean(result.curves[strategy][8]) > scratch + 0.1
            ), strategy
    assert len(result.table.rows) == len(T.STRATEGIES) * 3
    assert all(0.0 <= r["test top-1"] <= 1.0 for r in result.table.rows)


def test_frozen_layers_do_not_change_and_the_pretrained_network_is_untouched():
    x, y = T.task_tensors(16, task="speed", seed=5, noise=0.1)
    torch.manual_seed(0)
    pretrained = T.miniature_r3d(2).eval()
    before = {k: v.clone() for k, v in pretrained.state_dict().items()}
    probe = T.adapt(pretrained, "linear probe", x, y, num_classes=4, steps=3)
    last = T.adapt(pretrained, "last stage", x, y, num_classes=4, steps=3)
    full = T.adapt(pretrained, "full, one lr", x, y, num_classes=4, steps=3)
    for k, v in pretrained.state_dict().items():
        assert torch.equal(v, before[k]), k
    for name, v in probe.state_dict().items():
        if not name.startswith("fc."):
            assert torch.equal(v, before[name]), (
                name
            )  # batch-norm statistics included
    changed = {
        n.split(".")[0]
        for n, v in last.state_dict().items()
        if not n.startswith("fc.") and not torch.equal(v, before[n])
    }
    assert changed == {"layer4"}
    assert not torch.equal(full.stem[0].weight, before["stem.0.weight"])
    assert probe.fc.out_features == 4 and not probe.training


def test_frozen_features_feed_the_trained_part_exactly():
    torch.manual_seed(0)
    model = T.miniature_r3d(3).eval()
    x = torch.rand(4, 3, 8, 16, 16)
    with torch.no_grad():
        expected = model(x)
        for strategy in T.STRATEGIES:
            feats = T.frozen_features(model, x, strategy)
            torch.testing.assert_close(
                T._trained_part(model, strategy)(feats), expected
            )


def test_lower_backbone_lr_moves_the_backbone_less():
    x, y = T.task_tensors(16, task="speed", seed=5, noise=0.1)
    torch.manual_seed(0)
    pretrained = T.miniature_r3d(2).eval()
    w0 = pretrained.stem[0].weight.detach().clone()
    moved = {}
    for strategy in ("full, one lr", "full, lower backbone lr"):
        model = T.adapt(
            pretrained,
            strategy,
            x,
            y,
            num_classes=4,
            steps=3,
            backbone_lr_factor=0.01,
        )
        moved[strategy] = (model.stem[0].weight - w0).abs().max().item()
    assert 0 < moved["full, lower backbone lr"] < 0.1 * moved["full, one lr"]


def test_task_labels():
    _, direction = T.task_tensors(8, task="direction", seed=0, noise=0.0)
    _, speed = T.task_tensors(8, task="speed", seed=0, noise=0.0)
    assert (
        direction.tolist() == [0, 1] * 4 and speed.tolist() == [0, 1, 2, 3] * 2
    )


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: T.transfer_experiment(budgets=()),
            ValueError,
            "budgets must be a non-empty sequence",
        ),
        (
            lambda: T.transfer_experiment(budgets=(0,)),
            ValueError,
            "budgets entry",
        ),
        (lambda: T.transfer_experiment(seeds=5), TypeError, "seeds must be"),
        (
            lambda: T.transfer_experiment(strategies=["magic"]),
            ValueError,
            "strategies must be a non-empty subset",
        ),
        (
            lambda: T.transfer_experiment(lr=0),
            ValueError,
            "lr must be positive",
        ),
        (lambda: T.transfer_experiment(steps=0), ValueError, "steps"),
        (
            lambda: T.task_tensors(4, task="colour", seed=0, noise=0.1),
            ValueError,
            "task must be 'direction' or 'speed'",
        ),
        (
            lambda: T.adapt(
                torch.nn.Linear(2, 2),
                "scratch",
                torch.zeros(2, 3, 8, 16, 16),
                torch.zeros(2),
                num_classes=4,
            ),
            TypeError,
            "pretrained must be a VideoResNet",
        ),
        (
            lambda: T.adapt(
                T.miniature_r3d(2),
                "finetune",
                torch.zeros(2, 3, 8, 16, 16),
                torch.zeros(2),
                num_classes=4,
            ),
            ValueError,
            "strategy must be one of",
        ),
        (
            lambda: T.adapt(
                T.miniature_r3d(2),
                "scratch",
                torch.zeros(3, 8, 16, 16),
                torch.zeros(2),
                num_classes=4,
            ),
            ValueError,
            "x",
        ),
        (
            lambda: T.adapt(
                T.miniature_r3d(2),
                "scratch",
                torch.zeros(2, 3, 8, 16, 16),
                torch.zeros(3),
                num_classes=4,
            ),
            ValueError,
            "y must be a tensor of 2 labels",
        ),
        (
            lambda: T.frozen_features(
                torch.nn.Linear(2, 2),
                torch.zeros(1, 3, 8, 16, 16),
                "last stage",
            ),
            TypeError,
            "model must be a VideoResNet",
        ),
        (
            lambda: T.frozen_features(
                T.miniature_r3d(2), torch.zeros(1, 3, 8, 16, 16), "probe"
            ),
            ValueError,
            "strategy must be one of",
        ),
        (
            lambda: T.accuracy(
                T.miniature_r3d(2), torch.zeros(2, 3, 8, 16, 16), torch.zeros(3)
            ),
            ValueError,
            "y must be a tensor of 2 labels",
        ),
        (lambda: T.transfer_experiment(size=4), ValueError, "size"),
        (lambda: T.miniature_r3d(0), ValueError, "num_classes"),
    ],
)
def test_bad_inputs_get_clear_errors(call, error, message):
    """Every public function of the module refuses bad input with a message naming what was expected."""
    with pytest.raises(error, match=message):
        call()
