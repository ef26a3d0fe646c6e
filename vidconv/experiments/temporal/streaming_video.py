"""A causal network on a real video, frame by frame: streaming against recomputing the window.

A live system without stream buffers must, at every new frame, run the network on the last ``R``
frames (``R`` = its temporal receptive field) and keep the output at the newest one.
:class:`~vidconv.temporal.streaming.StreamingInference` keeps each layer's last few inputs instead
and runs every layer on one new frame. :func:`stream_vs_window` plays a video both ways and records,
for every frame, the time each took, the bytes each keeps between frames and the bytes of the
activations each computes, and checks both against the network run offline on the whole video.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from vidconv.temporal.streaming import StreamingInference
from vidconv.temporal.thick_present import (
    CausalResidual,
    PhenomenologicalConv3D,
    temporal_extent,
)
from vidconv.utils.checks import check_int, check_positive_int, check_tensor
from vidconv.utils.table import Table


def causal_video_net(
    channels: int = 16, blocks: int = 2, retention: int = 2, *, seed: int = 0
) -> nn.Sequential:
    """A causal residual network over RGB clips: a stem and ``blocks`` blocks of two causal convolutions."""
    check_positive_int(channels, "channels")
    check_positive_int(blocks, "blocks")
    check_positive_int(retention, "retention")
    check_int(seed, "seed")
    torch.manual_seed(seed)
    layers: list[nn.Module] = [
        PhenomenologicalConv3D(3, channels, retention),
        nn.ReLU(),
    ]
    for _ in range(blocks):
        body = nn.Sequential(
            PhenomenologicalConv3D(channels, channels, retention),
            nn.ReLU(),
            PhenomenologicalConv3D(channels, channels, retention),
        )
        layers += [CausalResidual(body), nn.ReLU()]
    return nn.Sequential(*layers).eval()


def _activation_bytes(model: nn.Module, run) -> tuple[torch.Tensor, int]:
    """Run ``run()`` and add up the bytes of every leaf module's output: the activations computed."""
    total = [0]

    def count(_m: nn.Module, _inputs: object, out: torch.Tensor) -> None:
        total[0] += out.nelement() * out.element_size()

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(count) for m in leaves]
    try:
        out = run()
    finally:
        for h in handles:
            h.remove()
    return out, total[0]


def stream_vs_window(
    model: nn.Module, video: torch.Tensor
) -> tuple[Table, float]:
    """Play ``video`` ``(1, C, T, H, W)`` through a causal ``model`` two ways; per frame, time and memory.

    Returns a table with one row per frame and the largest difference between the streamed outputs,
    the window's outputs and the offline run on the whole video (all must agree).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    check_tensor(video, "video", ndim=5, layout="(B, C, T, H, W)")
    if video.shape[0] != 1:
        raise ValueError(
            f"video must hold one video (batch 1), got batch {video.shape[0]}"
        )
    stream = StreamingInference(
        model
    )  # refuses a model that looks at the future
    rf = temporal_extent(
        model, video.shape[1], frames=4 * stream.buffered_frames + 8, size=3
    ).receptive_field
    with torch.no_grad():
        offline = model(video)  # (1, C_out, T, H', W')
    rows, worst = [], 0.0
    frame_bytes = video[:, :, 0].nelement() * video.element_size()
    for t in range(video.shape[2]):
        start = time.perf_counter()
        y_stream, act_stream = _activation_bytes(
            model, lambda: stream.step(video[:, :, t])
        )
        t_stream = time.perf_counter() - start
        window = video[
            :, :, max(0, t - rf + 1) : t + 1
        ]  # (1, C, <= R, H, W): all the past the output can see
        start = time.perf_counter()
        with torch.no_grad():
            y_all, act_window = _activation_bytes(model, lambda: model(window))
        t_window = time.perf_counter() - start
        y_window = y_all[:, :, -1]
        worst = max(
            worst,
            (y_stream - offline[:, :, t]).abs().max().item(),
            (y_window - offline[:, :, t]).abs().max().item(),
        )
        kept = stream.state_bytes()
        rows.append(
            {
                "frame": t,
                "stream ms": t_stream * 1e3,
                "window ms": t_window * 1e3,
                "stream kept KiB": kept / 1024,
                "window kept KiB": (window.shape[2] - 1) * frame_bytes / 1024,
                "stream activations KiB": act_stream / 1024,
                "window activations KiB": act_window / 1024,
            }
        )
    return Table(rows), worst
