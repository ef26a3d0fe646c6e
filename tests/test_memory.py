"""saved_tensor_memory against hand counts, and the checkpointing trade-off (memory down, same numbers)."""

import copy
import gc
import weakref

import pytest
import torch
from torch import nn

from vidconv.analysis.memory import OUTSIDE, saved_tensor_memory
from vidconv.experiments.r2plus1d.vs_r3d import miniature
from vidconv.models.resnet import BasicBlock
from vidconv.training import enable_checkpointing


def conv_relu_conv():
    return nn.Sequential(
        nn.Conv3d(3, 4, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.Conv3d(4, 2, 3, padding=1, bias=False),
    )


def test_exact_bytes_conv_relu_conv():
    # conv0 saves its input x; ReLU saves its output, which conv2 saves again (same storage, counted once);
    # the weights are parameters and are not counted.
    x = torch.randn(2, 3, 4, 5, 5)
    r = saved_tensor_memory(conv_relu_conv(), x)
    assert r.total == 4 * (2 * 3 * 100 + 2 * 4 * 100)
    assert r.per_layer == {"0": 4 * 2 * 3 * 100, "1": 4 * 2 * 4 * 100}
    assert r.tensors == 5  # conv0: x, w; relu: out; conv2: in, w


def test_exact_bytes_double_and_batch_norm():
    # Linear saves its input; batch norm (train) saves input, and mean and inverse std per channel.
    model = nn.Sequential(
        nn.Linear(6, 5, bias=False), nn.BatchNorm1d(5)
    ).double()
    x = torch.randn(7, 6, dtype=torch.float64)
    r = saved_tensor_memory(model, x)
    assert r.per_layer["0"] == 8 * 7 * 6
    assert r.per_layer["1"] == 8 * 7 * 5 + 2 * 8 * 5


def test_meta_equals_cpu_and_linear_in_batch():
    torch.manual_seed(0)
    model = miniature("R3D", (4, 8, 16, 32))
    with torch.device("meta"):
        on_meta = miniature("R3D", (4, 8, 16, 32))
    x = torch.randn(2, 3, 8, 16, 16)
    cpu = saved_tensor_memory(model, x)
    meta = saved_tensor_memory(on_meta, x.to("meta"))
    assert cpu.total == meta.total and cpu.per_layer == meta.per_layer
    x4 = torch.randn(4, 3, 8, 16, 16)
    stats = sum(
        b.numel() * 8
        for m in model.modules()
        if isinstance(m, nn.BatchNorm3d)
        for b in (m.running_mean,)
    )  # mean + invstd per BN, float32 -> 2 * 4 bytes per channel
    # activations double with the batch; the per-channel statistics do not
    assert saved_tensor_memory(model, x4).total == 2 * cpu.total - stats


def test_checkpointing_saves_memory_and_keeps_outputs_and_gradients():
    torch.manual_seed(0)
    plain = miniature("R3D", (4, 8, 16, 32))
    ckpt = copy.deepcopy(plain)
    assert enable_checkpointing(ckpt, (BasicBlock,)) == 4
    x = torch.randn(2, 3, 8, 16, 16)
    assert (
        saved_tensor_memory(ckpt, x).total < saved_tensor_memory(plain, x).total
    )
    out_p, out_c = plain(x), ckpt(x)
    assert torch.allclose(out_p, out_c, atol=1e-6)
    out_p.square().sum().backward()
    out_c.square().sum().backward()
    for (n, p), (_, q) in zip(
        plain.named_parameters(), ckpt.named_parameters()
    ):
        assert torch.allclose(p.grad, q.grad, atol=1e-5), n


def test_outside_and_table():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x):
            return self.lin(
                x
            ).sigmoid()  # sigmoid is functional: saved outside any module

    r = saved_tensor_memory(Twice(), torch.randn(4, 3))
    assert r.per_layer == {"lin": 4 * 12, OUTSIDE: 4 * 12}
    assert r.table().rows[0]["share"] == 0.5


def test_bad_input():
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        saved_tensor_memory("net", torch.randn(1, 3))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        saved_tensor_memory(nn.Linear(3, 3), [1, 2, 3])
    with pytest.raises(RuntimeError, match="no_grad"), torch.no_grad():
        saved_tensor_memory(nn.Linear(3, 3), torch.randn(1, 3))


def test_counting_leaves_no_activation_alive():
    # A ReLU saves its own output. Returning the saved tensor itself from the pack hook, or keeping the
    # counted tensors after the call, made a reference cycle through the graph that Python's collector
    # cannot free: every call leaked the forward pass's activations (4 GiB a call for R(2+1)D-18 on a GPU).
    model = nn.Sequential(
        nn.Conv3d(3, 4, 3), nn.ReLU(), nn.Conv3d(4, 2, 1), nn.Sigmoid()
    )
    outputs = []
    for module in model:
        module.register_forward_hook(
            lambda m, i, o: outputs.append(weakref.ref(o))
        )
    for per_layer in (True, False):
        outputs.clear()
        saved_tensor_memory(
            model, torch.randn(1, 3, 4, 6, 6), per_layer=per_layer
        )
        gc.collect()
        assert [o() for o in outputs] == [None] * 4
