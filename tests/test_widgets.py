"""The receptive-field explorer and kernel viewer: what they draw, in both their live and static forms."""

import ipywidgets
import plotly.graph_objects as go
import pytest
import torch

from vidconv import frames_reached, receptive_field
from vidconv.book.widgets import (
    kernel_figure,
    kernel_viewer,
    receptive_field_explorer,
    receptive_field_figure,
)
from vidconv.layers.kernels import (
    moving_bar,
    moving_bar_kernel,
    temporal_difference_kernel,
)


def test_figure_draws_the_reached_frames_and_the_holes():
    fig = receptive_field_figure(kernel_size=3, stride=1, dilation=2, depth=2)
    edges, units, holes = fig.data
    reached = frames_reached([(3, 1, 2)] * 2)
    assert [x for x, y in zip(units.x, units.y) if y == 0] == reached[0]
    assert list(holes.x) == [1, 3, 5, 7]
    assert (
        f"span {receptive_field([(3, 1, 2)] * 2)} frames, 5 of them"
        in fig.layout.title.text
    )


def test_every_unit_sits_above_the_centre_of_the_frames_it_spans():
    layer = (
        3,
        2,
        1,
    )  # kernel 3, stride 2: level-1 unit j spans frames 2j .. 2j+2
    fig = receptive_field_figure(kernel_size=3, stride=2, dilation=1, depth=2)
    units = fig.data[1]
    levels = frames_reached([layer] * 2)
    assert [x for x, y in zip(units.x, units.y) if y == 1] == [
        2 * j + 1 for j in levels[1]
    ]
    assert [x for x, y in zip(units.x, units.y) if y == 2] == [
        (receptive_field([layer] * 2) - 1) / 2
    ]


def test_static_explorer_shows_exactly_one_setting_per_step():
    fig = receptive_field_explorer(
        kernel_sizes=(2, 3),
        strides=(1, 2),
        dilations=(1,),
        max_depth=3,
        static=True,
    )
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
    assert list(visible[1].x) == list(
        receptive_field_figure(3, 2, 1, 3).data[1].x
    )


def test_live_explorer_redraws_its_figure_when_a_control_moves():
    live = receptive_field_explorer(static=False)
    assert isinstance(live, ipywidgets.VBox)
    assert [c.description for c in live.children[:4]] == [
        "kernel",
        "stride",
        "dilation",
        "depth",
    ]
    assert live.children[4] is live.out  # one output area under the controls
    assert "span 7 frames" in live.figure.layout.title.text
    live.controls["depth"].value = 5
    assert "depth 5: span 11 frames" in live.figure.layout.title.text
    assert live.figure.to_dict() == receptive_field_figure(3, 1, 1, 5).to_dict()


