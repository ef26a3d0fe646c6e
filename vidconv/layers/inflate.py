"""Inflation: turning a trained 2D network into a 3D one (Carreira & Zisserman, 2017, section 2.4).

Each ``k x k`` kernel becomes ``t x k x k`` by repeating it ``t`` times along time and dividing by ``t``.
Then a "boring" clip — one frame repeated — produces, at every frame, exactly the 2D network's
activations on that frame: each inflated kernel sums ``t`` identical frames with weights that add up
to the 2D kernel. Batch norm and pooling carry over unchanged along time.

One detail makes that hold at the first and last frames too: zero padding in time would feed the
kernel zeros there instead of the repeated frame. Inflated convolutions therefore pad time by
repeating the edge frame (:class:`InflatedConv3d`); space keeps the 2D layer's zero padding.
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from vidconv.utils.checks import (
    check_clip_channels,
    check_conv_fits,
    check_positive_int,
)


class InflatedConv3d(nn.Conv3d):
    """A ``Conv3d`` that pads time by repeating the edge frames and space with
    zeros.

    ``padding[0]`` frames are added at both temporal ends by replication; its
    state dict is a plain ``Conv3d``'s (``weight``, ``bias``). It reads clips
    ``(B, C, T, H, W)``, so an inflated network refuses a batch of images.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_clip_channels(x, self.in_channels, type(self).__name__, self)
        check_conv_fits(x, self, type(self).__name__)
        pad_t = self.padding[0]
        if pad_t:
            x = F.pad(
                x, (0, 0, 0, 0, pad_t, pad_t), mode="replicate"
            )  # (B, C, T + 2 pad_t, H, W)
        return F.conv3d(
            x,
            self.weight,
            self.bias,
            self.stride,
            (0, *self.padding[1:]),
            self.dilation,
            self.groups,
        )


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (v[0], v[1])


