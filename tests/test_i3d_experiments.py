"""Chapter 4's experiments: inflation on a whole network, the init comparison and the two streams."""

import math

import pytest
import torch
import torchvision
from torch import nn

from vidconv.data.synthetic import RotatingBlobs, clip_tensors
from vidconv.experiments.i3d.inflation import (
    boring_clip,
    boring_clip_deviation,
    zero_time_padding,
)
from vidconv.experiments.i3d.initialisation import (
    INITS,
    ClipNet3d,
    FrameNet2d,
    blob_sectors,
    frame_dataset,
    inflation_init_experiment,
)
from vidconv.experiments.i3d.two_stream import (
    STREAMS,
    StreamNet3d,
    frame_differences,
    two_stream_experiment,
)
from vidconv.experiments.small_run import SmallRun
from vidconv.models import InflatedConv3d, inflate_network

CPU = torch.device("cpu")
LAYERS = ["relu", "layer1", "layer2", "layer3", "layer4"]


@pytest.fixture(scope="module")
def resnets():
    torch.manual_seed(0)
    model2d = torchvision.models.resnet18(weights=None).eval()
    return model2d, inflate_network(model2d, 3)


def test_boring_clip_repeats_the_image():
    images = torch.rand(2, 3, 5, 6)
    clip = boring_clip(images, 4)
    assert clip.shape == (2, 3, 4, 5, 6)
    assert all(torch.equal(clip[:, :, t], images) for t in range(4))


def test_inflated_resnet_reproduces_2d_activations_on_a_boring_clip(resnets):
    model2d, model3d = resnets
    dev = boring_clip_deviation(
        model2d, model3d, torch.randn(2, 3, 64, 64), 6, layers=LAYERS
    )
    assert set(dev) == {*LAYERS, "output"}
    assert all(dev[name].shape == (6,) for name in LAYERS)
    assert max(d.max().item() for d in dev.values()) < 1e-5


def test_zero_time_padding_breaks_the_edge_frames_only_at_first(resnets):
    model2d, model3d = resnets
    zero = zero_time_padding(model3d)
    assert not any(isinstance(m, InflatedConv3d) for m in zero.modules())
    assert any(
        isinstance(m, InflatedConv3d) for m in model3d.modules()
    )  # the original is untouched
    dev = boring_clip_deviation(
        model2d, zero, torch.randn(1, 3, 64, 64), 8, layers=LAYERS
    )
    stem = dev["relu"]  # one 3-frame conv: only frames 0 and 7 see a zero frame
    assert stem[0] > 0.05 and stem[-1] > 0.05 and stem[1:-1].max() < 1e-5
    # Deeper, the error spreads inwards, largest at the ends, symmetric in time.
    deep = dev["layer4"]
    assert deep.min() > 1e-3 and deep[0] == deep.max()
    assert torch.allclose(deep, deep.flip(0), atol=1e-4)
    assert dev["output"].item() > 1e-3


def test_zero_time_padding_equals_a_plain_conv3d():
    conv = InflatedConv3d(2, 3, 3, padding=1)
    plain = zero_time_padding(nn.Sequential(conv))[0]
    x = torch.randn(1, 2, 5, 6, 6)
    assert type(plain) is nn.Conv3d
    assert torch.allclose(
        plain(x),
        nn.functional.conv3d(x, conv.weight, conv.bias, padding=1),
        atol=1e-6,
    )


def test_blob_sectors_follow_the_rotation():
    data = RotatingBlobs(4, frames=8, size=16, num_classes=2, noise=0.0)
    for i in range(4):
        clip, label = data[i]
        sectors = blob_sectors(clip.transpose(0, 1))  # (T, 3, H, W)
        steps = (
            sectors[1:] - sectors[:-1]
        ) % 8  # one position per frame, in the class's direction
        assert set(steps.tolist()) == {1 if data.speeds[label] > 0 else 7}


