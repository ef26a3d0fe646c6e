"""Chapter 3's experiments: the miniature C3D, the temporal-depth comparison, saliency and linear probes."""

import pytest
import torch
from torch import nn

import vidconv
from vidconv.data.synthetic import RotatingBlobs, clip_tensors
from vidconv.experiments.c3d.depth import (
    DEPTH_SETTINGS,
    MiniC3D,
    pooled_grid,
    temporal_depth_experiment,
)
from vidconv.experiments.c3d.features import embed, linear_probe
from vidconv.experiments.c3d.saliency import (
    frame_variation,
    grad_cam,
    input_saliency,
    layer_grid,
)
from vidconv.experiments.small_run import SmallRun
from vidconv.models import c3d

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def depth_result():
    return temporal_depth_experiment(
        {k: DEPTH_SETTINGS[k] for k in ("depth-1", "depth-3")}, device=CPU
    )


def test_pooled_grid_is_what_the_layers_produce():
    with torch.device("meta"):
        full = c3d()
    for t, h, w in [
        (16, 112, 112),
        (8, 112, 112),
        (1, 100, 128),
        (17, 112, 112),
        (16, 96, 129),
        (3, 40, 7),
    ]:
        assert tuple(
            full.features(torch.zeros(1, 3, t, h, w, device="meta")).shape[2:]
        ) == pooled_grid(t, h, w)
    mini = MiniC3D(2, frames=8, size=16).eval()
    assert (
        tuple(mini.features(torch.zeros(1, 3, 8, 16, 16)).shape[2:])
        == pooled_grid(8, 16, 16)
        == mini.grid
    )


