"""Input checks shared by vidconv's public functions.

Every public function calls these first, so a wrong input is answered with a message that names
the argument, what was expected and what came in, instead of an error from deep inside torch.
Integers may be Python or NumPy integers (``np.int64(10)`` is an int); booleans are refused
wherever a number is expected (``True`` is not a depth of 1).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from torch import nn

from vidconv.utils.device import default_device


def _what(value: object) -> str:
    """``value`` for a message: its repr when short, else its type."""
    text = repr(value)
    return text if len(text) <= 60 else f"a {type(value).__name__}"


def _is_int(value: object) -> bool:
    # numbers.Integral covers int and NumPy integers; bool (and numpy.bool_) are refused on purpose.
    return (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and type(value).__name__ != "bool_"
    )


def check_int(
    value: object,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """Return ``value`` as a Python int if it is an integer (not a bool) in ``[minimum, maximum]``."""
    if not _is_int(value):
        raise TypeError(
            f"{name} must be an int, got {type(value).__name__} {_what(value)}"
        )
    value = int(value)  # type: ignore[arg-type]
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is an int >= ``minimum`` (default 1)."""
    if minimum < 1:  # a bound below 1 is not "positive": say what is meant
        raise ValueError(
            f"check_positive_int needs minimum >= 1, got {minimum}; use check_nonnegative_int"
        )
    return check_int(value, name, minimum=minimum)


def check_positive_ints(**values: object) -> None:
    """Every value must be an int >= 1; its keyword names it in the error
    (``check_positive_ints(epochs=epochs, batch_size=batch_size)``)."""
    for name, value in values.items():
        check_positive_int(value, name)


def check_nonnegative_int(value: object, name: str) -> int:
    """Return ``value`` as an int if it is an int >= 0 (a count that may be zero, an offset)."""
    return check_int(value, name, minimum=0)


def check_number(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    exclusive_maximum: bool = False,
) -> float:
    """Return ``value`` as a float if it is a finite real number (not a bool) within the bounds."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or type(value).__name__ == "bool_"
    ):
        raise TypeError(
            f"{name} must be a number, got {type(value).__name__} {_what(value)}"
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    low = minimum is not None and (
        value <= minimum if exclusive_minimum else value < minimum
    )
    high = maximum is not None and (
        value >= maximum if exclusive_maximum else value > maximum
    )
    if low or high:
        lo = (
            "(-inf"
            if minimum is None
            else ("(" if exclusive_minimum else "[") + f"{minimum:g}"
        )
        hi = (
            "inf)"
            if maximum is None
            else f"{maximum:g}" + (")" if exclusive_maximum else "]")
        )
        raise ValueError(f"{name} must be in {lo}, {hi}, got {value:g}")
    return value


def check_choice(value: object, name: str, choices: Sequence[object]) -> Any:
    """Return ``value`` if it is one of ``choices`` (same type, equal)."""
    if not any(type(value) is type(c) and value == c for c in choices):
        raise ValueError(
            f"{name} must be one of {list(choices)}, got {value!r}"
        )
    return value


def check_bool(value: object, name: str) -> bool:
    """Return ``value`` if it is a bool (``0``/``1`` and strings are refused: they hide mistakes)."""
    if not isinstance(value, bool):
        raise TypeError(
            f"{name} must be True or False, got {type(value).__name__} {_what(value)}"
        )
    return value


def check_ints(
    values: object,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> tuple[int, ...]:
    """Return ``values`` (a non-empty sequence of ints, each in
    ``[minimum, maximum]``) as a tuple."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(
            f"{name} must be a non-empty sequence of ints, got {values!r}"
        )
    if not values:
        raise ValueError(
            f"{name} must be a non-empty sequence of ints, got {values!r}"
        )
    return tuple(
        check_int(v, f"{name} entry", minimum=minimum, maximum=maximum)
        for v in values
    )


