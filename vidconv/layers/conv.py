"""3D convolution written out from its definition.

``conv3d`` computes exactly what ``torch.nn.functional.conv3d`` computes —
cross-correlation with stride, zero padding, dilation and groups — but with
tensor indexing a reader can follow: cut every receptive window out of the
padded clip, then take one weighted sum per window.

For output frame ``t``, row ``h``, column ``w`` of output channel ``o`` in
group ``g``::

    Y[b, o, t, h, w] = bias[o] + sum_{c, i, j, k} W[o, c, i, j, k]
        * Xpad[b, g*Cg + c, t*s_t + i*d_t, h*s_h + j*d_h, w*s_w + k*d_w]

where ``Cg = C_in / groups`` and ``Xpad`` is the input with zeros added on
every side.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from vidconv.utils.checks import as_triple, check_int, check_like, check_tensor

IntOrTriple = int | Sequence[int]


def conv_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> int:
    """Length of a convolution's output along one axis.

    ``floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1``
    — the number of positions a kernel spanning
    ``dilation*(kernel_size-1) + 1`` samples fits into the padded input when it
    moves ``stride`` samples at a time.
    """
    for name, v, lo in (
        ("size", size, 1),
        ("kernel_size", kernel_size, 1),
        ("stride", stride, 1),
        ("padding", padding, 0),
        ("dilation", dilation, 1),
    ):
        check_int(v, name, minimum=lo)
    span = dilation * (kernel_size - 1) + 1
    if size + 2 * padding < span:
        raise ValueError(
            f"input of length {size} (+{2 * padding} padding) is shorter "
            f"than the kernel's span {span} "
            f"(kernel_size {kernel_size}, dilation {dilation})"
        )
    return (size + 2 * padding - span) // stride + 1


def _same_padding(
    kernel: tuple[int, int, int], dilation: tuple[int, int, int]
) -> tuple[int, ...]:
    """Padding for ``padding="same"`` in F.pad order (w_left, w_right,
    h_left, h_right, t_left, t_right).

    An even total cannot be split evenly; like PyTorch, the extra zero goes on
    the far side.
    """
    pads: list[int] = []
    for k, d in zip(reversed(kernel), reversed(dilation)):
        total = d * (k - 1)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


def conv3d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntOrTriple = 1,
    padding: IntOrTriple | str = 0,
    dilation: IntOrTriple = 1,
    groups: int = 1,
) -> torch.Tensor:
    """3D convolution (cross-correlation) from first principles; same
    signature as ``F.conv3d``.

    Args:
        input: clip batch ``(B, C_in, T, H, W)``.
        weight: kernels ``(C_out, C_in / groups, kT, kH, kW)``.
        bias: optional ``(C_out,)``.
        stride, dilation: int or ``(t, h, w)``, each >= 1.
        padding: int or ``(t, h, w)`` zeros added on both sides, or
            ``"valid"`` / ``"same"``.
        groups: split input and output channels into this many independent
            groups.

    Returns:
        ``(B, C_out, T', H', W')`` with each size given by
        :func:`conv_output_size`.
    """
    check_tensor(input, "input", ndim=5, layout="(B, C, T, H, W)")
    check_tensor(
        weight, "weight", ndim=5, layout="(C_out, C_in/groups, kT, kH, kW)"
    )
    check_like(weight, "weight", input, "input")
    groups = check_int(groups, "groups", minimum=1)
    stride_t = as_triple(stride, "stride", minimum=1)
    dilation_t = as_triple(dilation, "dilation", minimum=1)
    c_out, c_per_group, *kernel_list = weight.shape
    kernel = (kernel_list[0], kernel_list[1], kernel_list[2])
    if 0 in weight.shape[:2] or min(kernel) < 1:
        raise ValueError(
            "weight must have at least one output channel, input channel "
            "and kernel tap on every axis (C_out, C_in/groups, kT, kH, kW), "
            f"got shape {tuple(weight.shape)}"
        )
    c_in = input.shape[1]
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"groups={groups} must divide both input channels ({c_in}) "
            f"and output channels ({c_out})"
        )
    if c_per_group * groups != c_in:
        raise ValueError(
            f"weight expects {c_per_group * groups} input channels "
            f"({c_per_group} per group x {groups} groups), "
            f"input has {c_in}"
        )
    if bias is not None:
        check_tensor(bias, "bias", ndim=1, layout="(C_out,)")
        check_like(bias, "bias", input, "input")
        if bias.shape[0] != c_out:
            raise ValueError(
                f"bias must have {c_out} entries (one per output channel), "
                f"got {bias.shape[0]}"
            )

    if isinstance(padding, str):
        if padding == "valid":
            pads: tuple[int, ...] = (0,) * 6
        elif padding == "same":
            if stride_t != (1, 1, 1):
                raise ValueError(
                    "padding='same' needs stride 1 on every axis, "
                    f"got stride {stride_t}"
                )
            pads = _same_padding(kernel, dilation_t)
        else:
            raise ValueError(
                "padding must be an int, a 3-tuple, 'valid' or 'same', "
                f"got {padding!r}"
            )
    else:
        pt, ph, pw = as_triple(padding, "padding", minimum=0)
        pads = (pw, pw, ph, ph, pt, pt)

    x = F.pad(input, pads)  # (B, C_in, T+pads, H+pads, W+pads)
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation_t)]
    for axis, (size, span) in enumerate(zip(x.shape[2:], spans)):
        if size < span:
            name = "THW"[axis]
            raise ValueError(
                f"input is too small along {name}: {input.shape[2 + axis]} "
                f"(+padding = {size}) < kernel span {span}; "
                f"input shape {tuple(input.shape)}, kernel {kernel}, "
                f"dilation {dilation_t}"
            )

    # unfold(dim, size, step) appends one axis per call that walks along a
    # window of `span` samples.
    windows = (
        x.unfold(2, spans[0], stride_t[0])
        .unfold(3, spans[1], stride_t[1])
        .unfold(4, spans[2], stride_t[2])
    )
    # (B, C_in, T', H', W', span_t, span_h, span_w)
    d_t, d_h, d_w = dilation_t
    windows = windows[
        ..., ::d_t, ::d_h, ::d_w
    ]  # keep every d-th sample: (B, C_in, T', H', W', kT, kH, kW)
    b, _, t_out, h_out, w_out = windows.shape[:5]
    windows = windows.reshape(
        b, groups, c_per_group, t_out, h_out, w_out, *kernel
    )
    # (B, G, C_in/G, T', H', W', kT, kH, kW)
    w = weight.reshape(
        groups, c_out // groups, c_per_group, *kernel
    )  # (G, C_out/G, C_in/G, kT, kH, kW)
    out = torch.einsum(
        "bgcthwijk,gocijk->bgothw", windows, w
    )  # (B, G, C_out/G, T', H', W')
    out = out.reshape(b, c_out, t_out, h_out, w_out)  # (B, C_out, T', H', W')
    if bias is not None:
        out = out + bias.view(1, c_out, 1, 1, 1)
    return out
