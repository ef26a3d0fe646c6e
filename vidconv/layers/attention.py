"""Self-attention over tokens, every product explicit.

Written out (no fused kernel) so that ``torch.utils.flop_counter`` sees
each matrix product and the chapters can count what attention costs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vidconv.utils.checks import check_positive_int, check_tensor


class SelfAttention(nn.Module):
    """Multi-head self-attention over (B, N, D) tokens, every product explicit (no fused kernel)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        check_positive_int(dim, "dim")
        check_positive_int(num_heads, "num_heads")
        if dim % num_heads:
            raise ValueError(
                f"dim ({dim}) must be divisible by num_heads ({num_heads})"
            )
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        check_tensor(x, "x", ndim=3, layout="(B, N, D)")
        b, n, d = x.shape
        q, k, v = (
            self.qkv(x)
            .reshape(b, n, 3, self.num_heads, d // self.num_heads)
            .permute(2, 0, 3, 1, 4)
        )
        # q, k, v: (B, heads, N, Dh)
        weights = (
            q @ k.transpose(-1, -2) / math.sqrt(d // self.num_heads)
        ).softmax(dim=-1)  # (B, heads, N, N)
        return self.out(
            (weights @ v).transpose(1, 2).reshape(b, n, d)
        )  # (B, N, D)