def test_mini_c3d_has_c3d_topology_and_the_right_parameter_count():
    mini = MiniC3D(
        5, frames=16, size=112, width=64, hidden=4096, batch_norm=False
    )
    full = c3d(num_classes=5)
    assert [type(m) for m in mini.features] == [type(m) for m in full.features]
    assert [
        tuple(m.weight.shape)
        for m in mini.modules()
        if isinstance(m, (nn.Conv3d, nn.Linear))
    ] == [
        tuple(m.weight.shape)
        for m in full.modules()
        if isinstance(m, (nn.Conv3d, nn.Linear))
    ]
    assert vidconv.count_parameters(mini) == vidconv.count_parameters(full)
    deep = MiniC3D(2, depths=(1, 3, 5, 5, 7))
    assert [
        m.kernel_size[0] for m in deep.modules() if isinstance(m, nn.Conv3d)
    ] == [1, 3, 5, 5, 5, 5, 7, 7]


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: MiniC3D(2, width=0), ValueError, "width must be >= 1, got 0"),
        (lambda: MiniC3D(2, width=2.5), TypeError, "width must be an int"),
        (lambda: MiniC3D(2, depths=2), ValueError, "depths must be an odd int"),
        (
            lambda: MiniC3D(2, depths=(3, 3, 3)),
            ValueError,
            "one per conv group",
        ),
        (lambda: MiniC3D(0), ValueError, "num_classes must be >= 1"),
        (lambda: MiniC3D(2, dropout=1.0), ValueError, "dropout"),
        (
            lambda: MiniC3D(2, frames=8, size=16)(torch.zeros(1, 3, 8, 64, 64)),
            ValueError,
            r"built for clips \(B, 3, 8, 16, 16\).*got shape \(1, 3, 8, 64, 64\), which pools to \(1, 2, 2\)",
        ),
        (
            lambda: MiniC3D(2, frames=8, size=16)(
                torch.zeros(1, 3, 17, 16, 16)
            ),
            ValueError,
            r"pools to \(2, 1, 1\)",
        ),
        (
            lambda: MiniC3D(2)(torch.zeros(1, 1, 8, 16, 16)),
            ValueError,
            "expects 3 channels",
        ),
        (
            lambda: MiniC3D(2)(torch.zeros(3, 8, 16, 16)),
            ValueError,
            "must have 5 dimensions",
        ),
        (
            lambda: temporal_depth_experiment({}),
            ValueError,
            "at least one setting",
        ),
        (
            lambda: temporal_depth_experiment(None, SmallRun(epochs=0)),
            ValueError,
            "epochs must be >= 1",
        ),
        (
            lambda: temporal_depth_experiment({"x": 2}),
            ValueError,
            "depths must be an odd int",
        ),
    ],
)
def test_bad_inputs_are_named(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_same_size_clips_of_another_length_are_accepted_when_they_pool_alike():
    mini = MiniC3D(3, frames=8, size=16).eval()
    for shape in [
        (2, 3, 16, 32, 32),
        (2, 3, 1, 1, 1),
        (2, 3, 5, 15, 16),
    ]:  # ceil mode: all pool to 1x1x1
        assert mini(torch.zeros(shape)).shape == (2, 3)


def test_reversed_test_clips_are_clips_of_the_reverse_class():
    ds = RotatingBlobs(6, frames=7, size=16, num_classes=4, noise=0.0, seed=3)
    data = clip_tensors(ds, with_reversed=True)
    assert len(data) == 12
    for i in range(6):
        x, y = data[6 + i]
        speed = ds.speeds[int(y)]
        assert speed == -ds.speeds[ds.label_of(i)]
        # A noise-free reversed clip is the reverse-speed rendering started at the last position.
        start = int(
            torch.argmax(
                torch.stack(
                    [ds.render(i, speed, start=s)[:, 0] for s in range(7)]
                )
                .sub(x[:, 0])
                .abs()
                .flatten(1)
                .sum(1)
                .neg()
            )
        )
        assert torch.allclose(ds.render(i, speed, start=start), x, atol=1e-6)


def test_depth_one_is_at_chance_and_blind_to_reversal_depth_three_is_not(
    depth_result,
):
    rows = {r["setting"]: r for r in depth_result.table.rows}
    assert depth_result.chance == 0.5
    # On a test set closed under reversal, a reversal-invariant network scores exactly chance.
    assert rows["depth-1"]["test top-1"] == 0.5
    assert rows["depth-3"]["test top-1"] >= 0.9
    clips = depth_result.test.tensors[0][:16]
    with torch.no_grad():
        flat = depth_result.models["depth-1"]
        deep = depth_result.models["depth-3"]
        scale = flat(clips).abs().max()
        assert (flat(clips) - flat(clips.flip(2))).abs().max() <= 1e-5 * scale
        assert (deep(clips) - deep(clips.flip(2))).abs().max() > 0.1 * deep(
            clips
        ).abs().max()
        # ... but depth 1 is not blind to every reordering: a cyclic shift breaks C3D's pairs of frames.
        assert (
            flat(clips) - flat(clips.roll(1, dims=2))
        ).abs().max() > 1e-3 * scale
    assert rows["depth-3"]["parameters"] == vidconv.count_parameters(deep)
    assert len(depth_result.history["depth-3"]) == 4


def test_input_saliency_is_the_gradient_of_the_class_score():
    torch.manual_seed(0)
    model = MiniC3D(2).eval()
    x = torch.randn(2, 3, 8, 16, 16)
    sal = input_saliency(model, x, target=1)
    x_ = x.clone().requires_grad_(True)
    model(x_)[:, 1].sum().backward()
    assert sal.shape == (2, 8, 16, 16)
    assert torch.allclose(sal, x_.grad.abs().amax(dim=1))


def test_grad_cam_matches_a_hand_computation_and_is_constant_in_time_after_time_is_pooled_away():
    torch.manual_seed(0)
    model = MiniC3D(2).eval()
    x = torch.rand(3, 3, 8, 16, 16)
    grids = layer_grid(
        model,
        (1, 3, 8, 16, 16),
        ["features.relu2", "features.relu3b", "features.relu5b"],
    )
    assert list(grids.values()) == [(8, 8, 8), (4, 4, 4), (1, 1, 1)]
    # By hand, for relu3b: activation and gradient from hooks.
    store = {}
    handle = model.features.relu3b.register_forward_hook(
        lambda m, i, o: store.update(a=o)
    )
    score = model(x)[:, 0].sum()
    handle.remove()
    (g,) = torch.autograd.grad(score, store["a"])
    cam = torch.relu(
        (g.mean(dim=(2, 3, 4), keepdim=True) * store["a"]).sum(1)
    ).detach()
    cam = cam / cam.flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1, 1)
    assert torch.allclose(
        grad_cam(model, x, "features.relu3b", target=0, upsample=False),
        cam,
        atol=1e-6,
    )
    up = grad_cam(model, x, "features.relu5b", target=0)
    assert up.shape == (3, 8, 16, 16)
    assert (
        frame_variation(up).max() == 0
    )  # one time step left: the same map on every frame
    assert (
        frame_variation(grad_cam(model, x, "features.relu2", target=0)).min()
        > 0
    )
    model.train()
    grad_cam(model, x, "features.relu2")
    input_saliency(model, x)
    embed(model, x)
    assert model.training  # measuring leaves the caller's mode alone
    with pytest.raises(ValueError, match="clip_shape must have 5 entries"):
        layer_grid(model, (3, 8, 16, 16), ["features.relu2"])
    with pytest.raises(ValueError, match="layer must name a module"):
        grad_cam(model, x, "conv9")
    with pytest.raises(ValueError, match="must output a"):
        grad_cam(model, x, "classifier.fc6")
    with pytest.raises(ValueError, match="target classes must be in"):
        input_saliency(model, x, target=5)
    with pytest.raises(ValueError, match="one class per clip"):
        input_saliency(model, x, target=torch.tensor([0, 1]))


def test_linear_probe_separates_separable_features_and_not_noise():
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 4
    centres = torch.randn(4, 10, generator=gen) * 3
    x = centres[y] + torch.randn(200, 10, generator=gen)
    good = linear_probe(x[:100], y[:100], x[100:], y[100:])
    assert good["test top-1"] > 0.95 and good["chance"] == 0.25
    noise = torch.randn(200, 10, generator=gen)
    bad = linear_probe(noise[:100], y[:100], noise[100:], y[100:])
    assert bad["test top-1"] < 0.45
    with pytest.raises(
        ValueError, match="train labels must be a long tensor of shape"
    ):
        linear_probe(x, y.float(), x, y)
    with pytest.raises(ValueError, match="same width"):
        linear_probe(x, y, x[:, :3], y)


def test_embed_is_the_penultimate_layer():
    torch.manual_seed(0)
    model = MiniC3D(3, hidden=16).eval()
    x = torch.rand(5, 3, 8, 16, 16)
    feats = embed(model, x, batch_size=2)
    assert feats.shape == (5, 16)
    assert torch.allclose(
        model.classifier.fc8(feats), model(x).detach(), atol=1e-6
    )
    with pytest.raises(TypeError, match="embed"):
        embed(nn.Linear(2, 2), x)
