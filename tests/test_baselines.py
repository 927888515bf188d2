"""LNR, GBC and MetaBalance (method.md §6) against hand-computed values on tiny, hand-made problems.

The loss formulas (class weights, Focal, Dice) and the bare LNR flip rule are tested in test_losses.py; here:
LNR's flips through the dataset code (classification and NER entity spans), GBC's distance, centroids,
farthest-first seeds, k-means and meta selection, layer scores, per-example gradients and the L2RW weight
update, and MetaBalance's first-order direction, standalone and as written by its Trainer into ``.grad``.
"""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from conftest import tiny_bert
from hamr.methods.gbc.trainer import (
    GBCTrainer,
    choose_coordinates,
    draw_layers,
    farthest_first,
    gbc_centroids,
    gbc_distance,
    gradient_features,
    l2rw_weight_step,
    layer_scores,
    per_example_gradients,
    weighted_kmeans,
)
from hamr.methods.lnr.flips import entity_spans, flip_dataset, flip_ner_spans, _tag_tables
from hamr.methods.metabalance.trainer import MetaBalanceTrainer, balanced_sampling_weights, first_order_meta_gradients
from hamr.enums import TaskType
from hamr.tasks import EncodedDataset
from hamr.methods.gbc import GBCArguments
from hamr.methods.metabalance import MetaBalanceArguments



# ------------------------------------------------------------------------------------------------ LNR


def _reference_lnr(P, y, counts, t_flip, u):
    """The LNR rule of method.md §6 written out example by example (independent of hamr.losses)."""
    P, y, counts = np.asarray(P, float), np.asarray(y), np.asarray(counts, float)
    n, c = P.shape
    prior = 1 - (counts - counts.min()) / (counts.max() - counts.min())
    new, flips = y.copy(), {}
    for i in range(n):
        best_k, best_r = None, -np.inf
        for k in range(c):
            if k == y[i]:
                continue
            col = P[y != k, k]
            z = (P[i, k] - col.mean()) / col.std() if col.std() > 0 else 0.0
            r = math.tanh(z - t_flip) * max(prior[k] - prior[y[i]], 0.0)
            if r > best_r:
                best_k, best_r = k, r
        if best_r > u[i]:
            new[i] = best_k
            flips[(int(y[i]), best_k)] = flips.get((int(y[i]), best_k), 0) + 1
    return new, flips


def _cls_dataset(labels):
    return EncodedDataset([{"input_ids": [101, 7, 102], "attention_mask": [1, 1, 1], "labels": int(y),
                            "example_index": i} for i, y in enumerate(labels)])


