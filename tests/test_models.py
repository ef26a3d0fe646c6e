"""vidconv.models against torchvision, against their papers' figures, and against bad input."""

from __future__ import annotations

import importlib

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models import video as tv

import vidconv
import vidconv.models as M
from vidconv.analysis.model_summary import summary
from vidconv.layers.blocks import Conv2Plus1d
from vidconv.models import weights as W

SHARED = [  # builder name, clip that the network accepts, torchvision weights enum
    ("r3d_18", (2, 3, 8, 64, 64), tv.R3D_18_Weights),
    ("mc3_18", (2, 3, 8, 64, 64), tv.MC3_18_Weights),
    ("r2plus1d_18", (2, 3, 8, 64, 64), tv.R2Plus1D_18_Weights),
    ("s3d", (1, 3, 13, 209, 209), tv.S3D_Weights),
]


def randomise_norms(model: nn.Module, seed: int) -> None:
    """Give batch norms non-trivial statistics and affine parameters so that eval outputs depend on them."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm3d):
            m.running_mean.copy_(
                torch.rand(m.num_features, generator=gen) - 0.5
            )
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=gen) - 0.5)


@pytest.mark.parametrize("name, shape, _", SHARED, ids=[s[0] for s in SHARED])
def test_state_dicts_load_both_ways_and_outputs_match(name, shape, _):
    torch.manual_seed(0)
    theirs = getattr(tv, name)().eval()
    randomise_norms(theirs, 1)
    ours = getattr(M, name)().eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(shape)
    with torch.no_grad():
        diff = (ours(x) - theirs(x)).abs().max().item()
    assert diff <= 1e-5
    # And the other way round: weights trained in vidconv load into torchvision.
    ours2 = getattr(M, name)(num_classes=7)
    randomise_norms(ours2, 2)
    theirs2 = getattr(tv, name)(num_classes=7)
    theirs2.load_state_dict(ours2.state_dict(), strict=True)
    with torch.no_grad():
        assert (ours2.eval()(x) - theirs2.eval()(x)).abs().max().item() <= 1e-5


@pytest.mark.parametrize(
    "name, shape, weights",
    [
        ("r3d_18", (1, 3, 16, 112, 112), tv.R3D_18_Weights.KINETICS400_V1),
        ("mc3_18", (1, 3, 16, 112, 112), tv.MC3_18_Weights.KINETICS400_V1),
        (
            "r2plus1d_18",
            (1, 3, 16, 112, 112),
            tv.R2Plus1D_18_Weights.KINETICS400_V1,
        ),
        ("s3d", (1, 3, 16, 224, 224), tv.S3D_Weights.KINETICS400_V1),
    ],
)
def test_summary_reproduces_torchvision_figures(name, shape, weights):
    with torch.device("meta"):
        model = getattr(M, name)()
    s = summary(model, shape)
    assert s.total_parameters == weights.meta["num_params"]
    assert round(s.total_macs / 1e9, 3) == weights.meta["_ops"]
    assert (
        sum(r.parameters for r in s.rows) == s.total_parameters
    )  # every parameter sits in some row


def test_summary_receptive_field_matches_gradients_on_r3d():
    torch.manual_seed(0)
    model = M.r3d_18()
    trunk = nn.Sequential(
        model.stem, model.layer1, model.layer2
    )  # keep the measurement cheap
    rows = {r.name: r for r in summary(trunk, (1, 3, 32, 64, 64)).rows}
    field = rows["2.1.conv2.1"].field  # the last batch norm of layer2
    # Long along the measured axis, short along the others: the span along one axis does not depend on them.
    for axis, shape in [
        (0, (1, 3, 40, 8, 8)),
        (1, (1, 3, 4, 64, 64)),
        (2, (1, 3, 4, 8, 64)),
    ]:
        measured = vidconv.empirical_receptive_field(trunk, shape, axis=axis)
        assert measured.span == field.size[axis], (
            axis,
            measured.span,
            field.size,
        )


def test_summary_receptive_field_matches_gradients_on_c3d():
    model = M.c3d()
    names = list(model.features._modules)
    upto_pool4 = model.features[: names.index("pool4") + 1]  # conv1 ... pool4
    s = summary(upto_pool4, (1, 3, 48, 16, 16))
    assert s.rows[-1].kind == "MaxPool3d"
    assert s.output_field.size[0] == 36 and s.output_field.jump == (8, 16, 16)
    assert (
        vidconv.empirical_receptive_field(
            upto_pool4, (1, 3, 48, 16, 16), axis=0
        ).span
        == 36
    )
    early = model.features[
        : names.index("pool2") + 1
    ]  # conv1, pool1, conv2, pool2
    spatial = summary(early, (1, 3, 8, 32, 32)).output_field.size[1]
    assert (
        vidconv.empirical_receptive_field(early, (1, 3, 8, 32, 32), axis=1).span
        == spatial
        == 10
    )


def test_summary_depth_groups_subtrees():
    with torch.device("meta"):
        model = M.r2plus1d_18()
    s = summary(model, (1, 3, 16, 112, 112), depth=1)
    assert [r.name for r in s.rows] == [
        "stem",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "avgpool",
        "fc",
    ]
    assert sum(r.flops for r in s.rows) == s.total_flops
    assert "total" in repr(s)


def test_c3d_shape_and_parameter_count():
    model = M.c3d(num_classes=101)
    convs = [
        (3, 64),
        (64, 128),
        (128, 256),
        (256, 256),
        (256, 512),
        (512, 512),
        (512, 512),
        (512, 512),
    ]
    expected = (
        sum(cin * cout * 27 + cout for cin, cout in convs)
        + (8192 * 4096 + 4096)
        + (4096 * 4096 + 4096)
        + (4096 * 101 + 101)
    )
    assert vidconv.count_parameters(model) == expected == 78_409_573
    with torch.device("meta"):
        meta = M.c3d(num_classes=101)
    assert meta(torch.zeros(2, 3, 16, 112, 112, device="meta")).shape == (
        2,
        101,
    )


def test_i3d_is_built_from_inception_modules_and_accepts_any_large_enough_clip():
    model = M.i3d(num_classes=10).eval()
    assert sum(isinstance(m, M.InceptionBlock3d) for m in model.modules()) == 9
    block = model.features.mixed_3b
    assert (
        block.out_channels == 256
        and model.features.mixed_5c.out_channels == 1024
    )
    with torch.no_grad():
        for shape in [
            (1, 3, 5, 17, 17),
            (2, 3, 16, 112, 112),
            (1, 3, 9, 40, 64),
        ]:
            assert model(torch.randn(shape)).shape == (shape[0], 10)
    assert M.i3d(in_channels=2).features.conv3d_1a_7x7[0].in_channels == 2


@pytest.mark.parametrize(
    "cls, build", [(M.I3D, lambda: M.i3d()), (M.S3D, lambda: M.s3d())]
)
def test_minimum_clip_is_exactly_what_the_layers_can_take(
    cls, build, monkeypatch
):
    with torch.device("meta"):
        model = (
            build().eval()
        )  # in training, batch norm also needs more than one value per channel
    t, s = cls.min_frames, cls.min_size
    model(torch.zeros(1, 3, t, s, s, device="meta"))
    module = importlib.import_module(cls.__module__)
    monkeypatch.setattr(
        module, "check_clip", lambda *a, **k: None
    )  # let the layers meet the clip
    for shape in [(1, 3, t - 1, s, s), (1, 3, t, s - 1, s - 1)]:
        with pytest.raises(RuntimeError):
            model(torch.zeros(shape, device="meta"))


def test_s3d_gating_adds_gates_that_learn():
    torch.manual_seed(0)
    gated = M.s3d(gating=True, num_classes=5)
    plain = M.s3d(num_classes=5)
    extra = set(gated.state_dict()) - set(plain.state_dict())
    assert extra and all(".gates." in k for k in extra)
    assert set(plain.state_dict()) <= set(gated.state_dict())
    out = gated(torch.randn(1, 3, 13, 209, 209))
    out.sum().backward()
    gates = [
        m
        for m in gated.modules()
        if isinstance(m, vidconv.layers.blocks.SelfGating)
    ]
    assert len(gates) == 9 * 4
    assert all(
        g.expand.weight.grad is not None
        and g.expand.weight.grad.abs().sum() > 0
        for g in gates
    )


def test_boring_video_through_an_inflated_resnet_equals_the_2d_network():
    torch.manual_seed(0)
    net2d = torchvision.models.resnet18(num_classes=10).eval()
    for m in net2d.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    net3d = M.inflate_network(net2d, temporal_kernel_size=3).eval()
    assert isinstance(
        net3d.conv1, M.InflatedConv3d
    ) and net3d.conv1.kernel_size == (3, 7, 7)
    assert net3d.layer2[0].downsample[0].kernel_size == (1, 1, 1)
    frame = torch.randn(2, 3, 64, 64)
    clip = frame.unsqueeze(2).expand(
        -1, -1, 7, -1, -1
    )  # (B, C, T, H, W): one frame repeated
    with torch.no_grad():
        torch.testing.assert_close(
            net3d(clip), net2d(frame), rtol=1e-4, atol=1e-5
        )
    assert isinstance(
        net2d.conv1, nn.Conv2d
    )  # the 2D network itself is untouched


@pytest.mark.parametrize("init", ["mean", "center"])
def test_inflated_conv_on_a_boring_clip_equals_the_2d_conv_at_every_frame(init):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1)
    conv3 = M.inflate_conv(conv, 5, init=init)
    frame = torch.randn(1, 4, 9, 9)
    clip = frame.unsqueeze(2).expand(-1, -1, 6, -1, -1)
    out = conv3(clip)  # (1, 6, 6, 5, 5)
    assert out.shape[2] == 6
    for t in range(6):
        torch.testing.assert_close(
            out[:, :, t], conv(frame), rtol=1e-5, atol=1e-5
        )


def test_2plus1d_gradcheck_float64():
    torch.manual_seed(0)
    block = (
        vidconv.Conv2Plus1d(2, 3, mid_channels=4).double().eval()
    )  # eval: batch norm uses its (fixed) statistics
    x = torch.randn(1, 2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(block, (x,))
    params = tuple(p for p in block.parameters())
    assert torch.autograd.gradcheck(
        lambda *ps: torch.func.functional_call(
            block,
            dict(zip([n for n, _ in block.named_parameters()], ps)),
            (x.detach(),),
        ),
        params,
    )


def test_weights_accept_enum_name_and_default():
    assert (
        W.resolve_weights("DEFAULT", tv.R3D_18_Weights)
        is tv.R3D_18_Weights.KINETICS400_V1
    )
    assert (
        W.resolve_weights("R3D_18_Weights.KINETICS400_V1", tv.R3D_18_Weights)
        is tv.R3D_18_Weights.KINETICS400_V1
    )
    assert W.resolve_weights(None, tv.R3D_18_Weights) is None


def test_weights_offline_fail_fast_with_a_message(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(
        W, "_can_reach", lambda url: OSError("no route to host")
    )
    with pytest.raises(
        RuntimeError,
        match=r"must be downloaded from https://download\.pytorch\.org/.*copy the file to",
    ):
        M.r3d_18(weights="DEFAULT")


def test_weights_load_from_the_hub_cache_without_a_probe(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    weights = tv.MC3_18_Weights.DEFAULT
    path = W.checkpoint_path(weights)
    (tmp_path / "checkpoints").mkdir()
    torch.save(tv.mc3_18().state_dict(), path)
    monkeypatch.setattr(
        W,
        "_can_reach",
        lambda url: pytest.fail(
            "probed the network although the file is cached"
        ),
    )
    calls = []

    def get_state_dict(
        self, **kwargs
    ):  # torchvision's own loader, minus the hash of the real file
        calls.append(kwargs)
        return torch.load(path, weights_only=True)

    monkeypatch.setattr(tv.MC3_18_Weights, "get_state_dict", get_state_dict)
    assert isinstance(M.mc3_18(weights=weights), M.VideoResNet)
    assert calls == [
        {"progress": True, "check_hash": True, "weights_only": True}
    ]


def test_weights_probe_goes_through_the_configured_proxy(monkeypatch):
    """Behind a proxy the download goes through it; so must the probe (a direct TCP probe would not)."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def answer_once():
        conn, _ = server.accept()
        with conn:
            seen.append(conn.recv(1024))
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer_once, daemon=True)
    thread.start()
    proxy = f"http://127.0.0.1:{server.getsockname()[1]}"
    for var in ("https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(var, proxy)
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    direct = socket.create_connection

    def only_to_the_proxy(address, *args, **kwargs):
        if address[0] != "127.0.0.1":
            pytest.fail(f"connected to {address} directly, bypassing the proxy")
        return direct(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", only_to_the_proxy)
    err = W._can_reach(tv.R3D_18_Weights.DEFAULT.url)
    thread.join(timeout=5)
    server.close()
    assert seen and seen[0].startswith(b"CONNECT download.pytorch.org:443")
    assert err is not None  # the proxy refused the tunnel: reported, not hidden


def test_2plus1d_middle_width_is_keyword_only():
    with pytest.raises(TypeError):
        vidconv.Conv2Plus1d(
            64, 128, 3
        )  # reads like PerFrameConv2d's kernel size: refused
    block = vidconv.Conv2Plus1d(64, 128, mid_channels=3)
    assert block[0].out_channels == 3
    assert (
        vidconv.Conv2Plus1d(64, 128)[0].out_channels
        == vidconv.midplanes_for_2plus1d(64, 128)
        == 230
    )


def test_released_r2plus1d_takes_the_middle_width_from_the_block_input():
    """layer2.0 widens 64 -> 128: both its convs get M(64, 128) = 230, not conv2's own M(128, 128) = 288."""
    ours, theirs = M.r2plus1d_18(), tv.r2plus1d_18()
    for model in (ours, theirs):
        conv2 = model.layer2[0].conv2[0]
        assert (
            conv2[0].out_channels == 230
            and vidconv.midplanes_for_2plus1d(128, 128) == 288
        )
        assert (
            sum(m.weight.numel() for m in conv2 if isinstance(m, nn.Conv3d))
            == 353_280
            < 128 * 128 * 27
        )


def test_video_resnet_names_its_input_channels_and_builder_state_apart():
    model = M.r3d_18()
    assert model.in_channels == 3 == M.i3d().in_channels
    assert (
        model.inplanes == 512
    )  # torchvision's name for the width the next stage would read


def test_inflate_pool_keeps_or_collapses_time_as_documented():
    x = torch.randn(1, 2, 6, 8, 8)
    assert (
        M.inflate_pool(nn.MaxPool2d(2), temporal_kernel_size=1)(x).shape[2] == 6
    )
    assert (
        M.inflate_pool(nn.MaxPool2d(2), temporal_kernel_size=2)(x).shape[2] == 3
    )
    assert (
        M.inflate_pool(nn.AdaptiveAvgPool2d(1), temporal_kernel_size=1)(
            x
        ).shape[2]
        == 1
    )  # global over time


X16 = torch.zeros(1, 3, 16, 112, 112)

BAD_INPUTS = [
    (
        "r3d 4-D clip",
        lambda: M.r3d_18()(torch.zeros(3, 16, 112, 112)),
        ValueError,
        r"5 dimensions .*got shape \(3, 16, 112, 112\)",
    ),
    (
        "r3d grayscale",
        lambda: M.r3d_18()(torch.zeros(1, 1, 16, 112, 112)),
        ValueError,
        r"expects 3 channels .*\(1, 1, 16, 112, 112\)",
    ),
    (
        "r3d channels last",
        lambda: M.r3d_18()(torch.zeros(1, 16, 112, 112, 3)),
        ValueError,
        "expects 3 channels",
    ),
    (
        "r3d integer clip",
        lambda: M.r3d_18()(torch.zeros(1, 3, 4, 32, 32, dtype=torch.uint8)),
        TypeError,
        "floating-point",
    ),
    (
        "r3d not a tensor",
        lambda: M.r3d_18()([[0.0]]),
        TypeError,
        "must be a torch.Tensor",
    ),
    (
        "mc3 empty batch",
        lambda: M.mc3_18()(torch.zeros(0, 3, 4, 32, 32)),
        ValueError,
        "empty batch",
    ),
    (
        "r2plus1d 0 frames",
        lambda: M.r2plus1d_18()(torch.zeros(1, 3, 0, 32, 32)),
        ValueError,
        "at least 1 frames",
    ),
    (
        "s3d too few frames",
        lambda: M.s3d()(torch.zeros(1, 3, 12, 224, 224)),
        ValueError,
        r"at least 13 frames of 209x209.*\(1, 3, 12, 224, 224\)",
    ),
    (
        "s3d too small",
        lambda: M.s3d()(torch.zeros(1, 3, 16, 112, 112)),
        ValueError,
        "at least 13 frames of 209x209",
    ),
    (
        "i3d too few frames",
        lambda: M.i3d()(torch.zeros(1, 3, 4, 112, 112)),
        ValueError,
        "at least 5 frames of 17x17",
    ),
    (
        "i3d flow stream given RGB",
        lambda: M.i3d(in_channels=2)(X16),
        ValueError,
        "expects 2 channels",
    ),
    (
        "c3d wrong frame count",
        lambda: M.c3d()(torch.zeros(1, 3, 32, 112, 112)),
        ValueError,
        r"fc6 expects .*\(1, 3, 32, 112, 112\)",
    ),
    (
        "c3d wrong size",
        lambda: M.c3d()(torch.zeros(1, 3, 16, 224, 224)),
        ValueError,
        "pools to",
    ),
    (
        "num_classes zero",
        lambda: M.r3d_18(num_classes=0),
        ValueError,
        "num_classes must be a positive int",
    ),
    (
        "weights of another model",
        lambda: M.r3d_18(weights=tv.MC3_18_Weights.DEFAULT),
        TypeError,
        "R3D_18_Weights",
    ),
    (
        "unknown weights name",
        lambda: M.s3d(weights="IMAGENET"),
        ValueError,
        "unknown weights 'IMAGENET'",
    ),
    (
        "weights with other classes",
        lambda: M.r2plus1d_18(weights="DEFAULT", num_classes=10),
        ValueError,
        "has 400 classes",
    ),
    (
        "gated s3d with weights",
        lambda: M.s3d(weights="DEFAULT", gating=True),
        ValueError,
        "no self-gating",
    ),
    (
        "dropout out of range",
        lambda: M.s3d(dropout=1.5),
        ValueError,
        "dropout must be in",
    ),
    (
        "c3d negative dropout",
        lambda: M.c3d(dropout=-0.1),
        ValueError,
        "dropout must be in",
    ),
    (
        "inflate a linear layer",
        lambda: M.inflate_conv(nn.Linear(2, 2)),
        TypeError,
        "nn.Conv2d",
    ),
    (
        "inflate with bad init",
        lambda: M.inflate_conv(nn.Conv2d(2, 2, 3), init="random"),
        ValueError,
        "'mean' or 'center'",
    ),
    (
        "inflate pool of unknown kind",
        lambda: M.inflate_pool(nn.LPPool2d(2, 2)),
        TypeError,
        "MaxPool2d",
    ),
    (
        "summary of a non-module",
        lambda: summary("r3d", (1, 3, 8, 32, 32)),
        TypeError,
        "nn.Module",
    ),
    (
        "summary with 4-D shape",
        lambda: summary(M.r3d_18(), (3, 8, 32, 32)),
        ValueError,
        "5 entries",
    ),
    (
        "summary with bad depth",
        lambda: summary(M.r3d_18(), (1, 3, 8, 32, 32), depth=0),
        ValueError,
        "depth must be",
    ),
    (
        "inception block channels",
        lambda: M.InceptionBlock3d(8, 2, 2, 2, 2, 2, 2)(
            torch.zeros(1, 4, 2, 4, 4)
        ),
        ValueError,
        "expects 8 channels",
    ),
    (
        "separable conv channels",
        lambda: vidconv.layers.blocks.SeparableConv3d(3, 4)(
            torch.zeros(1, 5, 2, 4, 4)
        ),
        ValueError,
        "expects 3 channels",
    ),
    (
        "self-gating channels",
        lambda: vidconv.layers.blocks.SelfGating(4)(torch.zeros(1, 3, 2, 2, 2)),
        ValueError,
        "expects 4 channels",
    ),
]


@pytest.mark.parametrize(
    "name, call, error, message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_inputs_get_clear_errors(name, call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_c3d_input_check_accepts_exactly_the_clips_its_layers_take():
    """C3D.forward refuses a clip up front iff its layers would not give fc6 its 512x1x4x4 grid."""
    with torch.device("meta"):
        model = M.c3d()
    for t, s in [(t, 112) for t in range(1, 41)] + [
        (16, s) for s in range(64, 161)
    ]:
        x = torch.zeros(1, 3, t, s, s, device="meta")
        fits = tuple(model.features(x).shape[1:]) == (512, 1, 4, 4)
        try:
            model(x)
            accepted = True
        except ValueError:
            accepted = False
        assert accepted == fits, (t, s)


def test_summary_fields_after_flatten_cover_the_whole_grid():
    """fc6 reads all of pool5's 1x4x4 grid, so its field is pool5's widened by 0x3x3 steps of 16x32x32."""
    with torch.device("meta"):
        rows = {
            r.name: r
            for r in vidconv.summary(M.c3d(), (1, 3, 16, 112, 112)).rows
        }
    pool5 = rows["features.pool5"].field
    grid = (1, 4, 4)
    whole = tuple(
        s + (g - 1) * j for s, g, j in zip(pool5.size, grid, pool5.jump)
    )
    assert whole == (76, 246, 246)
    for fc in ("classifier.fc6", "classifier.fc7", "classifier.fc8"):
        assert rows[fc].field.size == whole


def test_summary_keeps_the_field_when_time_moves_into_the_batch():
    """A per-frame 2D conv reshapes (B, C, T, H, W) to (B*T, C, H, W): its units still see one frame."""
    model = nn.Sequential(
        vidconv.PerFrameConv2d(3, 4, 3, padding=1),
        vidconv.PerFrameConv2d(4, 4, 3, padding=1),
    )
    rows = vidconv.summary(model, (2, 3, 5, 8, 8)).rows
    assert [r.field.size for r in rows] == [(1, 3, 3), (1, 5, 5)]


def test_video_resnet_widths_build_a_miniature_of_the_same_topology():
    """widths scales every stage; the default is the released network (parity tests above use it)."""
    from functools import partial

    from vidconv.layers.blocks import Conv2Plus1d, FullConv3d

    small = M.VideoResNet(
        M.BasicBlock,
        [FullConv3d] * 4,
        [1, 1, 1, 1],
        partial(M.BasicStem, 8),
        num_classes=5,
        widths=(8, 16, 32, 64),
    ).eval()
    assert small(torch.zeros(2, 3, 8, 32, 32)).shape == (2, 5)
    assert (
        small.layer4[0].conv1[0].out_channels == 64
        and small.fc.in_features == 64
    )
    tiny = M.VideoResNet(
        M.BasicBlock,
        [Conv2Plus1d] * 4,
        [1, 1, 1, 1],
        partial(M.R2Plus1dStem, 4, mid_channels=3),
        num_classes=2,
        widths=(4, 8, 8, 16),
    ).eval()
    assert tiny(torch.zeros(1, 3, 8, 16, 16)).shape == (1, 2)
    assert [len(s) for s in (small.layer1, small.layer4)] == [1, 1]
    with pytest.raises(ValueError, match="widths"):
        M.VideoResNet(
            M.BasicBlock,
            [FullConv3d] * 4,
            [1, 1, 1, 1],
            M.BasicStem,
            widths=(8, 16, 0, 64),
        )


@pytest.mark.parametrize("train", [False, True])
def test_inflated_network_keeps_every_layer_in_the_2d_models_mode(train):
    """An eval-mode 2D network gives an eval-mode 3D one (its new batch norms once started in training mode)."""
    model = torchvision.models.resnet18(weights=None).train(train)
    inflated = M.inflate_network(model)
    assert {m.training for m in inflated.modules()} == {train}
    if (
        not train
    ):  # then a boring clip gives the 2D logits without a separate .eval()
        torch.manual_seed(0)
        image = torch.rand(1, 3, 64, 64)
        clip = image.unsqueeze(2).expand(-1, -1, 5, -1, -1)  # (1, 3, 5, 64, 64)
        with torch.no_grad():
            torch.testing.assert_close(
                inflated(clip), model(image), rtol=1e-4, atol=1e-4
            )


def test_r2plus1d_stem_is_a_conv2plus1d_striding_space_only():
    # The stem is Conv2Plus1d's four children (temporal_stride=1) + BN, ReLU:
    # torchvision's layout, initialisation and output.
    from torchvision.models.video.resnet import R2Plus1dStem as TorchStem

    torch.manual_seed(0)
    ours = M.R2Plus1dStem()
    torch.manual_seed(0)
    theirs = TorchStem()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()):
        assert torch.equal(a, b)
    x = torch.randn(1, 3, 4, 16, 16)
    torch.testing.assert_close(ours.eval()(x), theirs.eval()(x))
    assert ours(x).shape == (1, 64, 4, 8, 8)  # time kept, space halved
    block = Conv2Plus1d(4, 8, mid_channels=6, stride=2, temporal_stride=1)
    assert block(torch.randn(1, 4, 4, 8, 8)).shape == (1, 8, 4, 4, 4)
    with pytest.raises(ValueError, match="temporal_stride must be >= 1"):
        Conv2Plus1d(4, 8, temporal_stride=0)
