"""Pretrained weights, loaded through torchvision — only when asked for, and never with a hang offline.

torchvision keeps each checkpoint's URL, file hash and metadata in a ``WeightsEnum``. vidconv's
builders accept those enums (or their names, or ``"DEFAULT"``), because their state dicts are
torchvision's; the enum's own ``verify`` resolves them and ``get_state_dict`` downloads and checks
the file. A checkpoint already in the torch hub cache loads without a network; otherwise the URL is
probed first with a short ``HEAD`` request through urllib — the same proxies (``HTTPS_PROXY``,
``NO_PROXY``) the download will use — so that a machine without internet gets a clear message
instead of a stalled download.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision.models import WeightsEnum

PROBE_TIMEOUT_S = 3.0


def resolve_weights(
    weights: Any, enum: type[WeightsEnum]
) -> WeightsEnum | None:
    """``None``, an enum member of ``enum``, or its name (``"DEFAULT"``, ``"KINETICS400_V1"``)."""
    if weights is not None and not isinstance(weights, (str, enum)):
        raise TypeError(
            f"weights must be None, a {enum.__name__} member or its name, got {type(weights).__name__}"
        )
    try:
        return enum.verify(weights)
    except KeyError:  # verify looks a name up with enum[name]
        raise ValueError(
            f"unknown weights {weights!r} for {enum.__name__}; "
            f"choose one of {sorted(enum.__members__)}"
        ) from None


def checkpoint_path(weights: WeightsEnum) -> str:
    """Where torch's hub cache keeps (or will keep) this checkpoint."""
    return os.path.join(
        torch.hub.get_dir(),
        "checkpoints",
        os.path.basename(urlparse(weights.url).path),
    )


def _can_reach(url: str) -> OSError | None:
    """``None`` if a ``HEAD`` request for ``url`` gets any HTTP answer (through the environment's proxies)."""
    # A fresh opener reads the proxy variables now; urlopen's global opener keeps the ones it first saw.
    opener = urllib.request.build_opener()
    try:
        with opener.open(
            urllib.request.Request(url, method="HEAD"), timeout=PROBE_TIMEOUT_S
        ):
            pass
    except urllib.error.HTTPError:
        return None  # the server answered; the download itself will report what is wrong
    except OSError as err:  # URLError, timeouts, refused connections
        return err
    return None


def load_weights(
    model: nn.Module, weights: WeightsEnum, *, progress: bool = True
) -> nn.Module:
    """Load ``weights`` into ``model`` (strict), downloading the checkpoint once if it is not cached."""
    path = checkpoint_path(weights)
    if not os.path.exists(path):
        err = _can_reach(weights.url)
        if err is not None:
            raise RuntimeError(
                f"{weights} must be downloaded from {weights.url}, but that host cannot be reached ({err}). "
                f"Run where there is internet (Colab works), or copy the file to {path}."
            )
    state = weights.get_state_dict(
        progress=progress, check_hash=True, weights_only=True
    )
    model.load_state_dict(state)
    return model


def classes_for(weights: WeightsEnum | None, num_classes: int) -> int:
    """The classifier width: the weights' category count, which an explicit other value contradicts."""
    if weights is None:
        return num_classes
    categories = len(weights.meta["categories"])
    if num_classes not in (categories, None):
        raise ValueError(
            f"{weights} has {categories} classes, but num_classes={num_classes} was asked for; "
            "load the weights first and replace the classifier to fine-tune"
        )
    return categories