def test_lnr_classification_flips_what_the_formula_gives():
    labels = [0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3]  # counts 5, 3, 2, 1
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(len(labels), 4)) * 2
    logits[1, 3] += 6  # a majority example that looks like the rarest class
    ds = _cls_dataset(labels)
    new_ds, res = flip_dataset(ds, logits, np.array(labels), TaskType.CLASSIFICATION, ["a", "b", "c", "d"],
                               t_flip=0.5, seed=11)
    P = np.exp(logits - logits.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    expected, flips = _reference_lnr(P, np.array(labels), [5, 3, 2, 1], 0.5, np.random.default_rng(11).random(11))
    assert [new_ds[i]["labels"] for i in range(len(ds))] == expected.tolist() == res.labels
    assert res.flips == flips and res.num_flipped >= 1
    assert res.summary()["max_eligible_z"] == res.max_eligible_z > 0.5  # recorded in lnr_flips.json
    assert expected[1] == 3  # the planted look-alike flips
    assert any(expected[i] == 0 for i in range(5))  # not every majority example does
    assert all(expected[i] == labels[i] for i in range(len(labels)) if labels[i] == 3)  # rarest never flips
    # the input is untouched, other keys are kept
    assert [ds[i]["labels"] for i in range(len(ds))] == labels
    assert new_ds[0]["example_index"] == 0 and new_ds[0]["input_ids"] == [101, 7, 102]


def test_lnr_says_why_nothing_flipped():
    from hamr.methods.lnr.flips import no_flip_message

    assert "t_flip 7.50 is above every z it could flip on (the largest is 2.00)" in no_flip_message(2.0, 7.5)
    assert "above t_flip 1.00 but no draw" in no_flip_message(2.0, 1.0)
    assert "no class is rarer" in no_flip_message(None, 7.5)


def test_lnr_classification_with_certain_rates():
    """t_flip = -100 makes tanh(z − t) = 1: the rate is exactly the prior weight max(prior_k − prior_y, 0)."""
    labels = [0, 0, 0, 0, 1, 1, 2]  # prior: 0, 2/3, 1
    logits = np.random.default_rng(0).normal(size=(7, 3))
    new_ds, res = flip_dataset(_cls_dataset(labels), logits, np.array(labels), TaskType.CLASSIFICATION,
                               ["maj", "mid", "rare"], t_flip=-100.0, seed=5)
    u = np.random.default_rng(5).random(7)
    expected = [2, 2, 2, 2] + [2 if u[i] < 1 / 3 else 1 for i in (4, 5)] + [2]
    assert res.labels == expected
    assert res.summary()["flips"][0] == {"from": "maj", "to": "rare", "count": 4}


TAGS = ["O", "B-A", "I-A", "B-B", "I-B", "B-C", "I-C"]
ROWS = [
    [-100, 1, 2, -100, 0, 3, -100],  # A@[1,2], B@[5]
    [-100, 1, -100, 2, 0, 1, -100],  # A@[1,3] (I-A after an ignored sub-token continues), A@[5]
    [-100, 5, 6, 0, 2, -100],  # C@[1,2], A@[4] (an I-A after O opens a span)
    [-100, 3, 4, 0, -100],  # B@[1,2]
]


def test_entity_spans_follow_iob2_over_labelled_positions():
    _, decode, _ = _tag_tables(TAGS)
    assert entity_spans(ROWS[0], decode) == [(0, [1, 2]), (1, [5])]
    assert entity_spans(ROWS[1], decode) == [(0, [1, 3]), (0, [5])]
    assert entity_spans(ROWS[2], decode) == [(2, [1, 2]), (0, [4])]
    assert entity_spans([1, 3, 4, 2], decode) == [(0, [0]), (1, [1, 2]), (0, [3])]


def test_lnr_ner_flips_whole_spans_with_certain_rates():
    probs = [np.full((len(r), len(TAGS)), 1 / len(TAGS)) for r in ROWS]
    for p in probs:  # any finite probabilities: with t_flip = -100 only the priors matter
        p += np.random.default_rng(len(p)).random(p.shape) * 0.01
    res = flip_ner_spans(ROWS, probs, TAGS, t_flip=-100.0, rng=np.random.default_rng(7))
    # spans in order: A, B, A, A, C, A, B; counts A 4, B 2, C 1 -> prior A 0, B 2/3, C 1
    assert res.class_counts == [4, 2, 1] and res.num_units == 7
    u = np.random.default_rng(7).random(7)
    b0 = 5 if u[1] < 1 / 3 else 3  # a B span flips to C with rate 1/3
    b1 = (5, 6) if u[6] < 1 / 3 else (3, 4)
    assert res.labels == [
        [-100, 5, 6, -100, 0, b0, -100],
        [-100, 5, -100, 6, 0, 5, -100],
        [-100, 5, 6, 0, 6, -100],  # the span opened by I-A keeps its I- prefix
        [-100, b1[0], b1[1], 0, -100],
    ]
    assert res.flips[(0, 2)] == 4


def test_lnr_ner_span_probabilities_are_mean_token_type_probabilities():
    rng = np.random.default_rng(1)
    probs = [rng.dirichlet(np.ones(len(TAGS)) * 0.3, size=len(r)) for r in ROWS]
    probs[0][5] = [0.02, 0.02, 0.02, 0.02, 0.02, 0.6, 0.3]  # the B span of row 0 reads as C
    res = flip_ner_spans(ROWS, probs, TAGS, t_flip=0.0, rng=np.random.default_rng(2))
    spans = [(0, [1, 2], 0), (0, [5], 1), (1, [1, 3], 0), (1, [5], 0), (2, [1, 2], 2), (2, [4], 0), (3, [1, 2], 1)]
    P = np.array([[np.mean([probs[s][q][1 + 2 * k] + probs[s][q][2 + 2 * k] for q in pos]) for k in range(3)]
                  for s, pos, _ in spans])
    y = np.array([t for *_, t in spans])
    expected, flips = _reference_lnr(P, y, [4, 2, 1], 0.0, np.random.default_rng(2).random(7))
    assert res.flips == flips
    assert expected[1] == 2, "the planted span should flip"
    for (s, pos, t), new in zip(spans, expected):
        for q in pos:
            prefix = TAGS[ROWS[s][q]][0]
            assert TAGS[res.labels[s][q]] == f"{prefix}-{'ABC'[new]}"
    # and end to end from padded first-stage logits, as Trainer.predict returns them
    width = 8
    logits = np.full((4, width, len(TAGS)), -100.0)
    label_ids = np.full((4, width), -100)
    for s, (row, p) in enumerate(zip(ROWS, probs)):
        label_ids[s, : len(row)] = row
        logits[s, : len(row)] = np.log(p)
    ds = EncodedDataset([{"input_ids": list(range(len(r))), "labels": r} for r in ROWS])
    new_ds, res2 = flip_dataset(ds, logits, label_ids, TaskType.NER, TAGS, t_flip=0.0, seed=2)
    assert res2.flips == flips and [new_ds[i]["labels"] for i in range(4)] == res.labels
    with pytest.raises(ValueError, match="aligned"):
        flip_dataset(ds, logits, np.roll(label_ids, 1, axis=0), TaskType.NER, TAGS, t_flip=0.0, seed=2)


# ------------------------------------------------------------------------------------------------ GBC


def test_gbc_distance_and_centroids_by_hand():
    G = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    C = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.5, 0.0]], dtype=torch.float64)
    d = gbc_distance(G, C)
    assert torch.allclose(d[0], torch.tensor([0.4, 0.4, 0.7], dtype=torch.float64))  # 1 − |⟨G,c⟩|/‖G‖
    assert torch.allclose(d[1], torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64))
    assert torch.equal(d[2], torch.ones(3, dtype=torch.float64))  # a zero gradient is far from everything
    c = gbc_centroids(G[:2], torch.tensor([0, 0]), 1, torch.ones(2, dtype=torch.float64))
    assert torch.allclose(c, torch.tensor([[4 / 6, 4 / 6]], dtype=torch.float64))  # Σ G / Σ ‖G‖
    w = torch.tensor([2.0, 1.0], dtype=torch.float64)
    c = gbc_centroids(G[:2], torch.tensor([0, 0]), 2, w, previous=torch.full((2, 2), 9.0, dtype=torch.float64))
    assert torch.allclose(c[0], torch.tensor([7 / 11, 8 / 11], dtype=torch.float64))  # Σ wG / Σ w‖G‖
    assert torch.equal(c[1], torch.tensor([9.0, 9.0], dtype=torch.float64))  # empty: keeps the previous


