"""The temporal-relevance modules: shapes, masks, gradients, edge cases, and that they can learn."""

from __future__ import annotations

import pytest
import torch

from vidconv.temporal.relevance import (
    TemporalRelevanceModule,
    ThickPresentTokenSelector,
    VideoRelevanceCompressor,
)


def grads_reach_every_parameter(module: torch.nn.Module) -> bool:
    return all(
        p.grad is not None and p.grad.abs().sum() > 0
        for p in module.parameters()
    )


@pytest.mark.parametrize("window", [1, 2, 3, 4, 7, 50])
@pytest.mark.parametrize("steps", [1, 5, 12])
def test_relevance_has_one_value_per_step_in_unit_interval(window, steps):
    torch.manual_seed(0)
    module = TemporalRelevanceModule(16, window, 4)
    r = module(torch.randn(3, steps, 16))
    assert r.shape == (3, steps)
    assert ((r >= 0) & (r <= 1)).all()


def test_mask_zeroes_padded_steps_and_padding_changes_nothing_else():
    torch.manual_seed(0)
    module = TemporalRelevanceModule(16, 3, 2).eval()
    x = torch.randn(2, 10, 16)
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[1, 6:] = False
    r = module(x, mask)
    assert (r[1, 6:] == 0).all() and (r[1, :6] > 0).all()
    # Padded steps are never attended to: the real steps score as if the padding were absent.
    torch.testing.assert_close(r[1, :6], module(x[1:, :6])[0])


@pytest.mark.parametrize(
    "dtype",
    [
        torch.long,
        torch.int32,
        torch.uint8,
        torch.float32,
        torch.float64,
        torch.float16,
    ],
)
def test_integer_and_float_masks_give_the_bool_masks_result(dtype):
    """Transformer libraries hand over attention masks of 0/1 numbers; they mean what the bool mask means."""
    torch.manual_seed(0)
    module = TemporalRelevanceModule(16, 3, 2).eval()
    x = torch.randn(2, 10, 16)
    valid = torch.ones(2, 10, dtype=torch.bool)
    valid[1, 6:] = False
    expected = module(x, valid)
    got = module(x, valid.to(dtype))
    assert torch.equal(got, expected)
    assert (got[1, 6:] == 0).all() and torch.equal(got[0], module(x[:1])[0])


def test_window_limits_the_context():
    torch.manual_seed(0)
    module = TemporalRelevanceModule(8, 3, 2).eval()
    x = torch.randn(1, 12, 8, requires_grad=True)
    module(x)[0, 6].backward()
    touched = {i for i in range(12) if x.grad[0, i].abs().sum() > 0}
    assert touched == {5, 6, 7}


def test_relevance_gradients_reach_every_parameter():
    module = TemporalRelevanceModule(16, 5, 4)
    module(torch.randn(2, 8, 16)).sum().backward()
    assert grads_reach_every_parameter(module)


def moving_frames_batch(
    gen: torch.Generator, batch: int = 32, steps: int = 16, dim: int = 16
):
    """Each sequence shows one scene; some frames show a different one ("something moved").

    Every frame, alone, looks like a scene: only its difference from its neighbours gives it away.
    """
    scene = torch.randn(batch, 1, dim, generator=gen).expand(-1, steps, -1)
    other = torch.randn(batch, steps, dim, generator=gen)
    moving = torch.rand(batch, steps, generator=gen) < 0.25
    x = torch.where(moving.unsqueeze(-1), other, scene) + 0.05 * torch.randn(
        batch, steps, dim, generator=gen
    )
    return x, moving.float()


