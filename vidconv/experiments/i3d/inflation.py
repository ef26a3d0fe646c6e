"""Inflation checked on a whole network: a "boring" clip (one image repeated) must give an inflated 3D
network the 2D network's activations at every frame (Carreira & Zisserman, 2017, section 2.4).

:func:`boring_clip` builds the clip; :func:`zero_time_padding` turns an inflated network into the
naive port that pads time with zeros (as ``nn.Conv3d`` does); :func:`boring_clip_deviation` measures,
layer by layer and frame by frame, how far a 3D network's activations on the boring clip are from
the 2D network's on the image.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from vidconv.layers.inflate import InflatedConv3d
from vidconv.utils.checks import check_positive_int, check_tensor


def boring_clip(images: torch.Tensor, frames: int) -> torch.Tensor:
    """``images`` (B, C, H, W) repeated ``frames`` times along a new time axis: (B, C, frames, H, W)."""
    check_tensor(images, "images", ndim=4, layout="(B, C, H, W)")
    check_positive_int(frames, "frames")
    return (
        images.unsqueeze(2).expand(-1, -1, frames, -1, -1).contiguous()
    )  # (B, C, T, H, W)


def zero_time_padding(model: nn.Module) -> nn.Module:
    """A copy of an inflated network in which every :class:`InflatedConv3d` pads time with zeros.

    Same weights, same spatial padding; only the first and last frames' temporal neighbours change
    (zeros instead of copies of the edge frame). This is what a plain ``nn.Conv3d`` port does.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    clone = copy.deepcopy(model)
    found = False
    for name, module in list(clone.named_modules()):
        if isinstance(module, InflatedConv3d):
            plain = nn.Conv3d(
                module.in_channels,
                module.out_channels,
                module.kernel_size,
                stride=module.stride,
                padding=module.padding,
                dilation=module.dilation,
                groups=module.groups,
                bias=module.bias is not None,
                device=module.weight.device,
                dtype=module.weight.dtype,
            )
            plain.load_state_dict(module.state_dict())
            parent, _, attr = name.rpartition(".")
            setattr(
                clone.get_submodule(parent) if parent else clone, attr, plain
            )
            found = True
    if not found:
        raise ValueError(
            f"model ({type(model).__name__}) has no InflatedConv3d layer: inflate it first "
            "(vidconv.layers.inflate_network)"
        )
    return clone


def _outputs(
    model: nn.Module, x: torch.Tensor, layers: Sequence[str]
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The outputs of the named submodules and the model's own output, in eval mode without gradients."""
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        model.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(name, out.detach())
        )
        for name in layers
    ]
    was_training = model.training
    model.eval()  # batch norm with running statistics: the same normalisation for every frame
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return seen, out.detach()


def boring_clip_deviation(
    model2d: nn.Module,
    model3d: nn.Module,
    images: torch.Tensor,
    frames: int,
    *,
    layers: Sequence[str],
) -> dict[str, torch.Tensor]:
    """How far ``model3d``'s activations on a boring clip are from ``model2d``'s on the images, per frame.

    For each name in ``layers`` (a submodule present in both networks, e.g. ``"layer1"`` of an
    inflated ResNet) returns a ``(T,)`` tensor: the largest absolute difference at frame ``t`` between
    the 3D activation ``(B, C, T, H, W)`` and the 2D one ``(B, C, H, W)``, divided by the largest
    absolute 2D activation (0 means identical). The key ``"output"`` holds the difference of the two
    networks' outputs (one value, relative in the same way). Both networks run in eval mode.
    """
    for name, model in (("model2d", model2d), ("model3d", model3d)):
        if not isinstance(model, nn.Module):
            raise TypeError(
                f"{name} must be an nn.Module, got {type(model).__name__}"
            )
    if (
        isinstance(layers, str)
        or not isinstance(layers, Sequence)
        or not layers
    ):
        raise TypeError(
            f"layers must be a non-empty sequence of submodule names such as ['layer1'], got {layers!r}"
        )
    names2d, names3d = (
        dict(model2d.named_modules()),
        dict(model3d.named_modules()),
    )
    missing = [n for n in layers if n not in names2d or n not in names3d]
    if missing:
        raise ValueError(
            f"layers {missing} are not submodules of both networks; model3d has e.g. "
            f"{[n for n in names3d if n and '.' not in n][:8]}"
        )
    clip = boring_clip(images, frames)  # (B, C, T, H, W)
    acts2d, out2d = _outputs(model2d, images, layers)
    acts3d, out3d = _outputs(model3d, clip, layers)
    result = {}
    for name in layers:
        a2, a3 = acts2d[name], acts3d[name]  # (B, C, H, W), (B, C, T, H, W)
        if a3.dim() != 5 or a3.shape[:2] + a3.shape[3:] != a2.shape:
            raise ValueError(
                f"layer {name!r}: 3D output {tuple(a3.shape)} does not match 2D output "
                f"{tuple(a2.shape)} with a time axis inserted"
            )
        diff = (a3 - a2.unsqueeze(2)).abs().amax(dim=(0, 1, 3, 4))  # (T,)
        result[name] = diff / a2.abs().amax().clamp_min(1e-12)
    result["output"] = (
        (out3d - out2d).abs().amax() / out2d.abs().amax().clamp_min(1e-12)
    ).reshape(1)
    return result
