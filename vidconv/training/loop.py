"""A device-agnostic training and evaluation loop for video classifiers.

* Mixed precision through ``torch.autocast``: bfloat16 on CUDA, full precision on the CPU (bfloat16
  needs no loss scaling, so there is no ``GradScaler``; the deprecated ``torch.cuda.amp`` is not used).
* tqdm progress bars show running loss and accuracy; :func:`evaluate` reports top-1/top-5 per clip
  and, when the loader yields video ids, per video (softmax averaged over a video's clips).
* The same functions run under ``torchrun`` with DistributedDataParallel (:mod:`~vidconv.training.ddp`):
  metrics are reduced over the processes, rank 0 alone shows progress and writes checkpoints.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from vidconv.training import ddp
from vidconv.utils.checks import (
    check_bool,
    check_device,
    check_finite,
    check_int,
    check_like,
)


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be an nn.Module, got {type(model).__name__}"
        )
    return model


def _check_loader(loader: object, name: str) -> Iterable:
    if isinstance(loader, (torch.Tensor, str, bytes)) or not isinstance(
        loader, Iterable
    ):
        raise TypeError(
            f"{name} must be an iterable of (clips, labels) batches such as a DataLoader, "
            f"got {type(loader).__name__}"
        )
    return loader


def _check_label_dtype(labels: torch.Tensor) -> None:
    dtype = labels.dtype
    if dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
        raise TypeError(
            f"labels must be integer class indices, got dtype {dtype}"
        )


def _check_logits(
    logits: object, labels: torch.Tensor, where: str
) -> torch.Tensor:
    """The model's output must be ``(B, classes)`` and every label one of those classes."""
    if (
        not isinstance(logits, torch.Tensor)
        or logits.dim() != 2
        or logits.shape[0] != labels.shape[0]
    ):
        got = (
            tuple(logits.shape)
            if isinstance(logits, torch.Tensor)
            else type(logits).__name__
        )
        raise ValueError(
            f"{where}: the model must return logits (B, classes) = ({labels.shape[0]}, classes), got {got}"
        )
    if labels.numel() and (
        int(labels.min()) < 0 or int(labels.max()) >= logits.shape[1]
    ):
        raise ValueError(
            f"{where}: labels must be class indices in [0, {logits.shape[1]}) for a model with "
            f"{logits.shape[1]} outputs, got min {int(labels.min())} and max {int(labels.max())}"
        )
    return logits


