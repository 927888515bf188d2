"""weighting_form=class_residual (issue 22): learned per-class β (log-weight) and δ (logit offset) with a
zero-initialised per-example residual; the head_cached hypergradient backend; the two new ablations."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import random_embeddings, tiny_bert
from hamr.methods.hamr.class_weighting import ClassResidualReweighter, class_groups
from hamr.data import load_benchmark
from hamr.enums import HypergradBackend
from hamr.metaset import build_meta_set
from hamr.tasks import INDEX_KEY, encode_split
from hamr import HAMRTrainer
from hamr import HAMRArguments
from hamr.weighting import math_attention, normalise_weights

pytestmark = pytest.mark.filterwarnings("ignore:class .*:UserWarning")


def _slice(name, tokenizer, limit):
    bundle = load_benchmark(name, limit=limit)
    meta = build_meta_set(bundle.train, bundle.validation, seed=42)
    enc = lambda s: encode_split(s, tokenizer, bundle.vocab, 32)  # noqa: E731
    return bundle, enc(bundle.train), enc(meta.split)


@pytest.fixture(scope="module")
def idai(tokenizer):
    return _slice("humaid_idai19", tokenizer, {"train": 64, "validation": 40, "test": 16})


@pytest.fixture(scope="module")
def tweetner(tokenizer):
    return _slice("tweetner7", tokenizer, {"train": 48, "validation": 32, "test": 8})


def _trainer(tmp_path, tokenizer, data, *, dropout=0.1, **overrides):
    bundle, train, meta = data
    kw = dict(
        output_dir=str(tmp_path / "out"), num_train_epochs=1, per_device_train_batch_size=16,
        learning_rate=1e-3, seed=11, report_to=[], save_strategy="no", logging_steps=1000, use_cpu=True,
        disable_tqdm=True, meta_update_lr=0.5, meta_interval=1, weighting_form="class_residual",
        class_param_lr=0.05, example_residual=True,  # the whole form (the residual is off by default since session 34)
    )
    kw.update(overrides)
    task = "ner" if bundle.task.value == "ner" else "classification"
    model = tiny_bert(tokenizer, len(bundle.vocab), task, dropout=dropout)
    model.config.id2label = dict(enumerate(bundle.vocab.labels))
    model.config.label2id = {label: i for i, label in enumerate(bundle.vocab.labels)}
    return HAMRTrainer(model=model, args=HAMRArguments(**kw), train_dataset=train, meta_dataset=meta,
                       processing_class=tokenizer, embeddings=random_embeddings(len(train)),
                       group_names=bundle.vocab.labels)


def test_ner_groups_share_b_and_i_and_keep_o_apart():
    g = class_groups(["O", "B-person", "I-person", "B-loc", "I-loc"], ner=True)
    assert g.names == ["O", "person", "loc"]
    assert g.group_of_label.tolist() == [0, 1, 1, 2, 2]
    assert class_groups(["a", "B-x"], ner=False).names == ["a", "B-x"]  # classification: one group per label


def test_start_equals_todays_class_prior_and_weights_have_mean_one():
    counts = torch.tensor([400.0, 50.0, 5.0])
    groups = class_groups(["a", "b", "c"], ner=False)
    cr = ClassResidualReweighter(groups, -0.5 * torch.log(counts))
    y = torch.tensor([0, 0, 0, 1, 2, 0, 1, 0])
    z = torch.randn(8)
    w = cr.weights(z, y)
    prior = counts[y] ** -0.5
    torch.testing.assert_close(w, normalise_weights(prior, 1e-9, 1e9), rtol=1e-5, atol=1e-6)
    assert torch.isclose(w.mean(), torch.tensor(1.0))
    assert torch.equal(cr.logit_offsets(), torch.zeros(3))  # δ starts at 0


def test_class_hypergradient_matches_finite_differences():
    """d L_meta(θ') / d(β, δ, φ) of the exact step against central differences (a linear model, float64)."""
    torch.manual_seed(0)
    c, d, n = 3, 4, 10
    W = torch.randn(c, d, dtype=torch.float64, requires_grad=True)
    x, y = torch.randn(n, d, dtype=torch.float64), torch.tensor([0, 0, 0, 0, 1, 1, 2, 0, 1, 0])
    xm, ym = torch.randn(6, d, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    cr = ClassResidualReweighter(class_groups(["a", "b", "c"], False), torch.tensor([0.0, 0.3, 0.8]), hidden=5)
    cr.net.double()
    cr.beta.data = cr.beta.data.double()
    cr.delta.data = torch.tensor([0.1, -0.2, 0.05], dtype=torch.float64)
    with torch.no_grad():  # a non-zero residual, so φ's gradient is tested too
        cr.net.fc2.weight.normal_()
    z = torch.randn(n, dtype=torch.float64)
    eta = 0.7

    def unit_losses(delta):
        return F.cross_entropy(x @ W.T + delta, y, reduction="none")

    def meta_at(p):
        return F.cross_entropy(xm @ p["W"].T, ym)

    hyper, _ = cr.hypergradient(z, y, unit_losses, {"W": W}, meta_at, eta)

    def objective():
        with torch.enable_grad():
            w = cr.weights(z, y)
            g = torch.autograd.grad((w * unit_losses(cr.delta_per_label())).mean(), W)[0]
        return float(meta_at({"W": W - eta * g}).detach())

    for tensor, h in zip(cr.learned(), hyper):
        flat, hflat = tensor.data.view(-1), h.reshape(-1)
        for k in range(0, flat.numel(), max(1, flat.numel() // 4)):
            old = float(flat[k])
            flat[k] = old + 1e-6
            up = objective()
            flat[k] = old - 1e-6
            down = objective()
            flat[k] = old
            assert abs((up - down) / 2e-6 - float(hflat[k])) < 1e-6 + 1e-4 * abs(float(hflat[k]))


def test_strength_form_is_the_per_class_form_along_the_prior():
    """class_params=strength: at the start it equals the per-class form (β = β_start, δ = 0); its hypergradient
    is the chain rule of the per-class one, ∂/∂a = Σ_c b_c ∂/∂β_c and ∂/∂k = −Σ_c b_c ∂/∂δ_c (b the centred
    negative log counts); and it matches central differences at a point away from the start."""
    torch.manual_seed(0)
    c, d, n = 3, 4, 10
    counts = [400.0, 50.0, 5.0]
    W = torch.randn(c, d, dtype=torch.float64, requires_grad=True)
    x, y = torch.randn(n, d, dtype=torch.float64), torch.tensor([0, 0, 0, 0, 1, 1, 2, 0, 1, 0])
    xm, ym = torch.randn(6, d, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    start = -0.5 * torch.log(torch.tensor(counts))
    groups = class_groups(["a", "b", "c"], False)
    per = ClassResidualReweighter(groups, start, hidden=5, use_residual=False)
    st = ClassResidualReweighter(groups, start, hidden=5, use_residual=False, class_params="strength", counts=counts)
    z = torch.randn(n, dtype=torch.float64)
    torch.testing.assert_close(st.weights(z, y), per.weights(z, y))
    assert torch.equal(st.logit_offsets(), torch.zeros(3))
    b = -(torch.log(torch.tensor(counts)) - torch.log(torch.tensor(counts)).mean())
    torch.testing.assert_close(st.basis, b)
    assert b[2] > 0 > b[0]  # the rarest group has the largest basis value

    def unit_losses(delta):
        return F.cross_entropy(x @ W.T + delta.double(), y, reduction="none")

    def meta_at(p):
        return F.cross_entropy(xm @ p["W"].T, ym)

    (g_beta, g_delta), _ = per.hypergradient(z, y, unit_losses, {"W": W}, meta_at, 0.7)
    (g_scales,), _ = st.hypergradient(z, y, unit_losses, {"W": W}, meta_at, 0.7)
    assert g_scales.shape == (2,) and g_scales.abs().min() > 0
    torch.testing.assert_close(g_scales[0], (b * g_beta).sum(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(g_scales[1], -(b * g_delta).sum(), rtol=1e-5, atol=1e-7)

    st.scales.data = torch.tensor([0.4, -0.3])  # away from the start: central differences, float32 tolerance
    (g_scales,), _ = st.hypergradient(z, y, unit_losses, {"W": W}, meta_at, 0.7)

    def objective():
        w = st.weights(z, y)
        g = torch.autograd.grad((w * unit_losses(st.delta_per_label())).mean(), W)[0]
        return float(meta_at({"W": W - 0.7 * g}).detach())

    for i in range(2):
        old = float(st.scales.data[i])
        st.scales.data[i] = old + 1e-3
        up = objective()
        st.scales.data[i] = old - 1e-3
        down = objective()
        st.scales.data[i] = old
        assert abs((up - down) / 2e-3 - float(g_scales[i])) < 1e-4 + 1e-2 * abs(float(g_scales[i]))


def test_strength_form_trains_two_scalars_logs_them_and_resumes(tmp_path, tokenizer, tweetner):
    tr = _trainer(tmp_path, tokenizer, tweetner, hypergrad_backend="head_cached", meta_objective="half",
                  class_params="strength")
    cr = tr.class_reweighter
    assert len(cr.learned()) == len(list(cr.net.parameters())) + 1  # φ and the two scalars, nothing per class
    tr.train()
    a, k = cr.scales.detach().tolist()
    assert max(abs(a), abs(k)) > 1e-3
    torch.testing.assert_close(cr.beta.detach(), cr.beta_start + a * cr.basis)
    torch.testing.assert_close(cr.logit_offsets(), (-k * cr.basis)[cr.group_of_label])
    rec = json.loads((tmp_path / "out" / "hamr_diagnostics.jsonl").read_text().splitlines()[-1])
    assert rec["class_params"]["strength"] == pytest.approx({"weight": a, "offset": k})
    stats = rec["class_hypergradient"]
    assert stats["steps"] == tr.meta_steps and set(stats) == {"steps", "weight", "offset"}
    assert stats["weight"]["sd"] > 0 and math.isfinite(stats["weight"]["drift_t"])
    state = tr.hamr_state_dict()
    other = _trainer(tmp_path / "other", tokenizer, tweetner, hypergrad_backend="head_cached",
                     meta_objective="half", class_params="strength")
    other.load_hamr_state_dict(state)
    assert torch.equal(other.class_reweighter.scales.detach(), cr.scales.detach())
    per_class = _trainer(tmp_path / "pc", tokenizer, tweetner, hypergrad_backend="head_cached", meta_objective="half")
    with pytest.raises(ValueError, match="saved with class_params='strength'"):
        per_class.load_hamr_state_dict(state)
    with pytest.raises(ValueError, match="class_params='strength' parametrises"):
        HAMRArguments(output_dir="x", weighting_form="wnet", class_params="strength")
    with pytest.raises(ValueError, match="ClassParams"):
        HAMRArguments(output_dir="x", class_params="nope")


def test_pr_feedback_raises_the_under_predicted_class_and_lowers_the_over_predicted_one():
    """class_params=pr_feedback: a class never predicted (precision 1, recall 0) gains weight, the class that
    absorbs its predictions (recall 1, precision < 1) loses it, a class with P = R keeps its β; δ stays 0 and
    nothing of the class terms goes to the hypergradient."""
    groups = class_groups(["a", "b", "c"], ner=False)
    cr = ClassResidualReweighter(groups, [0.0, 0.0, 0.0], hidden=4, class_lr=0.1, class_params="pr_feedback",
                                 counts=[80.0, 15.0, 5.0])
    assert cr.learned() == list(cr.net.parameters())  # β, δ are not learned by the hypergradient
    labels = torch.tensor([0, 0, 1, 1, 2, 2, -100])
    pred = torch.tensor([0, 0, 1, 1, 0, 0, 2])  # c is always taken for a; the unlabelled unit does not count
    logits = F.one_hot(pred, 3).float() * 5.0
    cr.feedback(logits, labels)
    beta = cr.beta.detach()
    # natural counts: rows P(pred | true) times the prior (0.8, 0.15, 0.05): a is predicted 0.85 / 0.8 as often
    # as it occurs (R / P), c never
    expected_a = 0.1 * math.log((1.0 + 0.05) / (0.85 / 0.8 + 0.05))
    expected_c = 0.1 * math.log((1.0 + 0.05) / (0.0 + 0.05))
    assert float(beta[0]) == pytest.approx(expected_a, rel=1e-6) and float(beta[0]) < 0
    assert float(beta[1]) == pytest.approx(0.0, abs=1e-12)
    assert float(beta[2]) == pytest.approx(expected_c, rel=1e-6) and float(beta[2]) > 1.0 * 0.1
    assert torch.equal(cr.logit_offsets(), torch.zeros(3))
    # a second batch: the first one's counts decay by 0.9 and the new ones add
    cr.feedback(logits, labels)
    torch.testing.assert_close(cr.confusion, 1.9 * torch.tensor([[2.0, 0, 0], [0, 2, 0], [2, 0, 0]], dtype=torch.float64))
    desc = cr.describe()["pr_feedback"]
    assert desc["c"] == {"precision": 1.0, "recall": 0.0} and desc["b"]["recall"] == pytest.approx(1.0)
    # checkpoints carry β and the counts; frozen (the ablation) means no feedback
    other = ClassResidualReweighter(groups, [0.0, 0.0, 0.0], hidden=4, class_params="pr_feedback",
                                    counts=[80.0, 15.0, 5.0])
    other.load_state_dict(cr.state_dict())
    assert torch.equal(other.beta, cr.beta) and torch.equal(other.confusion, cr.confusion)
    frozen = ClassResidualReweighter(groups, [0.0, 0.0, 0.0], hidden=4, learn_class=False,
                                     class_params="pr_feedback", counts=[80.0, 15.0, 5.0])
    frozen.feedback(logits, labels)
    assert torch.equal(frozen.beta, torch.zeros(3))
    with pytest.raises(ValueError, match="class_params='pr_feedback' needs 3 positive group counts"):
        ClassResidualReweighter(groups, [0.0, 0.0, 0.0], class_params="pr_feedback")


def test_pr_feedback_pushes_a_class_never_predicted_right_by_how_often_it_is_predicted():
    """TP = 0 (P = R = 0) still gives a direction: a class predicted less often than it occurs (always wrongly)
    gains weight, one predicted more often loses it; the step is the count ratio p / t = R / P."""
    groups = class_groups(["a", "b", "c"], ner=False)
    cr = ClassResidualReweighter(groups, [0.0] * 3, hidden=4, class_lr=1.0, class_params="pr_feedback",
                                 counts=[1.0, 1.0, 1.0], feedback_decay=0.0)
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    pred = torch.tensor([0, 0, 0, 0, 2, 0, 0, 0, 1, 1, 1, 1])  # b predicted once (c's), c four times (all b's)
    cr.feedback(F.one_hot(pred, 3).float(), labels)
    precision, recall, _ = cr.precision_recall()
    assert float(precision[1]) == float(recall[1]) == 0.0 == float(precision[2]) == float(recall[2])
    beta = cr.beta.detach()
    assert float(beta[1]) == pytest.approx(math.log(1.05 / (4 / 4 + 0.05)), abs=1e-7)  # predicted 4 of 4: level
    assert float(beta[2]) == pytest.approx(math.log(1.05 / (1 / 4 + 0.05)), rel=1e-6)  # predicted 1 of 4: up
    assert float(beta[0]) == pytest.approx(math.log(1.05 / (7 / 4 + 0.05)), rel=1e-6)  # predicted 7 of 4: down


def test_pr_feedback_estimates_precision_under_the_training_prior():
    """The balanced meta batches' confusion rows are reweighted to the training prior: precision and recall match
    a numpy computation on the natural counts π_g · P(ĝ | g); a group never seen gives no signal."""
    groups = class_groups(["x", "y", "z", "w"], ner=False)
    counts = np.array([50.0, 30.0, 15.0, 5.0])
    cr = ClassResidualReweighter(groups, [0.0] * 4, hidden=4, class_params="pr_feedback", counts=counts,
                                 feedback_decay=0.0)
    rng = np.random.default_rng(0)
    k = rng.integers(0, 7, size=(4, 4)).astype(float)
    k[3] = 0  # w is not in the meta batches
    cr.confusion.copy_(torch.as_tensor(k))
    nat = k[:3] / k[:3].sum(1, keepdims=True) * (counts[:3] / counts.sum())[:, None]
    precision, recall, seen = cr.precision_recall()
    assert seen.tolist() == [True, True, True, False]
    np.testing.assert_allclose(precision[:3].numpy(), np.diag(nat)[:3] / nat[:, :3].sum(0), rtol=1e-12)
    np.testing.assert_allclose(recall[:3].numpy(), np.diag(nat) / nat.sum(1), rtol=1e-12)
    assert float(cr.pr_signal()[3]) == 0.0


def test_pr_feedback_ner_counts_tokens_by_type_and_trains(tmp_path, tokenizer, tweetner):
    """NER: B- and I- predictions count for their type, O for itself; a run moves β with δ at 0, writes the
    precision / recall it steered by, no class hypergradient, and resumes with the counts."""
    tr = _trainer(tmp_path, tokenizer, tweetner, hypergrad_backend="head_cached", meta_objective="half",
                  class_params="pr_feedback")
    cr = tr.class_reweighter
    start = cr.beta.detach().clone()
    tr.train()
    assert tr.meta_steps > 0
    assert float((cr.beta - start).abs().max()) > 1e-3
    assert torch.equal(cr.logit_offsets(), torch.zeros_like(cr.logit_offsets()))
    rec = json.loads((tmp_path / "out" / "hamr_diagnostics.jsonl").read_text().splitlines()[-1])
    fb = rec["class_params"]["pr_feedback"]
    assert "O" in fb and set(fb) <= set(cr.groups.names)
    assert all(0.0 <= v["precision"] <= 1.0 and 0.0 <= v["recall"] <= 1.0 for v in fb.values())
    assert "class_hypergradient" not in rec
    # the confusion counts are over groups (types), and a freshly loaded trainer gets them back
    assert cr.confusion.shape == (len(cr.groups), len(cr.groups)) and float(cr.confusion.sum()) > 0
    other = _trainer(tmp_path / "other", tokenizer, tweetner, hypergrad_backend="head_cached",
                     meta_objective="half", class_params="pr_feedback")
    other.load_hamr_state_dict(tr.hamr_state_dict())
    assert torch.equal(other.class_reweighter.beta, cr.beta)
    assert torch.equal(other.class_reweighter.confusion, cr.confusion)
    with pytest.raises(ValueError, match="class_params='pr_feedback' parametrises"):
        HAMRArguments(output_dir="x", weighting_form="wnet", class_params="pr_feedback")
    with pytest.raises(ValueError, match="pr_feedback_decay"):
        HAMRArguments(output_dir="x", pr_feedback_decay=1.0)


def test_pr_feedback_group_counts_map_tags_to_types():
    groups = class_groups(["O", "B-x", "I-x", "B-y", "I-y"], ner=True)
    cr = ClassResidualReweighter(groups, [0.0] * 3, hidden=4, class_lr=0.1, class_params="pr_feedback",
                                 counts=[100.0, 10.0, 5.0], feedback_decay=0.0)
    labels = torch.tensor([[0, 1, 2, 3, -100]])
    pred = torch.tensor([[0, 2, 1, 0, 4]])  # x's B/I swapped: still type x, correct; y predicted as O
    cr.feedback(F.one_hot(pred, 5).float(), labels)
    torch.testing.assert_close(cr.confusion, torch.tensor([[1.0, 0, 0], [0, 2, 0], [1, 0, 0]], dtype=torch.float64))
    assert float(cr.beta[2]) > 0 > float(cr.beta[0])


def test_hypergradient_stats_are_the_mean_sd_and_t_of_the_steps(monkeypatch):
    """hypergradient_stats: per class term, the mean and sd of its hypergradient over the meta steps since the last
    call, drift_t = -mean / (sd / sqrt(n)) (the direction the steps push it), then a reset."""
    groups = class_groups(["a", "b"], False)
    cr = ClassResidualReweighter(groups, torch.zeros(2), hidden=3, use_residual=False)
    rng = np.random.default_rng(0)
    seq = rng.normal(loc=[[0.5, -0.1, 0.0, 2.0]], scale=1.0, size=(7, 4))  # β_a, β_b, δ_a, δ_b per step
    it = iter(seq)

    def fake(*_args, **_kw):
        h = next(it)
        return [torch.tensor(h[:2], dtype=torch.float32), torch.tensor(h[2:], dtype=torch.float32)], 1.0

    monkeypatch.setattr(cr, "hypergradient", fake)
    for _ in range(7):
        cr.step(None, None, None, None, None, 0.1)
    stats = cr.hypergradient_stats()
    assert stats["steps"] == 7
    for j, (kind, g) in enumerate([("beta", "a"), ("beta", "b"), ("delta", "a"), ("delta", "b")]):
        col = seq[:, j].astype(np.float32).astype(np.float64)
        rec = stats[kind][g]
        assert rec["mean"] == pytest.approx(col.mean(), rel=1e-6)
        assert rec["sd"] == pytest.approx(col.std(ddof=1), rel=1e-6)
        assert rec["drift_t"] == pytest.approx(-col.mean() / (col.std(ddof=1) / np.sqrt(7)), rel=1e-6)
    assert stats["delta"]["b"]["drift_t"] < -2  # a steady positive hypergradient pushes δ_b down
    assert cr.hypergradient_stats() == {"steps": 0}  # reset
    # the statistics so far are part of the checkpointed state: a resumed run reports the whole epoch
    it = iter(seq)
    for _ in range(3):
        cr.step(None, None, None, None, None, 0.1)
    other = ClassResidualReweighter(groups, torch.zeros(2), hidden=3, use_residual=False)
    other.load_state_dict(cr.state_dict())
    assert other.hypergradient_stats() == cr.hypergradient_stats()
    assert other.hypergradient_stats()["steps"] == 0 and cr.hypergradient_stats()["steps"] == 0


def _hypergradient(tr, batch, backend):
    """The hypergradient of one meta step at the trainer's current state, with ``backend``."""
    tr.hypergrad_backend = backend  # the trainer's resolved backend (the field may be None)
    tr.meta_steps = 0  # the same meta batch for both backends
    model = tr.model
    model.train()
    inputs = {k: v.clone() for k, v in batch.items()}
    inputs.pop(INDEX_KEY)
    labels = inputs.pop("labels")
    cached = backend == HypergradBackend.HEAD_CACHED
    with (tr._cache(model).capture() if cached else math_attention()):
        out = model(**inputs)
    params, meta_loss_at, head_logits = tr._meta_closures(model, inputs, labels)
    logits = out.logits if head_logits is None else head_logits
    if tr.class_reweighter is not None:
        unit_labels, hardness = tr._units(out.logits, labels)
        z = tr._zscore(hardness)
        return tr.class_reweighter.hypergradient(z, unit_labels, lambda d: tr._unit_losses(logits, labels, d),
                                                 params, meta_loss_at, 0.5)[0]
    losses, hardness = tr._example_losses(logits, labels)
    features, prior = tr._features(hardness, batch[INDEX_KEY])
    return tr.reweighter.hypergradient(features, losses, params, meta_loss_at, 0.5, prior=prior)[0]


@pytest.mark.parametrize("form,data_name,objective", [
    ("class_residual", "idai", None), ("class_residual", "tweetner", None), ("wnet", "idai", None),
    ("class_residual", "idai", "soft_f1"), ("class_residual", "tweetner", "soft_f1")])
def test_head_cached_backend_equals_the_exact_backend(form, data_name, objective, tmp_path, tokenizer, request):
    data = request.getfixturevalue(data_name)
    tr = _trainer(tmp_path, tokenizer, data, dropout=0.0, weighting_form=form, lookahead_scope="head",
                  example_residual=form == "class_residual",
                  wnet_init_bias=0.1, **({"meta_objective": objective} if objective else {}))
    assert objective is None or tr.meta_objective == objective
    if tr.class_reweighter is not None:  # away from the zero start, so every part has a gradient
        with torch.no_grad():
            tr.class_reweighter.net.fc2.weight.normal_(0, 0.5)
            tr.class_reweighter.delta.normal_(0, 0.3)
    batch = next(iter(tr.get_train_dataloader()))
    exact = _hypergradient(tr, batch, HypergradBackend.EXACT)
    cached = _hypergradient(tr, batch, HypergradBackend.HEAD_CACHED)
    num = torch.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(exact, cached)))
    den = torch.sqrt(sum((a**2).sum() for a in exact))
    assert den > 0
    assert float(num / den) < 1e-4


def test_training_moves_beta_and_delta_and_logs_them(tmp_path, tokenizer, tweetner):
    tr = _trainer(tmp_path, tokenizer, tweetner, hypergrad_backend="head_cached", meta_objective="half")
    cr = tr.class_reweighter
    assert cr.groups.names[0] == "O" and len(cr.groups) == 8  # O + 7 entity types
    # NER: β starts at −τ·log n_c with τ 1 (session 29): exp(−β) are the groups' token counts, O the largest
    assert torch.equal(cr.beta.detach(), cr.beta_start)
    n = torch.exp(-cr.beta_start.double())
    assert torch.allclose(n, n.round(), atol=1e-3) and n.min() >= 1 and int(n.argmax()) == 0
    tr.train()
    assert tr.meta_steps == tr.state.global_step > 0
    assert (cr.beta.detach() - cr.beta_start).abs().max() > 1e-3
    assert cr.delta.detach().abs().max() > 1e-3
    rec = json.loads((tmp_path / "out" / "hamr_diagnostics.jsonl").read_text().splitlines()[-1])
    params = rec["class_params"]
    assert set(params["beta"]) == set(cr.groups.names)
    assert params["delta"]["O"] == pytest.approx(float(cr.delta[0].detach()))
    assert "O" in rec["unit_weights_per_group"] and rec["unit_weights_per_group"]["O"]["n"] > 0


def test_soft_f1_training_commits_each_meta_batch_to_the_running_counts(tmp_path, tokenizer, idai):
    tr = _trainer(tmp_path, tokenizer, idai, meta_objective="soft_f1")
    assert tr.meta_loss_fn.running.abs().sum() == 0
    tr.train()
    assert tr.meta_steps > 0 and tr.meta_loss_fn.running.sum() > 0 and tr.meta_loss_fn._pending is None
    cr = tr.class_reweighter
    assert max((cr.beta.detach() - cr.beta_start).abs().max(), cr.delta.detach().abs().max()) > 1e-4
    # the running counts are part of the checkpointed HAMR state, so a resumed run scores as the run it continues
    state = tr.hamr_state_dict()
    other = _trainer(tmp_path / "other", tokenizer, idai, meta_objective="soft_f1")
    other.load_hamr_state_dict(state)
    torch.testing.assert_close(other.meta_loss_fn.running, tr.meta_loss_fn.running)


def test_class_param_cap_keeps_beta_and_delta_in_a_box_around_their_start(tmp_path, tokenizer, idai):
    """With a large step (class_param_lr 0.5) β and δ run further than 0.05 from their start unbounded; with
    class_param_cap 0.05 every one ends within 0.05, and the cap is reached (it binds)."""
    free = _trainer(tmp_path / "free", tokenizer, idai, class_param_lr=0.5)
    free.train()
    cr = free.class_reweighter
    assert max((cr.beta.detach() - cr.beta_start).abs().max(), cr.delta.detach().abs().max()) > 0.05
    capped = _trainer(tmp_path / "cap", tokenizer, idai, class_param_lr=0.5, class_param_cap=0.05)
    capped.train()
    cr = capped.class_reweighter
    shift = (cr.beta.detach() - cr.beta_start).abs()
    assert shift.max() <= 0.05 + 1e-6 and cr.delta.detach().abs().max() <= 0.05 + 1e-6
    assert max(shift.max(), cr.delta.detach().abs().max()) == pytest.approx(0.05, abs=1e-6)
    with pytest.raises(ValueError, match="class_param_cap must be >= 0"):
        HAMRArguments(output_dir="x", weighting_form="class_residual", class_param_cap=-1.0)
    with pytest.raises(ValueError, match="class_param_cap bounds the class parameters"):
        HAMRArguments(output_dir="x", weighting_form="wnet", class_param_cap=0.3)  # the wnet form has no β, δ
    default = HAMRArguments(output_dir="x", class_param_cap=0.3)  # the form follows the task: checked there
    assert default.resolved("ner")["weighting_form"] == "class_residual"
    with pytest.raises(ValueError, match="class_param_cap bounds.*default for classification"):
        default.resolved("classification")


def test_ablations_freeze_their_part(tmp_path, tokenizer, idai):
    tr = _trainer(tmp_path / "a", tokenizer, idai, ablation="without_class_params")
    cr = tr.class_reweighter
    beta0 = cr.beta.detach().clone()
    assert beta0.min() < 0  # classification: β starts at log n^-0.5
    phi0 = [p.detach().clone() for p in cr.net.parameters()]
    tr.train()
    assert torch.equal(cr.beta.detach(), beta0) and torch.equal(cr.delta.detach(), torch.zeros_like(cr.delta))
    assert any(not torch.equal(a, b) for a, b in zip(phi0, cr.net.parameters()))  # the residual learned

    # the ablation with the residual on, and the default since session 34 (no residual unless
    # example_residual=True): φ stays at its start, β still learns
    for name, options in (("b", {"ablation": "without_residual"}), ("d", {"example_residual": False})):
        tr = _trainer(tmp_path / name, tokenizer, idai, **options)
        cr = tr.class_reweighter
        phi0 = [p.detach().clone() for p in cr.net.parameters()]
        beta0 = cr.beta.detach().clone()
        tr.train()
        assert all(torch.equal(a, b) for a, b in zip(phi0, cr.net.parameters())), options
        assert not torch.equal(cr.beta.detach(), beta0), options
    assert HAMRArguments(output_dir="x", report_to=[]).resolved("ner")["uses_example_residual"] is False
    assert HAMRArguments(output_dir="x", report_to=[], example_residual=True).resolved("ner")["uses_example_residual"]
    assert not HAMRArguments(output_dir="x", report_to=[], example_residual=True,
                             ablation="without_residual").resolved("ner")["uses_example_residual"]

    # pr_feedback without the residual: no hypergradient at all, the meta batch is still scored for the feedback
    tr = _trainer(tmp_path / "c", tokenizer, idai, ablation="without_residual", class_params="pr_feedback",
                  hypergrad_backend="head_cached")
    cr = tr.class_reweighter
    assert cr.optimizer is None
    beta0 = cr.beta.detach().clone()
    tr.train()
    assert float(cr.confusion.sum()) > 0 and not torch.equal(cr.beta.detach(), beta0)


def test_options_are_checked():
    base = dict(output_dir="/tmp/x", report_to=[], use_cpu=True)
    with pytest.raises(ValueError, match="weighting_form='class_residual'"):
        HAMRArguments(**base, weighting_form="wnet", ablation="without_residual")
    with pytest.raises(ValueError, match="weighting_form='class_residual'"):  # the classification default: wnet
        HAMRArguments(**base, ablation="without_residual").resolved("classification")
    assert HAMRArguments(**base, ablation="without_residual").resolved("ner")["weighting_form"] == "class_residual"
    with pytest.raises(ValueError, match="example_residual=True adds the per-example residual.*class_residual"):
        HAMRArguments(**base, weighting_form="wnet", example_residual=True)
    with pytest.raises(ValueError, match="example_residual=True.*default for classification"):
        HAMRArguments(**base, example_residual=True).resolved("classification")
    with pytest.raises(ValueError, match="finite_difference"):
        HAMRArguments(**base, weighting_form="class_residual", hypergrad_backend="finite_difference")
    with pytest.raises(ValueError, match="lookahead_scope='head'"):
        HAMRArguments(**base, hypergrad_backend="head_cached", lookahead_scope="last_k")
    with pytest.raises(ValueError, match="WeightingForm"):
        HAMRArguments(**base, weighting_form="nope")


def test_task_defaults_of_the_form_objective_and_backend():
    """Issue 22 (session 22): NER runs class_residual with the half meta objective and head-cached
    hypergradients by default; classification and faithful the weight net with the plain meta loss; an option
    only the weight net has makes it the NER default too, and a set field always wins."""
    base = dict(output_dir="/tmp/x", report_to=[], use_cpu=True)
    ner = HAMRArguments(**base).resolved("ner")
    assert (ner["weighting_form"], ner["meta_objective"], ner["hypergrad_backend"]) == \
        ("class_residual", "half", "head_cached")
    cls = HAMRArguments(**base).resolved("classification")
    assert (cls["weighting_form"], cls["meta_objective"], cls["hypergrad_backend"]) == ("wnet", "plain", "exact")
    assert HAMRArguments(**base, faithful=True).resolved("ner")["weighting_form"] == "wnet"
    assert HAMRArguments(**base, lookahead_scope="last_k").resolved("ner")["hypergrad_backend"] == "exact"
    for option in ({"token_class_weights": "icf"}, {"ner_weight_unit": "token"}, {"wnet_inputs": "loss_class"}):
        r = HAMRArguments(**base, **option).resolved("ner")
        assert (r["weighting_form"], r["meta_objective"]) == ("wnet", "plain"), option
    r = HAMRArguments(**base, meta_token_class_weights="icf").resolved("ner")
    assert (r["weighting_form"], r["meta_objective"]) == ("class_residual", "plain")
    r = HAMRArguments(**base, weighting_form="wnet", meta_objective="balanced").resolved("ner")
    assert (r["weighting_form"], r["meta_objective"], r["hypergrad_backend"]) == ("wnet", "balanced", "exact")
