"""One lens on five temporal architectures: how much each output depends on the input ``l`` steps ago.

Every model maps a sequence ``(B, T)`` to a sequence ``(B, T)`` causally, with a hidden width of 16:

* ``3D convolution`` — a causal temporal convolution over the last 8 steps, ReLU, a pointwise layer;
* ``dilated convolution`` — two causal layers, 2 taps then 4 taps 6 steps apart (WaveNet-style):
  a wide window read at a few lags only;
* ``recurrent (GRU)`` — a gated recurrent unit: any past step can matter, through a fading state;
* ``windowed attention`` — one head over the last 8 steps, with a learned bias per lag: the weights
  depend on the content;
* ``diagonal SSM`` — a linear state-space layer ``h_t = a * h_{t-1} + b x_t``, ``y_t = c . h_t`` with a
  diagonal ``a`` in (0, 1) (S4D-style, real), computed as a convolution with the kernel ``c a^l b``.

:func:`influence_profile` measures, for any of them, ``|d y_t / d x_{t-l}|`` averaged over ``t``
and over clips, for ``l`` from ``-future`` (the future: zero for a causal model) to ``max_lag``.
:func:`lens_experiment` trains each on one toy task, ``y_t = x_{t - 6}``, and measures its profile.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from vidconv.temporal.thick_present import PhenomenologicalConv3D
from vidconv.training.steps import gradient_steps
from vidconv.utils.checks import (
    check_int,
    check_nonnegative_int,
    check_positive_int,
    check_tensor,
)
from vidconv.utils.table import Table

WIDTH = 16
TASK_LAG = 6  # the toy task: reproduce the input 6 steps later


class _Seq3d(nn.Module):
    """Run (B, C, T, 1, 1) temporal layers on a (B, T) sequence."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.body(x[:, None, :, None, None])[
            :, 0, :, 0, 0
        ]  # (B, T) -> (B, 1, T, 1, 1) -> (B, T)


def conv_model(window: int = 8) -> nn.Module:
    """Causal temporal convolution over the last ``window`` steps."""
    return _Seq3d(
        nn.Sequential(
            PhenomenologicalConv3D(1, WIDTH, window - 1, spatial_kernel_size=1),
            nn.ReLU(),
            nn.Conv3d(WIDTH, 1, 1),
        )
    )


def dilated_model() -> nn.Module:
    """Two causal layers: lags {0, 1}, then {0, 6, 12, 18}: together lags {0, 1, 6, 7, ..., 18, 19}."""
    return _Seq3d(
        nn.Sequential(
            PhenomenologicalConv3D(1, WIDTH, 1, spatial_kernel_size=1),
            nn.ReLU(),
            PhenomenologicalConv3D(
                WIDTH, WIDTH, 3, spatial_kernel_size=1, dilation=6
            ),
            nn.ReLU(),
            nn.Conv3d(WIDTH, 1, 1),
        )
    )


