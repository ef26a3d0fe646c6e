"""SlowFast's two pathways in miniature: a task that each pathway alone cannot solve.

Every clip shows one coloured blob stepping around a circle of ``positions`` places, one place per
frame, clockwise or anticlockwise; the blob is red or green, two colours of equal grey level. The four
classes are (direction, colour). The miniature SlowFast (:class:`MiniSlowFast`) is a real
:class:`~vidconv.models.slowfast.SlowFast` with tiny widths, set up as the paper allows:

* its **Slow** pathway reads every ``alpha``-th frame in colour. With ``alpha == positions`` the blob
  is back where it started at every frame the Slow pathway sees (the motion is aliased away): it sees
  the colour, never the direction;
* its **Fast** pathway reads every frame in grey (one of the paper's "weaker spatial inputs" for the
  Fast pathway, Sec. 3.4): it sees the direction, never the colour, since red and green are equally grey.

So the Slow pathway alone can reach at best 50% (the colour, a guess at the direction), the Fast one
alone the same (the direction, a guess at the colour), and only the two together 100%; chance is 25%.
"Alone" means the same network with the other pathway's input blanked (all zeros), so every variant
has the same layers and parameters and differs only in what reaches it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import TensorDataset

from vidconv.analysis.counting import count_parameters
from vidconv.experiments.small_run import SmallRun, train_arms
from vidconv.models._clip import check_clip
from vidconv.models.slowfast import SlowFast
from vidconv.utils.checks import (
    check_device,
    check_int,
    check_number,
)
from vidconv.utils.table import Table

#: The three variants: which pathways receive their input.
PATHWAYS = ("both", "slow only", "fast only")
CLASSES = (
    "red, clockwise",
    "red, anticlockwise",
    "green, clockwise",
    "green, anticlockwise",
)


def colour_motion_clips(
    num_clips: int,
    *,
    frames: int = 16,
    size: int = 16,
    positions: int = 4,
    noise: float = 0.05,
    seed: int = 0,
) -> TensorDataset:
    """Seeded clips ``(N, 3, frames, size, size)`` in [0, 1] and labels in ``range(4)`` (:data:`CLASSES`).

    Per clip: colour, direction, start place, circle radius and centre, blob width and brightness are drawn
    from ``torch.Generator(seed)``; Gaussian pixel noise is added (the same to each channel, so that noise
    carries no colour).
    """
    n = check_int(num_clips, "num_clips", minimum=1)
    t = check_int(frames, "frames", minimum=2)
    s = check_int(size, "size", minimum=8)
    p = check_int(positions, "positions", minimum=3)
    sigma_noise = check_number(noise, "noise", minimum=0.0)
    gen = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0))
    labels = torch.randint(0, 4, (n,), generator=gen)
    green, anticlockwise = labels // 2, labels % 2
    direction = 1 - 2 * anticlockwise  # +1 clockwise, -1 anticlockwise
    start = torch.randint(0, p, (n,), generator=gen)
    radius = s * (0.22 + 0.08 * torch.rand(n, generator=gen))
    centre = (
        s / 2 - 0.5 + (torch.rand(n, 2, generator=gen) - 0.5) * s * 0.1
    )  # (N, 2): row, column
    width = 1.2 + 0.5 * torch.rand(n, generator=gen)
    brightness = 0.7 + 0.3 * torch.rand(n, generator=gen)
    place = (
        start[:, None] + direction[:, None] * torch.arange(t)
    ) % p  # (N, T): the place at every frame
    angle = 2 * math.pi * place / p
    row = centre[:, :1] + radius[:, None] * torch.sin(angle)  # (N, T)
    col = centre[:, 1:] + radius[:, None] * torch.cos(angle)
    grid = torch.arange(s, dtype=torch.float32)
    d2 = (grid[None, None, :, None] - row[..., None, None]) ** 2 + (
        grid[None, None, None, :] - col[..., None, None]
    ) ** 2  # (N, T, H, W): squared distance to the blob
    blob = brightness[:, None, None, None] * torch.exp(
        -d2 / (2 * width[:, None, None, None] ** 2)
    )  # (N, T, H, W)
    clips = torch.zeros(n, 3, t, s, s)
    clips[torch.arange(n), green] = (
        blob  # red is channel 0, green channel 1: equal grey levels
    )
    clips += sigma_noise * torch.randn(
        n, 1, t, s, s, generator=gen
    )  # (N, 1, T, H, W), broadcast over colour
    return TensorDataset(clips.clamp(0, 1), labels)


class MiniSlowFast(nn.Module):
    """A tiny :class:`SlowFast` (one block per stage) that splits an RGB clip ``(B, 3, T, H, W)`` itself:
    the Slow pathway gets every ``alpha``-th frame in colour, the Fast pathway every frame in grey (the
    channel mean, repeated over the three channels). ``pathways`` blanks one of them (see the module doc)."""

    def __init__(
        self,
        pathways: str = "both",
        *,
        alpha: int = 4,
        width: int = 8,
        num_classes: int = 4,
    ) -> None:
        super().__init__()
        if pathways not in PATHWAYS:
            raise ValueError(
                f"pathways must be one of {PATHWAYS}, got {pathways!r}"
            )
        w = check_int(width, "width", minimum=4)
        if w % 4:
            raise ValueError(
                f"width must be a multiple of 4 (the Fast pathway has a quarter of it), got {w}"
            )
        self.pathways = pathways
        self.alpha = check_int(alpha, "alpha", minimum=1)
        self.net = SlowFast(
            layers=(1, 1, 1, 1),
            widths=(w, w, 2 * w, 2 * w),
            alpha=alpha,
            beta=1 / 4,
            num_classes=check_int(num_classes, "num_classes", minimum=2),
            dropout=0.0,
        )

    def forward(self, clip: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_clip(clip, self, min_frames=self.alpha)
        slow = clip[:, :, :: self.alpha]  # (B, 3, T/alpha, H, W) in colour
        fast = clip.mean(dim=1, keepdim=True).expand_as(
            clip
        )  # (B, 3, T, H, W), grey
        if self.pathways == "slow only":
            fast = torch.zeros_like(fast)
        elif self.pathways == "fast only":
            slow = torch.zeros_like(slow)
        return self.net([slow, fast])


@dataclass
class PathwaysResult:
    """``table`` (one row per variant), ``accuracy[variant]`` (test top-1), trained ``models``, ``chance``."""

    table: Table
    accuracy: dict[str, float]
    models: dict[str, MiniSlowFast]
    chance: float


PATHWAYS_RUN = SmallRun(train_clips=256, test_clips=128, epochs=4, lr=1e-2)


def pathways_experiment(
    run: SmallRun = PATHWAYS_RUN,
    *,
    frames: int = 8,
    size: int = 16,
    alpha: int = 4,
    width: int = 8,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> PathwaysResult:
    """Train :class:`MiniSlowFast` with both pathways, the Slow one alone and the Fast one alone on the
    same clips (:func:`colour_motion_clips` with ``positions = alpha``), and test each on new clips.

    Seeded: the data by ``seed`` and ``seed + 1``, every network's initialisation and batch order by ``seed``.
    """
    SmallRun.check(run)
    alpha = check_int(alpha, "alpha", minimum=2)
    if check_int(frames, "frames", minimum=alpha) % alpha:
        raise ValueError(
            f"frames must be a multiple of alpha={alpha}, got {frames}"
        )
    device = check_device("cpu" if device is None else device)
    data = dict(frames=frames, size=size, positions=alpha)
    train = colour_motion_clips(run.train_clips, seed=seed, **data)
    test = colour_motion_clips(run.test_clips, seed=seed + 1, **data)
    builds = {
        v: lambda v=v: MiniSlowFast(v, alpha=alpha, width=width)
        for v in PATHWAYS
    }
    arms = train_arms(
        builds, train, test, run, seed=seed, device=device, precise_bn=True
    )
    rows = [
        {
            "pathways": variant,
            "slow input": "blank"
            if variant == "fast only"
            else f"every {alpha}th frame, colour",
            "fast input": "blank"
            if variant == "slow only"
            else "every frame, grey",
            "parameters": count_parameters(arm.model),
            "test top-1": round(arm.top1, 3),
            "train seconds": round(arm.seconds, 1),
        }
        for variant, arm in arms.items()
    ]
    accuracy = {v: arm.top1 for v, arm in arms.items()}
    models = {v: arm.model for v, arm in arms.items()}
    return PathwaysResult(Table(rows), accuracy, models, 1 / len(CLASSES))
