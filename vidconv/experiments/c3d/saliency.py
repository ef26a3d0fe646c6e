"""Where in space and time a video network looks: input-gradient saliency and Grad-CAM.

* :func:`input_saliency` — ``|d score / d clip|``, the largest over colour channels: one map per input
  frame (Simonyan et al., 2014). It is defined at the input's resolution, so it can differ frame by frame.
* :func:`grad_cam` — Selvaraju et al. (2017): weight the activation of a layer by the spatio-temporal
  mean of the score's gradient there, sum over channels, keep the positive part. Its resolution is the
  layer's: after C3D's pools a layer may have a single time step left, and a map upsampled from one
  time step is the **same on every frame**. :func:`layer_grid` says what each layer has left.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vidconv.utils.checks import check_shape, check_tensor


@contextlib.contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode (batch norm uses its running statistics) for the duration; the caller's mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _check_inputs(model: object, clips: object, target: object) -> torch.Tensor:
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    check_tensor(clips, "clips", ndim=5, layout="(B, C, T, H, W)")
    assert isinstance(clips, torch.Tensor)
    if target is None:
        return torch.empty(0, dtype=torch.long)
    target = torch.as_tensor(target)
    if target.dtype not in (torch.int64, torch.int32) or target.shape not in (
        (),
        (clips.shape[0],),
    ):
        raise ValueError(
            f"target must be an int or {clips.shape[0]} ints (one class per clip), got {target!r}"
        )
    return target.long().expand(clips.shape[0])


def _scores(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The logit of each clip's target class (its predicted class when no target is given)."""
    if target.numel() == 0:
        target = logits.argmax(dim=1)
    if int(target.max()) >= logits.shape[1] or int(target.min()) < 0:
        raise ValueError(
            f"target classes must be in [0, {logits.shape[1]}), got {target.tolist()}"
        )
    return logits.gather(1, target.to(logits.device).view(-1, 1)).sum()


def input_saliency(
    model: nn.Module,
    clips: torch.Tensor,
    target: int | torch.Tensor | None = None,
) -> torch.Tensor:
    """``|d logit_target / d clip|``, the largest over channels: ``(B, T, H, W)``, one map per input frame."""
    target = _check_inputs(model, clips, target)
    x = clips.detach().clone().requires_grad_(True)
    with _evaluating(model):
        (grad,) = torch.autograd.grad(_scores(model(x), target), x)
    return grad.abs().amax(dim=1)  # (B, C, T, H, W) -> (B, T, H, W)


def _module(model: nn.Module, layer: str) -> nn.Module:
    modules = dict(model.named_modules())
    if not isinstance(layer, str) or layer not in modules or not layer:
        raise ValueError(
            f"layer must name a module of {type(model).__name__}, one of {[n for n in modules if n]}; "
            f"got {layer!r}"
        )
    return modules[layer]


def _activation(
    model: nn.Module, layer: str, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``model`` on ``x``; return its logits and the output of ``layer``."""
    seen: list[torch.Tensor] = []
    handle = _module(model, layer).register_forward_hook(
        lambda _m, _i, out: seen.append(out)
    )
    try:
        logits = model(x)
    finally:
        handle.remove()
    if not seen or seen[-1].dim() != 5:
        raise ValueError(
            f"layer {layer!r} must output a (B, C, T, H, W) activation"
        )
    return logits, seen[-1]


def layer_grid(
    model: nn.Module, clip_shape: Sequence[int], layers: Sequence[str]
) -> dict[str, tuple[int, ...]]:
    """The (T, H, W) grid each named layer outputs for a clip of ``clip_shape`` (B, C, T, H, W)."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    shape = check_shape(clip_shape, "clip_shape", ndim=5)
    x = torch.zeros(shape, device=next(model.parameters()).device)
    with _evaluating(model), torch.no_grad():
        return {
            name: tuple(_activation(model, name, x)[1].shape[2:])
            for name in layers
        }


def grad_cam(
    model: nn.Module,
    clips: torch.Tensor,
    layer: str,
    target: int | torch.Tensor | None = None,
    *,
    upsample: bool = True,
) -> torch.Tensor:
    """Grad-CAM of ``layer`` for each clip's target class.

    Returns ``(B, T, H, W)`` at the input's resolution (trilinear upsampling) when ``upsample``, else the
    layer's own ``(B, T', H', W')``. Maps are divided by their maximum (a map that is zero stays zero).
    """
    target = _check_inputs(model, clips, target)
    with _evaluating(model):
        logits, act = _activation(model, layer, clips.detach())
        (grad,) = torch.autograd.grad(_scores(logits, target), act)
    weights = grad.mean(
        dim=(2, 3, 4), keepdim=True
    )  # (B, C, 1, 1, 1): one weight per channel
    cam = F.relu((weights * act).sum(dim=1)).detach()  # (B, T', H', W')
    if upsample:
        cam = F.interpolate(
            cam.unsqueeze(1),
            size=clips.shape[2:],
            mode="trilinear",
            align_corners=False,
        ).squeeze(1)  # (B, 1, T', H', W') -> (B, T, H, W)
    peak = cam.flatten(1).amax(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return cam / peak


def frame_variation(maps: torch.Tensor) -> torch.Tensor:
    """How much a per-frame map changes over time: max over frames of ``|map_t - map_0|``, per clip ``(B,)``.

    Zero means the same heatmap on every frame.
    """
    check_tensor(maps, "maps", ndim=4, layout="(B, T, H, W)")
    return (maps - maps[:, :1]).abs().flatten(1).amax(dim=1)