def test_gbc_farthest_first_seeds():
    G = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [-1.0, 0.05], [0.7, 0.7]], dtype=torch.float64)
    # from point 0: point 2 is at distance 1; then the one farthest from both {0, 2} is (0.7, 0.7)
    assert farthest_first(G, 3, first=0) == [0, 2, 4]


def _two_direction_clusters():
    x = [[2.0, 0.2], [2.0, -0.2], [3.0, 0.0], [-2.0, 0.1]]  # around the x axis (the last one at 180°)
    y = [[0.2, 2.0], [-0.2, 2.0], [0.0, 1.0]]  # around the y axis
    return torch.tensor(x + y, dtype=torch.float64)


@pytest.mark.parametrize("gram", [False, True], ids=["direct", "gram"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_gbc_weighted_kmeans_finds_direction_clusters_and_their_nearest_examples(seed, gram):
    G = _two_direction_clusters()
    km = weighted_kmeans(G, 2, seed=seed, gram=gram)
    assert km.converged
    a = km.assignment.tolist()
    assert len(set(a[:4])) == 1 and len(set(a[4:])) == 1 and a[0] != a[4]  # |cos|: (-2, .1) joins the x axis
    cx, cy = km.centroids[a[0]], km.centroids[a[4]]
    norms = G.norm(dim=1)
    assert torch.allclose(cx, G[:4].sum(0) / norms[:4].sum())
    assert torch.allclose(cy, G[4:].sum(0) / norms[4:].sum())
    nearest = {a[j]: j for j in km.nearest}
    assert nearest == {a[0]: 2, a[4]: 6}  # (3, 0) and (0, 1): the members most aligned with their centroid


@pytest.mark.parametrize("gram", [False, True], ids=["direct", "gram"])
def test_gbc_kmeans_nearest_examples_are_distinct(gram):
    G = _two_direction_clusters()
    km = weighted_kmeans(G, 7, seed=0, gram=gram)
    assert sorted(km.nearest) == list(range(7))


@pytest.mark.parametrize("signs", [False, True], ids=["aligned", "mixed_signs"])
def test_gbc_kmeans_gram_and_direct_paths_agree_with_weights(signs):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 40))
    flip = rng.choice([-1, 1], size=(150, 1)) if signs else 1.0
    G = torch.tensor(np.repeat(centres, 30, axis=0) * flip + rng.normal(size=(150, 40)) * 0.8)
    G[7] = 0.0  # a zero gradient: never a seed
    w = torch.tensor(rng.uniform(0.5, 2.0, 150))
    a = weighted_kmeans(G, 6, weights=w, seed=3, gram=False)
    b = weighted_kmeans(G, 6, weights=w, seed=3, gram=True)
    assert 7 not in a.seeds
    assert a.seeds == b.seeds and torch.equal(a.assignment, b.assignment) and a.nearest == b.nearest
    assert a.iterations == b.iterations and torch.allclose(a.centroids, b.centroids)
    if signs:  # G and −G share a cluster under |cos| but cancel in Σ w G: the iteration may not settle
        return
    assert a.converged
    # a fixed point: every point sits with its nearest centroid, every centroid is the formula over its members
    assert torch.equal(torch.argmin(gbc_distance(G, a.centroids), dim=1), a.assignment)
    for c in range(6):
        m = a.assignment == c
        if m.any():
            assert torch.allclose(a.centroids[c], (w[m, None] * G[m]).sum(0) / (w[m] * G[m].norm(dim=1)).sum())


