"""What a (2+1)D block can express: fit a *linear* one to a full 3D convolution.

Without its middle batch norm and ReLU, a (2+1)D block is two convolutions in a row: a spatial one
``S`` of shape ``(M, N_in, 1, k_s, k_s)`` and a temporal one ``T`` of shape ``(N_out, M, k_t, 1, 1)``.
Their composition is a single ``k_t x k_s x k_s`` convolution with kernel

    W[o, i, t, h, w] = sum_m T[o, m, t] * S[m, i, h, w].

Lay ``W`` out as a matrix whose rows index ``(o, t)`` and whose columns index ``(i, h, w)``
(:func:`kernel_matrix`): the sum above is a product of an ``(N_out k_t) x M`` matrix and an
``M x (N_in k_s^2)`` one, so a linear (2+1)D block is *exactly* a 3D convolution whose kernel matrix
has rank at most ``M``. The best such block for a given ``W`` is therefore its truncated SVD
(Eckart-Young): the error is the norm of the discarded singular values, and it is zero once ``M``
reaches :func:`rank_bound` ``= min(N_out k_t, N_in k_s^2)``.

:func:`fit_linear_2plus1d` finds the block by alternating least squares on the two factors — without
using the SVD — so that the closed form is a check on the fit, not its definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from vidconv.layers.blocks import midplanes_for_2plus1d
from vidconv.utils.checks import (
    check_int,
    check_number,
    check_positive_int,
    check_tensor,
)
from vidconv.utils.device import one_cpu_thread
from vidconv.utils.table import Table


def _check_kernel(weight: object, name: str = "weight") -> torch.Tensor:
    w = check_tensor(
        weight, name, ndim=5, layout="(N_out, N_in, k_t, k_s, k_s)"
    )
    if w.shape[3] != w.shape[4]:
        raise ValueError(
            f"{name} must have a square spatial kernel (k_s, k_s), got shape {tuple(w.shape)}"
        )
    if w.numel() == 0:
        raise ValueError(
            f"{name} must not be empty, got shape {tuple(w.shape)}"
        )
    return w


def kernel_matrix(weight: torch.Tensor) -> torch.Tensor:
    """A 3D kernel ``(N_out, N_in, k_t, k_s, k_s)`` as a matrix: rows ``(N_out, k_t)``, columns ``(N_in, k_s, k_s)``."""
    w = _check_kernel(weight)
    n_out, n_in, k_t, k_s, _ = w.shape
    return w.permute(0, 2, 1, 3, 4).reshape(
        n_out * k_t, n_in * k_s * k_s
    )  # (N_out*k_t, N_in*k_s*k_s)


def compose_2plus1d(
    spatial: torch.Tensor, temporal: torch.Tensor
) -> torch.Tensor:
    """The 3D kernel of a linear (2+1)D block: spatial ``(M, N_in, 1, k_s, k_s)``, temporal ``(N_out, M, k_t, 1, 1)``."""
    s = check_tensor(
        spatial, "spatial", ndim=5, layout="(M, N_in, 1, k_s, k_s)"
    )
    t = check_tensor(
        temporal, "temporal", ndim=5, layout="(N_out, M, k_t, 1, 1)"
    )
    if s.shape[2] != 1 or t.shape[3:] != (1, 1):
        raise ValueError(
            f"spatial must have temporal size 1 and temporal spatial size 1x1, got shapes "
            f"{tuple(s.shape)} and {tuple(t.shape)}"
        )
    if s.shape[0] != t.shape[1]:
        raise ValueError(
            f"spatial has {s.shape[0]} output channels but temporal reads {t.shape[1]}: "
            "both must have the same middle width M"
        )
    return torch.einsum(
        "omt,mihw->oithw", t[:, :, :, 0, 0], s[:, :, 0]
    )  # (N_out, N_in, k_t, k_s, k_s)


def rank_bound(weight: torch.Tensor) -> int:
    """``min(N_out k_t, N_in k_s^2)``: the largest rank the kernel matrix can have, the M of an exact fit."""
    return min(kernel_matrix(weight).shape)


def eckart_young_error(weight: torch.Tensor, mid_channels: int) -> float:
    """Smallest relative error ``||W - W_M|| / ||W||`` (Frobenius) of any rank-``mid_channels`` kernel matrix."""
    m = check_positive_int(mid_channels, "mid_channels")
    sigma = torch.linalg.svdvals(kernel_matrix(weight).double())  # descending
    return float(sigma[m:].square().sum().sqrt() / sigma.square().sum().sqrt())


@dataclass
class LinearFit:
    """A fitted linear (2+1)D block: its two conv kernels, the kernel they compose to, and its relative error."""

    spatial: torch.Tensor  # (M, N_in, 1, k_s, k_s)
    temporal: torch.Tensor  # (N_out, M, k_t, 1, 1)
    kernel: torch.Tensor  # (N_out, N_in, k_t, k_s, k_s)
    error: float

    def block(self) -> nn.Sequential:
        """The fit as two ``nn.Conv3d`` layers ("same" padding, no bias): a (2+1)D block without its ReLU."""
        m, n_in, _, k_s, _ = self.spatial.shape
        n_out, _, k_t, _, _ = self.temporal.shape
        dtype = self.spatial.dtype
        spatial = nn.Conv3d(
            n_in,
            m,
            (1, k_s, k_s),
            padding=(0, k_s // 2, k_s // 2),
            bias=False,
            dtype=dtype,
        )
        temporal = nn.Conv3d(
            m,
            n_out,
            (k_t, 1, 1),
            padding=(k_t // 2, 0, 0),
            bias=False,
            dtype=dtype,
        )
        with torch.no_grad():
            spatial.weight.copy_(self.spatial)
            temporal.weight.copy_(self.temporal)
        return nn.Sequential(spatial, temporal)


def fit_linear_2plus1d(
    weight: torch.Tensor,
    mid_channels: int,
    *,
    iterations: int = 400,
    seed: int = 0,
    tolerance: float = 1e-13,
) -> LinearFit:
    """Fit a linear (2+1)D block of middle width ``mid_channels`` to the 3D kernel ``weight`` (least squares).

    Alternating least squares on ``A ~ T S`` (``A`` = :func:`kernel_matrix`): fix the temporal factor and
    solve for the spatial one exactly, then the other way round. Each step can only lower the error, and
    for a random start it converges to the best rank-M approximation; once M reaches the rank of ``A``
    the first step already solves ``A = T S`` exactly. It stops after ``iterations`` rounds, or when a
    round lowers the squared error by less than ``tolerance`` times ``||A||^2`` (convergence slows down
    where singular values ``M`` and ``M + 1`` are close). Computed in float64; kernels returned in
    ``weight``'s dtype.
    """
    w = _check_kernel(weight)
    m = check_positive_int(mid_channels, "mid_channels")
    check_positive_int(iterations, "iterations")
    check_int(seed, "seed")
    tolerance = check_number(tolerance, "tolerance", minimum=0.0)
    n_out, n_in, k_t, k_s, _ = w.shape
    a = kernel_matrix(w).double()  # (N_out*k_t, N_in*k_s^2)
    gen = torch.Generator().manual_seed(seed)
    t = torch.randn(
        a.shape[0], m, generator=gen, dtype=torch.float64
    )  # (N_out*k_t, M)
    norm2, previous = float(a.square().sum()), float("inf")
    for _ in range(iterations):
        s = torch.linalg.lstsq(
            t, a, driver="gelsy"
        ).solution  # (M, N_in*k_s^2): best S for this T
        t = torch.linalg.lstsq(
            s.T, a.T, driver="gelsy"
        ).solution.T  # (N_out*k_t, M): best T for this S
        residual = float((a - t @ s).square().sum())
        if previous - residual <= tolerance * norm2:
            break
        previous = residual
    s = torch.linalg.lstsq(t, a, driver="gelsy").solution
    error = float(torch.linalg.matrix_norm(a - t @ s) / norm2**0.5)
    spatial = s.reshape(m, n_in, 1, k_s, k_s)  # (M, N_in, 1, k_s, k_s)
    temporal = t.reshape(n_out, k_t, m).permute(0, 2, 1)[
        ..., None, None
    ]  # (N_out, M, k_t, 1, 1)
    kernel = compose_2plus1d(spatial, temporal)
    return LinearFit(
        spatial.to(w.dtype), temporal.to(w.dtype), kernel.to(w.dtype), error
    )


def factorisation_curve(
    in_channels: int,
    out_channels: int,
    mids: Sequence[int] | None = None,
    *,
    temporal_kernel_size: int = 3,
    spatial_kernel_size: int = 3,
    seed: int = 0,
    iterations: int = 400,
) -> Table:
    """Fit a linear (2+1)D block at every middle width in ``mids`` to one random full 3D kernel.

    The kernel is drawn from ``torch.manual_seed(seed)``-style Gaussian weights (its singular values
    are those of a random matrix). Each row: M, the fit's relative error, the Eckart-Young error, the
    block's weights as a fraction of the full convolution's; ``mids`` defaults to 1 .. the rank bound.
    """
    n_in = check_positive_int(in_channels, "in_channels")
    n_out = check_positive_int(out_channels, "out_channels")
    k_t = check_positive_int(temporal_kernel_size, "temporal_kernel_size")
    k_s = check_positive_int(spatial_kernel_size, "spatial_kernel_size")
    weight = torch.randn(
        n_out,
        n_in,
        k_t,
        k_s,
        k_s,
        generator=torch.Generator().manual_seed(check_int(seed, "seed")),
        dtype=torch.float64,
    )
    bound = rank_bound(weight)
    mids = list(range(1, bound + 1)) if mids is None else list(mids)
    if not mids:
        raise ValueError("mids must hold at least one middle width")
    full = weight.numel()
    paper = midplanes_for_2plus1d(n_in, n_out, k_t, k_s)
    for m in mids:
        check_positive_int(m, "every entry of mids")
    rows = []
    # matrices this small: threads only add synchronisation
    with one_cpu_thread(torch.device("cpu")):
        for m in mids:
            fit = fit_linear_2plus1d(
                weight, m, iterations=iterations, seed=seed
            )
            rows.append(
                {
                    "M": m,
                    "fit error": fit.error,
                    "Eckart-Young error": eckart_young_error(weight, m),
                    "weights / full": (
                        fit.spatial.numel() + fit.temporal.numel()
                    )
                    / full,
                    "eq. 5": m == paper,
                    ">= rank bound": m >= bound,
                }
            )
    return Table(rows)