def test_live_kernel_viewer_redraws_the_chosen_kernel():
    kernels = torch.cat(
        [moving_bar_kernel("right"), moving_bar_kernel("left")]
    )  # (2, 1, 3, 3, 3)
    live = kernel_viewer(kernels, static=False)
    assert [c.description for c in live.children[:2]] == ["kernel", "input ch."]
    live.controls["out_channel"].value = 1
    assert torch.tensor(live.figure.data[0].z).equal(kernels[1, 0, 0])


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
    assert (
        conv3d(torch.ones(1, 1, 4, 5, 5), diff).abs().max() < 1e-6
    )  # a static clip does not change


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: receptive_field_figure(kernel_size=0),
            ValueError,
            "kernel_size must be >= 1",
        ),
        (
            lambda: receptive_field_figure(depth=0),
            ValueError,
            "depth must be >= 1",
        ),
        (
            lambda: receptive_field_explorer(kernel_sizes=(), static=True),
            ValueError,
            "kernel_sizes must list",
        ),
        (
            lambda: kernel_figure(torch.zeros(3, 3)),
            ValueError,
            r"got shape \(3, 3\)",
        ),
        (
            lambda: kernel_figure(moving_bar_kernel(), out_channel=1),
            ValueError,
            "out_channel must be < 1",
        ),
        (lambda: kernel_viewer("weights"), TypeError, "torch.Tensor"),
        (lambda: moving_bar("up"), ValueError, "direction must be"),
        (lambda: moving_bar_kernel(size=1), ValueError, "size must be >= 2"),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def _run_in_kernel(*cells: str) -> tuple[list, dict]:
    """Run code cells one by one in a real ipykernel (nbclient mimics a front end's Output widgets).

    Returns the cells' outputs and the widget states by model id, as a notebook front end holds them.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in cells]
    )
    client = NotebookClient(nb, kernel_name="python3", timeout=60)
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            client.execute_cell(cell, i)
    return [cell.outputs for cell in nb.cells], client.widget_state


def _shown_figures(state: dict, output_model: str) -> list[dict]:
    outputs = state[output_model].get("outputs", [])
    return [
        o["data"]["application/vnd.plotly.v1+json"]
        for o in outputs
        if "application/vnd.plotly.v1+json" in o.get("data", {})
    ]


def test_explorers_show_one_figure_in_their_output_and_replace_it_when_a_control_moves():
    # The front end draws what the Output widget holds; ipywidgets.interactive without auto_display
    # left it empty (sliders, no figure). Here a kernel runs the explorers and a later cell moves
    # their controls, as a slider drag does through the widget comm.
    outputs, state = _run_in_kernel(
        "import os\nos.environ.pop('VIDCONV_STATIC_FIGURES', None)",
        "import torch\n"
        "from vidconv.book.widgets import kernel_viewer, receptive_field_explorer\n"
        "from vidconv.layers.kernels import moving_bar_kernel\n"
        "rf = receptive_field_explorer()\n"
        "kv = kernel_viewer(torch.cat([moving_bar_kernel('right'), moving_bar_kernel('left')]))\n"
        "print(rf.children[-1].model_id, kv.children[-1].model_id)  # their Output widgets",
        "rf.children[3].value = 5  # depth\nkv.children[0].value = 1  # which kernel",
    )
    assert all(o.output_type != "error" for cell in outputs for o in cell), (
        outputs
    )
    rf_out, kv_out = outputs[1][0]["text"].split()
    rf_figs, kv_figs = (
        _shown_figures(state, rf_out),
        _shown_figures(state, kv_out),
    )
    assert (
        len(rf_figs) == 1 and len(kv_figs) == 1
    )  # the new figure replaced the old one
    assert (
        len(state[rf_out]["outputs"]) == 1
        and len(state[kv_out]["outputs"]) == 1
    )
    assert "depth 5: span 11 frames" in rf_figs[0]["layout"]["title"]["text"]
    points = rf_figs[0]["data"][1]
    assert len(points["x"]) == sum(
        len(level) for level in frames_reached([(3, 1, 1)] * 5)
    )
    assert torch.tensor(kv_figs[0]["data"][0]["z"]).equal(
        moving_bar_kernel("left")[0, 0, 0]
    )
    assert kv_figs[0]["layout"]["title"]["text"].startswith("kernel 1 ")


def test_in_colab_the_live_figure_is_html_that_loads_plotly_itself(monkeypatch):
    import sys
    import types

    from vidconv.book import live as live_module

    shown = []
    monkeypatch.setitem(
        sys.modules, "google.colab", types.ModuleType("google.colab")
    )
    monkeypatch.setattr(live_module, "display", shown.append)
    explorer = receptive_field_explorer(static=False)
    explorer.controls["depth"].value = 4
    assert len(shown) == 2 and all(type(s).__name__ == "HTML" for s in shown)
    html = shown[-1].data
    assert (
        "if (window.Plotly)" in html
        and "script.onload = draw" in html
        and "https://cdn.plot.ly/" in html
    )
    assert explorer.figure.layout.title.text in html


def test_colab_html_cannot_be_cut_short_by_a_title():
    from vidconv.book.live import colab_html

    fig = go.Figure(layout={"title": {"text": "</script><b>x</b>"}})
    html = colab_html(fig)
    assert html.count("</script>") == 1


def test_titles_sit_below_the_toolbar_and_the_plot_keeps_its_size():
    from vidconv.book.figure_layout import (
        TOOLBAR_PX,
        is_below_toolbar,
        keep_title_clear,
        title_below_toolbar,
    )

    bare = {"title": {"text": "t"}, "margin": {"t": 60}, "height": 400}
    moved = title_below_toolbar(bare)
    assert (
        moved["title"]["pad"]["t"] == TOOLBAR_PX
        and moved["title"]["yanchor"] == "top"
    )
    assert (
        moved["margin"]["t"] == 60 + TOOLBAR_PX
        and moved["height"] == 400 + TOOLBAR_PX
    )
    assert title_below_toolbar(moved) is moved  # twice changes nothing more
    assert title_below_toolbar({"margin": {"t": 60}}) == {
        "margin": {"t": 60}
    }  # no title, nothing to move
    assert (
        title_below_toolbar({"title": "plain"})["margin"]["t"]
        == 100 + TOOLBAR_PX
    )  # plotly's default margin
    fig = keep_title_clear(go.Figure(layout={"title": {"text": "a title"}}))
    assert is_below_toolbar(fig.layout.to_plotly_json())
    # Every explorer's figures, live and static.
    for fig in (
        receptive_field_figure(),
        receptive_field_explorer(static=True),
        kernel_figure(moving_bar_kernel()),
        kernel_viewer(moving_bar_kernel(), static=True),
    ):
        assert is_below_toolbar(fig.layout.to_plotly_json())