class GRUModel(nn.Module):
    """A one-layer GRU and a linear read-out."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(1, WIDTH, batch_first=True)
        self.out = nn.Linear(WIDTH, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        h, _ = self.gru(x.unsqueeze(-1))  # (B, T, 1) -> (B, T, WIDTH)
        return self.out(h).squeeze(-1)  # (B, T)


class WindowedAttention(nn.Module):
    """One attention head; step ``t`` attends to steps ``t - window + 1 ... t``, plus a learned bias per lag."""

    def __init__(self, window: int = 8) -> None:
        super().__init__()
        self.window = check_positive_int(window, "window")
        self.embed = nn.Linear(1, WIDTH)
        self.qkv = nn.Linear(WIDTH, 3 * WIDTH)
        self.lag_bias = nn.Parameter(torch.zeros(window))
        self.out = nn.Linear(WIDTH, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        T = x.shape[1]
        q, k, v = self.qkv(torch.tanh(self.embed(x.unsqueeze(-1)))).chunk(
            3, dim=-1
        )  # each (B, T, WIDTH)
        lag = (
            torch.arange(T)[:, None] - torch.arange(T)[None, :]
        )  # (T, T): query t, key s -> t - s
        inside = (lag >= 0) & (lag < self.window)
        bias = torch.where(
            inside,
            self.lag_bias[lag.clamp(0, self.window - 1)],
            torch.tensor(float("-inf")),
        )
        scores = q @ k.transpose(1, 2) / WIDTH**0.5 + bias  # (B, T, T)
        return self.out(torch.softmax(scores, dim=-1) @ v).squeeze(-1)  # (B, T)


class DiagonalSSM(nn.Module):
    """``h_t = a * h_{t-1} + b x_t``, ``y_t = c . h_t + d x_t``, ``a`` diagonal in (0, 1), as a causal convolution."""

    def __init__(self, states: int = WIDTH) -> None:
        super().__init__()
        check_positive_int(states, "states")
        # decay rates spread from fast (a = 0.5) to slow (a = 0.97): a range of memory lengths
        self.log_rate = nn.Parameter(
            torch.linspace(0.5, 0.97, states).log().neg().log()
        )  # a = exp(-exp(.))
        self.b = nn.Parameter(torch.randn(states) / states**0.5)
        self.c = nn.Parameter(torch.randn(states) / states**0.5)
        self.d = nn.Parameter(torch.zeros(()))

    def kernel(self, length: int) -> torch.Tensor:
        """``K_l = sum_i c_i a_i^l b_i`` for ``l < length``: the influence of the input ``l`` steps back."""
        a = torch.exp(-torch.exp(self.log_rate))  # (states,) in (0, 1)
        powers = (
            a[None, :] ** torch.arange(length, dtype=a.dtype)[:, None]
        )  # (length, states)
        return powers @ (self.b * self.c)  # (length,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        T = x.shape[1]
        k = (
            self.kernel(T).flip(0).view(1, 1, T)
        )  # conv1d correlates: flip so tap T-1 is lag 0
        y = F.conv1d(F.pad(x.unsqueeze(1), (T - 1, 0)), k).squeeze(
            1
        )  # (B, 1, 2T-1) -> (B, T)
        return y + self.d * x


LENSES = {
    "3D convolution": conv_model,
    "dilated convolution": dilated_model,
    "recurrent (GRU)": GRUModel,
    "windowed attention": WindowedAttention,
    "diagonal SSM": DiagonalSSM,
}


def influence_profile(
    model: nn.Module, x: torch.Tensor, *, max_lag: int = 24, future: int = 4
) -> torch.Tensor:
    """``|d y_t / d x_{t-l}|`` for ``l = -future ... max_lag``, averaged over clips and the frames ``t`` that have
    ``max_lag`` frames before them and ``future`` after; normalised to sum to 1. ``x`` is ``(B, T)``."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    check_tensor(x, "x", ndim=2, layout="(B, T)")
    check_nonnegative_int(max_lag, "max_lag")
    check_nonnegative_int(future, "future")
    T = x.shape[1]
    if T < max_lag + future + 1:
        raise ValueError(
            f"x has {T} frames; max_lag={max_lag} and future={future} need at least {max_lag + future + 1}"
        )
    x = x.detach().clone().requires_grad_()
    total = torch.zeros(max_lag + future + 1)
    ts = range(max_lag, T - future)
    for t in ts:
        (g,) = torch.autograd.grad(
            model(x)[:, t].sum(), x
        )  # (B, T): clips are independent
        total += (
            g[:, t - max_lag : t + future + 1].abs().mean(0).flip(0).detach()
        )  # index 0 = lag -future
    total = total / len(ts)
    return total / total.sum()


def lens_experiment(
    *,
    seed: int = 0,
    steps: int = 300,
    frames: int = 40,
    clips: int = 64,
    max_lag: int = 24,
    future: int = 4,
) -> tuple[Table, dict[str, torch.Tensor]]:
    """Train each of :data:`LENSES` on ``y_t = x_{t-6}`` (Adam, MSE) and measure its influence profile.

    Returns a table (test MSE, the lag of largest influence, the share of influence at lag 6, in the
    future and beyond lag 8) and the profiles (index ``i`` is lag ``i - future``).
    """
    check_int(seed, "seed")
    check_positive_int(steps, "steps")
    check_positive_int(frames, "frames", minimum=max_lag + future + 1)
    check_positive_int(clips, "clips")
    g = torch.Generator().manual_seed(seed)
    x, x_test = (
        torch.randn(clips, frames, generator=g),
        torch.randn(clips, frames, generator=g),
    )

    def target(z: torch.Tensor) -> torch.Tensor:
        return F.pad(z, (TASK_LAG, 0))[
            :, : z.shape[1]
        ]  # (B, T): z shifted TASK_LAG steps later

    rows, profiles = [], {}
    for name, build in LENSES.items():
        torch.manual_seed(seed)
        model = build()
        gradient_steps(
            torch.optim.Adam(model.parameters(), lr=0.01),
            lambda z, m=model: F.mse_loss(
                m(z)[:, TASK_LAG:], target(z)[:, TASK_LAG:]
            ),
            itertools.repeat((x,), steps),  # full batch
        )
        with torch.no_grad():
            mse = F.mse_loss(
                model(x_test)[:, TASK_LAG:], target(x_test)[:, TASK_LAG:]
            ).item()
        p = influence_profile(model, x_test[:8], max_lag=max_lag, future=future)
        profiles[name] = p
        lags = torch.arange(-future, max_lag + 1)
        rows.append(
            {
                "architecture": name,
                "test MSE": round(mse, 4),
                "peak lag": int(lags[p.argmax()]),
                "share at lag 6": round(float(p[lags == TASK_LAG].sum()), 3),
                "share in future": round(float(p[lags < 0].sum()), 6),
                "share beyond lag 8": round(float(p[lags > 8].sum()), 3),
            }
        )
    return Table(rows), profiles
