"""MoViNet-A0 (Kondratyuk et al., CVPR 2021, "MoViNets: Mobile Video Networks for Efficient Video
Recognition", https://arxiv.org/abs/2103.11511), offline and streaming.

The architecture was found by neural architecture search: a 1x3x3 stem, five stages of inverted
bottlenecks (:class:`~vidconv.models.movinet_blocks.MoViNetBlock`) whose kernels, widths and strides
are listed in :data:`A0_SPEC` (the configuration of the authors' TensorFlow implementation), a 1x1x1
projection to 480 channels, global average pooling, and a two-layer classifier (2048 hidden units).

Built with ``causal=True`` (the default) the network never looks at a future frame, and
:meth:`MoViNet.stream` runs it on a video chunk by chunk (one frame, or several at a time) with
constant memory: after each chunk it returns exactly the logits the offline model gives on every frame
seen so far. ``causal=False`` is the "base" model: centred temporal kernels, clip-wide pooling.
"""

from __future__ import annotations

import torch
from torch import nn

from vidconv.layers.causal import (
    CumulativeAvgPool,
    stream_layers,
    streaming,
)
from vidconv.models._clip import check_clip
from vidconv.models.movinet_blocks import (
    MoViNetBlock,
    activation_layers,
    conv_bn,
)
from vidconv.utils.checks import (
    check_bool,
    check_int,
    check_number,
    guard_train_batch_norm,
)

Triple = tuple[int, int, int]

# (out_channels, [(expand_channels, kernel (k_t, k_h, k_w), stride (s_t, s_h, s_w)), ...]) per stage.
A0_STEM: tuple[int, Triple, Triple] = (8, (1, 3, 3), (1, 2, 2))
A0_SPEC: tuple[tuple[int, tuple[tuple[int, Triple, Triple], ...]], ...] = (
    (8, ((24, (1, 5, 5), (1, 2, 2)),)),
    (
        32,
        (
            (80, (3, 3, 3), (1, 2, 2)),
            (80, (3, 3, 3), (1, 1, 1)),
            (80, (3, 3, 3), (1, 1, 1)),
        ),
    ),
    (
        56,
        (
            (184, (5, 3, 3), (1, 2, 2)),
            (112, (3, 3, 3), (1, 1, 1)),
            (184, (3, 3, 3), (1, 1, 1)),
        ),
    ),
    (
        56,
        (
            (184, (5, 3, 3), (1, 1, 1)),
            (184, (3, 3, 3), (1, 1, 1)),
            (184, (3, 3, 3), (1, 1, 1)),
            (184, (3, 3, 3), (1, 1, 1)),
        ),
    ),
    (
        104,
        (
            (384, (5, 3, 3), (1, 2, 2)),
            (280, (1, 5, 5), (1, 1, 1)),
            (280, (1, 5, 5), (1, 1, 1)),
            (344, (1, 5, 5), (1, 1, 1)),
        ),
    ),
)
A0_HEAD = (480, 2048)  # (projection channels, classifier hidden units)


