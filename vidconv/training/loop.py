"""A device-agnostic training and evaluation loop for video classifiers.

* Mixed precision through ``torch.autocast``: bfloat16 on CUDA, full precision on the CPU (bfloat16
  needs no loss scaling, so there is no ``GradScaler``; the deprecated ``torch.cuda.amp`` is not used).
* tqdm progress bars show running loss and accuracy; :func:`evaluate` reports top-1/top-5 per clip
  and, when the loader yields video ids, per video (softmax averaged over a video's clips).
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from vidconv.device import default_device


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on CUDA when ``enabled``; a no-op elsewhere."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled and device.type == "cuda")


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, int]:
    """How many rows have their label among the ``k`` highest logits, for each k (capped at the class count)."""
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"logits must be (N, classes) and labels (N,), got {tuple(logits.shape)} and {tuple(labels.shape)}")
    top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices  # (N, k)
    hits = top == labels.unsqueeze(1)
    return {k: int(hits[:, :k].any(dim=1).sum()) for k in ks}


def _unpack(batch: Any) -> tuple[torch.Tensor, torch.Tensor, Sequence[Any] | None]:
    if not isinstance(batch, (list, tuple)) or len(batch) not in (2, 3):
        raise ValueError("each batch must be (clips, labels) or (clips, labels, video_ids)")
    clips, labels = batch[0], batch[1]
    if not isinstance(clips, torch.Tensor) or clips.dim() != 5:
        raise ValueError(f"clips must be a (B, C, T, H, W) tensor, got {getattr(clips, 'shape', type(clips).__name__)}")
    ids = batch[2] if len(batch) == 3 else None
    return clips, torch.as_tensor(labels), ids


def train_one_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer, *,
                    device: torch.device | None = None, amp: bool = True, progress: bool = True,
                    desc: str = "train") -> dict[str, float]:
    """One pass over ``loader``; returns mean loss, top-1 accuracy and seconds."""
    device = device or default_device()
    model.train()
    total, loss_sum, correct, start = 0, 0.0, 0, time.perf_counter()
    bar = tqdm(loader, desc=desc, disable=not progress, leave=False)
    for batch in bar:
        clips, labels, _ = _unpack(batch)
        clips, labels = clips.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        with autocast(device, amp):
            logits = model(clips)
            loss = F.cross_entropy(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        n = labels.shape[0]
        total += n
        loss_sum += loss.item() * n
        correct += topk_correct(logits.detach().float(), labels, (1,))[1]
        bar.set_postfix(loss=f"{loss_sum / total:.3f}", acc=f"{correct / total:.3f}")
    if total == 0:
        raise ValueError("the training loader yielded no batch")
    return {"loss": loss_sum / total, "top1": correct / total, "seconds": time.perf_counter() - start}


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, *, device: torch.device | None = None, amp: bool = True,
             progress: bool = False) -> dict[str, float]:
    """Clip-level top-1/top-5 and mean loss; video-level top-1/top-5 when batches carry video ids."""
    device = device or default_device()
    model.eval()
    total, loss_sum = 0, 0.0
    hits: dict[int, int] = defaultdict(int)
    video_probs: dict[Any, torch.Tensor] = {}
    video_label: dict[Any, int] = {}
    for batch in tqdm(loader, desc="eval", disable=not progress, leave=False):
        clips, labels, ids = _unpack(batch)
        clips, labels = clips.to(device), labels.to(device)
        with autocast(device, amp):
            logits = model(clips).float()
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
        total += labels.shape[0]
        for k, v in topk_correct(logits, labels).items():
            hits[k] += v
        if ids is not None:
            for vid, p, y in zip(ids, logits.softmax(dim=1).cpu(), labels.tolist()):
                key = vid.item() if isinstance(vid, torch.Tensor) else vid
                video_probs[key] = video_probs.get(key, 0) + p
                video_label[key] = y
    if total == 0:
        raise ValueError("the evaluation loader yielded no batch")
    result = {"loss": loss_sum / total, "top1": hits[1] / total, "top5": hits[5] / total}
    if video_probs:
        keys = list(video_probs)
        v_hits = topk_correct(torch.stack([video_probs[k] for k in keys]), torch.tensor([video_label[k] for k in keys]))
        result |= {"video_top1": v_hits[1] / len(keys), "video_top5": v_hits[5] / len(keys), "videos": len(keys)}
    return result


def fit(model: nn.Module, train_loader: Iterable, val_loader: Iterable | None = None, *, epochs: int,
        optimizer: torch.optim.Optimizer, device: torch.device | None = None, amp: bool = True,
        progress: bool = True) -> list[dict[str, float]]:
    """Train for ``epochs`` epochs, evaluating after each when ``val_loader`` is given; returns the history."""
    device = device or default_device()
    model.to(device)
    history = []
    for epoch in range(1, epochs + 1):
        row = {"epoch": epoch, **{f"train_{k}": v for k, v in train_one_epoch(
            model, train_loader, optimizer, device=device, amp=amp, progress=progress, desc=f"epoch {epoch}").items()}}
        if val_loader is not None:
            row |= {f"val_{k}": v for k, v in evaluate(model, val_loader, device=device, amp=amp).items()}
        history.append(row)
    return history