def autocast(
    device: torch.device, enabled: bool = True
) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on CUDA when ``enabled``; a no-op elsewhere."""
    device = check_device(device)
    return torch.autocast(
        device_type=device.type,
        dtype=torch.bfloat16,
        enabled=enabled and device.type == "cuda",
    )


def topk_correct(
    logits: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5)
) -> dict[int, int]:
    """How many rows have their label among the ``k`` highest logits, for each k (capped at the class count)."""
    if not isinstance(logits, torch.Tensor) or not isinstance(
        labels, torch.Tensor
    ):
        raise TypeError(
            f"logits and labels must be tensors, got {type(logits).__name__} and {type(labels).__name__}"
        )
    if (
        logits.dim() != 2
        or labels.shape != logits.shape[:1]
        or logits.shape[1] == 0
    ):
        raise ValueError(
            f"logits must be (N, classes) and labels (N,), got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    _check_label_dtype(labels)
    if isinstance(ks, (int, str)) or not ks:
        raise TypeError(
            f"ks must be a non-empty sequence of ints such as (1, 5), got {ks!r}"
        )
    ks = tuple(check_int(k, "ks entry", minimum=1) for k in ks)
    top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices  # (N, k)
    hits = top == labels.unsqueeze(1)
    return {k: int(hits[:, :k].any(dim=1).sum()) for k in ks}


def _unpack(
    batch: Any,
) -> tuple[torch.Tensor, torch.Tensor, Sequence[Any] | None]:
    if not isinstance(batch, (list, tuple)) or len(batch) not in (2, 3):
        raise ValueError(
            "each batch must be (clips, labels) or (clips, labels, video_ids)"
        )
    clips, labels = batch[0], batch[1]
    if not isinstance(clips, torch.Tensor) or clips.dim() != 5:
        raise ValueError(
            f"clips must be a (B, C, T, H, W) tensor, got {getattr(clips, 'shape', type(clips).__name__)}"
        )
    if not clips.is_floating_point():
        raise TypeError(
            f"clips must be a floating-point tensor, got dtype {clips.dtype}"
        )
    try:
        labels = torch.as_tensor(labels)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(
            f"labels must be integer class indices (a tensor or a list of ints), got {labels!r}"
        ) from err
    _check_label_dtype(labels)
    if labels.shape != clips.shape[:1]:
        raise ValueError(
            f"labels must have one entry per clip, shape ({clips.shape[0]},), got {tuple(labels.shape)}"
        )
    if clips.shape[0] == 0:
        raise ValueError(
            f"a batch is empty: clips of shape {tuple(clips.shape)}"
        )
    ids = batch[2] if len(batch) == 3 else None
    if ids is not None and len(ids) != clips.shape[0]:
        raise ValueError(
            f"video_ids must have one entry per clip ({clips.shape[0]}), got {len(ids)}"
        )
    return clips, labels.long(), ids


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device | None = None,
    amp: bool = True,
    progress: bool = True,
    desc: str = "train",
) -> dict[str, float]:
    """One pass over ``loader``; returns mean loss, top-1 accuracy and seconds.

    Under torchrun (``model`` wrapped by :func:`~vidconv.training.ddp.distributed`, ``loader`` with a
    ``DistributedSampler``) each process trains on its own shard, and the loss and accuracy returned,
    on every process, are those of all the shards together; the progress bar is rank 0's.
    Stops with a ValueError, before the optimizer step, on a clip with NaN/infinite values (which would
    also poison batch-norm statistics) or a non-finite loss, so the parameters are never made NaN; under
    torchrun every process stops at that step (the others with a RuntimeError naming the rank).
    """
    device = check_device(device)
    _check_model(model)
    _check_loader(loader, "loader")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    check_bool(amp, "amp")
    check_bool(progress, "progress")
    if (ddp.launched() or ddp.is_distributed()) and not isinstance(
        model, DistributedDataParallel
    ):
        raise ValueError(
            "under torchrun the model must be wrapped in DistributedDataParallel, or the processes "
            "never average their gradients and train apart: "
            "`model, device = vidconv.training.distributed(model)` (fit does it)"
        )
    if ddp.is_distributed():
        ddp.check_sharded(loader, "loader", train=True)
        ddp.all_equal(len(loader), "the number of training batches")
    model.train()
    total, loss_sum, correct, start = 0, 0.0, 0, time.perf_counter()
    bar = tqdm(
        loader,
        desc=desc,
        disable=not progress or not ddp.is_main(),
        leave=False,
    )
    for step, batch in enumerate(bar):
        where = f"{desc}, batch {step}"
        error = None
        try:
            clips, labels, _ = _unpack(batch)
            clips, labels = (
                clips.to(device, non_blocking=True),
                labels.to(device, non_blocking=True),
            )
            check_like(clips, f"clips ({where})", model, "the model")
            check_finite(clips, f"clips ({where})")
        except (TypeError, ValueError) as err:
            error = err
        ddp.agree(
            error, where
        )  # a process that stopped alone would leave the others waiting in backward
        with autocast(device, amp):
            logits = model(clips)
        try:
            logits = _check_logits(logits, labels, where)
            loss = F.cross_entropy(logits.float(), labels)
            if not bool(torch.isfinite(loss)):
                raise ValueError(
                    f"{where}: the loss is {loss.item()} (not finite); training stopped before the "
                    "optimizer step, so the parameters are unchanged. Lower the learning rate or check "
                    "the data and the model's outputs."
                )
        except (TypeError, ValueError) as err:
            error = err
        ddp.agree(error, where)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # under DDP: gradients averaged over the processes, bucket by bucket, during backward
        optimizer.step()
        n = labels.shape[0]
        total += n
        loss_sum += loss.item() * n
        correct += topk_correct(logits.detach().float(), labels, (1,))[1]
        bar.set_postfix(
            loss=f"{loss_sum / total:.3f}", acc=f"{correct / total:.3f}"
        )
    loss_sum, total, correct = ddp.all_sum(
        [loss_sum, total, correct]
    )  # the whole dataset, not one shard
    if total == 0:
        raise ValueError("the training loader yielded no batch")
    return {
        "loss": loss_sum / total,
        "top1": correct / total,
        "seconds": time.perf_counter() - start,
    }


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Iterable,
    *,
    device: torch.device | None = None,
    amp: bool = True,
    progress: bool = False,
) -> dict[str, float]:
    """Clip-level top-1/top-5 and mean loss; video-level top-1/top-5 when batches carry video ids.

    Under torchrun each process evaluates its shard (a ``ShardSampler``, or a ``DistributedSampler``
    that repeats no sample) and every process returns the metrics of the whole dataset; a video whose
    clips sit on several processes gets the softmax averaged over all of them.
    """
    device = check_device(device)
    _check_model(model)
    _check_loader(loader, "loader")
    check_bool(amp, "amp")
    check_bool(progress, "progress")
    ddp.check_sharded(loader, "loader", train=False)
    model.eval()
    net = ddp.unwrap(
        model
    )  # no gradients to average: the plain module runs no collective per batch
    total, loss_sum = 0, 0.0
    hits: dict[int, int] = defaultdict(int)
    video_probs: dict[Any, torch.Tensor] = {}
    video_label: dict[Any, int] = {}
    error = None
    try:
        for batch in tqdm(
            loader,
            desc="eval",
            disable=not progress or not ddp.is_main(),
            leave=False,
        ):
            clips, labels, ids = _unpack(batch)
            clips, labels = clips.to(device), labels.to(device)
            check_like(clips, "clips", net, "the model")
            with autocast(device, amp):
                logits = _check_logits(net(clips), labels, "evaluate").float()
            loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
            total += labels.shape[0]
            for k, v in topk_correct(logits, labels).items():
                hits[k] += v
            if ids is not None:
                for vid, p, y in zip(
                    ids, logits.softmax(dim=1).cpu(), labels.tolist()
                ):
                    key = vid.item() if isinstance(vid, torch.Tensor) else vid
                    video_probs[key] = video_probs.get(key, 0) + p
                    video_label[key] = y
    except (TypeError, ValueError) as err:
        error = err
    ddp.agree(error, "evaluate")
    loss_sum, total, hit1, hit5 = ddp.all_sum(
        [loss_sum, total, hits[1], hits[5]]
    )
    if total == 0:
        raise ValueError("the evaluation loader yielded no batch")
    result = {
        "loss": loss_sum / total,
        "top1": hit1 / total,
        "top5": hit5 / total,
    }
    video_probs, video_label = ddp.all_merge(video_probs, video_label)
    if video_probs:
        keys = list(video_probs)
        v_hits = topk_correct(
            torch.stack([video_probs[k] for k in keys]),
            torch.tensor([video_label[k] for k in keys]),
        )
        result |= {
            "video_top1": v_hits[1] / len(keys),
            "video_top5": v_hits[5] / len(keys),
            "videos": len(keys),
        }
    return result


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    history: list[dict[str, float]],
) -> None:
    """Rank 0 writes ``{"epoch", "model", "optimizer", "history"}`` to ``path``; every process waits for it.

    ``model`` is the plain model's state dict (no DDP ``module.`` prefix) and every tensor is on the CPU,
    so ``torch.load(path, weights_only=True)`` loads it in a single process on any machine. The file is
    written next to ``path`` and renamed, so a crash never leaves half a checkpoint.
    """
    if ddp.is_main():
        state = {
            "epoch": len(history),
            "model": ddp.unwrap(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "history": history,
        }
        tmp = f"{os.fspath(path)}.tmp"
        torch.save(_to_cpu(state), tmp)
        os.replace(tmp, path)
    ddp.barrier()


def fit(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable | None = None,
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer,
    device: torch.device | None = None,
    amp: bool = True,
    progress: bool = True,
    checkpoint: str | os.PathLike | None = None,
) -> list[dict[str, float]]:
    """Train for ``epochs`` epochs, evaluating after each when ``val_loader`` is given; returns the history.

    The same call runs in one process and under ``torchrun --nproc_per_node=N``. There ``fit`` joins the
    process group and wraps ``model`` in DDP itself (:func:`~vidconv.training.ddp.distributed`: NCCL on
    GPUs, gloo on the CPU), the loaders must be sharded (:func:`~vidconv.training.ddp.distributed_loader`),
    every process returns the same history of whole-dataset metrics and only rank 0 shows progress.
    A sampler with ``set_epoch`` (``DistributedSampler``) gets ``set_epoch(epoch - 1)`` before each epoch,
    in one process too, so every epoch is shuffled differently and identically on all processes.
    ``checkpoint``: a file that rank 0 rewrites after every epoch (:func:`save_checkpoint`).
    """
    _check_model(model)
    _check_loader(train_loader, "train_loader")
    if val_loader is not None:
        _check_loader(val_loader, "val_loader")
    epochs = check_int(epochs, "epochs", minimum=1)
    if checkpoint is not None and not isinstance(
        checkpoint, (str, os.PathLike)
    ):
        raise TypeError(
            f"checkpoint must be a file path (str or os.PathLike) or None, got {type(checkpoint).__name__}"
        )
    if ddp.launched() or ddp.is_distributed():
        model, device = ddp.distributed(model, device)
    else:
        device = check_device(device)
        model.to(device)
    history = []
    for epoch in range(1, epochs + 1):
        sampler = getattr(train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(
                epoch - 1
            )  # the epoch seeds the shuffle: new each epoch, the same on every process
        row = {
            "epoch": epoch,
            **{
                f"train_{k}": v
                for k, v in train_one_epoch(
                    model,
                    train_loader,
                    optimizer,
                    device=device,
                    amp=amp,
                    progress=progress,
                    desc=f"epoch {epoch}",
                ).items()
            },
        }
        if val_loader is not None:
            row |= {
                f"val_{k}": v
                for k, v in evaluate(
                    model, val_loader, device=device, amp=amp
                ).items()
            }
        history.append(row)
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, optimizer, history)
    return history
