"""C3D (Tran et al., 2015, "Learning Spatiotemporal Features with 3D
Convolutional Networks", https://arxiv.org/abs/1412.0767).

Eight 3x3x3 convolutions (stride 1, padding 1) in five groups, each group
followed by max pooling: 1x2x2 after the first (so that time is not merged too
early), 2x2x2 after the others; two fully connected layers of 4096 units and a
classifier. Input: 16 frames of 112x112 pixels.

The original is a Caffe model, whose pooling rounds output sizes up; so does
:class:`C3D` (``ceil_mode=True``). At pool5 that turns 2x7x7 into 1x4x4, and
fc6 reads 512*1*4*4 = 8192 features. Ports that instead pad pool5 by (0, 1, 1)
get the same shape from shifted windows.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from vidconv.models._clip import check_clip, check_head

_POOL5_GRID = (1, 4, 4)  # (T, H, W) that fc6 is sized for


def _pooled_grid(t: int, h: int, w: int) -> tuple[int, ...]:
    """(T, H, W) after the five pools for an input of (t, h, w); convolutions
    keep the size."""

    def after(n: int, pools: list[int]) -> int:
        for k in pools:
            # Ceil mode with kernel = stride = k keeps a last, partial window:
            # ceil(n / k) outputs, even for n < k (one window over what is
            # there), as Caffe and torch both do.
            n = -(-n // k)
        return n

    return after(t, [1, 2, 2, 2, 2]), after(h, [2] * 5), after(w, [2] * 5)


class C3D(nn.Module):
    """C3D over clips ``(B, 3, T, H, W)``; ``fc6`` fixes the grid after pool5
    to 1x4x4 (e.g. 16x112x112)."""

    def __init__(self, num_classes: int = 101, dropout: float = 0.5) -> None:
        super().__init__()
        check_head(num_classes, dropout)

        def conv(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv3d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]

        def pool(k_t: int) -> nn.MaxPool3d:
            return nn.MaxPool3d((k_t, 2, 2), stride=(k_t, 2, 2), ceil_mode=True)

        layers: list[tuple[str, nn.Module]] = []
        for name, cin, cout, pool_t in [
            ("1", 3, 64, 1),
            ("2", 64, 128, 2),
            ("3a", 128, 256, None),
            ("3b", 256, 256, 2),
            ("4a", 256, 512, None),
            ("4b", 512, 512, 2),
            ("5a", 512, 512, None),
            ("5b", 512, 512, 2),
        ]:
            c, relu = conv(cin, cout)
            layers += [(f"conv{name}", c), (f"relu{name}", relu)]
            if pool_t is not None:
                layers.append((f"pool{name[0]}", pool(pool_t)))
        # (B, 512, 1, 4, 4) for 16x112x112
        self.features = nn.Sequential(OrderedDict(layers))
        self.classifier = nn.Sequential(
            OrderedDict(
                [
                    ("fc6", nn.Linear(512 * 4 * 4, 4096)),
                    ("relu6", nn.ReLU(inplace=True)),
                    ("drop6", nn.Dropout(dropout)),
                    ("fc7", nn.Linear(4096, 4096)),
                    ("relu7", nn.ReLU(inplace=True)),
                    ("drop7", nn.Dropout(dropout)),
                    ("fc8", nn.Linear(4096, num_classes)),
                ]
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_clip(x, self)
        grid = _pooled_grid(*x.shape[2:])
        if grid != _POOL5_GRID:
            raise ValueError(
                "C3D's fc6 expects 512x1x4x4 features after pool5, "
                "as from a (B, 3, 16, 112, 112) clip "
                "(1-16 frames and 97-128 pixels give the same grid); "
                f"got shape {tuple(x.shape)}, "
                f"which pools to {grid}"
            )
        x = self.features(x).flatten(1)  # (B, 8192)
        return self.classifier(x)


def c3d(*, num_classes: int = 101, dropout: float = 0.5) -> C3D:
    """C3D with ``num_classes`` outputs (101 for UCF101). No pretrained
    weights: the originals are Caffe files."""
    return C3D(num_classes=num_classes, dropout=dropout)