def train_moving_frame_finder(window: int):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    module = TemporalRelevanceModule(16, window, 4)
    optimizer = torch.optim.Adam(module.parameters(), lr=3e-3)
    for _ in range(600):
        x, y = moving_frames_batch(gen)
        loss = torch.nn.functional.binary_cross_entropy(module(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x, y = moving_frames_batch(torch.Generator().manual_seed(123), batch=256)
    with torch.no_grad():
        relevance = module.eval()(x)
    predicted = relevance > 0.5
    recall = (predicted & (y > 0)).sum() / (y > 0).sum()
    specificity = (~predicted & (y == 0)).sum() / (y == 0).sum()
    balanced_accuracy = 0.5 * (recall + specificity)
    # Probability that a moving frame scores above a still one (ROC AUC).
    auc = (
        (relevance[y > 0][:, None] > relevance[y == 0][None, :]).float().mean()
    )
    return auc.item(), balanced_accuracy.item()


def test_relevance_learns_to_find_the_frames_that_move():
    auc, balanced_accuracy = train_moving_frame_finder(window=5)
    assert auc > 0.95 and balanced_accuracy > 0.85, (
        auc,
        balanced_accuracy,
    )  # chance: 0.5 and 0.5


def test_without_temporal_context_the_same_task_stays_at_chance():
    auc, _ = train_moving_frame_finder(
        window=1
    )  # each frame alone: every frame looks like some scene
    assert auc < 0.6, auc


@pytest.mark.parametrize("steps", [1, 3, 8, 20])
def test_selector_keeps_the_right_count_in_order(steps):
    torch.manual_seed(0)
    selector = ThickPresentTokenSelector(8, present_thickness=6, keep_ratio=0.5)
    kept, indices, scores = selector(torch.randn(2, steps, 8))
    k = max(1, int(0.5 * steps + 0.5))
    assert (
        kept.shape == (2, k, 8)
        and indices.shape == (2, k)
        and scores.shape == (2, steps)
    )
    assert (indices.diff(dim=1) > 0).all()  # temporal order
    top = scores.topk(k, dim=1).indices.sort(dim=1).values
    assert torch.equal(indices, top)


def test_selector_recency_profile_is_used_and_learns():
    torch.manual_seed(0)
    selector = ThickPresentTokenSelector(8, present_thickness=5, keep_ratio=0.5)
    with torch.no_grad():
        selector.content.weight.zero_()
        selector.content.bias.zero_()
        selector.recency.copy_(
            torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 5.0])
        )  # prefer tokens older than the present
    _, indices, _ = selector(torch.randn(1, 10, 8))
    assert indices.tolist() == [[0, 1, 2, 3, 4]]
    kept, _, _ = selector(torch.randn(1, 10, 8))
    kept.sum().backward()
    assert (
        selector.recency.grad is not None
        and selector.recency.grad.abs().sum() > 0
    )
    assert selector.content.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "ratio, steps, expected",
    [(1e-6, 10, 1), (1.0, 10, 10), (0.5, 1, 1), (0.34, 3, 1)],
)
def test_selector_keep_ratio_edges(ratio, steps, expected):
    assert (
        ThickPresentTokenSelector(4, 2, ratio)(torch.randn(1, steps, 4))[
            0
        ].shape[1]
        == expected
    )


@pytest.mark.parametrize("n_tokens", [1, 6, 7, 49])
def test_compressor_shapes_for_any_token_count(n_tokens):
    torch.manual_seed(0)
    compressor = VideoRelevanceCompressor(
        16, num_frames=12, compression_ratio=3
    )
    compressed, relevance = compressor(torch.randn(2, 12, n_tokens, 16))
    assert compressed.shape == (2, 4, n_tokens, 16) and relevance.shape == (
        2,
        12,
        n_tokens,
    )


def test_compressor_weights_are_the_softmax_of_the_relevance_logits_as_documented():
    torch.manual_seed(0)
    compressor = VideoRelevanceCompressor(
        8, num_frames=6, compression_ratio=3
    ).double()
    tokens = torch.randn(2, 6, 4, 8, dtype=torch.float64)
    compressed, relevance = compressor(tokens)
    weights = (
        torch.logit(relevance).reshape(2, 2, 3, 4).softmax(dim=2)
    )  # (B, groups, r, N)
    expected = (weights.unsqueeze(-1) * tokens.reshape(2, 2, 3, 4, 8)).sum(
        dim=2
    )
    torch.testing.assert_close(compressed, expected)
    assert not torch.allclose(
        weights.sum(dim=2), relevance.reshape(2, 2, 3, 4).sum(dim=2)
    )  # relevance is not the weights


def test_compressor_handles_a_ragged_last_group():
    torch.manual_seed(0)
    compressor = VideoRelevanceCompressor(8, num_frames=16, compression_ratio=3)
    tokens = torch.randn(1, 7, 5, 8)
    compressed, _ = compressor(tokens)
    assert compressed.shape == (1, 3, 5, 8)
    torch.testing.assert_close(
        compressed[:, 2], tokens[:, 6]
    )  # the last group has one frame
    same = tokens[:, :1].expand(
        -1, 6, -1, -1
    )  # a group of identical frames merges into that frame
    torch.testing.assert_close(
        compressor(same)[0], tokens[:, :1].expand(-1, 2, -1, -1)
    )


