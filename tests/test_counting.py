"""Parameter and FLOP counts: against arithmetic by hand and torchvision's documented figures."""

import pytest
import torch
from torch import nn
from torchvision.models import video as tv_video

import vidconv


def test_conv_flops_are_two_per_multiply_accumulate():
    conv = nn.Conv3d(4, 8, (3, 3, 3), padding=1, bias=False)
    outputs = 8 * 6 * 10 * 10  # C_out * T * H * W
    assert vidconv.count_flops(conv, (1, 4, 6, 10, 10)) == 2 * outputs * 4 * 27
    assert vidconv.count_macs(conv, (1, 4, 6, 10, 10)) == outputs * 4 * 27


@pytest.mark.parametrize(
    "name, weights, shape",
    [
        (
            "r3d_18",
            tv_video.R3D_18_Weights.KINETICS400_V1,
            (1, 3, 16, 112, 112),
        ),
        (
            "mc3_18",
            tv_video.MC3_18_Weights.KINETICS400_V1,
            (1, 3, 16, 112, 112),
        ),
        (
            "r2plus1d_18",
            tv_video.R2Plus1D_18_Weights.KINETICS400_V1,
            (1, 3, 16, 112, 112),
        ),
        ("s3d", tv_video.S3D_Weights.KINETICS400_V1, (1, 3, 16, 224, 224)),
    ],
)
def test_torchvision_gflops_column_is_macs(name, weights, shape):
    with torch.device("meta"):
        model = getattr(tv_video, name)()
    assert vidconv.count_parameters(model) == weights.meta["num_params"]
    assert (
        round(vidconv.count_macs(model, shape) / 1e9, 3) == weights.meta["_ops"]
    )


def test_2plus1d_matches_3d_parameters_and_torchvision_layout():
    for c_in, c_out in [(3, 64), (64, 64), (64, 128), (128, 256), (256, 512)]:
        block = vidconv.Conv2Plus1d(c_in, c_out)
        full = c_out * c_in * 27
        convs = sum(m.weight.numel() for m in block if isinstance(m, nn.Conv3d))
        assert (
            full - (c_in * 9 + 3 * c_out) < convs <= full
        )  # floor() loses less than one middle channel
    ours = vidconv.Conv2Plus1d(
        64, 128, mid_channels=vidconv.midplanes_for_2plus1d(64, 128), stride=2
    )
    theirs = tv_video.resnet.Conv2Plus1D(
        64, 128, vidconv.midplanes_for_2plus1d(64, 128), stride=2
    )
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    ours.load_state_dict(theirs.state_dict())
    ours.eval(), theirs.eval()
    x = torch.randn(1, 64, 4, 8, 8)
    torch.testing.assert_close(ours(x), theirs(x))


def _train_mode_net_with_batch_norm() -> nn.Module:
    from vidconv.temporal.thick_present import PhenomenologicalConv3D

    net = nn.Sequential(
        PhenomenologicalConv3D(2, 2, 1, 1),
        nn.BatchNorm3d(2),
        nn.ReLU(),
        nn.Dropout(0.5),
        PhenomenologicalConv3D(2, 2, 1, 0),
    )
    with torch.no_grad():
        net[1].running_mean.fill_(5.0)
    net.train()
    net[3].eval()  # a submodule with its own mode must get it back
    return net


@pytest.mark.parametrize(
    "measure",
    [
        lambda net: vidconv.count_flops(net, (2, 2, 8, 5, 5)),
        lambda net: vidconv.summary(net, (2, 2, 8, 5, 5)),
        lambda net: __import__(
            "vidconv.temporal.thick_present", fromlist=["x"]
        ).temporal_extent(net, 2, frames=16),
        lambda net: vidconv.empirical_receptive_field(net, (1, 2, 16, 5, 5)),
    ],
    ids=[
        "count_flops",
        "summary",
        "temporal_extent",
        "empirical_receptive_field",
    ],
)
def test_measuring_never_changes_the_model(measure):
    net = _train_mode_net_with_batch_norm()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    modes = [m.training for m in net.modules()]
    measure(net)
    after = net.state_dict()
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert torch.equal(after[key], value), (
            key
        )  # running_mean stays 5.0, num_batches_tracked 0
    assert (
        [m.training for m in net.modules()]
        == modes
        == [True, True, True, True, False, True]
    )


def test_per_frame_conv_is_a_3d_conv_without_temporal_extent():
    torch.manual_seed(0)
    per_frame = vidconv.PerFrameConv2d(3, 5, 3)
    x = torch.randn(2, 3, 4, 9, 9)
    as_3d = vidconv.conv3d(
        x, per_frame.conv.weight.unsqueeze(2), padding=(0, 1, 1)
    )
    torch.testing.assert_close(per_frame(x), as_3d, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: vidconv.count_parameters("model"), TypeError, "nn.Module"),
        (
            lambda: vidconv.count_flops(nn.Conv3d(3, 4, 3), (1, 2, 8, 8, 8)),
            ValueError,
            r"Conv3d cannot process an input of shape \(1, 2, 8, 8, 8\)",
        ),
        (
            lambda: vidconv.count_flops(nn.Conv3d(3, 4, 3), (1, 3, 0, 8, 8)),
            ValueError,
            "positive ints",
        ),
        (
            lambda: vidconv.Conv2Plus1d(3, 8)(torch.zeros(1, 4, 4, 8, 8)),
            ValueError,
            "expects 3 channels",
        ),
        (
            lambda: vidconv.Conv2Plus1d(3, 8)(torch.zeros(1, 3, 8, 8)),
            ValueError,
            "5 dimensions",
        ),
        (
            lambda: vidconv.PerFrameConv2d(3, 8)(torch.zeros(1, 1, 4, 8, 8)),
            ValueError,
            "expects 3 channels",
        ),
        (
            lambda: vidconv.midplanes_for_2plus1d(0, 8),
            ValueError,
            "in_channels must be >= 1",
        ),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
