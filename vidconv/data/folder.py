"""A dataset over a folder of video files, one subfolder per class (the UCF101 / Kinetics layout)::

    root/
      class_a/ clip1.mp4 clip2.mp4 ...
      class_b/ ...

Videos are decoded when an item is asked for, so the work spreads over DataLoader workers; nothing is
decoded up front. Labels are the sorted subfolder names.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import Dataset

from vidconv.data.sampling import uniform_indices
from vidconv.data.video_io import read_frames, read_video, video_info
from vidconv.utils.checks import check_int, check_positive_int

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")
Sampler = Callable[[int, int], list[int]]


class VideoFolder(Dataset):
    """Clips ``(C, clip_len, H, W)`` and integer labels from ``root/<class>/<video>``.

    Args:
        root: the folder of class folders.
        clip_len: frames per clip.
        sampler: ``(video_frames, clip_len) -> indices``; default :func:`vidconv.data.sampling.uniform_indices`.
        transform: applied to each ``(C, T, H, W)`` clip in [0, 1] (e.g. :class:`vidconv.data.transforms.KineticsEval`).
        extensions: file suffixes counted as videos (case-insensitive).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        clip_len: int = 16,
        *,
        sampler: Sampler = uniform_indices,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        extensions: tuple[str, ...] = VIDEO_EXTENSIONS,
    ) -> None:
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(
                f"root must be a str or os.PathLike naming a folder, got {type(root).__name__}"
            )
        self.root = Path(root)
        if not self.root.exists():
            raise FileNotFoundError(f"dataset folder not found: {self.root}")
        if not self.root.is_dir():
            raise NotADirectoryError(
                f"dataset root must be a folder of class folders: {self.root}"
            )
        self.clip_len = check_positive_int(clip_len, "clip_len")
        if not callable(sampler):
            raise TypeError(
                f"sampler must be callable (video_frames, clip_len) -> indices, got {type(sampler).__name__}"
            )
        self.sampler = sampler
        if transform is not None and not callable(transform):
            raise TypeError(
                f"transform must be callable (C, T, H, W) -> clip, or None, got {type(transform).__name__}"
            )
        self.transform = transform
        if isinstance(extensions, str):
            extensions = (
                extensions,
            )  # one suffix given as a string, not a sequence of its letters
        if (
            not isinstance(extensions, (tuple, list, set, frozenset))
            or not extensions
            or not all(
                isinstance(e, str) and e.startswith(".") and len(e) > 1
                for e in extensions
            )
        ):
            raise ValueError(
                f"extensions must be suffixes like ('.mp4', '.avi'), got {extensions!r}"
            )
        self.classes = sorted(
            d.name
            for d in self.root.iterdir()
            if d.is_dir() and not d.name.startswith(".")
        )
        suffixes = tuple(e.lower() for e in extensions)
        self.samples = [
            (p, label)
            for label, name in enumerate(self.classes)
            for p in sorted((self.root / name).rglob("*"))
            if p.is_file() and p.suffix.lower() in suffixes
        ]
        if not self.samples:
            raise ValueError(
                f"no video files ({', '.join(suffixes)}) in class folders under {self.root}"
            )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        index = check_int(index, "index")
        if not -len(self.samples) <= index < len(self.samples):
            raise IndexError(
                f"index {index} out of range for {len(self.samples)} videos under {self.root}"
            )
        path, label = self.samples[index]
        # The header's frame count lets the sampler choose first, so only the chosen frames are decoded
        # and kept; a container that does not state its count is decoded whole.
        frames = video_info(path).frames  # raises naming the file if it is bad
        video = None
        if frames <= 0:
            video = read_video(path)  # (3, T, H, W)
            frames = video.shape[1]
        indices = self.sampler(frames, self.clip_len)
        if (
            not isinstance(indices, (list, tuple))
            or len(indices) != self.clip_len
            or not all(
                isinstance(i, numbers.Integral)
                and not isinstance(i, bool)
                and 0 <= i < frames
                for i in indices
            )
        ):
            raise ValueError(
                f"sampler {getattr(self.sampler, '__name__', self.sampler)!r} must return {self.clip_len} "
                f"frame indices in [0, {frames}) for {path}, got {indices!r}"
            )
        # (3, clip_len, H, W)
        clip = (
            video[:, list(indices)]
            if video is not None
            else read_frames(path, list(indices))
        )
        if self.transform is not None:
            clip = self.transform(clip)
        return clip, label
