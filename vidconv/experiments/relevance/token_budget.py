"""Why tokens are the budget: a clip of T frames of P patches is T·P tokens, and attention grows with its square (ch. 10).

:class:`SelfAttention` is one multi-head self-attention layer written out (projections, ``q @ kᵀ``,
softmax, ``@ v``, output projection) so that :func:`vidconv.count_flops` sees every product.
:func:`token_budget` counts, on the meta device (no memory, no arithmetic), one layer's FLOPs for
clips of several lengths under *joint* space-time attention (every token attends to every token, as in
ViViT's first model) and *divided* attention (TimeSformer: over time at each patch, then over space in
each frame), next to the closed form.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from vidconv.analysis.counting import count_flops
from vidconv.layers.attention import SelfAttention
from vidconv.utils.checks import (
    check_int_sequence,
    check_positive_int,
)
from vidconv.utils.table import Table


def attention_flops_formula(tokens: int, dim: int) -> int:
    """One layer, 2 FLOPs per multiply-add: projections ``8·N·D²`` plus ``q @ kᵀ`` and ``@ v``, ``4·N²·D``."""
    return 8 * tokens * dim**2 + 4 * tokens**2 * dim


def token_budget(
    frames: Sequence[int] = (8, 16, 32, 64),
    *,
    image_size: int = 224,
    patch_size: int = 16,
    dim: int = 768,
    num_heads: int = 12,
) -> Table:
    """Tokens and one attention layer's GFLOPs per clip, joint vs divided space-time, counted on the meta device.

    Columns: frames ``T``, patches per frame ``P``, tokens ``T·P``, joint GFLOPs (counted), its share in the
    two token-by-token products, divided GFLOPs (counted: attention over T at each patch, then over P in
    each frame), and joint / divided.
    """
    frames = (
        check_int_sequence(
            list(frames), "frames", length=len(frames), minimum=1
        )
        if frames
        else ()
    )
    if not frames:
        raise ValueError("frames must list at least one clip length")
    check_positive_int(image_size, "image_size")
    check_positive_int(patch_size, "patch_size")
    if image_size % patch_size:
        raise ValueError(
            f"image_size ({image_size}) must be a multiple of patch_size ({patch_size})"
        )
    with torch.device("meta"):
        layer = SelfAttention(dim, num_heads)
    patches = (image_size // patch_size) ** 2
    rows = []
    for t in frames:
        tokens = t * patches
        joint = count_flops(layer, (1, tokens, dim))
        # Divided: P sequences of T tokens, then T sequences of P tokens (the batch dimension holds them).
        divided = count_flops(layer, (patches, t, dim)) + count_flops(
            layer, (t, patches, dim)
        )
        rows.append(
            {
                "frames": t,
                "patches / frame": patches,
                "tokens": tokens,
                "joint GFLOPs": round(joint / 1e9, 2),
                "token x token share": round(4 * tokens**2 * dim / joint, 3),
                "divided GFLOPs": round(divided / 1e9, 2),
                "joint / divided": round(joint / divided, 1),
            }
        )
    return Table(rows)