def check_int_sequence(
    value: object, name: str, *, length: int, minimum: int | None = None
) -> tuple[int, ...]:
    """Return ``value`` as a tuple of ``length`` ints, each >= ``minimum``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(
            f"{name} must be a sequence of {length} ints, got {type(value).__name__} {_what(value)}"
        )
    if len(value) != length or not all(_is_int(v) for v in value):
        raise ValueError(
            f"{name} must be a sequence of {length} ints, got {_what(value)}"
        )
    out = tuple(int(v) for v in value)
    if minimum is not None and min(out) < minimum:
        raise ValueError(
            f"{name} must have every entry >= {minimum}, got {out}"
        )
    return out


def check_tensor(
    x: object, name: str, *, ndim: int | None = None, layout: str = ""
) -> torch.Tensor:
    """Return ``x`` if it is a real floating-point tensor with ``ndim`` dimensions, else raise a clear error."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(x).__name__}"
        )
    if ndim is not None and x.dim() != ndim:
        hint = f" {layout}" if layout else ""
        raise ValueError(
            f"{name} must have {ndim} dimensions{hint}, got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a real floating-point tensor (e.g. torch.float32), got dtype {x.dtype}"
        )
    return x


def check_finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """Return ``x`` if it holds no NaN or infinity (one synchronisation on an accelerator)."""
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s) (shape {tuple(x.shape)}); "
            "every value must be finite"
        )
    return x


def check_like(
    x: torch.Tensor,
    name: str,
    reference: torch.Tensor | nn.Module | None,
    owner: str,
) -> torch.Tensor:
    """Return ``x`` if its dtype and device match ``reference`` (a tensor, or a module's first parameter).

    Under autocast the layers inside a network receive lower-precision activations on purpose, so only
    the device is compared there.
    """
    if isinstance(reference, nn.Module):
        reference = next(reference.parameters(), None)
    if reference is None:
        return x
    if x.device != reference.device:
        raise ValueError(
            f"{name} is on {x.device} but {owner} is on {reference.device}; "
            f"move one to the other's device (e.g. .to({str(reference.device)!r}))"
        )
    if (
        x.dtype != reference.dtype
        and reference.is_floating_point()
        and not torch.is_autocast_enabled(x.device.type)
    ):
        raise TypeError(
            f"{name} has dtype {x.dtype} but {owner} has dtype {reference.dtype}; "
            f"convert one to match the other (e.g. .to({reference.dtype}))"
        )
    return x


def check_device(device: object) -> torch.device:
    """``None`` (the default accelerator), a ``torch.device``, or a string such as ``"cpu"`` or ``"cuda:0"``."""
    if device is None:
        return default_device()
    if isinstance(device, str):
        try:
            device = torch.device(device)
        except RuntimeError as err:
            raise ValueError(
                f"device must name a torch device such as 'cpu' or 'cuda', got {device!r}"
            ) from err
    if not isinstance(device, torch.device):
        raise TypeError(
            f"device must be a torch.device, a string such as 'cpu', or None, got {type(device).__name__}"
        )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {str(device)!r} asked for, but no CUDA GPU is available here (use 'cpu' or None)"
        )
    return device


def check_clip_channels(
    x: object, channels: int, name: str, module: nn.Module | None = None
) -> torch.Tensor:
    """Return ``x`` if it is a float clip ``(B, channels, T, H, W)``; ``name`` says who is asking.

    With ``module``, the clip's dtype and device must also match the module's parameters.
    """
    check_tensor(x, f"{name} input", ndim=5, layout="(B, C, T, H, W)")
    assert isinstance(x, torch.Tensor)
    if x.shape[1] != channels:
        raise ValueError(
            f"{name} expects {channels} channels (B, {channels}, T, H, W), got shape {tuple(x.shape)}"
        )
    if module is not None:
        check_like(x, f"{name} input", module, name)
    return x


def check_conv_fits(
    x: torch.Tensor, conv: nn.Module, name: str
) -> torch.Tensor:
    """Return ``x`` if ``conv`` (an ``nn.Conv2d``/``nn.Conv3d`` over the last 2/3 axes of ``x``) fits it.

    A clip smaller than the kernel's span, padding included, is refused with both sizes named.
    """
    n = len(conv.kernel_size)
    if conv.padding == "same":
        return x
    pads = (0,) * n if conv.padding == "valid" else conv.padding
    axes = "THW"[3 - n :]
    for axis, size, k, d, p in zip(
        axes, x.shape[-n:], conv.kernel_size, conv.dilation, pads
    ):
        span = d * (k - 1) + 1
        if size + 2 * p < span:
            raise ValueError(
                f"{name} input is too small along {axis}: {size} (+{2 * p} padding) < kernel span {span}; "
                f"got shape {tuple(x.shape)}"
            )
    return x


