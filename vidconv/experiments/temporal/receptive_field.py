"""How many frames one output of a video network depends on: the theoretical
span and the effective profile.

* The **theoretical** temporal receptive field of an output unit is every input
  frame that some path of the network connects to it:
  :func:`vidconv.analysis.model_summary.summary` computes its size ``R`` and the
  cumulative temporal stride ``J`` of the units (the rule of Chapter 1, through
  every branch).
* The **effective** profile weighs those frames by how much they actually move
  the output: the magnitude of the gradient of a centre output with respect to
  each input frame (Luo et al. 2016), summed over channels and pixels and
  normalised to sum to 1. It is zero outside the theoretical span, and usually
  concentrated in its middle.

The networks are measured through their convolutional trunk
(:func:`video_trunk`): everything before global pooling, so an output *unit*
still has a position in time.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from vidconv.analysis._probe import measuring
from vidconv.analysis.model_summary import summary
from vidconv.utils.checks import (
    check_int,
    check_number,
    check_positive_int,
    check_shape,
)
from vidconv.utils.table import Table

#: Each network's clip (frames, pixels) in its paper: C3D and R(2+1)D
#: 16 x 112, I3D and S3D 64 x 224.
CLIP_SIZES = {
    "C3D": (16, 112),
    "I3D": (64, 224),
    "R(2+1)D-18": (16, 112),
    "S3D": (64, 224),
}


def video_trunk(name: str) -> nn.Module:
    """The convolutional trunk (before global pooling and the classifier) of a
    freshly built network."""
    from vidconv.models import c3d, i3d, r2plus1d_18, s3d

    if name not in CLIP_SIZES:
        raise ValueError(
            f"name must be one of {sorted(CLIP_SIZES)}, got {name!r}"
        )
    if name == "R(2+1)D-18":
        net = r2plus1d_18()
        return nn.Sequential(
            net.stem, net.layer1, net.layer2, net.layer3, net.layer4
        )
    return {"C3D": c3d, "I3D": i3d, "S3D": s3d}[name]().features


@dataclass(frozen=True)
class TemporalProfile:
    """The temporal receptive field of the centre output unit of a network, in
    frames."""

    frames: int  # frames of the clip
    profile: tuple[
        float, ...
    ]  # share of the gradient magnitude per input frame; sums to 1
    theoretical: (
        int  # R: frames the unit's field spans (may be more than the clip)
    )
    stride: int  # J: frames between neighbouring output units
    # first frame of the theoretical span (negative: before the clip, in the
    # zero padding)
    first: int
    last: int  # last frame of the theoretical span (>= frames: after the clip)

    def effective(self, mass: float = 0.9) -> int:
        """Frames in the narrowest run of consecutive frames that holds ``mass``
        of the profile."""
        check_number(
            mass, "mass", minimum=0.0, maximum=1.0, exclusive_minimum=True
        )
        p, best = self.profile, len(self.profile)
        for start in range(len(p)):
            total = 0.0
            for stop in range(start, len(p)):
                total += p[stop]
                if total >= mass - 1e-12:
                    best = min(best, stop - start + 1)
                    break
        return best

    def reached(self, threshold: float = 0.0) -> tuple[int, ...]:
        """Frames whose share of the profile is above ``threshold``."""
        return tuple(t for t, v in enumerate(self.profile) if v > threshold)


def _time(v: int | tuple[int, ...]) -> int:
    return v if isinstance(v, int) else v[0]


def theoretical_span(
    model: nn.Module, input_shape: Sequence[int]
) -> tuple[int, int, int, int, int]:
    """``(R, J, first, last, t)``: field size and stride of the output units,
    and the span of the centre one, ``t``.

    ``R`` and ``J`` come from :func:`~vidconv.analysis.model_summary.summary`.
    The span's centre is the unit's position ``t*J`` shifted by each conv/pool
    layer's off-centre amount ``(k-1)*d/2 - padding`` (in input frames: times
    the stride below it); with "same" padding that is 0 for odd kernels, so the
    parallel branches of an Inception block, all same-padded, add nothing.
    ``first`` may be negative and ``last`` past the clip: the field reaches into
    the zero padding.
    """
    shape = check_shape(input_shape, "input_shape", ndim=5)
    ghost = copy.deepcopy(model).to(
        "meta"
    )  # shapes and fields only: costs nothing
    s = summary(ghost, shape)
    size, jump = s.output_field.size[0], s.output_field.jump[0]
    layers = dict(ghost.named_modules())
    shift2 = 0  # twice the centre's shift, in input frames (stays an integer)
    for row in s.rows:
        m = layers[row.name]
        if isinstance(m, (nn.Conv3d, nn.MaxPool3d, nn.AvgPool3d)):
            k, st = _time(m.kernel_size), _time(m.stride or m.kernel_size)
            d = (
                _time(getattr(m, "dilation", 1))
                if not isinstance(m, nn.AvgPool3d)
                else 1
            )
            pad = (
                m.padding if isinstance(m.padding, (int, tuple)) else 0
            )  # "same"/"valid" strings: no pooling there
            pad = (k - 1) * d // 2 if m.padding == "same" else _time(pad)
            shift2 += ((k - 1) * d - 2 * pad) * (row.field.jump[0] // st)
    out_frames = (
        s.rows[-1].output_shape[2]
        if s.rows and len(s.rows[-1].output_shape) == 5
        else 1
    )
    t = out_frames // 2
    first = t * jump + (shift2 - (size - 1)) // 2
    return size, jump, first, first + size - 1, t


def temporal_profile(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    draws: int = 2,
    seed: int = 0,
) -> TemporalProfile:
    """Effective temporal profile of the centre output unit of ``model``, with
    its theoretical span.

    ``model`` maps ``(B, C, T, H, W)`` to ``(B, C', T', H', W')``. For
    ``draws`` random normal clips (seeded), the gradient of the centre unit,
    summed over its channels, is taken with respect to the input; its
    magnitude, summed over channels and pixels, gives one weight per frame. The
    model's weights, mode and parameters are left as they were; it is measured
    in eval mode.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    shape = check_shape(input_shape, "input_shape", ndim=5)
    check_positive_int(draws, "draws")
    check_int(seed, "seed")
    size, jump, first, last, t = theoretical_span(model, shape)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    generator = torch.Generator().manual_seed(seed)
    weights = torch.zeros(shape[2], dtype=torch.float64)
    with measuring(model), torch.enable_grad():
        for _ in range(draws):
            x = (
                torch.randn(shape, generator=generator)
                .to(device)
                .requires_grad_()
            )
            y = model(x)
            if y.dim() != 5:
                raise ValueError(
                    "model must return (B, C, T, H, W) features to have a "
                    f"centre unit, got {tuple(y.shape)}"
                )
            centre = y[
                0, :, y.shape[2] // 2, y.shape[3] // 2, y.shape[4] // 2
            ].sum()
            # Only the input's gradient: no weight gradients computed.
            (grad,) = torch.autograd.grad(centre, x)
            weights += grad[0].abs().sum(dim=(0, 2, 3)).double().cpu()  # (T,)
    if weights.sum() == 0:
        raise ValueError(
            "the centre output does not depend on any input frame "
            "(all gradients are zero)"
        )
    profile = tuple(float(v) for v in weights / weights.sum())
    return TemporalProfile(shape[2], profile, size, jump, first, last)


