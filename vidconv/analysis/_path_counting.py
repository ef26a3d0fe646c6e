"""A copy of a network whose input gradient is non-zero exactly where a path to the output exists.

:func:`vidconv.analysis.receptive_field.empirical_receptive_field` backpropagates through this copy. Max
pooling is the one common layer whose gradient does not follow every path (it reaches only the
arg-max of each window), so it is swapped for :class:`SumPoolTwin`: the same windows, summed.

Why not ``nn.AvgPool3d`` of the same geometry? PyTorch checks, for 3D average pooling only, that the
*unpadded* input is at least as large as the kernel; max pooling has no such check. A 3x3x3 pool
with padding 1 on I3D's or S3D's 2x2 maps (a 32-64 pixel clip) is a valid max pool but an average
pool that raises "input image smaller than kernel size". The twin pads explicitly and sums with a
depthwise convolution, which reproduces the max pool's output grid for every padding, dilation and
``ceil_mode``.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

_MAX_POOLS = {nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3}
_ADAPTIVE_TWINS = {
    nn.AdaptiveMaxPool1d: nn.AdaptiveAvgPool1d,
    nn.AdaptiveMaxPool2d: nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool3d: nn.AdaptiveAvgPool3d,
}
_CONVS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _tuple(value: int | tuple[int, ...], dims: int) -> tuple[int, ...]:
    return (value,) * dims if isinstance(value, int) else tuple(value)


def pool_output_size(
    size: int,
    kernel: int,
    stride: int,
    padding: int,
    dilation: int,
    ceil_mode: bool,
) -> int:
    """Units of a max pool's output along one axis (PyTorch's ``pooling_output_shape``).

    With ``ceil_mode`` the last window may run past the padded input, but it must start inside the
    input or its left padding.
    """
    span = dilation * (kernel - 1) + 1
    out = (
        size + 2 * padding - span + (stride - 1 if ceil_mode else 0)
    ) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


class SumPoolTwin(nn.Module):
    """The windows of a max pool, summed: every input sample of a window gets gradient 1.

    The input is padded with ``padding`` zeros in front and, behind, with exactly what the pool's
    last window needs (more than ``padding`` under ``ceil_mode``; less, cropping, where the stride
    skips the tail), then summed by a depthwise convolution with weights 1.
    """

    def __init__(
        self, pool: nn.MaxPool1d | nn.MaxPool2d | nn.MaxPool3d
    ) -> None:
        super().__init__()
        dims = _MAX_POOLS[type(pool)]
        self.kernel_size = _tuple(pool.kernel_size, dims)
        self.stride = _tuple(pool.stride or pool.kernel_size, dims)
        self.padding = _tuple(pool.padding, dims)
        self.dilation = _tuple(pool.dilation, dims)
        self.ceil_mode = bool(pool.ceil_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = len(self.kernel_size)
        pads: list[
            int
        ] = []  # F.pad lists the last axis first: (front, back) per axis
        for n, k, s, p, d in reversed(
            list(
                zip(
                    x.shape[-dims:],
                    self.kernel_size,
                    self.stride,
                    self.padding,
                    self.dilation,
                )
            )
        ):
            out = pool_output_size(n, k, s, p, d, self.ceil_mode)
            pads += [p, (out - 1) * s + d * (k - 1) + 1 - n - p]
        x = F.pad(
            x, pads
        )  # (B, C, *padded): exactly the samples the pool's windows cover
        ones = x.new_ones(
            (x.shape[1], 1, *self.kernel_size)
        )  # one kernel of 1s per channel
        return _CONVS[dims](
            x,
            ones,
            stride=self.stride,
            dilation=self.dilation,
            groups=x.shape[1],
        )


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, attr = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, attr, new)


def path_counting_copy(model: nn.Module) -> nn.Module:
    """A float64 copy whose gradient is non-zero exactly where a path to the output exists.

    * conv and linear weights become ``1 / fan_in`` (each unit averages its inputs) and biases 0, so
      with a positive input every activation stays positive, ReLUs pass everything and no path is lost
      by cancellation; and every activation stays in (0, 1]: with weights 1 they grew by the fan-in at
      every layer, and a gate (a sigmoid of thousands, as in squeeze-excitation) had a gradient of
      exactly 0 in float64, cutting the paths through it;
    * every other parameter becomes 1: a learned scale that starts at 0 (MoViNet's ``rezero``) must
      not cut its branch;
    * batch norms become the identity (statistics 0 and 1, scale 1, shift 0): in eval mode a batch
      norm is a per-channel affine map that adds no path, but trained statistics could turn every
      activation negative and let a ReLU cut all paths;
    * max pooling (whose gradient reaches only the arg-max) becomes :class:`SumPoolTwin`, adaptive max
      pooling adaptive average pooling of the same output size; a module may offer its own
      ``path_counting_twin()``.

    A model on the ``meta`` device has no values to copy: its copy is materialised on the CPU with
    each module's own ``reset_parameters()`` before the rules above apply.
    """
    clone = copy.deepcopy(model)
    if any(t.is_meta for t in (*clone.parameters(), *clone.buffers())):
        clone = clone.to_empty(device="cpu")
        for m in clone.modules():
            if callable(getattr(m, "reset_parameters", None)):
                m.reset_parameters()
    clone = clone.double().eval()
    with torch.no_grad():
        for p in clone.parameters():
            p.fill_(1.0)
        for name, m in list(clone.named_modules()):
            if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)):
                m.weight.fill_(
                    1.0 / m.weight[0].numel()
                )  # weight[0]: one output's inputs (per group)
                if m.bias is not None:
                    m.bias.zero_()
            replacement = _twin(name, m)
            if replacement is not None and not name:
                return replacement  # the model is itself one such layer
            if replacement is not None:
                _replace(clone, name, replacement)
    return clone


def _twin(name: str, m: nn.Module) -> nn.Module | None:
    """What replaces ``m`` in the path-counting copy, or None to keep it."""
    twin = getattr(
        m, "path_counting_twin", None
    )  # layers with arg-max gradients say how to measure them
    if callable(twin):
        return twin()
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        return nn.Identity()
    if type(m) in _MAX_POOLS or type(m) in _ADAPTIVE_TWINS:
        if m.return_indices:
            raise ValueError(
                f"layer {name or type(m).__name__!r}: a max pool that returns its arg-max indices has "
                "no path-counting twin (the indices are the arg-max paths)"
            )
        return (
            SumPoolTwin(m)
            if type(m) in _MAX_POOLS
            else _ADAPTIVE_TWINS[type(m)](m.output_size)
        )
    return None
