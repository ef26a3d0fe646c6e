"""R3D against R(2+1)D at equal parameters, in miniature (Tran et al., CVPR
2018, section 4).

The paper's claim for the factorisation is not fewer parameters but, at the
*same* number, a second non-linearity per convolution and an easier
optimisation: lower training error. To test it, both networks must have the same
parameter count. :func:`miniature` builds either with vidconv's own
:class:`~vidconv.models.VideoResNet` and conv builders at narrow widths; because
the released design takes each block's middle width from its input width (see
:mod:`vidconv.models.resnet`), an R(2+1)D at R3D's widths is smaller, and
:func:`matched_widths` widens it until the counts agree.
:func:`equal_parameter_experiment` trains both on
:class:`~vidconv.data.synthetic.RotatingBlobs` with the same clips, batches,
budget and seeds, and records every step's training loss.

The cost side: :func:`stage_costs` counts each stage's parameters and
multiply-accumulates, and :func:`time_stage_convs` times the convolution each
stage repeats, forward and backward.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from vidconv.analysis.counting import count_macs, count_parameters
from vidconv.experiments.small_run import BlobTask, SmallRun
from vidconv.layers.blocks import Conv2Plus1d, FullConv3d, midplanes_for_2plus1d
from vidconv.models.resnet import (
    BasicBlock,
    BasicStem,
    R2Plus1dStem,
    VideoResNet,
)
from vidconv.training.loop import evaluate
from vidconv.training.steps import gradient_steps, seeded_loader
from vidconv.utils.checks import (
    check_device,
    check_int_sequence,
    check_ints,
    check_number,
    check_positive_int,
)
from vidconv.utils.device import one_cpu_thread
from vidconv.utils.table import Table
from vidconv.utils.timing import timed

KINDS = ("R3D", "R(2+1)D")


def miniature(
    kind: str,
    widths: Sequence[int],
    *,
    layers: Sequence[int] = (1, 1, 1, 1),
    num_classes: int = 4,
) -> VideoResNet:
    """A narrow R3D or R(2+1)D: :class:`VideoResNet` with basic blocks and the
    given stage ``widths``.

    The R(2+1)D stem's middle width is eq. 5 for its ``3 x 7 x 7`` kernel
    (3 -> ``widths[0]``), so the factorised stem has the full stem's weights,
    as every factorised convolution is meant to.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    widths = check_int_sequence(widths, "widths", length=4, minimum=1)
    if kind == "R3D":
        return VideoResNet(
            BasicBlock,
            [FullConv3d] * 4,
            layers,
            partial(BasicStem, widths[0]),
            num_classes=num_classes,
            widths=widths,
        )
    stem_mid = midplanes_for_2plus1d(3, widths[0], 3, 7)
    return VideoResNet(
        BasicBlock,
        [Conv2Plus1d] * 4,
        layers,
        partial(R2Plus1dStem, widths[0], mid_channels=stem_mid),
        num_classes=num_classes,
        widths=widths,
    )