def inflate_conv(
    conv: nn.Conv2d,
    temporal_kernel_size: int = 3,
    *,
    temporal_stride: int = 1,
    init: Literal["mean", "center"] = "mean",
) -> InflatedConv3d:
    """A 3D copy of ``conv`` with ``temporal_kernel_size`` frames of temporal extent.

    Args:
        conv: a 2D convolution (its weights are copied, not shared).
        temporal_kernel_size: ``k_t``; ``(k_t - 1) // 2`` frames of replicate padding keep the number
            of frames (for odd sizes).
        temporal_stride: temporal stride.
        init: ``"mean"`` repeats the 2D kernel and divides by ``k_t`` (I3D); ``"center"`` puts it on
            the central time offset and zeros elsewhere, so the layer starts as a per-frame 2D conv.
    """
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"conv must be an nn.Conv2d, got {type(conv).__name__}")
    check_positive_int(temporal_kernel_size, "temporal_kernel_size")
    check_positive_int(temporal_stride, "temporal_stride")
    if init not in ("mean", "center"):
        raise ValueError(f"init must be 'mean' or 'center', got {init!r}")
    if not isinstance(conv.padding, tuple):
        raise ValueError(
            f"only numeric padding can be inflated, got padding={conv.padding!r}"
        )
    if conv.padding_mode != "zeros":
        raise ValueError(
            f"only zero-padded convolutions can be inflated, got padding_mode={conv.padding_mode!r}"
        )
    kh, kw = _pair(conv.kernel_size)
    out = InflatedConv3d(
        conv.in_channels,
        conv.out_channels,
        (temporal_kernel_size, kh, kw),
        stride=(temporal_stride, *_pair(conv.stride)),
        padding=((temporal_kernel_size - 1) // 2, *_pair(conv.padding)),
        dilation=(1, *_pair(conv.dilation)),
        groups=conv.groups,
        bias=conv.bias is not None,
        device=conv.weight.device,
        dtype=conv.weight.dtype,
    )
    with torch.no_grad():
        w2d = conv.weight.unsqueeze(2)  # (C_out, C_in/groups, 1, kH, kW)
        if init == "mean":
            out.weight.copy_(
                w2d.expand(-1, -1, temporal_kernel_size, -1, -1)
                / temporal_kernel_size
            )
        else:
            out.weight.zero_()
            out.weight[:, :, temporal_kernel_size // 2].copy_(conv.weight)
        if conv.bias is not None:
            out.bias.copy_(conv.bias)
    return out


def inflate_batchnorm(bn: nn.BatchNorm2d) -> nn.BatchNorm3d:
    """The same normalisation over clips: affine parameters and running statistics copied."""
    if not isinstance(bn, nn.BatchNorm2d):
        raise TypeError(
            f"bn must be an nn.BatchNorm2d, got {type(bn).__name__}"
        )
    out = nn.BatchNorm3d(
        bn.num_features,
        eps=bn.eps,
        momentum=bn.momentum,
        affine=bn.affine,
        track_running_stats=bn.track_running_stats,
        device=bn.weight.device if bn.affine else None,
    )
    out.load_state_dict(bn.state_dict())
    return out


def inflate_pool(
    pool: nn.Module,
    temporal_kernel_size: int = 1,
    *,
    temporal_stride: int | None = None,
) -> nn.Module:
    """3D twin of a 2D max, average or adaptive-average pool.

    Max and average pools get a ``temporal_kernel_size x k x k`` window with temporal stride
    ``temporal_stride`` (default: the kernel size, as PyTorch's pools default their stride to the
    kernel); ``temporal_kernel_size=1`` leaves the number of frames unchanged. An adaptive average pool
    to ``(h, w)`` becomes one to ``(1, h, w)``: it averages over all frames, whatever
    ``temporal_kernel_size`` says (the global pool of a 2D classifier becomes a global pool over time).
    """
    check_positive_int(temporal_kernel_size, "temporal_kernel_size")
    t_stride = (
        temporal_kernel_size
        if temporal_stride is None
        else check_positive_int(temporal_stride, "temporal_stride")
    )
    if isinstance(pool, nn.MaxPool2d):
        return nn.MaxPool3d(
            (temporal_kernel_size, *_pair(pool.kernel_size)),
            stride=(t_stride, *_pair(pool.stride)),
            padding=(0, *_pair(pool.padding)),
            dilation=(1, *_pair(pool.dilation)),
            ceil_mode=pool.ceil_mode,
        )
    if isinstance(pool, nn.AvgPool2d):
        return nn.AvgPool3d(
            (temporal_kernel_size, *_pair(pool.kernel_size)),
            stride=(t_stride, *_pair(pool.stride)),
            padding=(0, *_pair(pool.padding)),
            ceil_mode=pool.ceil_mode,
            count_include_pad=pool.count_include_pad,
        )
    if isinstance(pool, nn.AdaptiveAvgPool2d):
        return nn.AdaptiveAvgPool3d((1, *_pair(pool.output_size)))
    raise TypeError(
        f"pool must be nn.MaxPool2d, nn.AvgPool2d or nn.AdaptiveAvgPool2d, got {type(pool).__name__}"
    )


def inflate_network(
    model: nn.Module,
    temporal_kernel_size: int = 3,
    *,
    init: Literal["mean", "center"] = "mean",
) -> nn.Module:
    """A 3D copy of a 2D CNN (e.g. a torchvision ResNet) whose forward reads clips ``(B, C, T, H, W)``.

    Every ``Conv2d`` with a spatial kernel larger than 1x1 gets ``temporal_kernel_size`` frames, 1x1 convs get 1;
    batch norms and pools are inflated in place of the originals, so the network's own ``forward``
    (which only flattens after global pooling) runs unchanged. Time is never strided: the output of the
    global pool averages over all frames. ``model`` itself is not modified.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    check_positive_int(temporal_kernel_size, "temporal_kernel_size")
    clone = copy.deepcopy(model)
    for name, module in list(clone.named_modules()):
        if isinstance(module, nn.Conv2d):
            t = (
                temporal_kernel_size
                if max(_pair(module.kernel_size)) > 1
                else 1
            )
            new: nn.Module = inflate_conv(module, t, init=init)
        elif isinstance(module, nn.BatchNorm2d):
            new = inflate_batchnorm(module)
        elif isinstance(
            module, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)
        ):
            new = inflate_pool(module)
        elif (
            isinstance(module, (nn.Conv1d, nn.BatchNorm1d))
            or type(module).__name__.endswith("2d")
            and not list(module.children())
        ):
            raise TypeError(
                f"layer {name!r} ({type(module).__name__}) has no 3D counterpart in vidconv's inflation"
            )
        else:
            continue
        new.train(
            module.training
        )  # a fresh module starts in training mode; keep the 2D layer's mode
        parent_name, _, attr = name.rpartition(".")
        setattr(
            clone.get_submodule(parent_name) if parent_name else clone,
            attr,
            new,
        )
    return clone