class MoViNet(nn.Module):
    """A MoViNet over clips ``(B, 3, T, H, W)``; ``forward`` returns ``(B, num_classes)`` logits.

    Frames must be at least 33x33 pixels: four stride-2 layers bring them to ceil(33 / 16) = 3 pixels,
    the least that the 3x3 average pool on the fifth stage's shortcut accepts. One frame is enough in time.
    """

    min_frames = 1
    min_size = 33

    def __init__(
        self,
        num_classes: int = 600,
        *,
        causal: bool = True,
        activation: str = "swish",
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        check_int(num_classes, "num_classes", minimum=1)
        check_bool(causal, "causal")
        check_number(
            dropout, "dropout", minimum=0.0, maximum=1.0, exclusive_maximum=True
        )
        act, gating = activation_layers(activation)
        self.causal = causal
        stem_channels, stem_kernel, stem_stride = A0_STEM
        self.stem = conv_bn(
            3, stem_channels, act, stem_kernel, stem_stride
        )  # (B, 8, T, H/2, W/2)
        stages, cin = [], stem_channels
        for cout, layers in A0_SPEC:
            blocks = []
            for expand, kernel, stride in layers:
                blocks.append(
                    MoViNetBlock(
                        cin,
                        cout,
                        expand,
                        kernel,
                        stride,
                        act,
                        gating,
                        causal=causal,
                    )
                )
                cin = cout
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)  # (B, 104, T, H/32, W/32)
        project, hidden = A0_HEAD
        self.head = conv_bn(cin, project, act)  # (B, 480, T, H/32, W/32)
        self.pool = CumulativeAvgPool(
            causal=causal
        )  # (B, 480, T, 1, 1); offline non-causal: T = 1
        self.classifier = nn.Sequential(
            nn.Conv3d(project, hidden, 1),
            act(),
            nn.Dropout(dropout),
            nn.Conv3d(hidden, num_classes, 1),
        )
        self._init_weights()
        guard_train_batch_norm(self, type(self).__name__)
        self._stream_shape: tuple[int, ...] | None = None
        self.frames_streamed = 0

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.normal_(self.classifier[-1].weight, std=0.01)

    def _check(self, x: torch.Tensor, caller: str = "") -> None:
        name = type(self).__name__ + caller  # "MoViNet" or "MoViNet.stream"
        check_clip(x, self, name=name)

    def _pooled(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(
            self.head(self.blocks(self.stem(x)))
        )  # (B, 480, T or 1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        self._check(x)
        pooled = self._pooled(x)[
            :, :, -1:
        ]  # (B, 480, 1, 1, 1): the average over all frames
        return self.classifier(pooled).flatten(1)  # (B, num_classes)

    def frame_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Causal only: the logits after every frame, ``(B, num_classes, T)`` (the last equals ``forward``)."""
        self._require_causal("frame_logits")
        self._check(x)
        return self.classifier(self._pooled(x)).flatten(
            2
        )  # (B, num_classes, T)

    # ------------------------------------------------------------------ streaming

    def _require_causal(self, what: str) -> None:
        if not self.causal:
            raise ValueError(
                f"{what} needs a causal MoViNet (build it with causal=True); this one pools over the "
                "whole clip and pads its temporal kernels with future frames"
            )

    def reset_stream(self) -> None:
        """Forget the video streamed so far: the next chunk starts a new one."""
        for m in stream_layers(self):
            m.reset_stream()
        self._stream_shape = None
        self.frames_streamed = 0

    def stream_state_bytes(self) -> int:
        """Bytes held between chunks: every temporal convolution's last ``k_t - 1`` frames and every
        pool's running sum. Set by the first chunk, then constant however long the video runs."""
        return sum(m.stream_state_bytes() for m in stream_layers(self))

    @torch.no_grad()
    def stream(self, chunk: torch.Tensor) -> torch.Tensor:
        """Feed the next ``T >= 1`` frames ``(B, 3, T, H, W)`` of a video; return ``(B, num_classes)``,
        the logits of the offline model on all frames streamed since :meth:`reset_stream`.

        Puts the model in eval mode (batch norm must use its running statistics frame by frame).
        """
        self._require_causal("stream()")
        self._check(chunk, ".stream")
        b, _, _, h, w = chunk.shape
        if self._stream_shape is not None and (b, h, w) != self._stream_shape:
            raise ValueError(
                f"chunk of shape {tuple(chunk.shape)} has (batch, height, width) = {(b, h, w)} but "
                f"this stream's earlier chunks had {self._stream_shape}; call reset_stream() before "
                "a new video"
            )
        self.eval()
        with streaming(self):
            pooled = self._pooled(chunk)[:, :, -1:]  # (B, 480, 1, 1, 1)
        self._stream_shape = (b, h, w)
        self.frames_streamed += chunk.shape[2]
        return self.classifier(pooled).flatten(1)  # (B, num_classes)


def movinet_a0(
    *,
    num_classes: int = 600,
    causal: bool = True,
    activation: str = "swish",
    dropout: float = 0.2,
) -> MoViNet:
    """MoViNet-A0 (Kinetics-600 head by default). No pretrained weights: the authors release TensorFlow
    checkpoints only.

    Args:
        num_classes: classifier width.
        causal: causal temporal padding and cumulative pooling (streamable); ``False`` for the base model.
        activation: ``"swish"`` (SiLU, sigmoid gates) or ``"hardswish"`` (hard swish, hard sigmoid gates).
        dropout: dropout before the last classifier layer (training only).
    """
    return MoViNet(
        num_classes, causal=causal, activation=activation, dropout=dropout
    )
