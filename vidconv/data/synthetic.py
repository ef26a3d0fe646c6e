"""A video dataset in which only the order of frames tells the classes apart.

Every clip shows a bright blob that visits all ``frames`` positions of a circle, one per frame,
exactly once. What differs between classes is the *order*: class ``k`` steps ``speed_k`` positions
around the circle per frame, and the speeds (+1, -1, +2, -2, ...) are all coprime with the number
of frames, so every class visits every position. Hence, for a given circle, start and blob, the
**set of frames is the same for every class** — any model that treats frames independently and pools
over time (a per-frame 2D CNN with averaging) is at chance by construction, while a model that sees
frames together can read the direction and speed of rotation. Playing a clip backwards negates its
speed, which is another class: reversal changes the label.

Nuisances drawn per clip: circle radius and centre offset, blob size, start position, brightness and
Gaussian pixel noise. Clip ``i`` depends only on ``(seed, i)``, through its own ``torch.Generator``,
so the same seed gives bit-identical clips on any machine, in any DataLoader worker, in any order.
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import Dataset, TensorDataset

from vidconv.utils.checks import check_int, check_number, check_positive_int


def rotation_speeds(frames: int, num_classes: int) -> list[int]:
    """The first ``num_classes`` speeds +1, -1, +2, -2, ... whose size is coprime with ``frames``."""
    frames = check_int(frames, "frames", minimum=3)
    num_classes = check_int(num_classes, "num_classes", minimum=2)
    speeds = [
        sign * s
        for s in range(1, frames // 2 + 1)
        if math.gcd(s, frames) == 1 and 2 * s != frames
        for sign in (1, -1)
    ]
    if num_classes > len(speeds):
        raise ValueError(
            f"with {frames} frames only {len(speeds)} classes are possible (speeds {speeds}); "
            f"got num_classes={num_classes}. A prime number of frames gives the most."
        )
    return speeds[:num_classes]


class RotatingBlobs(Dataset):
    """Seeded synthetic clips ``(3, T, H, W)`` in [0, 1] with labels in ``range(num_classes)``.

    Args:
        num_clips: dataset length.
        frames: T, also the number of positions on the circle (7 or 11 give 6 or 10 classes).
        size: H = W in pixels.
        num_classes: how many rotation speeds to tell apart (see :func:`rotation_speeds`).
        noise: standard deviation of the Gaussian pixel noise.
        seed: selects the dataset; clip ``i`` is a function of ``(seed, i)`` only.
    """

    def __init__(
        self,
        num_clips: int = 512,
        *,
        frames: int = 7,
        size: int = 16,
        num_classes: int = 4,
        noise: float = 0.05,
        seed: int = 0,
    ) -> None:
        self.num_clips = check_int(
            num_clips, "num_clips", minimum=1, maximum=2**40
        )
        self.frames = check_positive_int(frames, "frames", minimum=3)
        self.size = check_positive_int(size, "size", minimum=8)
        self.speeds = rotation_speeds(self.frames, num_classes)
        self.num_classes = len(self.speeds)
        self.noise = check_number(noise, "noise", minimum=0.0)
        # seed * 1_000_003 + index must fit torch's 64-bit seed: both are capped at 2**40.
        self.seed = check_int(seed, "seed", minimum=0, maximum=2**40)
        self.classes = [
            f"{'counter' if s < 0 else ''}clockwise x{abs(s)}"
            for s in self.speeds
        ]

    def __len__(self) -> int:
        return self.num_clips

    def label_of(self, index: int) -> int:
        """Labels cycle through the classes, so every class is equally frequent."""
        return index % self.num_classes

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        index = check_int(index, "index")
        if not -self.num_clips <= index < self.num_clips:
            raise IndexError(
                f"index {index} out of range for {self.num_clips} clips"
            )
        index %= self.num_clips
        label = self.label_of(index)
        return self.render(index, self.speeds[label]), label

    def render(
        self, index: int, speed: int, *, start: int | None = None
    ) -> torch.Tensor:
        """Clip ``index``'s nuisances, played at ``speed`` positions per frame: ``(3, T, H, W)``.

        ``start`` overrides the drawn start position (used to show that reversal is a class change).
        """
        index = check_int(index, "index", minimum=0, maximum=2**40)
        speed = check_int(speed, "speed")
        start = None if start is None else check_int(start, "start")
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        u = torch.rand(6, generator=gen, dtype=torch.float64)
        s, t = self.size, self.frames
        radius = s * (0.22 + 0.12 * u[0].item())
        cx = s / 2 + (u[1].item() - 0.5) * 0.1 * s
        cy = s / 2 + (u[2].item() - 0.5) * 0.1 * s
        sigma = s * (0.06 + 0.04 * u[3].item())
        start = int(u[4].item() * t) if start is None else start
        brightness = 0.6 + 0.4 * u[5].item()
        positions = [
            (start + speed * k) % t for k in range(t)
        ]  # every position exactly once
        angles = torch.tensor(
            [2 * math.pi * p / t for p in positions], dtype=torch.float64
        )  # (T,)
        ys = torch.arange(s, dtype=torch.float64).view(1, s, 1)
        xs = torch.arange(s, dtype=torch.float64).view(1, 1, s)
        bx = (cx + radius * torch.cos(angles)).view(t, 1, 1)
        by = (cy + radius * torch.sin(angles)).view(t, 1, 1)
        blob = brightness * torch.exp(
            -((xs - bx) ** 2 + (ys - by) ** 2) / (2 * sigma**2)
        )  # (T, H, W)
        clip = blob.unsqueeze(0).expand(
            3, -1, -1, -1
        )  # (3, T, H, W): grey blob
        if self.noise:
            clip = clip + self.noise * torch.randn(
                clip.shape, generator=gen, dtype=torch.float64
            )
        return clip.clamp(0.0, 1.0).to(torch.float32)


def clip_tensors(
    dataset: RotatingBlobs, *, with_reversed: bool = False
) -> TensorDataset:
    """All clips and labels of a synthetic dataset as two tensors (small
    data; nothing is cached on disk).

    ``with_reversed`` appends every clip played backwards, labelled with the
    class of the opposite rotation (speed ``-s``): the set is then closed
    under reversal, and a network whose output ignores the direction of time
    scores exactly chance on it between each class and its reverse.
    """
    clips, labels = zip(*(dataset[i] for i in range(len(dataset))))
    x, y = torch.stack(clips), torch.tensor(labels)  # (N, 3, T, H, W), (N,)
    if with_reversed:
        reverse_class = torch.tensor(
            [dataset.speeds.index(-s) for s in dataset.speeds]
        )
        x, y = (
            torch.cat([x, x.flip(2)]),
            torch.cat([y, reverse_class[y]]),
        )  # flip(2): time reversed
    return TensorDataset(x, y)