def as_triple(
    value: int | Sequence[int], name: str, *, minimum: int
) -> tuple[int, int, int]:
    """Expand an int or a 3-sequence of ints to ``(t, h, w)``, each at least ``minimum``."""
    if _is_int(value):
        triple = (int(value),) * 3  # type: ignore[arg-type]
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        if len(value) != 3 or not all(_is_int(v) for v in value):
            raise ValueError(
                f"{name} must be an int or a sequence of 3 ints (t, h, w), got {_what(value)}"
            )
        triple = (int(value[0]), int(value[1]), int(value[2]))
    else:
        raise TypeError(
            f"{name} must be an int or a sequence of 3 ints, got {type(value).__name__} {_what(value)}"
        )
    if min(triple) < minimum:
        raise ValueError(
            f"{name} must be >= {minimum} on every axis, got {triple}"
        )
    return triple  # type: ignore[return-value]


def check_shape(
    shape: object, name: str, *, ndim: int | None = None
) -> tuple[int, ...]:
    """Return ``shape`` as a tuple of positive ints."""
    if isinstance(shape, torch.Size):
        shape = tuple(shape)
    if not isinstance(shape, Sequence) or isinstance(shape, (str, bytes)):
        raise TypeError(
            f"{name} must be a sequence of ints, got {type(shape).__name__}"
        )
    if not all(_is_int(s) and s > 0 for s in shape):
        raise ValueError(
            f"{name} must contain positive ints, got {tuple(shape)!r}"
        )
    if ndim is not None and len(shape) != ndim:
        raise ValueError(
            f"{name} must have {ndim} entries (B, C, T, H, W), got {tuple(shape)!r}"
        )
    return tuple(int(s) for s in shape)


def check_conv_args(
    name: str,
    in_channels: object,
    out_channels: object,
    kernel_size: object = 1,
    stride: object = 1,
    padding: object = 0,
) -> None:
    """The constructor arguments every convolution shares: channels >= 1, kernel/stride >= 1, padding >= 0.

    ``kernel_size``, ``stride`` and ``padding`` may be an int or a 3-sequence (2D layers pass ints).
    """
    check_int(in_channels, f"{name}: in_channels", minimum=1)
    check_int(out_channels, f"{name}: out_channels", minimum=1)
    as_triple(kernel_size, f"{name}: kernel_size", minimum=1)  # type: ignore[arg-type]
    as_triple(stride, f"{name}: stride", minimum=1)  # type: ignore[arg-type]
    if padding is not None:  # None: the layer picks "same"-style padding itself
        as_triple(padding, f"{name}: padding", minimum=0)  # type: ignore[arg-type]


def _train_batch_norm_hook(
    owner: str, layer: str, module: nn.Module, inputs: tuple
) -> None:
    x = inputs[0]
    if (
        module.training
        and isinstance(x, torch.Tensor)
        and x.dim() >= 2
        and x.numel() <= x.shape[1]
    ):
        grid = " x ".join(str(s) for s in (x.shape[0], *x.shape[2:]))
        raise ValueError(
            f"{owner} is in training mode and its batch norm {layer!r} gets 1 value per channel "
            f"(batch x T x H x W = {grid}, input {tuple(x.shape)}); batch norm in training mode needs more than "
            "one value per channel at every batch norm. Call model.eval() for inference, or train on a batch "
            "of at least 2 clips or on larger clips."
        )


def guard_train_batch_norm(model: nn.Module, owner: str) -> nn.Module:
    """Make every batch norm of ``model`` refuse, with a clear message, a training-mode input with one
    value per channel (a batch of one clip that the network has reduced to a single position).

    The check runs just before each batch norm (a forward pre-hook: one ``numel`` per layer), so it sees
    the real grid there whatever the architecture; eval mode is untouched. Returns ``model``.
    """
    for layer, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not getattr(
            m, "_vidconv_guarded", False
        ):
            m.register_forward_pre_hook(
                partial(_train_batch_norm_hook, owner, layer)
            )
            m._vidconv_guarded = True
    return model