def parameters_of(
    kind: str,
    widths: Sequence[int],
    *,
    layers: Sequence[int] = (1, 1, 1, 1),
    num_classes: int = 4,
) -> int:
    """Parameters of :func:`miniature`, in closed form (a test holds it to the
    built network's count).

    A full ``3x3x3`` conv ``a -> b`` has ``27ab`` weights; a (2+1)D one with
    middle width ``M`` has ``9aM + 3Mb`` and ``2M`` batch-norm parameters; a
    block's ``M`` comes from its input width.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    widths = check_int_sequence(widths, "widths", length=4, minimum=1)
    layers = check_int_sequence(layers, "layers", length=4, minimum=1)
    check_positive_int(num_classes, "num_classes")

    def conv(a: int, b: int, mid: int) -> int:
        return (
            27 * a * b if kind == "R3D" else 9 * a * mid + 2 * mid + 3 * mid * b
        )

    if kind == "R3D":
        total = 3 * 49 * 3 * widths[0] + 2 * widths[0]
    else:
        stem_mid = midplanes_for_2plus1d(3, widths[0], 3, 7)
        total = (
            49 * 3 * stem_mid
            + 2 * stem_mid
            + 3 * stem_mid * widths[0]
            + 2 * widths[0]
        )
    c_in = widths[0]
    for stage, (w, depth) in enumerate(zip(widths, layers)):
        for block in range(depth):
            a = c_in if block == 0 else w
            mid = midplanes_for_2plus1d(a, w)
            total += (
                conv(a, w, mid) + conv(w, w, mid) + 4 * w
            )  # two convs, two batch norms
        if (
            stage > 0 or c_in != w
        ):  # the first block's shortcut: 1x1x1 conv and batch norm
            total += c_in * w + 2 * w
        c_in = w
    return total + widths[3] * num_classes + num_classes


def matched_widths(
    widths: Sequence[int],
    *,
    layers: Sequence[int] = (1, 1, 1, 1),
    num_classes: int = 4,
    tolerance: float = 0.01,
) -> tuple[int, ...]:
    """R(2+1)D widths whose miniature has the parameters of the R3D miniature at
    ``widths`` (within ``tolerance``).

    Tries every common scale ``1 + i/200`` of the widths (rounded) up to 1.5,
    the last width nudged by up to two channels either way; returns the closest
    count. Raises if none is within ``tolerance``.
    """
    widths = check_int_sequence(widths, "widths", length=4, minimum=1)
    tolerance = check_number(
        tolerance, "tolerance", minimum=0.0, exclusive_minimum=True
    )
    options = {"layers": layers, "num_classes": num_classes}
    target = parameters_of("R3D", widths, **options)
    best, best_gap = widths, float("inf")
    for i in range(101):
        scaled = tuple(max(1, round(w * (1 + i / 200))) for w in widths)
        for nudge in (-2, -1, 0, 1, 2):
            candidate = (*scaled[:3], max(1, scaled[3] + nudge))
            gap = abs(parameters_of("R(2+1)D", candidate, **options) - target)
            if gap < best_gap:
                best, best_gap = candidate, gap
    if best_gap > tolerance * target:
        raise ValueError(
            f"no R(2+1)D widths within {tolerance:.1%} of R3D's "
            f"{target:,} parameters at widths {widths}; the closest, "
            f"{best}, is {best_gap:,} away"
        )
    return best


@dataclass
class ComparisonResult:
    """What :func:`equal_parameter_experiment` returns.

    ``losses[kind]`` is a ``(seeds, steps)`` tensor of training losses,
    ``test_accuracy[kind]`` one accuracy per seed, ``widths[kind]`` and
    ``parameters[kind]`` describe the two networks, and ``models[kind]`` is the
    network trained with the last seed (in eval mode).
    """

    table: Table
    losses: dict[str, torch.Tensor]
    test_accuracy: dict[str, list[float]]
    widths: dict[str, tuple[int, ...]]
    parameters: dict[str, int]
    steps_per_epoch: int
    chance: float
    models: dict[str, VideoResNet]


#: The budget of each run of the equal-parameter comparison.
EQUAL_PARAMETER_RUN = SmallRun(
    train_clips=256, test_clips=128, epochs=4, batch_size=32, lr=3e-3
)


def equal_parameter_experiment(
    seeds: Sequence[int] = (0, 1, 2),
    run: SmallRun = EQUAL_PARAMETER_RUN,
    task: BlobTask = BlobTask(num_classes=4),
    *,
    widths: Sequence[int] = (4, 8, 16, 32),
    device: torch.device | str | None = "cpu",
) -> ComparisonResult:
    """Train an R3D and an R(2+1)D miniature of equal parameters on the same
    clips, once per seed.

    The data is fixed (``RotatingBlobs`` seeds 0 and 1 for training and test); a
    run's seed sets the initialisation and the batch order, the same for both
    networks. Adam, constant ``run.lr``, no augmentation. Returns every step's
    training loss and each run's final test accuracy.
    """
    seeds = list(check_ints(seeds, "seeds", minimum=0))
    SmallRun.check(run)
    num_classes = BlobTask.check(task).num_classes
    device = check_device(device)
    widths = {"R3D": check_int_sequence(widths, "widths", length=4, minimum=1)}
    widths["R(2+1)D"] = matched_widths(widths["R3D"], num_classes=num_classes)
    train, test = task.splits(run, 0)  # the same data for every seed
    test = DataLoader(test, batch_size=256)
    losses: dict[str, list[list[float]]] = {k: [] for k in KINDS}
    accuracy: dict[str, list[float]] = {k: [] for k in KINDS}
    seconds = dict.fromkeys(KINDS, 0.0)
    models: dict[str, VideoResNet] = {}
    # tiny convolutions: one thread is faster than several on a shared CPU
    with one_cpu_thread(device):
        for seed in seeds:
            for kind in KINDS:
                torch.manual_seed(seed)
                model = miniature(
                    kind, widths[kind], num_classes=num_classes
                ).to(device)
                start = time.perf_counter()
                losses[kind].append(
                    _train(
                        model,
                        train,
                        run,
                        seed=seed,
                        device=device,
                    )
                )
                seconds[kind] += time.perf_counter() - start
                accuracy[kind].append(
                    evaluate(model, test, device=device)["top1"]
                )
                models[kind] = model
    curves = {k: torch.tensor(v) for k, v in losses.items()}  # (seeds, steps)
    params = {
        k: parameters_of(k, widths[k], num_classes=num_classes) for k in KINDS
    }
    last_epoch = -(-run.train_clips // run.batch_size)
    rows = [
        {
            "network": k,
            "widths": "-".join(map(str, widths[k])),
            "parameters": params[k],
            "last-epoch train loss (mean)": round(
                curves[k][:, -last_epoch:].mean().item(), 4
            ),
            "test top-1 (mean)": round(sum(accuracy[k]) / len(seeds), 3),
            "test top-1 (min-max)": (
                f"{min(accuracy[k]):.3f}-{max(accuracy[k]):.3f}"
            ),
            "train seconds per run": round(seconds[k] / len(seeds), 2),
        }
        for k in KINDS
    ]
    return ComparisonResult(
        Table(rows),
        curves,
        accuracy,
        widths,
        params,
        last_epoch,
        1 / num_classes,
        models,
    )


def _train(
    model: VideoResNet,
    train,
    run: SmallRun,
    *,
    seed: int,
    device: torch.device,
) -> list[float]:
    """Adam on cross-entropy; the loss of every step (the model is left in eval
    mode)."""
    loader = seeded_loader(train, run.batch_size, seed)
    model.train()
    losses = gradient_steps(
        torch.optim.Adam(model.parameters(), lr=run.lr),
        lambda clips, labels: F.cross_entropy(
            model(clips.to(device)), labels.to(device)
        ),
        (batch for _ in range(run.epochs) for batch in loader),
    )
    model.eval()
    return [loss.item() for loss in losses]


# --- Cost: what each stage computes, and what its convolution takes to run ---

STAGES = ("stem", "layer1", "layer2", "layer3", "layer4")


def _check_video_resnet(model: object) -> VideoResNet:
    if not isinstance(model, VideoResNet):
        raise TypeError(
            "model must be a vidconv VideoResNet (r3d_18, r2plus1d_18, "
            f"miniature), got {type(model).__name__}"
        )
    return model


def _on_meta(model: VideoResNet) -> VideoResNet:
    """The model itself if it lives on the meta device, else a copy there
    (shapes only, nothing computed)."""
    return (
        model
        if next(model.parameters()).is_meta
        else copy.deepcopy(model).to("meta")
    )


def stage_shapes(
    model: VideoResNet, input_shape: Sequence[int]
) -> dict[str, tuple[int, ...]]:
    """The input shape of every stage and of the global pool after them, from
    one pass on the meta device."""
    meta = _on_meta(_check_video_resnet(model))
    shape = check_int_sequence(input_shape, "input_shape", length=5, minimum=1)
    seen: dict[str, tuple[int, ...]] = {}

    def record(name: str):
        def hook(
            _module: nn.Module, args: tuple
        ) -> None:  # returns None: the input is left as it is
            seen[name] = tuple(args[0].shape)

        return hook

    hooks = [
        getattr(meta, name).register_forward_pre_hook(record(name))
        for name in (*STAGES, "avgpool")
    ]
    try:
        with torch.no_grad():
            meta(torch.zeros(shape, device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def stage_costs(model: VideoResNet, input_shape: Sequence[int]) -> Table:
    """Parameters and multiply-accumulates of every stage for one input of
    ``input_shape`` (counted on meta)."""
    meta = _on_meta(_check_video_resnet(model))
    shapes = stage_shapes(meta, input_shape)
    rows = []
    for name in STAGES:
        stage = getattr(meta, name)
        rows.append(
            {
                "stage": name,
                "input": "x".join(map(str, shapes[name][1:])),
                "parameters": count_parameters(stage),
                "MACs": count_macs(stage, shapes[name]),
            }
        )
    return Table(rows)


def stage_conv(model: VideoResNet, stage: str) -> nn.Module:
    """The convolution a stage repeats: its last block's second conv (stride 1,
    ``width -> width``)."""
    if stage not in STAGES[1:]:
        raise ValueError(f"stage must be one of {STAGES[1:]}, got {stage!r}")
    return getattr(_check_video_resnet(model), stage)[-1].conv2[0]


def time_stage_convs(
    model: VideoResNet,
    input_shape: Sequence[int],
    *,
    repeats: int = 3,
    device: torch.device | str | None = "cpu",
) -> Table:
    """Median seconds of forward + backward of each stage's :func:`stage_conv`
    on ``device``.

    Each conv is copied with fresh weights onto ``device`` (the model may live
    on meta) and run, in training mode, on a random input of the shape it
    receives when the network sees ``input_shape``; one warm-up pass is not
    timed. A measurement, not a test: it depends on the machine and its load.
    """
    meta = _on_meta(_check_video_resnet(model))
    repeats = check_positive_int(repeats, "repeats")
    device = check_device(device)
    shapes = stage_shapes(meta, input_shape)
    outputs = [
        shapes[name] for name in (*STAGES[2:], "avgpool")
    ]  # the conv2 of stage i sees stage i's output
    rows = []
    for name, shape in zip(STAGES[1:], outputs):
        conv = copy.deepcopy(stage_conv(meta, name)).to_empty(device=device)
        for m in conv.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()  # to_empty leaves memory uninitialised
        x = torch.randn(shape, device=device, requires_grad=True)
        times = [
            timed(lambda: conv(x).sum().backward(), device)[1]  # noqa: B023
            for _ in range(repeats + 1)
        ]
        rows.append(
            {
                "stage": name,
                "conv input": "x".join(map(str, shape[1:])),
                "parameters": count_parameters(conv),
                "MACs (forward)": count_macs(conv, shape),
                "seconds (fwd + bwd)": sorted(times[1:])[repeats // 2],
            }
        )
    return Table(rows)
