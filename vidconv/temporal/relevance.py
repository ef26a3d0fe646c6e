"""Temporal relevance and token selection: which moments of a video deserve
attention.

Three modules, each small enough to read at once:

* :class:`TemporalRelevanceModule` — a relevance in [0, 1] for every time step,
  computed from that step's features *in the context of its neighbours*
  (windowed self-attention), so that a frame can be relevant because it differs
  from what surrounds it.
* :class:`ThickPresentTokenSelector` — keeps the top ``keep_ratio`` of a token
  sequence by content relevance plus a learned recency profile over the last
  ``present_thickness`` positions.
* :class:`VideoRelevanceCompressor` — scores every spatial token of every frame
  (optionally conditioned on a text query) and merges groups of
  ``compression_ratio`` frames into one, each position weighted by its
  relevance.

Shapes: ``B`` batch, ``T`` time steps, ``N`` spatial tokens per frame, ``L``
text tokens, ``D`` features.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vidconv.utils.checks import check_like, check_positive_int, check_tensor


def _check_dim(hidden_dim: int, num_heads: int | None = None) -> None:
    check_positive_int(hidden_dim, "hidden_dim")
    if num_heads is not None:
        check_positive_int(num_heads, "num_heads")
        if hidden_dim % num_heads:
            raise ValueError(
                f"hidden_dim ({hidden_dim}) must be divisible by "
                f"num_heads ({num_heads})"
            )


def _check_tokens(
    x: torch.Tensor, name: str, ndim: int, layout: str, hidden_dim: int
) -> None:
    check_tensor(x, name, ndim=ndim, layout=layout)
    if x.shape[-1] != hidden_dim:
        raise ValueError(
            f"{name} must end in hidden_dim={hidden_dim} features {layout}, "
            f"got shape {tuple(x.shape)}"
        )
    if 0 in x.shape:
        raise ValueError(f"{name} is empty: shape {tuple(x.shape)}")


def _check_mask(
    mask: torch.Tensor | None, batch: int, steps: int, device: torch.device
) -> torch.Tensor | None:
    """The mask as bool (B, T), True = a real step.

    Accepts what users bring: bool, or the 0/1 integer or float masks of
    transformer libraries (an ``attention_mask`` of ones and zeros). Any other
    value is refused rather than guessed at.
    """
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor) or mask.is_complex():
        raise TypeError(
            f"mask must be a (B, T) tensor of bool or 0/1 numbers (1 = valid), "
            f"got {getattr(mask, 'dtype', type(mask).__name__)}"
        )
    if tuple(mask.shape) != (batch, steps):
        raise ValueError(
            f"mask must have shape (B, T) = {(batch, steps)}, "
            f"got {tuple(mask.shape)}"
        )
    if mask.device != device:
        raise ValueError(f"mask is on {mask.device} but x is on {device}")
    if mask.dtype != torch.bool:
        if not bool(((mask == 0) | (mask == 1)).all()):
            bad = mask[(mask != 0) & (mask != 1)].flatten()[0].item()
            raise ValueError(
                f"mask of dtype {mask.dtype} must hold only 0 (padding) "
                f"and 1 (valid), found {bad}"
            )
        mask = mask == 1
    return mask


class TemporalRelevanceModule(nn.Module):
    """Relevance of each time step from its features and those within
    ``temporal_window`` of it.

    Args:
        hidden_dim: feature size D (divisible by ``num_heads``).
        temporal_window: how many steps each one attends to, itself included;
            the window is centred (``temporal_window // 2`` steps each side, the
            extra one in the past when it is even).
        num_heads: attention heads.

    ``forward(x, mask=None)`` takes ``x`` (B, T, D) and an optional ``mask``
    (B, T), True (or 1) where a step is real — bool, or 0/1 integers or floats
    as transformer libraries' attention masks are; returns relevance (B, T) in
    [0, 1], exactly 0 at masked steps, for any T.
    """

    def __init__(
        self, hidden_dim: int, temporal_window: int = 5, num_heads: int = 4
    ) -> None:
        super().__init__()
        _check_dim(hidden_dim, num_heads)
        self.hidden_dim = hidden_dim
        self.temporal_window = check_positive_int(
            temporal_window, "temporal_window"
        )
        self.num_heads = num_heads
        self.attention = nn.MultiheadAttention(
            hidden_dim, num_heads, batch_first=True
        )
        self.norm = nn.LayerNorm(hidden_dim)
        # Scores the step's own features next to what differs from its context.
        self.score = nn.Sequential(
            nn.Linear(2 * hidden_dim, hidden_dim),
            nn.GELU(),
            nn.Linear(hidden_dim, 1),
        )

    def _allowed(
        self, steps: int, mask: torch.Tensor | None, device: torch.device
    ) -> tuple[torch.Tensor, int, int]:
        """Which key of each query's window may be attended to:
        ``(B or 1, T, W)`` bool, and the window's reach.

        Slot ``w`` of query ``t`` holds key ``t - past + w``. A key is allowed
        inside the clip and, with a mask, only if it is valid; a query always
        sees itself, so no softmax row is empty (which gives NaN).
        """
        past = min(
            self.temporal_window // 2, steps - 1
        )  # a window wider than the clip reaches no further
        future = min(
            self.temporal_window - 1 - self.temporal_window // 2, steps - 1
        )
        key = (
            torch.arange(steps, device=device)[:, None]
            - past
            + torch.arange(past + future + 1, device=device)
        )
        inside = (key >= 0) & (key < steps)  # (T, W)
        if mask is None:
            return inside[None], past, future
        is_self = (key == torch.arange(steps, device=device)[:, None])[
            None
        ]  # (1, T, W)
        valid = mask[
            :, key.clamp(0, steps - 1)
        ]  # (B, T, W): mask of each window slot's key
        return inside[None] & (valid | is_self), past, future

    def _windowed_attention(
        self, h: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """``self.attention`` (same parameters, same maths) restricted to each
        step's window.

        Keys outside the window are never gathered and masked keys are replaced
        by zeros before the weighted sum, so a NaN or infinity at a step that a
        query cannot see does not reach it (with an additive mask, weight 0
        times NaN would still be NaN).
        """
        b, t, d = h.shape
        heads = self.num_heads
        allowed, past, future = self._allowed(
            t, mask, h.device
        )  # (B or 1, T, W)
        width = past + future + 1
        q, k, v = F.linear(
            h, self.attention.in_proj_weight, self.attention.in_proj_bias
        ).chunk(3, dim=-1)  # (B, T, D)

        def windows(z: torch.Tensor) -> torch.Tensor:
            z = F.pad(z, (0, 0, past, future))  # (B, past + T + future, D)
            return (
                z.unfold(1, width, 1)
                .transpose(2, 3)
                .reshape(b, t, width, heads, d // heads)
            )  # (B, T, W, heads, Dh)

        keys, values = windows(k), windows(v)
        q = q.reshape(b, t, heads, d // heads)  # (B, T, heads, Dh)
        scores = torch.einsum("bthe,btwhe->bthw", q, keys) / math.sqrt(
            d // heads
        )  # (B, T, heads, W)
        scores = scores.masked_fill(~allowed[:, :, None, :], float("-inf"))
        weights = scores.softmax(dim=-1)  # (B, T, heads, W)
        values = torch.where(
            allowed[:, :, :, None, None],
            values,
            torch.zeros((), dtype=values.dtype, device=values.device),
        )
        context = torch.einsum("bthw,btwhe->bthe", weights, values).reshape(
            b, t, d
        )  # (B, T, D)
        return self.attention.out_proj(context)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:  # noqa: D102
        _check_tokens(x, "x", 3, "(B, T, D)", self.hidden_dim)
        check_like(x, "x", self, type(self).__name__)
        b, t, _ = x.shape
        mask = _check_mask(mask, b, t, x.device)
        h = self.norm(x)
        context = self._windowed_attention(h, mask)  # (B, T, D)
        relevance = torch.sigmoid(
            self.score(torch.cat([h, h - context], dim=-1))
        ).squeeze(-1)  # (B, T)
        if mask is not None:
            relevance = torch.where(
                mask,
                relevance,
                torch.zeros((), dtype=relevance.dtype, device=relevance.device),
            )
        return relevance


class ThickPresentTokenSelector(nn.Module):
    """Keep the ``keep_ratio`` most relevant tokens of a sequence, favouring the
    recent ones as learned.

    Score of token ``t`` of a length-``T`` sequence:
    ``content(x_t) + recency[age]`` with ``age = T - 1 - t``; ages
    ``0 .. present_thickness - 1`` each have their own learned value, older
    tokens share one more. The kept tokens are returned in temporal order and
    multiplied by ``sigmoid(score)`` so that both the content scorer and the
    recency profile receive gradients through the selection.

    ``forward(x)`` takes (B, T, D) and returns
    ``(kept (B, k, D), indices (B, k), scores (B, T))`` with
    ``k = max(1, floor(keep_ratio * T + 0.5))``: at least one token, however
    short the sequence.
    """

    def __init__(
        self,
        hidden_dim: int,
        present_thickness: int = 8,
        keep_ratio: float = 0.5,
    ) -> None:
        super().__init__()
        _check_dim(hidden_dim)
        self.hidden_dim = hidden_dim
        self.present_thickness = check_positive_int(
            present_thickness, "present_thickness"
        )
        if (
            isinstance(keep_ratio, bool)
            or not isinstance(keep_ratio, (int, float))
            or not 0.0 < keep_ratio <= 1.0
        ):
            raise ValueError(
                f"keep_ratio must be a number in (0, 1], got {keep_ratio!r}"
            )
        self.keep_ratio = float(keep_ratio)
        self.content = nn.Linear(hidden_dim, 1)
        # Starts favouring the present, decaying linearly over the thickness;
        # learned from there.
        self.recency = nn.Parameter(
            torch.linspace(1.0, 0.0, present_thickness + 1)
        )

    def kept(self, steps: int) -> int:
        """How many of ``steps`` tokens are kept."""
        return max(1, min(steps, math.floor(self.keep_ratio * steps + 0.5)))

    def forward(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # noqa: D102
        _check_tokens(x, "x", 3, "(B, T, D)", self.hidden_dim)
        check_like(x, "x", self, type(self).__name__)
        b, t, d = x.shape
        age = (t - 1 - torch.arange(t, device=x.device)).clamp(
            max=self.present_thickness
        )  # (T,)
        scores = self.content(x).squeeze(-1) + self.recency[age]  # (B, T)
        k = self.kept(t)
        indices = (
            scores.topk(k, dim=1).indices.sort(dim=1).values
        )  # (B, k), in temporal order
        gate = torch.sigmoid(scores.gather(1, indices)).unsqueeze(
            -1
        )  # (B, k, 1)
        kept = (
            x.gather(1, indices.unsqueeze(-1).expand(-1, -1, d)) * gate
        )  # (B, k, D)
        return kept, indices, scores


class VideoRelevanceCompressor(nn.Module):
    """Merge every ``compression_ratio`` frames into one, a weighted average per
    token position.

    Each token gets a relevance logit (visual score, plus agreement with the
    text when given). The merge weights are ``softmax`` of those logits over the
    frames of a group, separately for each of the N token positions; the
    returned ``relevance`` is ``sigmoid`` of the same logits — it ranks tokens
    as the weights do, but it is not the weights (they are
    ``softmax(logit(relevance))``).

    Args:
        hidden_dim: feature size D.
        num_frames: the most frames a clip may have (a learned embedding per
            frame position).
        compression_ratio: frames merged into one.
        num_heads: heads of the attention from video tokens to text tokens.

    ``forward(tokens, text=None)`` takes tokens (B, T, N, D) — any N — and
    optional text features (B, L, D). Returns
    ``(compressed (B, ceil(T / ratio), N, D), relevance (B, T, N) in (0, 1))``.
    When T is not a multiple of the ratio the last group simply has fewer
    frames; its weights are normalised over them. With text, each token's
    relevance also depends on how well it matches the text (cross-attention).
    """

    def __init__(
        self,
        hidden_dim: int,
        num_frames: int,
        compression_ratio: int = 2,
        num_heads: int = 4,
    ) -> None:
        super().__init__()
        _check_dim(hidden_dim, num_heads)
        self.hidden_dim = hidden_dim
        self.num_frames = check_positive_int(num_frames, "num_frames")
        self.compression_ratio = check_positive_int(
            compression_ratio, "compression_ratio"
        )
        self.frame_embedding = nn.Parameter(torch.zeros(num_frames, hidden_dim))
        self.text_attention = nn.MultiheadAttention(
            hidden_dim, num_heads, batch_first=True
        )
        self.visual_score = nn.Sequential(
            nn.Linear(hidden_dim, hidden_dim),
            nn.GELU(),
            nn.Linear(hidden_dim, 1),
        )
        self.text_score = nn.Linear(hidden_dim, hidden_dim)

    def forward(
        self, tokens: torch.Tensor, text: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: D102
        _check_tokens(tokens, "tokens", 4, "(B, T, N, D)", self.hidden_dim)
        check_like(tokens, "tokens", self, type(self).__name__)
        b, t, n, d = tokens.shape
        if t > self.num_frames:
            raise ValueError(
                f"tokens have {t} frames, "
                f"more than num_frames={self.num_frames}"
            )
        h = tokens + self.frame_embedding[:t, None, :]  # (B, T, N, D)
        logits = self.visual_score(h).squeeze(-1)  # (B, T, N)
        if text is not None:
            _check_tokens(text, "text", 3, "(B, L, D)", self.hidden_dim)
            check_like(text, "text", tokens, "tokens")
            if text.shape[0] != b:
                raise ValueError(
                    f"text batch {text.shape[0]} differs from tokens batch {b}"
                )
            flat = h.reshape(b, t * n, d)  # (B, T*N, D)
            matched, _ = self.text_attention(
                flat, text, text, need_weights=False
            )  # (B, T*N, D)
            agreement = (self.text_score(flat) * matched).sum(-1) / math.sqrt(
                d
            )  # (B, T*N)
            logits = logits + agreement.reshape(b, t, n)
        relevance = torch.sigmoid(logits)  # (B, T, N)

        r = self.compression_ratio
        groups = -(-t // r)
        pad = groups * r - t
        # Frames added to fill the last group get weight 0 (logit -inf) and
        # change nothing.
        padded_tokens = F.pad(
            tokens, (0, 0, 0, 0, 0, pad)
        )  # (B, groups*r, N, D)
        padded_logits = F.pad(
            logits, (0, 0, 0, pad), value=float("-inf")
        )  # (B, groups*r, N)
        weights = padded_logits.reshape(b, groups, r, n).softmax(
            dim=2
        )  # (B, groups, r, N)
        grouped = padded_tokens.reshape(
            b, groups, r, n, d
        )  # (B, groups, r, N, D)
        compressed = (weights.unsqueeze(-1) * grouped).sum(
            dim=2
        )  # (B, groups, N, D)
        return compressed, relevance
