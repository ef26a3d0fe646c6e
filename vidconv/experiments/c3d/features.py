"""C3D as a feature extractor: freeze the network, describe each clip by its penultimate activation
(fc6/fc7 in the paper), and fit a linear classifier on top (Tran et al. used a linear SVM).

:func:`embed` computes the features; :func:`linear_probe` fits a multinomial logistic regression on
standardised features with L-BFGS, from zero weights (so the same data always gives the same fit).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vidconv.utils.checks import check_positive_int, check_tensor


@torch.no_grad()
def embed(
    model: nn.Module, clips: torch.Tensor, *, batch_size: int = 256
) -> torch.Tensor:
    """``model.embed`` of every clip, in eval mode and without gradients: ``(N, features)`` on the CPU."""
    if not callable(getattr(model, "embed", None)):
        raise TypeError(
            f"model must have an embed(clips) method (e.g. MiniC3D), got {type(model).__name__}"
        )
    check_tensor(clips, "clips", ndim=5, layout="(N, C, T, H, W)")
    check_positive_int(batch_size, "batch_size")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()  # batch norm and dropout as at test time; the caller's mode is restored below
    try:
        return torch.cat(
            [
                model.embed(chunk.to(device)).float().cpu()
                for chunk in clips.split(batch_size)
            ]
        )
    finally:
        model.train(was_training)


def _check_xy(
    x: object, y: object, name: str
) -> tuple[torch.Tensor, torch.Tensor]:
    check_tensor(x, f"{name} features", ndim=2, layout="(N, features)")
    assert isinstance(x, torch.Tensor)
    if (
        not isinstance(y, torch.Tensor)
        or y.dtype != torch.long
        or y.shape != x.shape[:1]
    ):
        raise ValueError(
            f"{name} labels must be a long tensor of shape ({x.shape[0]},), got "
            f"{getattr(y, 'dtype', type(y).__name__)} {tuple(getattr(y, 'shape', ()))}"
        )
    return x, y


def linear_probe(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    *,
    weight_decay: float = 1e-3,
    steps: int = 100,
) -> dict[str, float]:
    """Fit a linear softmax classifier on ``train_x`` and report train and test top-1 accuracy."""
    train_x, train_y = _check_xy(train_x, train_y, "train")
    test_x, test_y = _check_xy(test_x, test_y, "test")
    if test_x.shape[1] != train_x.shape[1]:
        raise ValueError(
            f"train and test features must have the same width, got {train_x.shape[1]} and "
            f"{test_x.shape[1]}"
        )
    if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
        raise ValueError(
            f"weight_decay must be a number >= 0, got {weight_decay!r}"
        )
    check_positive_int(steps, "steps")
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    mean, std = (
        train_x.mean(0),
        train_x.std(0).clamp_min(1e-6),
    )  # statistics of the training set only
    a, b = ((train_x - mean) / std).double(), ((test_x - mean) / std).double()
    weight = torch.zeros(
        a.shape[1], num_classes, dtype=torch.float64, requires_grad=True
    )
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias], max_iter=steps, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = (
            F.cross_entropy(a @ weight + bias, train_y)
            + weight_decay * weight.pow(2).sum()
        )
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return {
            "train top-1": ((a @ weight + bias).argmax(1) == train_y)
            .double()
            .mean()
            .item(),
            "test top-1": ((b @ weight + bias).argmax(1) == test_y)
            .double()
            .mean()
            .item(),
            "chance": 1 / num_classes,
        }
