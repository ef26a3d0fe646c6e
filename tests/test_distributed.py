"""vidconv's trainer under torchrun: two gloo processes on the CPU against one process.

The two-process run is a real ``torchrun --nproc_per_node=2 -m vidconv.training`` (the command readers
run); the reference is ``vidconv.training.example.run`` in this process with the same seed and global
batch. Why they must agree: ``distributed_loader`` gives each of the N processes a
``DistributedSampler`` over the same seeded permutation ``perm`` of the dataset, rank r reading
``perm[r::N]`` in batches of b = B / N. At step s rank r reads ``perm[r + N*(s*b + j)]`` for j < b, so the
N batches of step s together are exactly ``perm[s*B:(s+1)*B]`` -- the batch that one process reads at step
s with ``DistributedSampler(num_replicas=1)`` over the same permutation (same seed, same epoch). DDP
averages the N per-rank gradients of per-rank mean losses over b clips each, which is the gradient of the
mean loss over the B clips: the same SGD step, up to the order of float additions. The model has no batch
norm (per-rank statistics would differ by design), and 64 clips are a multiple of B = 16, so no rank pads.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from itertools import chain
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from vidconv.training import ShardSampler, distributed_loader, fit
from vidconv.training.example import BlobVideos, run, tiny_video_net

ARGS = {
    "train_clips": 64,
    "val_clips": 32,
    "batch_size": 16,
    "epochs": 1,
    "lr": 0.5,
    "seed": 3,
}
TIMEOUT_S = 240  # two processes importing torch and training 4 steps take ~10-25 s on a loaded 2-core machine


def _torchrun(tmp_path: Path, nproc: int) -> tuple[int, str]:
    cli = [f"--{k.replace('_', '-')}={v}" for k, v in ARGS.items()]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "vidconv.training",
        *cli,
        "--device=cpu",
        "--no-progress",
        f"--checkpoint={tmp_path / 'model.pt'}",
        f"--history={tmp_path / 'history.json'}",
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")
    }
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")]
    )
    env["OMP_NUM_THREADS"] = "1"
    # A session of its own: on a timeout the whole group (torchrun and its workers) is killed, nothing lingers.
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(
            f"torchrun did not finish within {TIMEOUT_S} s (killed):\n{out[-3000:]}"
        )
    return proc.returncode, out


def test_torchrun_two_processes_train_like_one_process(tmp_path):
    code, out = _torchrun(tmp_path, 2)
    assert code == 0, out[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "history.json",
        "model.pt",
    ]  # exactly one checkpoint
    assert out.count("epoch 1 of 2 process(es)") == 1  # rank 0 alone prints

    torch.manual_seed(
        123
    )  # run() seeds itself: the reference must not depend on this process's state
    reference, ref_history = run(**ARGS, device="cpu", progress=False)
    checkpoint = torch.load(
        tmp_path / "model.pt", weights_only=True
    )  # no pickled code needed
    assert checkpoint["epoch"] == 1 and set(checkpoint) == {
        "epoch",
        "model",
        "optimizer",
        "history",
    }
    loaded = tiny_video_net()
    loaded.load_state_dict(
        checkpoint["model"]
    )  # strict: the plain model's keys, no DDP "module." prefix

    torch.manual_seed(ARGS["seed"])
    initial = tiny_video_net()
    worst = max(
        (p - q).abs().max().item()
        for p, q in zip(loaded.parameters(), reference.parameters())
    )
    moved = max(
        (p - q).abs().max().item()
        for p, q in zip(loaded.parameters(), initial.parameters())
    )
    assert worst < 1e-5, (
        f"parameters differ from the one-process run by {worst}"
    )
    assert moved > 1e-3, (
        "training changed nothing, so equal parameters would prove nothing"
    )

    two = json.loads((tmp_path / "history.json").read_text())
    assert two["world_size"] == 2
    row, ref = two["history"][0], ref_history[0]
    assert (
        row["val_videos"] == ref["val_videos"] == 16
    )  # every video once, its two clips on different ranks
    # lr 0.5 moves this seed's model off chance within 4 steps, so the counts are not trivially equal, and
    # the video accuracy differs from the clip accuracy: it is computed from both ranks' clips of a video
    assert ref["val_top1"] != 0.25 and ref["val_video_top1"] != ref["val_top1"]
    for key in ("val_top1", "val_top5", "val_video_top1", "val_video_top5"):
        assert row[key] == ref[key], (
            key
        )  # counts over the whole dataset, not rank 0's half
    for key in ("train_loss", "train_top1", "val_loss"):
        assert row[key] == pytest.approx(ref[key], rel=1e-5, abs=1e-6), key
    assert checkpoint["history"][0]["val_top1"] == row["val_top1"]


def test_shards_of_a_global_batch_are_the_one_process_batch():
    # The argument of the module docstring, checked on the samplers alone for N = 1, 2, 4.
    data = TensorDataset(torch.arange(48))
    one = [
        b[0].tolist()
        for b in DataLoader(
            data,
            batch_size=8,
            sampler=DistributedSampler(data, num_replicas=1, rank=0, seed=5),
        )
    ]
    for n in (2, 4):
        ranks = [
            [
                b[0].tolist()
                for b in DataLoader(
                    data,
                    batch_size=8 // n,
                    sampler=DistributedSampler(
                        data, num_replicas=n, rank=r, seed=5
                    ),
                )
            ]
            for r in range(n)
        ]
        joined = [
            sorted(chain.from_iterable(ranks[r][s] for r in range(n)))
            for s in range(len(one))
        ]
        assert joined == [sorted(b) for b in one]
    shards = [list(ShardSampler(range(11), 3, r)) for r in range(3)]
    assert sorted(chain.from_iterable(shards)) == list(range(11)) and [
        len(s) for s in shards
    ] == [4, 4, 3]  # no padding


def test_fit_sets_the_sampler_epoch_and_checkpoints_in_one_process(tmp_path):
    seen = []

    class Recording(DistributedSampler):
        def set_epoch(self, epoch: int) -> None:
            seen.append(epoch)
            super().set_epoch(epoch)

    data = BlobVideos(16, seed=0)
    loader = DataLoader(
        data, batch_size=8, sampler=Recording(data, num_replicas=1, rank=0)
    )
    assert (
        len(distributed_loader(data, 8, train=False)) == 2
    )  # one process: the whole dataset
    torch.manual_seed(0)
    model = tiny_video_net()
    history = fit(
        model,
        loader,
        loader,
        epochs=2,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        device="cpu",
        progress=False,
        checkpoint=tmp_path / "c.pt",
    )
    assert seen == [0, 1]  # a new shuffle each epoch
    assert [h["val_videos"] for h in history] == [8, 8]
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    assert state["epoch"] == 2 and os.listdir(tmp_path) == ["c.pt"]
    torch.testing.assert_close(
        state["model"]["6.weight"], model[6].weight.detach()
    )


def test_step_time_table_reports_every_process_count_against_one():
    # Structure, not speed (timings belong to benchmarks/): two spawned gloo processes, one step each.
    from functools import partial

    from vidconv.training.scaling import ddp_step_time

    table = ddp_step_time(
        partial(tiny_video_net, 4, 4),
        (2, 3, 7, 16, 16),
        nprocs=(1, 2),
        steps=1,
        warmup=0,
    )
    assert [r["processes"] for r in table.rows] == [1, 2] and [
        r["clips / step"] for r in table.rows
    ] == [2, 4]
    grad_mib = (
        sum(p.numel() * 4 for p in tiny_video_net(4, 4).parameters()) / 2**20
    )
    assert all(r["gradient MiB"] == round(grad_mib, 3) for r in table.rows)
    assert table.rows[0]["speed-up"] == 1 and all(
        r["ms / step"] > 0 for r in table.rows
    )
    row = table.rows[1]
    assert row["speed-up"] == pytest.approx(
        row["clips / s"] / table.rows[0]["clips / s"], abs=0.01
    )


def test_benchmark_script_documents_its_json_and_process_counts():
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [
            sys.executable,
            str(root / "benchmarks" / "ddp_step_time.py"),
            "--help",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert out.returncode == 0, out.stderr
    assert (
        "--out" in out.stdout
        and "--nproc" in out.stdout
        and "JSON" in out.stdout
    )
