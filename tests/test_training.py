"""The training loop and the headline experiment."""

from __future__ import annotations

import copy
import io

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import vidconv.models as M
from vidconv.data.synthetic import RotatingBlobs
from vidconv.experiments import cnn_3d, temporal_vs_per_frame
from vidconv.models.resnet import BasicBlock
from vidconv.training import (
    enable_checkpointing,
    evaluate,
    fit,
    param_groups,
    topk_correct,
    train_one_epoch,
)

CPU = torch.device("cpu")


def synthetic_loader(
    n: int = 32, batch_size: int = 8, with_ids: bool = False
) -> DataLoader:
    ds = RotatingBlobs(n, seed=1)
    clips = torch.stack([ds[i][0] for i in range(n)])
    labels = torch.tensor([ds[i][1] for i in range(n)])
    tensors = (
        (clips, labels, torch.arange(n) // 2) if with_ids else (clips, labels)
    )
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size)


def test_one_optimisation_step_lowers_the_loss():
    torch.manual_seed(0)
    model = cnn_3d(4)
    clips, labels = next(iter(synthetic_loader(16, 16)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    before = nn.functional.cross_entropy(model(clips), labels)
    train_one_epoch(
        model, [(clips, labels)], optimizer, device=CPU, progress=False
    )
    after = nn.functional.cross_entropy(model(clips), labels)
    assert after < before


def test_checkpointing_keeps_keys_outputs_and_gradients():
    torch.manual_seed(0)
    plain = M.r3d_18(num_classes=5)
    checked = M.r3d_18(num_classes=5)
    checked.load_state_dict(plain.state_dict())
    keys = list(checked.state_dict())
    assert enable_checkpointing(checked, (BasicBlock,)) == 8
    assert list(checked.state_dict()) == keys
    assert (
        checked.layer1[0].conv1 is checked.layer1[0].checkpointed.conv1
    )  # attributes reach the block
    x = torch.randn(2, 3, 4, 32, 32)
    plain.train(), checked.train()
    a, b = plain(x), checked(x)
    torch.testing.assert_close(a, b)
    a.square().sum().backward()
    b.square().sum().backward()
    for (n, p), q in zip(plain.named_parameters(), checked.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6, msg=n)


def test_param_groups_split_head_and_backbone():
    model = M.r2plus1d_18(num_classes=3)
    groups = param_groups(model, "fc", backbone_lr=1e-4, head_lr=1e-2)
    assert [g["lr"] for g in groups] == [1e-4, 1e-2]
    assert len(groups[1]["params"]) == 2 and sum(
        len(g["params"]) for g in groups
    ) == len(list(model.parameters()))
    torch.optim.SGD(groups)  # a valid optimizer spec
    with pytest.raises(ValueError, match="no module named"):
        param_groups(model, "head", backbone_lr=1e-4, head_lr=1e-2)


def test_topk_and_video_level_accuracy():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.05, 0.15], [0.2, 0.3, 0.5]])
    assert topk_correct(logits, torch.tensor([1, 2, 0]), (1, 2, 5)) == {
        1: 1,
        2: 2,
        5: 3,
    }
    torch.manual_seed(0)
    model = cnn_3d(4)
    result = evaluate(model, synthetic_loader(16, 4, with_ids=True), device=CPU)
    assert (
        result["videos"] == 8
        and 0 <= result["video_top1"] <= 1
        and result["top5"] == 1.0
    )  # 4 classes < 5


def test_fit_records_history_with_a_progress_bar(capsys):
    torch.manual_seed(0)
    model = cnn_3d(4)
    history = fit(
        model,
        synthetic_loader(),
        synthetic_loader(),
        epochs=3,
        optimizer=torch.optim.Adam(model.parameters(), lr=3e-3),
        device=CPU,
        progress=True,
    )
    assert [h["epoch"] for h in history] == [1, 2, 3] and {
        "train_loss",
        "val_top1",
    } <= set(history[0])
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert "epoch 3" in capsys.readouterr().err  # the tqdm bar went to stderr


def test_bad_batches_are_named():
    model = cnn_3d(4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"\(B, C, T, H, W\)"):
        train_one_epoch(
            model,
            [(torch.zeros(2, 3, 16, 16), torch.zeros(2, dtype=torch.long))],
            opt,
            device=CPU,
            progress=False,
        )
    with pytest.raises(ValueError, match="yielded no batch"):
        train_one_epoch(model, [], opt, device=CPU, progress=False)
    with pytest.raises(ValueError, match="clips, labels"):
        evaluate(model, [torch.zeros(2, 3, 4, 8, 8)], device=CPU)


def test_headline_experiment_per_frame_at_chance_temporal_models_far_above():
    table = temporal_vs_per_frame(device=CPU)
    accuracy = {row["model"]: row["test top-1"] for row in table.rows}
    chance = table.rows[0]["chance"]
    assert abs(accuracy["per-frame 2D + average"] - chance) < 0.1
    assert accuracy["3D CNN"] > 0.8 and accuracy["(2+1)D CNN"] > 0.8
    params = [row["parameters"] for row in table.rows]
    assert max(params) / min(params) < 1.05  # comparable capacity


def _small_checkpointed_net() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    plain = nn.Sequential(
        nn.Conv3d(2, 4, 3, padding=1),
        nn.Sequential(
            nn.Conv3d(4, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU()
        ),
        nn.Conv3d(4, 1, 1),
    )
    checked = copy.deepcopy(plain)
    assert (
        enable_checkpointing(checked, (nn.Sequential,)) == 1
    )  # the root is never wrapped
    return plain, checked


def test_checkpointed_model_copies_pickles_and_loads_like_the_plain_one():
    plain, checked = _small_checkpointed_net()
    assert list(checked.state_dict()) == list(plain.state_dict())
    checked.load_state_dict(plain.state_dict())  # strict
    x = torch.randn(1, 2, 4, 6, 6)
    copied = copy.deepcopy(checked)
    with torch.no_grad():
        for p in copied.parameters():
            p.zero_()
    copied.train()
    assert copied(x).abs().max() == 0  # the copy runs its own (zeroed) weights
    assert checked(x).abs().max() > 0
    buffer = io.BytesIO()
    torch.save(
        checked, buffer
    )  # a closure over a bound method could not be pickled
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    checked.eval(), loaded.eval()
    torch.testing.assert_close(loaded(x), checked(x))


def test_gradient_steps_equals_the_hand_written_loop():
    from vidconv.training.steps import gradient_steps

    def run(shared: bool) -> torch.Tensor:
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 3)
        opt = torch.optim.Adam(model.parameters(), lr=0.1)
        gen = torch.Generator().manual_seed(1)
        draws = (
            (
                torch.randn(8, 4, generator=gen),
                torch.randint(3, (8,), generator=gen),
            )
            for _ in range(5)
        )
        if shared:
            losses = gradient_steps(
                opt,
                lambda x, y: torch.nn.functional.cross_entropy(model(x), y),
                draws,
            )
            assert len(losses) == 5 and not losses[0].requires_grad
        else:
            for x, y in draws:
                loss = torch.nn.functional.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return model.weight.detach()

    assert torch.equal(run(True), run(False))


def test_gradient_steps_refuses_a_loss_that_is_not_a_scalar():
    from vidconv.training.steps import gradient_steps

    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="scalar"):
        gradient_steps(opt, lambda x: model(x), [(torch.zeros(3, 2),)])
    with pytest.raises(TypeError, match="optimizer"):
        gradient_steps(model, lambda x: x, [])
