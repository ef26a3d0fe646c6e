"""Chapter 10's experiments: token budget counts, the window sweep, the keep-ratio frontier, the compression probe."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidconv import count_flops
from vidconv.experiments.relevance.compression import (
    compression_probe,
    query_clip_batch,
    ridge_probe_accuracy,
    uniform_merge,
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

# ----------------------------------------------------------------------------- token budget


def test_self_attention_equals_torch_multihead_attention_with_the_same_weights():
    torch.manual_seed(0)
    ours = SelfAttention(16, 4).double()
    reference = nn.MultiheadAttention(16, 4, batch_first=True).double()
    with torch.no_grad():
        reference.in_proj_weight.copy_(ours.qkv.weight)
        reference.in_proj_bias.copy_(ours.qkv.bias)
        reference.out_proj.weight.copy_(ours.out.weight)
        reference.out_proj.bias.copy_(ours.out.bias)
    x = torch.randn(3, 7, 16, dtype=torch.float64)
    torch.testing.assert_close(
        ours(x), reference(x, x, x, need_weights=False)[0]
    )


@pytest.mark.parametrize(
    "tokens, dim, heads", [(1, 8, 1), (5, 16, 4), (196, 64, 8)]
)
def test_counted_attention_flops_match_the_closed_form(tokens, dim, heads):
    assert count_flops(
        SelfAttention(dim, heads), (1, tokens, dim)
    ) == attention_flops_formula(tokens, dim)


def test_token_budget_counts_tokens_and_quadratic_growth():
    table = token_budget(
        (8, 16, 32), image_size=64, patch_size=16, dim=32, num_heads=4
    )
    rows = table.rows
    assert [r["tokens"] for r in rows] == [8 * 16, 16 * 16, 32 * 16]
    for r in rows:
        t, p = r["frames"], r["patches / frame"]
        assert r["joint GFLOPs"] == round(
            attention_flops_formula(t * p, 32) / 1e9, 2
        )
        divided = p * attention_flops_formula(
            t, 32
        ) + t * attention_flops_formula(p, 32)
        assert r["divided GFLOPs"] == round(divided / 1e9, 2)
    shares = [r["token x token share"] for r in rows]
    assert shares == sorted(shares) and shares[-1] > shares[0]


# ----------------------------------------------------------------------------- relevance needs context


def test_roc_auc_against_all_pairs_with_ties():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 5, (60,), generator=gen).float()  # many ties
    labels = torch.rand(60, generator=gen) < 0.4
    pos, neg = scores[labels], scores[~labels]
    pairs = (pos[:, None] > neg[None, :]).double() + 0.5 * (
        pos[:, None] == neg[None, :]
    ).double()
    assert roc_auc(scores, labels) == pytest.approx(pairs.mean().item())
    assert (
        roc_auc(labels.float(), labels) == 1.0
        and roc_auc(-labels.float(), labels) == 0.0
    )


def test_moving_frames_are_exactly_the_frames_that_differ_from_the_scene():
    x, moving = moving_frames_batch(
        4, 12, 8, noise=0.0, generator=torch.Generator().manual_seed(0)
    )
    assert x.shape == (4, 12, 8) and moving.dtype == torch.bool
    for b in range(4):
        still = x[b, ~moving[b]]
        assert torch.equal(still, still[:1].expand_as(still))
        assert not any(torch.equal(f, still[0]) for f in x[b, moving[b]])


def test_window_one_stays_at_chance_and_a_wide_window_finds_the_moving_frames():
    result = window_sweep((1, 9), train_steps=150)
    auc = {r["window"]: r["ROC AUC"] for r in result.table.rows}
    assert auc[1] < 0.6 and auc[9] > 0.9, auc
    assert set(result.modules) == {1, 9}


# ----------------------------------------------------------------------------- keep-ratio frontier


def test_present_event_batch_puts_the_labelled_event_in_the_present():
    prototypes = 10 * torch.eye(4, 8)
    x, label, step = present_event_batch(
        prototypes,
        64,
        12,
        present=3,
        distractors=2,
        generator=torch.Generator().manual_seed(0),
    )
    assert ((step >= 9) & (step <= 11)).all()
    event = x[torch.arange(64), step]  # (B, D)
    assert torch.equal(
        event[:, :4].argmax(1), label
    )  # the prototype dominates the noise
    strong = (x[:, :, :4].abs().amax(-1) > 5).sum(1)  # events per sequence
    assert (strong == 3).all()


def test_token_classifier_positions_default_to_order():
    torch.manual_seed(0)
    model = TokenClassifier(8, 3, max_steps=10).eval()
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(model(x), model(x, torch.arange(5).expand(2, 5)))
    assert not torch.allclose(
        model(x), model(x, torch.arange(5, 10).expand(2, 5))
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_learned_selection_beats_random_selection_at_the_same_ratio(seed):
    result = keep_ratio_frontier((0.25,), train_steps=150, seed=seed)
    rows = {r["selection"]: r for r in result.table.rows}
    assert rows["learned"]["tokens kept"] == rows["random"]["tokens kept"] == 4
    assert rows["learned"]["accuracy"] > rows["random"]["accuracy"] + 0.2, (
        result.table
    )
    assert rows["learned"]["present event kept"] > 0.9
    assert (
        rows["keep all"]["kFLOPs / sequence"]
        > rows["learned"]["kFLOPs / sequence"]
        > rows["random"]["kFLOPs / sequence"]
    )
    # The recency prior learned where the present ends (4 steps): far stronger than its linear start.
    recency = result.selectors[0.25].recency.detach()
    start = torch.linspace(1.0, 0.0, 9)
    gap = recency[:4].mean() - recency[4:].mean()
    assert gap > (start[:4].mean() - start[4:].mean()) + 0.3, recency


# ----------------------------------------------------------------------------- compression probe


def test_uniform_merge_is_the_mean_of_each_group():
    x = torch.randn(2, 7, 3, 4)
    merged = uniform_merge(x, 3)
    assert merged.shape == (2, 3, 3, 4)
    torch.testing.assert_close(merged[:, 1], x[:, 3:6].mean(1))
    torch.testing.assert_close(merged[:, 2], x[:, 6])


def test_ridge_probe_reads_a_linearly_separable_label_and_not_noise():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(400, 5, generator=gen)
    y = (x[:, 0] > 0).long()
    assert ridge_probe_accuracy(x[:300], y[:300], x[300:], y[300:]) > 0.9
    noise = torch.randn(400, 5, generator=gen)
    assert (
        ridge_probe_accuracy(noise[:300], y[:300], noise[300:], y[300:]) < 0.7
    )


def test_query_clip_batch_marks_the_tokens_that_carry_the_query():
    prototypes = torch.zeros(3, 8)
    x, text, matches, _ = query_clip_batch(
        prototypes, 4, 6, 5, generator=torch.Generator().manual_seed(0)
    )
    assert (
        x.shape == (4, 6, 5, 8)
        and text.shape == (4, 2, 8)
        and matches.shape == (4, 6, 5)
    )
    distance = (x - text[:, None, None, :1].squeeze(3)).norm(
        dim=-1
    )  # to the query's first token
    assert distance[matches].max() < distance[~matches].min()


@pytest.mark.parametrize("seed", [0, 1])
def test_relevance_follows_the_query_and_keeps_what_the_probe_needs(seed):
    result = compression_probe((4,), seed=seed)
    rows = {r["merge"]: r for r in result.table.rows}
    own, other, uniform = (
        rows["relevance, own query"],
        rows["relevance, another clip's query"],
        rows["uniform average"],
    )
    assert (
        own["AUC for matching tokens"] > 0.9
        and other["AUC for matching tokens"] < 0.6
    ), result.table
    assert (
        own["probe accuracy"]
        > uniform["probe accuracy"]
        > other["probe accuracy"]
    ), result.table
    assert own["frames kept"] == uniform["frames kept"] == 2