def test_text_conditions_relevance_and_all_parameters_learn():
    torch.manual_seed(0)
    compressor = VideoRelevanceCompressor(16, num_frames=8, compression_ratio=2)
    tokens = torch.randn(2, 8, 4, 16)
    _, without = compressor(tokens)
    _, with_a = compressor(tokens, torch.randn(2, 3, 16))
    compressed, with_b = compressor(tokens, torch.randn(2, 5, 16))
    assert (with_a - without).abs().max() > 1e-3 and (
        with_a - with_b
    ).abs().max() > 1e-3
    (compressed.sum() + with_b.sum()).backward()
    assert grads_reach_every_parameter(compressor)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: TemporalRelevanceModule(10, 3, 4),
            ValueError,
            r"hidden_dim \(10\) must be divisible by num_heads \(4\)",
        ),
        (
            lambda: TemporalRelevanceModule(8, 0, 2),
            ValueError,
            "temporal_window must be >= 1",
        ),
        (
            lambda: TemporalRelevanceModule(8, 3, 2)(torch.randn(2, 5, 6)),
            ValueError,
            r"hidden_dim=8 .*\(2, 5, 6\)",
        ),
        (
            lambda: TemporalRelevanceModule(8, 3, 2)(torch.randn(5, 8)),
            ValueError,
            "3 dimensions",
        ),
        (
            lambda: TemporalRelevanceModule(8, 3, 2)(
                torch.randn(2, 5, 8), torch.full((2, 5), 0.5)
            ),
            ValueError,
            r"must hold only 0 \(padding\) and 1 \(valid\), found 0.5",
        ),
        (
            lambda: TemporalRelevanceModule(8, 3, 2)(
                torch.randn(2, 5, 8), [[1] * 5] * 2
            ),
            TypeError,
            "bool or 0/1 numbers",
        ),
        (
            lambda: TemporalRelevanceModule(8, 3, 2)(
                torch.randn(2, 5, 8), torch.ones(2, 4, dtype=torch.bool)
            ),
            ValueError,
            r"\(B, T\) = \(2, 5\)",
        ),
        (
            lambda: ThickPresentTokenSelector(8, 4, 0.0),
            ValueError,
            r"keep_ratio must be a number in \(0, 1\]",
        ),
        (
            lambda: ThickPresentTokenSelector(8, 4, 1.5),
            ValueError,
            "keep_ratio",
        ),
        (
            lambda: ThickPresentTokenSelector(8, 4, True),
            ValueError,
            "keep_ratio",
        ),
        (
            lambda: ThickPresentTokenSelector(8, 4, 0.5)(torch.randn(1, 0, 8)),
            ValueError,
            "empty",
        ),
        (
            lambda: VideoRelevanceCompressor(8, 4, 2)(torch.randn(1, 6, 3, 8)),
            ValueError,
            "more than num_frames=4",
        ),
        (
            lambda: VideoRelevanceCompressor(8, 8, 2)(torch.randn(1, 4, 8)),
            ValueError,
            r"4 dimensions \(B, T, N, D\)",
        ),
        (
            lambda: VideoRelevanceCompressor(8, 8, 2)(
                torch.randn(1, 4, 3, 8), torch.randn(2, 3, 8)
            ),
            ValueError,
            "text batch 2",
        ),
        (
            lambda: VideoRelevanceCompressor(8, 8, 0),
            ValueError,
            "compression_ratio must be >= 1",
        ),
    ],
)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_selector_learns_to_keep_the_marked_tokens():
    """Some tokens carry a hidden marker direction; trained on their labels, the kept half holds them."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    marker = torch.randn(16, generator=gen)

    def batch(n: int):
        x = torch.randn(n, 12, 16, generator=gen)
        marked = torch.rand(n, 12, generator=gen) < 0.3
        return x + marked.unsqueeze(-1) * marker, marked

    selector = ThickPresentTokenSelector(
        16, present_thickness=4, keep_ratio=0.5
    )
    optimizer = torch.optim.Adam(selector.parameters(), lr=1e-2)
    for _ in range(200):
        x, marked = batch(32)
        _, _, scores = selector(x)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            scores, marked.float()
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x, marked = batch(256)
    with torch.no_grad():
        _, indices, _ = selector(x)
    recall = marked.gather(1, indices).sum() / marked.sum()
    assert recall > 0.9, recall  # keeping half at random keeps half of them


def test_compressor_relevance_learns_to_follow_the_text():
    """Tokens that match the query text are the relevant ones; the same tokens with another text are not."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)

    def batch(n: int):
        text = torch.randn(n, 2, 16, generator=gen)
        tokens = torch.randn(n, 4, 6, 16, generator=gen)
        relevant = torch.rand(n, 4, 6, generator=gen) < 0.3
        tokens = torch.where(
            relevant.unsqueeze(-1), text[:, :1, None, :] + 0.3 * tokens, tokens
        )
        return tokens, text, relevant

    compressor = VideoRelevanceCompressor(16, num_frames=4, compression_ratio=2)
    optimizer = torch.optim.Adam(compressor.parameters(), lr=3e-3)
    for _ in range(300):
        tokens, text, relevant = batch(32)
        _, relevance = compressor(tokens, text)
        loss = torch.nn.functional.binary_cross_entropy(
            relevance, relevant.float()
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    tokens, text, relevant = batch(128)
    with torch.no_grad():
        _, relevance = compressor(tokens, text)
        _, shuffled = compressor(
            tokens, text.roll(1, dims=0)
        )  # each clip gets another clip's query

    def auc(scores):
        return (
            (scores[relevant][:, None] > scores[~relevant][None, :])
            .float()
            .mean()
        )

    assert auc(relevance) > 0.9 and auc(shuffled) < 0.7, (
        auc(relevance),
        auc(shuffled),
    )