class _Toy(nn.Module):
    """logits = W · mean(E[ids]) + b, a model whose label-free gradients are known in closed form."""

    def __init__(self, vocab=5, dim=3, classes=4):
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(vocab, dim)
        self.lin = nn.Linear(dim, classes)
        self.unused = nn.Parameter(torch.ones(2))  # never touches the loss: score 0, never drawn

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        return SimpleNamespace(logits=self.lin(self.emb(input_ids).mean(1)))


def _toy_items():
    return [{"input_ids": ids, "labels": 0} for ids in ([0, 1, 2], [3, 3], [4, 1, 1, 2], [2])]


def test_gbc_layer_scores_are_mean_squared_label_free_gradients():
    model = _Toy().double()
    items = _toy_items()
    E, W, b = (t.detach().numpy() for t in (model.emb.weight, model.lin.weight, model.lin.bias))
    sq = {"emb.weight": 0.0, "lin.weight": 0.0, "lin.bias": 0.0}
    for it in items:
        ids = np.array(it["input_ids"])
        h = E[ids].mean(0)
        z = W @ h + b
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()  # d logsumexp / dz = softmax
        gE = np.zeros_like(E)
        for t in ids:
            gE[t] += W.T @ p / len(ids)
        sq["emb.weight"] += (gE ** 2).sum()
        sq["lin.weight"] += (np.outer(p, h) ** 2).sum()
        sq["lin.bias"] += (p ** 2).sum()
    scores = layer_scores(model, items)
    assert set(scores) == {"emb.weight", "lin.weight", "lin.bias", "unused"}
    assert scores["unused"] == 0.0
    for name, numel in (("emb.weight", E.size), ("lin.weight", W.size), ("lin.bias", b.size)):
        assert scores[name] == pytest.approx(sq[name] / (len(items) * numel), rel=1e-10)
    # drawing: probability ∝ score, zero-score layers never drawn, order = model order
    drawn = draw_layers(scores, 3, np.random.default_rng(0))
    total = sum(scores.values())
    assert drawn == [(n, pytest.approx(scores[n] / total)) for n in ("emb.weight", "lin.weight", "lin.bias")]
    counts = {n: 0 for n in scores}
    rng = np.random.default_rng(1)
    for _ in range(2000):
        counts[draw_layers(scores, 1, rng)[0][0]] += 1
    for n in scores:
        assert counts[n] / 2000 == pytest.approx(scores[n] / total, abs=0.035)


