"""Streaming a causal MoViNet: exact, constant memory, constant time per frame (Chapter 11).

* :func:`randomize` — give a network random weights *and* batch-norm statistics (and open every
  residual gate), so that a comparison exercises every path and not a near-identity network.
* :func:`stream_vs_offline` — stream a clip in chunks of several sizes and compare, after every chunk,
  with the offline causal model on all frames so far; record the state carried between chunks.
* :func:`streaming_cost` — per frame of a video: the time and the memory held between frames when the
  model streams, when it re-runs offline on the growing clip, and on a sliding window of recent frames.

Times are measured, never asserted (they depend on the machine); the equalities are what tests check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from vidconv.models.movinet import MoViNet
from vidconv.utils.checks import check_int, check_int_sequence, check_tensor
from vidconv.utils.table import Table
from vidconv.utils.timing import timed


def _check_model(model: object) -> MoViNet:
    if not isinstance(model, MoViNet):
        raise TypeError(
            f"model must be a vidconv MoViNet (e.g. movinet_a0()), got {type(model).__name__}"
        )
    if not model.causal:
        raise ValueError(
            "model must be causal (movinet_a0(causal=True)) to stream"
        )
    return model


def _check_clip(clip: object, model: MoViNet) -> torch.Tensor:
    x = check_tensor(clip, "clip", ndim=5, layout="(B, 3, T, H, W)")
    model._check(x)
    return x


@torch.no_grad()
def randomize(model: nn.Module, *, seed: int = 0) -> nn.Module:
    """Redraw a network's weights from ``seed`` as a trained one might look; returns ``model``.

    Convolutions get He-normal weights and small random biases; batch norms random scales, shifts and
    running statistics (a fresh one is the identity); every ``rezero`` gate a value in [0.5, 1]; a MoViNet's
    last layer N(0, 0.01²), its initial scale. A freshly
    built MoViNet starts its gates at 0 and is nearly the identity, so a comparison on it would skip
    most of the network; after this every layer counts.
    """
    gen = torch.Generator().manual_seed(check_int(seed, "seed"))

    def draw(t: torch.Tensor, std: float, mean: float = 0.0) -> None:
        t.copy_(torch.randn(t.shape, generator=gen) * std + mean)

    for name, p in model.named_parameters():
        if name.endswith("rezero"):
            p.copy_(torch.rand(p.shape, generator=gen) * 0.5 + 0.5)
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            draw(m.weight, (2.0 / m.weight[0].numel()) ** 0.5)
            if m.bias is not None:
                draw(m.bias, 0.1)
        elif (
            isinstance(m, nn.modules.batchnorm._BatchNorm)
            and m.running_mean is not None
        ):
            draw(m.weight, 0.1, 1.0)
            draw(m.bias, 0.1)
            draw(m.running_mean, 0.1)
            m.running_var.copy_(
                torch.rand(m.running_var.shape, generator=gen) + 0.5
            )
    if isinstance(
        model, MoViNet
    ):  # the last layer keeps the small scale it is initialised with
        draw(model.classifier[-1].weight, 0.01)
    return model


@torch.no_grad()
def stream_vs_offline(
    model: MoViNet, clip: torch.Tensor, chunk_sizes: Sequence[int] = (1, 4)
) -> Table:
    """Stream ``clip`` in chunks of each size; compare with the offline causal logits after every chunk.

    Columns: the chunk size, the number of chunks, the largest ``|stream - offline|`` over all chunks
    and classes, and the state held between chunks after the first and after the last chunk (KiB).
    """
    model = _check_model(model).eval()
    x = _check_clip(clip, model)
    sizes = check_int_sequence(
        tuple(chunk_sizes), "chunk_sizes", length=len(chunk_sizes), minimum=1
    )
    offline = model.frame_logits(x)  # (B, K, T): the logits after every frame
    frames = x.shape[2]
    rows = []
    for size in sizes:
        model.reset_stream()
        gap, states = 0.0, []
        for start in range(0, frames, size):
            logits = model.stream(x[:, :, start : start + size])  # (B, K)
            seen = min(start + size, frames)
            gap = max(
                gap, (logits - offline[:, :, seen - 1]).abs().max().item()
            )
            states.append(model.stream_state_bytes())
        rows.append(
            {
                "chunk frames": size,
                "chunks": len(states),
                "max |stream - offline|": gap,
                "state KiB (first chunk)": states[0] / 1024,
                "state KiB (last chunk)": states[-1] / 1024,
            }
        )
    model.reset_stream()
    return Table(rows, floatfmt=".3g")


@torch.no_grad()
def streaming_cost(
    model: MoViNet, clip: torch.Tensor, *, window: int = 8
) -> tuple[Table, dict[str, Any]]:
    """Per frame ``t`` of ``clip`` (one video, ``B = 1``), three ways to get a prediction at ``t``:

    * ``stream`` — feed frame ``t`` to :meth:`MoViNet.stream`; memory held = the stream state;
    * ``offline, growing clip`` — re-run the model on frames ``0..t``; memory held = those frames;
    * ``offline, sliding window`` — re-run on the last ``window`` frames; memory held = those frames
      (cheaper, but it forgets everything earlier, so its logits are not the stream's).

    Returns a summary :class:`~vidconv.utils.table.Table` (time per frame averaged over the last half of the
    clip, memory held at the last frame, the largest logit gap to the growing clip) and the per-frame
    series ``{"frame", "<way> ms", "<way> KiB"}`` for a figure.
    """
    model = _check_model(model).eval()
    x = _check_clip(clip, model)
    if x.shape[0] != 1:
        raise ValueError(
            f"clip must hold one video (batch size 1), got shape {tuple(x.shape)}"
        )
    window = check_int(window, "window", minimum=1)
    frames = x.shape[2]
    frame_bytes = x[:, :, :1].numel() * x.element_size()
    ways = ("stream", "offline, growing clip", "offline, sliding window")
    series: dict[str, Any] = {"frame": list(range(1, frames + 1))}
    for way in ways:
        series[f"{way} ms"], series[f"{way} KiB"] = [], []
    gaps = {way: 0.0 for way in ways}
    model.reset_stream()
    for t in range(1, frames + 1):
        growing, ms_grow = timed(lambda: model(x[:, :, :t]))  # noqa: B023 (called at once)
        streamed, ms_stream = timed(lambda: model.stream(x[:, :, t - 1 : t]))  # noqa: B023
        sliding, ms_slide = timed(
            lambda: model(x[:, :, max(0, t - window) : t])
        )  # noqa: B023
        held = (
            model.stream_state_bytes(),
            t * frame_bytes,
            min(t, window) * frame_bytes,
        )
        for way, out, sec, kept in zip(
            ways,
            (streamed, growing, sliding),
            (ms_stream, ms_grow, ms_slide),
            held,
        ):
            series[f"{way} ms"].append(1000 * sec)
            series[f"{way} KiB"].append(kept / 1024)
            gaps[way] = max(gaps[way], (out - growing).abs().max().item())
    model.reset_stream()
    half = frames // 2
    rows = [
        {
            "way": way,
            "ms per frame (2nd half)": sum(series[f"{way} ms"][half:])
            / (frames - half),
            "KiB held at last frame": series[f"{way} KiB"][-1],
            "max |logits - growing clip|": gaps[way],
        }
        for way in ways
    ]
    return Table(rows, floatfmt=".3g"), series