def thick_present_table(
    profiles: dict[str, TemporalProfile],
    *,
    fps: float = 25.0,
    mass: float = 0.9,
) -> Table:
    """One row per network: clip, theoretical and effective receptive field in
    frames and in seconds at ``fps``."""
    if not isinstance(profiles, dict) or not all(
        isinstance(p, TemporalProfile) for p in profiles.values()
    ):
        raise TypeError("profiles must be a dict of name -> TemporalProfile")
    check_number(fps, "fps", minimum=0.0, exclusive_minimum=True)
    rows = []
    for name, p in profiles.items():
        eff = p.effective(mass)
        rows.append(
            {
                "network": name,
                "clip frames": p.frames,
                "theoretical RF": p.theoretical,
                "output stride": p.stride,
                f"effective RF ({100 * mass:.0f} %)": eff,
                "clip s": round(p.frames / fps, 2),
                "theoretical s": round(p.theoretical / fps, 2),
                "effective s": round(eff / fps, 2),
            }
        )
    return Table(rows)


def frames_read(
    layer: nn.Module, channels: int, *, frames: int = 16, t: int | None = None
) -> tuple[int, tuple[int, ...]]:
    """``(output frames, offsets)``: how many frames ``layer`` outputs for a
    ``frames``-frame input, and which input frames, relative to the output
    frame's index ``t`` (default: the middle one), change that output (by
    gradient, float64, random input: an offset of -1 is the previous frame)."""
    if not isinstance(layer, nn.Module):
        raise TypeError(
            f"layer must be an nn.Module, got {type(layer).__name__}"
        )
    check_positive_int(channels, "channels")
    check_positive_int(frames, "frames")
    probe = copy.deepcopy(layer).double().eval()
    x = torch.randn(
        1,
        channels,
        frames,
        5,
        5,
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(0),
    )
    x.requires_grad_()
    y = probe(x)
    if y.dim() != 5:
        raise ValueError(
            f"layer must return (B, C, T, H, W), got {tuple(y.shape)}"
        )
    t = (
        y.shape[2] // 2
        if t is None
        else check_int(t, "t", minimum=0, maximum=y.shape[2] - 1)
    )
    (grad,) = torch.autograd.grad(y[:, :, t].sum(), x)
    touched = grad[0].abs().sum(dim=(0, 2, 3)) > 0  # (frames,)
    return y.shape[2], tuple(
        int(i) - t for i in torch.nonzero(touched).flatten()
    )