def test_gbc_features_are_scaled_coordinates_of_per_example_gradients():
    model = _Toy().double()
    items = _toy_items()
    layers = [("emb.weight", 0.25), ("lin.bias", 0.5)]
    coords = choose_coordinates(model, layers, 6, np.random.default_rng(0))
    assert coords["emb.weight"].numel() == 6 and coords["lin.bias"].numel() == 4  # all 4 ≤ 6
    feats = gradient_features(model, items, layers, coords)
    assert feats.shape == (4, 10)
    for i, it in enumerate(items):
        model.zero_grad()
        torch.logsumexp(model(torch.tensor([it["input_ids"]])).logits, -1).sum().backward()
        expect = torch.cat([model.emb.weight.grad.flatten()[coords["emb.weight"]] / 0.5,
                            model.lin.bias.grad.flatten() / math.sqrt(0.5)])
        assert torch.allclose(feats[i].double(), expect, atol=1e-6)


@pytest.mark.parametrize("task", ["classification", "ner"])
def test_gbc_per_example_gradients_vmap_equals_padded_single_example_backward(tokenizer, task):
    model = tiny_bert(tokenizer, 5, task, dropout=0.0).eval()
    rng = np.random.default_rng(0)
    items = []
    for length in (5, 7, 5, 9, 7, 5):
        ids = [101] + rng.integers(1000, 5000, length - 2).tolist() + [102]
        labels = [-100] + [int(x) if x >= 0 else -100 for x in rng.integers(-1, 5, length - 2)] + [-100]
        items.append({"input_ids": ids, "attention_mask": [1] * length,
                      "labels": labels if task == "ner" else int(rng.integers(5))})
    names = ["bert.encoder.layer.1.attention.self.query.weight", "classifier.bias"]
    fast = per_example_gradients(model, items, names, chunk_size=2)
    loop = per_example_gradients(model, items, names, use_vmap=False)
    params = dict(model.named_parameters())
    for i, it in enumerate(items):  # reference: padded to 12 with an attention mask, plain autograd
        pad = 12 - len(it["input_ids"])
        ids = torch.tensor([it["input_ids"] + [0] * pad])
        mask = torch.tensor([[1] * len(it["input_ids"]) + [0] * pad])
        lse = torch.logsumexp(model(input_ids=ids, attention_mask=mask).logits, -1)[0]
        if task == "ner":
            lab = torch.tensor(it["labels"] + [-100] * pad) != -100
            loss = (lse * lab).sum() / lab.sum().clamp_min(1)
        else:
            loss = lse
        ref = torch.autograd.grad(loss, [params[n] for n in names])
        for n, r in zip(names, ref):
            assert torch.allclose(fast[n][i], r, atol=1e-5), n
            assert torch.allclose(loop[n][i], r, atol=1e-5), n


