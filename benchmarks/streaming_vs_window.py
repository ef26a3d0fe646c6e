"""Per-frame cost of streaming a causal network versus recomputing a sliding window.

A live system that has no stream buffers must, at every new frame, run the network on the last
``R`` frames (``R`` = its temporal receptive field) and keep the output at the newest one. With
buffers (vidconv.temporal.streaming) it runs each layer on one new frame. This script measures both on the
same network, checks they give the same output, and prints per-frame time and FLOPs and their ratio.
Run: ``python benchmarks/streaming_vs_window.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from vidconv.experiments.temporal.streaming_video import causal_video_net
from vidconv.temporal.streaming import StreamingInference
from vidconv.temporal.thick_present import (
    temporal_extent,
)


def flops_of(fn) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        fn()
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--retention", type=int, default=2)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    torch.manual_seed(0)
    net = causal_video_net(args.channels, args.blocks, args.retention)
    extent = temporal_extent(
        net, 3, frames=4 * (2 * args.blocks + 1) * args.retention + 8, size=3
    )
    rf = extent.receptive_field
    if args.frames <= rf:  # the timings are taken once the window is full
        parser.error(
            f"--frames must exceed the network's receptive field of {rf} frames, got {args.frames}"
        )
    video = torch.randn(1, 3, args.frames, args.size, args.size)

    stream = StreamingInference(net)
    stream_times, window_times, worst = [], [], 0.0
    for t in range(args.frames):
        frame = video[:, :, t]
        start = time.perf_counter()
        y_stream = stream.step(frame)
        stream_times.append(time.perf_counter() - start)
        window = video[
            :, :, max(0, t - rf + 1) : t + 1
        ]  # (B, C, <=R, H, W): all the past the output can see
        start = time.perf_counter()
        with torch.no_grad():
            y_window = net(window)[:, :, -1]
        window_times.append(time.perf_counter() - start)
        worst = max(worst, (y_stream - y_window).abs().max().item())

    steady = slice(rf, None)  # once the window is full
    t_stream, t_window = (
        statistics.median(stream_times[steady]),
        statistics.median(window_times[steady]),
    )
    stream.reset()
    for t in range(rf):
        stream.step(video[:, :, t])
    f_stream = flops_of(lambda: stream.step(video[:, :, rf]))
    f_window = flops_of(lambda: net(video[:, :, 1 : rf + 1]))
    print(
        f"causal network: {len(list(net.modules()))} modules, receptive field {rf} frames "
        f"(retention {extent.retention}, protention {extent.protention}), frames {args.size}x{args.size}, "
        f"{torch.get_num_threads()} CPU threads"
    )
    print(
        f"max |stream - window| over {args.frames} frames: {worst:.2e}; frames buffered: {stream.buffered_frames}"
    )
    print(
        f"{'per new frame':<16} {'streaming':>12} {'sliding window':>15} {'window / stream':>16}"
    )
    print(
        f"{'time (ms)':<16} {t_stream * 1e3:>12.2f} {t_window * 1e3:>15.2f} {t_window / t_stream:>16.1f}"
    )
    print(
        f"{'MFLOPs':<16} {f_stream / 1e6:>12.1f} {f_window / 1e6:>15.1f} {f_window / f_stream:>16.1f}"
    )


if __name__ == "__main__":
    main()
