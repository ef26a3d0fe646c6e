"""The receptive-field explorer and kernel viewer: what they draw, in both their live and static forms."""

import ipywidgets
import plotly.graph_objects as go
import pytest
import torch

from vidconv import frames_reached, receptive_field
from vidconv.kernels import moving_bar, moving_bar_kernel, temporal_difference_kernel
from vidconv.book.widgets import kernel_figure, kernel_viewer, receptive_field_explorer, receptive_field_figure


def test_figure_draws_the_reached_frames_and_the_holes():
    fig = receptive_field_figure(kernel=3, stride=1, dilation=2, depth=2)
    edges, units, holes = fig.data
    reached = frames_reached([(3, 1, 2)] * 2)
    assert [x for x, y in zip(units.x, units.y) if y == 0] == reached[0]
    assert list(holes.x) == [1, 3, 5, 7]
    assert f"span {receptive_field([(3, 1, 2)] * 2)} frames, 5 of them" in fig.layout.title.text


def test_static_explorer_shows_exactly_one_setting_per_step():
    fig = receptive_field_explorer(kernels=(2, 3), strides=(1, 2), dilations=(1,), max_depth=3, static=True)
    assert isinstance(fig, go.Figure)
    per_setting = 3  # traces drawn for one setting
    assert len(fig.data) == 2 * 2 * 3 * per_setting
    assert sum(bool(t.visible) for t in fig.data) == per_setting
    menu = fig.layout.updatemenus[0].buttons
    assert len(menu) == 4
    for button in menu:
        slider = button.args[1]["sliders"][0]
        titles = set()
        for step in slider["steps"]:
            assert sum(step["args"][0]["visible"]) == per_setting
            titles.add(step["args"][1]["title.text"])
        assert len(titles) == 3  # every depth draws something different
    # Step "depth 3" of "kernel 3, stride 2, dilation 1" shows that setting's figure.
    step = menu[3].args[1]["sliders"][0]["steps"][2]
    visible = [t for t, v in zip(fig.data, step["args"][0]["visible"]) if v]
    assert list(visible[1].x) == list(receptive_field_figure(3, 2, 1, 3).data[1].x)


def test_live_explorer_is_an_ipywidget_when_a_kernel_could_run_it():
    live = receptive_field_explorer(static=False)
    assert isinstance(live, ipywidgets.interactive)
    assert [c.description for c in live.children[:4]] == ["kernel", "stride", "dilation", "depth"]


def test_environment_variable_selects_the_static_form(monkeypatch):
    monkeypatch.setenv("VIDCONV_STATIC_FIGURES", "1")
    assert isinstance(receptive_field_explorer(max_depth=2), go.Figure)
    assert isinstance(kernel_viewer(moving_bar_kernel()), go.Figure)


def test_kernel_figure_shows_every_time_slice():
    k = moving_bar_kernel("right")
    fig = kernel_figure(k)
    assert len(fig.data) == 3
    for t, heatmap in enumerate(fig.data):
        assert torch.tensor(heatmap.z).equal(k[0, 0, t])


def test_static_kernel_viewer_has_a_step_per_kernel_and_a_menu_per_input_channel():
    w = torch.randn(5, 2, 2, 3, 3)
    fig = kernel_viewer(w, static=True, max_kernels=4)
    assert len(fig.layout.updatemenus[0].buttons) == 2
    assert len(fig.layout.sliders[0].steps) == 4
    assert len(fig.data) == 2 * 4 * 2


def test_hand_made_kernels_see_direction():
    right, left = moving_bar_kernel("right"), moving_bar_kernel("left")
    clip = moving_bar("right", frames=8, size=16)
    from vidconv import conv3d
    assert conv3d(clip, right).max() > conv3d(clip, left).max()
    assert conv3d(clip.flip(2), left).max() > conv3d(clip.flip(2), right).max()
    diff = temporal_difference_kernel()
    assert conv3d(torch.ones(1, 1, 4, 5, 5), diff).abs().max() < 1e-6  # a static clip does not change


@pytest.mark.parametrize("call, error, message", [
    (lambda: receptive_field_figure(kernel=0), ValueError, "kernel(_size)? must be >= 1"),
    (lambda: receptive_field_figure(depth=0), ValueError, "depth must be >= 1"),
    (lambda: receptive_field_explorer(kernels=(), static=True), ValueError, "kernels must list"),
    (lambda: kernel_figure(torch.zeros(3, 3)), ValueError, r"got shape \(3, 3\)"),
    (lambda: kernel_figure(moving_bar_kernel(), out_channel=1), ValueError, "out_channel must be < 1"),
    (lambda: kernel_viewer("weights"), TypeError, "torch.Tensor"),
    (lambda: moving_bar("up"), ValueError, "direction must be"),
    (lambda: moving_bar_kernel(size=1), ValueError, "size must be >= 2"),
])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