def test_clip_net_inits():
    torch.manual_seed(0)
    frame_net = FrameNet2d(8)
    nets = {
        init: ClipNet3d(frame_net, 2, frames=8, init=init) for init in INITS
    }
    w2d = frame_net.trunk[0].weight
    assert torch.allclose(
        nets["inflated"].trunk[0].weight,
        w2d.unsqueeze(2).expand(-1, -1, 3, -1, -1) / 3,
    )
    centre = nets["center"].trunk[0].weight
    assert torch.equal(centre[:, :, 1], w2d) and not centre[:, :, [0, 2]].any()
    assert not torch.allclose(nets["random"].trunk[0].weight.sum(2), w2d)
    # A boring clip through the inflated trunk gives the 2D trunk's map at every frame.
    frame = torch.rand(4, 3, 16, 16)
    frame_net.eval(), nets["inflated"].eval()
    with torch.no_grad():
        out3d = nets["inflated"].trunk(boring_clip(frame, 8))  # (B, C, T, 4, 4)
        assert torch.allclose(
            out3d,
            frame_net.trunk(frame).unsqueeze(2).expand_as(out3d),
            atol=1e-5,
        )


@pytest.fixture(scope="module")
def init_result():
    return inflation_init_experiment(device=CPU)  # the chapter's seeds


def test_init_experiment_shapes_and_frame_task(init_result):
    r = init_result
    assert [row["init"] for row in r.table.rows] == list(INITS)
    assert all(
        r.loss[i].shape == (4, 3) and r.accuracy[i].shape == (4, 4)
        for i in INITS
    )
    assert all(
        acc > 0.9 > 4 * r.frame_chance for acc in r.frame_accuracy
    )  # the 2D net learned where the blob is
    # Every init learns the video task: training loss falls, and accuracy ends above chance on average.
    assert all((r.loss[i][:, -1] < r.loss[i][:, 0]).all() for i in INITS)
    assert all(r.accuracy[i][:, -1].mean() > r.chance for i in INITS)
    assert r.seeds == (0, 1, 2, 3)
    # The chapter's finding on its seeds: frame-pretrained trunks (inflated, centre) generalise earlier than
    # a random one — higher mean test accuracy over the training epochs.
    for init in ("inflated", "center"):
        assert (
            r.accuracy[init][:, 1:].mean()
            > r.accuracy["random"][:, 1:].mean() + 0.05
        )


def test_init_experiment_is_seeded(init_result):
    again = inflation_init_experiment(seeds=(1,), device=CPU)
    for init in INITS:
        assert torch.allclose(again.loss[init][0], init_result.loss[init][1])


def test_frame_differences():
    clip = torch.zeros(1, 3, 3, 4, 4)
    clip[:, :, 1, 0, 0] = (
        1.0  # a pixel lights up at frame 1 and goes dark at frame 2
    )
    diff = frame_differences(clip)
    assert diff.shape == (1, 1, 2, 4, 4)
    assert (
        diff[0, 0, 0, 0, 0] == 1
        and diff[0, 0, 1, 0, 0] == -1
        and diff.abs().sum() == 2
    )