def test_l2rw_weight_update_matches_the_closed_form():
    """Linear regression: ℓ_j = ½(x_j·θ − y_j)², meta loss ½ mean_m (x_m·θ' − y_m)², θ' = θ − η mean_j(w_j ∇ℓ_j):
    ∂L_meta/∂w_j = −(η/B) r_j ⟨x_j, mean_m r'_m x_m⟩."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=5)
    Xm, Ym = rng.normal(size=(4, 3)), rng.normal(size=4)
    theta0 = rng.normal(size=3)
    w0 = np.array([0.5, 0.9, 1.0, 0.2, 1e-7])
    eta, eta_w = 0.3, 4.0
    theta = nn.Parameter(torch.tensor(theta0))
    losses = 0.5 * (torch.tensor(X) @ theta - torch.tensor(Y)) ** 2

    def meta_loss_at(p):
        return 0.5 * ((torch.tensor(Xm) @ p["theta"] - torch.tensor(Ym)) ** 2).mean()

    step = l2rw_weight_step(torch.tensor(w0), losses, {"theta": theta}, meta_loss_at, eta, eta_w)
    r = X @ theta0 - Y
    theta_v = theta0 - eta * (w0 * r) @ X / 5
    gm = ((Xm @ theta_v - Ym) @ Xm) / 4
    g = -(eta / 5) * r * (X @ gm)
    assert np.allclose(step.grad.numpy(), g, atol=1e-12)
    expected = np.clip(w0 - eta_w * g, 1e-7, 1.0)
    assert np.allclose(step.weights.numpy(), expected, atol=1e-12)
    assert not step.skipped and step.meta_loss == pytest.approx(0.5 * ((Xm @ theta_v - Ym) ** 2).mean())
    assert (expected == 1.0).any() and (expected == 1e-7).any() and ((expected > 1e-7) & (expected < 1)).any()
    # the losses' graph survives for the real step
    (step.weights * losses).mean().backward()
    assert theta.grad is not None


def test_gbc_trainer_selects_k_distinct_meta_examples_and_learns_weights(tmp_path, tokenizer):
    from hamr.data import load_benchmark
    from hamr.tasks import encode_split

    bundle = load_benchmark("humaid_idai19", limit={"train": 24, "validation": 8, "test": 8})
    train = encode_split(bundle.train, tokenizer, bundle.vocab, 32)
    args = GBCArguments(
        output_dir=str(tmp_path), num_train_epochs=1, per_device_train_batch_size=8,
        learning_rate=1e-3, report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True, seed=3,
        gbc_warmup_epochs=0.0, gbc_meta_size=4, gbc_score_examples=8, gbc_inner_lr=10.0, gbc_weight_lr=100.0,
        gbc_max_coordinates=64, gbc_lookahead_scope="all",
    )
    tr = GBCTrainer(model=tiny_bert(tokenizer, len(bundle.vocab), dropout=0.0), args=args, train_dataset=train,
                    processing_class=tokenizer, meta_size=4)
    tr.train()
    assert len(tr.meta_indices) == 4 == len(set(tr.meta_indices))
    assert [tr.meta_dataset[j]["labels"] for j in range(4)] == [train[i]["labels"] for i in tr.meta_indices]
    assert tr.l2rw_steps == 3 and tr.num_skipped == 0
    w = tr.example_weights
    assert (w >= 1e-7).all() and (w <= 1).all() and (w < 1).any(), "no example weight moved"
    assert (tmp_path / "gbc_selection.json").exists()
    assert len(tr.selection["layers"]) == 3


def test_gbc_default_weight_lr_follows_the_inner_lr_and_moves_the_weights(tmp_path, tokenizer):
    """η_w = 1/η_in by default: g is proportional to η_in, so a fixed η_w (1 in earlier versions) left every
    weight at 1 - |g| ~ 1 - 2e-5 on MiniLM at lr 4e-5, and GBC trained as plain CE."""
    from hamr.data import load_benchmark
    from hamr.tasks import encode_split

    bundle = load_benchmark("humaid_idai19", limit={"train": 24, "validation": 8, "test": 8})
    train = encode_split(bundle.train, tokenizer, bundle.vocab, 32)
    args = GBCArguments(
        output_dir=str(tmp_path), num_train_epochs=1, per_device_train_batch_size=8,
        learning_rate=1e-3, lr_scheduler_type="constant", report_to=[], save_strategy="no", use_cpu=True,
        disable_tqdm=True, seed=3, gbc_warmup_epochs=0.0, gbc_meta_size=4, gbc_score_examples=8,
        gbc_max_coordinates=64, gbc_lookahead_scope="all",
    )
    assert args.gbc_weight_lr is None
    tr = GBCTrainer(model=tiny_bert(tokenizer, len(bundle.vocab), dropout=0.0), args=args, train_dataset=train,
                    processing_class=tokenizer, meta_size=4)
    assert tr._weight_lr(1e-3) == pytest.approx(1e3) and tr._weight_lr(0.0) == 0.0
    tr.train()
    w = tr.example_weights
    assert tr.l2rw_steps == 3 and float((1 - w).abs().max()) > 1e-3, f"weights stayed flat: {w.tolist()}"
    with pytest.raises(ValueError, match="gbc_weight_lr"):
        GBCArguments(output_dir=str(tmp_path), gbc_weight_lr=0.0, report_to=[])


# ----------------------------------------------------------------------------------------- MetaBalance


def test_metabalance_first_order_direction_matches_the_closed_form():
    """θ' = θ − α ∇L_in(θ); direction = mean_m ∇L_out,m(θ') + λ ∇L_in(θ), for squared-error linear models."""
    rng = np.random.default_rng(0)
    theta0 = rng.normal(size=3)
    Xi, Yi = rng.normal(size=(6, 3)), rng.normal(size=6)
    outs = [(rng.normal(size=(4, 3)), rng.normal(size=4)) for _ in range(3)]
    alpha, lam = 0.2, 0.01
    theta = nn.Parameter(torch.tensor(theta0))
    mse = lambda X, Y, t: 0.5 * ((torch.tensor(X) @ t - torch.tensor(Y)) ** 2).mean()  # noqa: E731
    fns = [lambda p, X=X, Y=Y: mse(X, Y, p["theta"]) for X, Y in outs]
    step = first_order_meta_gradients({"theta": theta}, mse(Xi, Yi, theta), fns, inner_lr=alpha, lam=lam)
    grad = lambda X, Y, t: ((X @ t - Y) @ X) / len(Y)  # noqa: E731
    g_in = grad(Xi, Yi, theta0)
    theta_a = theta0 - alpha * g_in
    expected = np.mean([grad(X, Y, theta_a) for X, Y in outs], axis=0) + lam * g_in
    assert np.allclose(step.grads["theta"].numpy(), expected, atol=1e-12)
    assert step.outer_loss == pytest.approx(np.mean([0.5 * ((X @ theta_a - Y) ** 2).mean() for X, Y in outs]))
    assert theta.grad is None  # nothing is written by the function itself


def test_balanced_sampling_weights():
    w = balanced_sampling_weights([0, 0, 0, 1, 2, 2, -1])
    assert np.allclose(w, [1 / 3, 1 / 3, 1 / 3, 1, 1 / 2, 1 / 2, 0])
    assert np.allclose(np.bincount([0, 0, 0, 1, 2, 2], weights=w[:6]), 1.0)  # every class has equal mass


def test_metabalance_trainer_writes_the_first_order_update_into_grad(tmp_path, tokenizer):
    from hamr.tasks import IndexCollator

    collate = IndexCollator(tokenizer, TaskType.CLASSIFICATION)
    rng = np.random.default_rng(0)
    items = [{"input_ids": [101] + rng.integers(1000, 3000, int(n)).tolist() + [102], "labels": int(y)}
             for n, y in zip(rng.integers(3, 9, 12), [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2])]
    for it in items:
        it["attention_mask"] = [1] * len(it["input_ids"])
    train = EncodedDataset(items)
    args = MetaBalanceArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=4, report_to=[],
        use_cpu=True, disable_tqdm=True, metabalance_inner_lr=0.05, metabalance_lambda=0.3,
        metabalance_outer_batches=2, gradient_accumulation_steps=2,
    )
    model = tiny_bert(tokenizer, 3, dropout=0.0)
    tr = MetaBalanceTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer)
    assert np.allclose(tr.outer_sampling_weights(), [1 / 7] * 7 + [1 / 3] * 3 + [1 / 2] * 2)
    outer = [collate([items[i] for i in idx]) for idx in ([7, 10, 0, 11], [8, 9, 1, 2])]
    for b in outer:
        b.pop("example_index", None)
    queue = [dict(b) for b in outer]
    tr.next_outer_batch = lambda: queue.pop(0)
    inner = collate([dict(items[i], example_index=i) for i in (3, 4, 5, 7)])
    reference = copy.deepcopy(model)
    tr.create_optimizer()
    tr.current_gradient_accumulation_steps = 2
    loss = tr.training_step(model, dict(inner))
    # independent computation on a copy: autograd at θ, a manual SGD step, autograd at θ'
    ce = nn.functional.cross_entropy
    fwd = lambda m, b: m(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits  # noqa: E731
    params = [p for p in reference.parameters()]
    l_in = ce(fwd(reference, inner), inner["labels"])
    g_in = torch.autograd.grad(l_in, params, allow_unused=True)
    g_in = [torch.zeros_like(p) if g is None else g for p, g in zip(params, g_in)]
    with torch.no_grad():
        for p, g in zip(params, g_in):
            p.sub_(0.05 * g)
    outs = [ce(fwd(reference, b), b["labels"]) for b in outer]
    g_out = [torch.autograd.grad(o, params, allow_unused=True) for o in outs]
    for (name, p), gi, go1, go2 in zip(model.named_parameters(), g_in, *g_out):
        go = sum(torch.zeros_like(gi) if g is None else g for g in (go1, go2)) / 2
        assert torch.allclose(p.grad, (go + 0.3 * gi) / 2, atol=1e-6), name
    total = float((outs[0] + outs[1]).detach()) / 2 + 0.3 * float(l_in.detach())
    assert float(loss) == pytest.approx(total / 2, rel=1e-5)