def test_two_stream_experiment_reports_each_stream_against_chance():
    r = two_stream_experiment(seeds=(0,), device=CPU)
    assert [row["stream"] for row in r.table.rows] == list(STREAMS)
    assert r.chance == 0.5
    probs = r.probabilities
    assert torch.allclose(
        probs[STREAMS[2]], (probs[STREAMS[0]] + probs[STREAMS[1]]) / 2
    )
    assert torch.allclose(probs[STREAMS[2]].sum(1), torch.ones(len(r.labels)))
    fused = (probs[STREAMS[2]].argmax(1) == r.labels).float().mean().item()
    assert math.isclose(r.accuracy[STREAMS[2]][0], fused)
    assert all(r.accuracy[s][0] > r.chance + 0.1 for s in STREAMS)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: boring_clip(torch.zeros(3, 8, 8), 4),
            ValueError,
            r"images must have 4 dimensions \(B, C, H, W\)",
        ),
        (
            lambda: boring_clip(torch.zeros(1, 3, 8, 8), 0),
            ValueError,
            "frames must be >= 1",
        ),
        (
            lambda: zero_time_padding(nn.Conv3d(1, 1, 3)),
            ValueError,
            "no InflatedConv3d",
        ),
        (
            lambda: zero_time_padding("net"),
            TypeError,
            "model must be an nn.Module",
        ),
        (
            lambda: boring_clip_deviation(
                nn.Identity(),
                nn.Identity(),
                torch.zeros(1, 3, 8, 8),
                2,
                layers="x",
            ),
            TypeError,
            "layers must be a non-empty sequence",
        ),
        (
            lambda: boring_clip_deviation(
                nn.Identity(),
                nn.Identity(),
                torch.zeros(1, 3, 8, 8),
                2,
                layers=["fc"],
            ),
            ValueError,
            r"layers \['fc'\] are not submodules",
        ),
        (
            lambda: blob_sectors(torch.zeros(3, 8, 8)),
            ValueError,
            "frames must have 4 dimensions",
        ),
        (
            lambda: frame_dataset(torch.zeros(2, 3, 8, 8)),
            ValueError,
            "clips must have 5 dimensions",
        ),
        (
            lambda: FrameNet2d(8)(torch.zeros(1, 3, 8, 8)),
            ValueError,
            r"expects frames \(N, 3, 16, 16\)",
        ),
        (
            lambda: ClipNet3d(FrameNet2d(8), 2, frames=8, init="zeros"),
            ValueError,
            "init must be one of",
        ),
        (
            lambda: ClipNet3d(nn.Linear(1, 1), 2, frames=8),
            TypeError,
            "frame_net must be a FrameNet2d",
        ),
        (
            lambda: ClipNet3d(FrameNet2d(8), 2, frames=8)(
                torch.zeros(1, 3, 7, 16, 16)
            ),
            ValueError,
            r"expects clips \(B, 3, 8, 16, 16\)",
        ),
        (
            lambda: inflation_init_experiment(seeds=()),
            ValueError,
            "seeds must be a non-empty sequence",
        ),
        (
            lambda: inflation_init_experiment((0,), SmallRun(epochs=0)),
            ValueError,
            "epochs must be >= 1",
        ),
        (
            lambda: inflation_init_experiment((0,), SmallRun(lr=0)),
            ValueError,
            "lr must be in",
        ),
        (
            lambda: frame_differences(torch.zeros(1, 3, 1, 4, 4)),
            ValueError,
            "at least 2 frames",
        ),
        (
            lambda: StreamNet3d(1, 2, frames=7)(torch.zeros(1, 3, 7, 16, 16)),
            ValueError,
            "expects 1 channels",
        ),
        (
            lambda: StreamNet3d(1, 2, frames=7)(torch.zeros(1, 1, 8, 16, 16)),
            ValueError,
            r"expects clips \(B, 1, 7, 16, 16\)",
        ),
        (
            lambda: two_stream_experiment(seeds=[-1]),
            ValueError,
            "seeds entry must be >= 0",
        ),
        (
            lambda: two_stream_experiment((0,), SmallRun(train_clips=0)),
            ValueError,
            "train_clips must be >= 1",
        ),
        (
            lambda: two_stream_experiment(device=3),
            TypeError,
            "device must be a torch.device",
        ),
        (
            lambda: inflation_init_experiment(device="gpu0"),
            ValueError,
            "device must name a torch device",
        ),
    ],
)
def test_bad_inputs_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_frame_dataset_labels_every_frame():
    clips = clip_tensors(
        RotatingBlobs(2, frames=8, size=16, num_classes=2)
    ).tensors[0]
    data = frame_dataset(clips)
    assert len(data) == 16 and data.tensors[0].shape == (16, 3, 16, 16)
    assert torch.equal(data.tensors[0][3], clips[0, :, 3])
