"""HAMRTrainer end to end on tiny models and real data slices: the parts must really act, ablations must
really switch them off, checkpoints must resume exactly, and indices must never go missing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import random_embeddings, tiny_bert
from hamr.data import load_benchmark
from hamr.enums import AblationMode, HardnessStat, TaskType
from hamr.metaset import build_meta_set
from hamr.resampling import read_hardness_file
from hamr.tasks import INDEX_KEY, IndexCollator, encode_split
from hamr.methods.base import MissingIndexError
from hamr.methods.hamr import HAMRTrainer
from hamr.methods.hamr import HAMRArguments


def _slice(name, tokenizer, limit):
    """A real slice, its encoded training split and its encoded balanced meta set."""
    bundle = load_benchmark(name, limit=limit)
    meta = build_meta_set(bundle.train, bundle.validation, seed=42)
    enc = lambda s: encode_split(s, tokenizer, bundle.vocab, 32)  # noqa: E731
    return bundle, enc(bundle.train), enc(meta.split)


@pytest.fixture(scope="module")
def idai(tokenizer):
    return _slice("humaid_idai19", tokenizer, {"train": 64, "validation": 40, "test": 16})


class RecordingHAMRTrainer(HAMRTrainer):
    """Records the example indices of every training batch."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if model.training:
            self.seen = getattr(self, "seen", []) + [inputs[INDEX_KEY].tolist()]
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    def _end_of_epoch(self, epoch):
        super()._end_of_epoch(epoch)
        self.p_history = getattr(self, "p_history", []) + [self.sampler.state_dict()]


def _trainer(tmp_path, tokenizer, idai, *, cls=RecordingHAMRTrainer, dropout=0.1, **overrides):
    bundle, train, meta = idai
    kw = dict(
        output_dir=str(tmp_path / "out"), num_train_epochs=2, per_device_train_batch_size=16,
        learning_rate=1e-3, seed=11, report_to=[], save_strategy="no", logging_steps=1000, use_cpu=True,
        disable_tqdm=True, wnet_lr=1e-2, meta_update_lr=0.5, lookahead_scope="all", meta_interval=1,
    )
    kw.update(overrides)
    return cls(
        model=tiny_bert(tokenizer, len(bundle.vocab), dropout=dropout), args=HAMRArguments(**kw),
        train_dataset=train, meta_dataset=meta, processing_class=tokenizer,
        embeddings=random_embeddings(len(train)), group_names=bundle.vocab.labels,
    )


def test_hardness_memory_weights_and_sampler_really_move(tmp_path, tokenizer, idai):
    tr = _trainer(tmp_path, tokenizer, idai, knn_lambda=0.7)  # the kNN boost on (off by default)
    phi0 = [p.detach().clone() for p in tr.reweighter.net.parameters()]
    tr.train()
    n = len(tr.train_dataset)
    steps_per_epoch = int(np.ceil(n / 16))
    assert len(tr.sampler) == n  # N draws per epoch (oversample's default: as many steps as any other method)
    assert tr.state.global_step == 2 * steps_per_epoch
    assert tr.meta_steps == tr.state.global_step  # meta_interval 1
    assert any(not torch.equal(a, b) for a, b in zip(phi0, tr.reweighter.net.parameters()))
    assert np.ptp(tr.memory.values) > 1e-3, "hardness memory did not move"
    assert (tr.boost > 0).sum() > 0, "kNN boost never set"
    p = tr.sampler.probabilities
    assert p is not None and np.ptp(p) > 0, "sampling distribution stayed uniform"
    # epoch 2 draws exactly what the sampler's Eq. 4 draw says (the resampling is not inert)
    tr.sampler.load_state_dict({**tr.p_history[0], "epoch": 1})  # p set at the end of epoch 1
    expected = tr.sampler.global_draw().tolist()
    seen_epoch2 = [i for batch in tr.seen[steps_per_epoch:] for i in batch]
    assert seen_epoch2 == expected
    table = (tmp_path / "out" / "hamr_examples.tsv").read_text().splitlines()
    assert table[0].split("\t") == ["index", "label", "hardness_m", "boost_b", "probability_p"]
    assert len(table) == n + 1
    # the label-free file beside it: the same m in index order, checked against the training texts
    m = read_hardness_file(tmp_path / "out" / "hamr_hardness.json", tr.train_texts)
    np.testing.assert_allclose(m, tr.memory.values, rtol=1e-5)
    np.testing.assert_array_equal(m, [float(row.split("\t")[2]) for row in table[1:]])
    diag = (tmp_path / "out" / "hamr_diagnostics.jsonl").read_text().splitlines()
    assert len(diag) == 2 and "sampling_mass_per_class" in diag[0]
    # the same numbers reach the Trainer's log (so TensorBoard / W&B get them as scalars with --report-to)
    import json

    logged = [rec for rec in tr.state.log_history if any(k.startswith("hamr/sampling_mass/") for k in rec)]
    assert len(logged) == 2
    for rec, line in zip(logged, diag):
        d = json.loads(line)
        for c, mass in d["sampling_mass_per_class"].items():
            assert rec[f"hamr/sampling_mass/{c}"] == pytest.approx(mass)
        for c, w in d["weights_per_class"].items():
            assert rec[f"hamr/weight_mean/{c}"] == pytest.approx(w["mean"])


@pytest.mark.parametrize(
    "ablation", [AblationMode.WITHOUT_AWE, AblationMode.WITHOUT_RESAMPLING, AblationMode.WITHOUT_KNN,
                 AblationMode.WITHOUT_ALL],
)
def test_each_ablation_switch_turns_its_part_off(tmp_path, tokenizer, idai, ablation):
    tr = _trainer(tmp_path, tokenizer, idai, ablation=ablation, num_train_epochs=2, knn_lambda=0.7)  # kNN on
    phi0 = [p.detach().clone() for p in tr.reweighter.net.parameters()]
    tr.train()
    n = len(tr.train_dataset)
    awe = ablation in (AblationMode.WITHOUT_RESAMPLING, AblationMode.WITHOUT_KNN)
    resampling = ablation in (AblationMode.WITHOUT_AWE, AblationMode.WITHOUT_KNN)
    knn = ablation == AblationMode.WITHOUT_AWE
    phi_moved = any(not torch.equal(a, b) for a, b in zip(phi0, tr.reweighter.net.parameters()))
    assert (tr.meta_steps > 0) == awe and phi_moved == awe
    if resampling:
        assert tr.sampler.probabilities is not None and np.ptp(tr.sampler.probabilities) > 0
    else:  # a seeded permutation: every example exactly once per epoch
        steps = int(np.ceil(n / 16))
        for e in range(2):
            epoch = sorted(i for b in tr.seen[e * steps:(e + 1) * steps] for i in b)
            assert epoch == list(range(n))
    assert ((tr.boost > 0).any()) == knn
    assert (tr.knn is not None) == knn
    if not awe:  # m tracks ℓ_i / mean_B ℓ: it still moves
        assert np.ptp(tr.memory.values) > 1e-3


def test_sampler_class_power_draws_classes_balanced_from_the_first_epoch(tmp_path, tokenizer, idai):
    tr = _trainer(tmp_path, tokenizer, idai, sampler_class_power=1.0, num_train_epochs=1)
    groups = tr.groups
    sizes = np.bincount(groups)
    present = np.flatnonzero(sizes)
    assert sizes[present].max() >= 3 * sizes[present].min()  # the slice is skewed, so balancing shows
    p0 = tr.sampler.probabilities  # set before training: epoch 1 is drawn balanced too
    np.testing.assert_allclose(np.bincount(groups, weights=p0)[present], 1 / len(present), rtol=1e-9)
    p0 = p0.copy()
    tr.train()
    drawn = [i for batch in tr.seen for i in batch]
    tr.sampler.load_state_dict({**tr.p_history[0], "epoch": 0, "probabilities": torch.from_numpy(p0)})
    assert drawn == tr.sampler.global_draw().tolist()  # epoch 1 drew from the balanced p0
    # the epoch's end keeps the factor in Eq. 4: p ∝ n_g^-1 · (m + 1e-6)^α
    w = (tr.memory.values + 1e-6) ** tr.settings["hardness_alpha"] / sizes[groups]
    np.testing.assert_allclose(tr.p_history[0]["probabilities"].numpy(), w / w.sum(), rtol=1e-6)
    plain = _trainer(tmp_path, tokenizer, idai)  # ρ 0 (the default): uniform until the first epoch ends
    assert plain.sampler.probabilities is None


def test_the_knn_boost_is_off_by_default_and_on_with_faithful_or_a_lambda():
    """Issue 22: the kNN boost raised mean validation macro-F1 by >= 1 on one of six datasets (3 seeds), so it is
    off unless asked for (λ > 0) or the reference setting is (faithful); off, no embedder is loaded."""
    from hamr.enums import TaskType

    off, faithful, on = HAMRArguments(output_dir="x"), HAMRArguments(output_dir="x", faithful=True), \
        HAMRArguments(output_dir="x", knn_lambda=0.3)
    assert not off.uses_knn and off.resolved(TaskType.CLASSIFICATION)["knn_lambda"] == 0.0
    assert faithful.uses_knn and faithful.resolved(TaskType.CLASSIFICATION)["knn_lambda"] == 0.7
    assert faithful.resolved(TaskType.NER)["knn_lambda"] == 0.1
    assert on.uses_knn and not HAMRArguments(output_dir="x", knn_lambda=0.0).uses_knn
    assert not HAMRArguments(output_dir="x", knn_lambda=0.3, ablation="without_knn").uses_knn


def test_default_hamr_embeds_nothing(tmp_path, tokenizer, idai, monkeypatch):
    import hamr.embeddings

    def refuse(*a, **k):
        raise AssertionError("the default HAMR must not embed the training texts")

    monkeypatch.setattr(hamr.embeddings, "embed_texts", refuse)
    bundle, train, meta = idai
    tr = RecordingHAMRTrainer(
        model=tiny_bert(tokenizer, len(bundle.vocab)), train_dataset=train, meta_dataset=meta,
        processing_class=tokenizer, group_names=bundle.vocab.labels,
        args=HAMRArguments(output_dir=str(tmp_path / "o"), num_train_epochs=1, per_device_train_batch_size=16,
                           report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True),
    )
    tr.train()
    assert tr.knn is None and not (tr.boost > 0).any() and tr.meta_steps > 0


def test_resume_from_checkpoint_equals_uninterrupted_run(tmp_path, tokenizer, idai):
    full = _trainer(tmp_path / "a", tokenizer, idai, save_strategy="epoch", num_train_epochs=3)
    full.train()
    resumed = _trainer(tmp_path / "b", tokenizer, idai, num_train_epochs=3)
    ckpt = sorted((tmp_path / "a" / "out").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))[0]
    resumed.train(resume_from_checkpoint=str(ckpt))
    for (name, a), b in zip(full.model.named_parameters(), resumed.model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=lambda m: f"{name}: {m}")
    for a, b in zip(full.reweighter.net.parameters(), resumed.reweighter.net.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(full.memory.values, resumed.memory.values, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(full.boost, resumed.boost)
    np.testing.assert_allclose(full.sampler.probabilities, resumed.sampler.probabilities, rtol=1e-5)
    n_steps_after = len(resumed.seen)
    assert resumed.seen == full.seen[-n_steps_after:]


def test_a_batch_without_indices_is_an_error(tmp_path, tokenizer, idai):
    tr = _trainer(tmp_path, tokenizer, idai, cls=HAMRTrainer)
    batch = IndexCollator(tokenizer, TaskType.CLASSIFICATION)([idai[1][i] for i in range(4)])
    batch.pop(INDEX_KEY)
    tr.model.train()
    with pytest.raises(MissingIndexError, match="example_index"):
        tr.compute_loss(tr.model, batch)


def test_plain_dataset_without_index_column_is_wrapped(tmp_path, tokenizer, idai):
    bundle, train, meta = idai
    plain = [{k: v for k, v in train[i].items() if k != INDEX_KEY} for i in range(len(train))]
    tr = _trainer(tmp_path, tokenizer, (bundle, plain, meta), num_train_epochs=1, remove_unused_columns=True,
                  oversample=1.2)
    tr.train()
    # the wrapped dataset's indices are the item positions: the batches hold exactly the sampler's epoch-0 draw
    from hamr.resampling import HardnessSampler

    expected = HardnessSampler(len(plain), seed=11, oversample=1.2).global_draw().tolist()
    assert [i for b in tr.seen for i in b] == expected
    assert len(expected) == int(np.ceil(1.2 * len(plain)))


def test_class_prior_and_class_aware_inputs(tmp_path, tokenizer, idai):
    tr = _trainer(tmp_path, tokenizer, idai, cls=HAMRTrainer, class_prior_power=1.0, wnet_inputs="loss_class",
                  meta_class_balanced=True, meta_batch_size=12)
    assert tr.reweighter.net.fc1.in_features == 2
    groups = tr.groups
    counts = np.bincount(groups)
    index = torch.arange(len(groups))
    feats, prior = tr._features(torch.zeros(len(groups)), index)
    # with φ at its start the weight net is almost flat, so w ∝ 1/n_y: inverse class frequency to start from
    w = tr.reweighter.weights_no_grad(feats, prior).numpy()
    rare, common = int(np.argmin(np.where(counts > 0, counts, 10**9))), int(np.argmax(counts))
    ratio = w[groups == rare].mean() / w[groups == common].mean()
    assert ratio == pytest.approx(counts[common] / counts[rare], rel=0.15)
    # the class feature is the standardised log frequency: the rarest class has the lowest value
    assert feats[groups == rare, 1].max() < feats[groups == common, 1].min()
    batch = tr._meta_batch()
    meta_classes = np.unique(tr.meta_groups)
    got = np.bincount(batch["labels"].numpy(), minlength=len(tr.group_names))
    assert (got[meta_classes] >= 12 // len(meta_classes)).all()  # round robin: every class present


def test_examples_without_a_class_count_as_one_group_in_the_prior():
    """Group −1 (an NER sentence with no entity and no O tag, or no labelled token) is a group of its own in the
    class prior and the class feature, with its own size, as the sampler's class factor counts it (it had n = 1,
    the largest weight, before session 29)."""
    groups = np.array([0, 0, 0, 0, 1, 1, -1, -1, -1])
    feature, prior = HAMRTrainer._class_tables(groups, 1.0)
    np.testing.assert_allclose(prior.numpy(), [1 / 4] * 4 + [1 / 2] * 2 + [1 / 3] * 3, rtol=1e-6)
    log_n = np.log([4, 2, 3])
    np.testing.assert_allclose(feature.numpy()[[0, 4, 6]], (log_n - log_n.mean()) / log_n.std(), rtol=1e-5)
    assert HAMRTrainer._class_tables(np.array([0, 1, 1]), 0.0)[1] is None


def test_one_meta_step_per_optimiser_step_with_gradient_accumulation(tmp_path, tokenizer, idai):
    tr = _trainer(tmp_path, tokenizer, idai, num_train_epochs=1, per_device_train_batch_size=8,
                  gradient_accumulation_steps=2, meta_interval=2)
    tr.train()
    assert len(tr.seen) == 2 * tr.state.global_step  # two micro-batches per optimiser step
    assert tr.meta_steps == (tr.state.global_step + 1) // 2  # steps 0, 2, 4, ...


@pytest.fixture(scope="module")
def tweetner(tokenizer):
    return _slice("tweetner7", tokenizer, {"train": 48, "validation": 32, "test": 8})


def _ner_trainer(tmp_path, tokenizer, data, **overrides):
    bundle, train, meta = data
    kw = dict(
        output_dir=str(tmp_path / "out"), num_train_epochs=1, per_device_train_batch_size=8, learning_rate=1e-3,
        seed=3, report_to=[], save_strategy="no", logging_steps=1, use_cpu=True, disable_tqdm=True,
        lookahead_scope="all", meta_interval=1,
    )
    kw.update(overrides)
    return HAMRTrainer(
        model=tiny_bert(tokenizer, len(bundle.vocab), "ner"), args=HAMRArguments(**kw), train_dataset=train,
        meta_dataset=meta, processing_class=tokenizer, embeddings=random_embeddings(len(train)),
        group_names=bundle.vocab.labels,
    )


@pytest.mark.parametrize("kind", ["icf", "effective_number"])
def test_token_class_weights_weight_the_ner_training_loss_not_the_hardness(tmp_path, tokenizer, tweetner, kind):
    from hamr.losses import effective_number_weights, inverse_frequency_weights

    tr = _ner_trainer(tmp_path, tokenizer, tweetner, token_class_weights=kind)
    plain = _ner_trainer(tmp_path / "plain", tokenizer, tweetner)
    assert plain._token_weights is None
    counts = torch.as_tensor(tr.class_counts, dtype=torch.float64)
    base = inverse_frequency_weights(counts) if kind == "icf" else effective_number_weights(counts, 0.9999)
    w = tr._token_weights.double()
    assert float((counts * w).sum()) == pytest.approx(float(counts.sum()), rel=1e-5)  # mean 1 per token
    present = counts > 0
    ratio = (w[present] / base.double()[present]).numpy()
    assert np.ptp(ratio) < 1e-5 * ratio.mean()  # the baseline's class ratios, rescaled
    outside = tweetner[0].vocab.labels.index("O")
    assert float(w[outside]) < 1 < float(w[present].max())  # O down-weighted, rare tags up

    batch = tr.data_collator([tr.train_dataset[i] for i in range(8)])
    labels = batch["labels"]
    torch.manual_seed(0)
    logits = torch.randn(*labels.shape, len(tr.group_names))
    train, hard = tr._example_losses(logits, labels)
    plain_train, plain_hard = plain._example_losses(logits, labels)
    mask = labels != -100
    ce = torch.nn.functional.cross_entropy(logits[mask], labels[mask], reduction="none")
    tok = torch.zeros(labels.shape).masked_scatter(mask, ce)
    expected = (tr._token_weights[labels.clamp_min(0)] * mask * tok).sum(1) / mask.sum(1)
    assert torch.allclose(train, expected, atol=1e-6)
    assert torch.allclose(plain_train, tok.sum(1) / mask.sum(1), atol=1e-6)
    assert torch.equal(hard, plain_hard)  # the hardness signal stays the unweighted max-token CE
    assert not torch.allclose(train, plain_train)

    tr.train()  # the weighted loss trains end to end, meta steps included
    losses = [r["loss"] for r in tr.state.log_history if "loss" in r]
    assert tr.meta_steps > 0 and all(np.isfinite(losses))


def test_meta_token_class_weights_balance_the_meta_objective(tmp_path, tokenizer, tweetner):
    from hamr.losses import class_counts_from_labels, inverse_frequency_weights

    tr = _ner_trainer(tmp_path, tokenizer, tweetner, meta_token_class_weights="icf")
    meta_counts = class_counts_from_labels([r["labels"] for r in tweetner[2]], len(tr.group_names))
    assert torch.allclose(tr.meta_loss_fn.weights, inverse_frequency_weights(meta_counts))
    assert tr._token_weights is None  # the training loss stays plain
    batch = tr._meta_batch()
    labels = batch.pop("labels")
    torch.manual_seed(1)
    logits = torch.randn(*labels.shape, len(tr.group_names))
    mask = labels != -100
    ce = torch.nn.functional.cross_entropy(logits[mask], labels[mask], reduction="none")
    w = tr.meta_loss_fn.weights[labels[mask]]
    assert float(tr.meta_loss_fn(logits, labels)) == pytest.approx(float((w * ce).sum() / w.sum()), rel=1e-5)
    assert float(tr.meta_loss_fn(logits, labels)) != pytest.approx(float(ce.mean()), rel=1e-3)
    tr.train()
    meta = [r["hamr_meta_loss"] for r in tr.state.log_history if "hamr_meta_loss" in r]
    assert tr.meta_steps > 0 and meta and all(np.isfinite(meta))


def test_token_class_weights_are_refused_in_faithful_mode_and_idle_for_classification(tmp_path, tokenizer, idai):
    with pytest.raises(ValueError, match="token_class_weights='icf'"):
        HAMRArguments(output_dir=str(tmp_path), faithful=True, token_class_weights="icf")
    with pytest.raises(ValueError, match="meta_token_class_weights='icf'"):
        HAMRArguments(output_dir=str(tmp_path), faithful=True, meta_token_class_weights="icf")
    with pytest.raises(ValueError, match="TokenClassWeights"):
        HAMRArguments(output_dir=str(tmp_path), token_class_weights="inverse")
    tr = _trainer(tmp_path, tokenizer, idai, cls=HAMRTrainer, token_class_weights="icf",
                  meta_token_class_weights="icf")
    assert tr._token_weights is None and tr.meta_loss_fn.weights is None


def test_token_weight_unit_weighs_each_labelled_token(tmp_path, tokenizer, tweetner):
    """ner_weight_unit=token: the weight net sees one z-scored CE per labelled token, the training loss is the
    token mean of w_t·CE_t, a sentence's memory value is the max (hardness_stat) of its token weights, and the
    bi-level step runs on token units end to end."""
    tr = _ner_trainer(tmp_path, tokenizer, tweetner, ner_weight_unit="token", meta_interval=3)
    assert tr._token_unit and tr._tag_prior is None
    batch = tr.data_collator([tr.train_dataset[i] for i in range(8)])
    labels = batch["labels"]
    mask = labels != -100
    torch.manual_seed(0)
    logits = torch.randn(*labels.shape, len(tr.group_names))
    train, hard = tr._token_units(logits, labels)
    ce = torch.nn.functional.cross_entropy(logits[mask], labels[mask], reduction="none")
    assert train.shape == (int(mask.sum()),) and torch.allclose(train, ce, atol=1e-6) and torch.equal(train, hard)
    z, prior = tr._token_features(hard, labels)
    assert prior is None and abs(float(z.mean())) < 1e-5 and float(z.std(unbiased=False)) == pytest.approx(1, rel=1e-4)
    values = torch.arange(1, int(mask.sum()) + 1, dtype=torch.float32)
    rows = mask.nonzero()[:, 0]
    def per_sentence(reduce):
        raw = torch.tensor([reduce(values[rows == r]) if mask[r].any() else 1.0 for r in range(8)])
        return raw / raw.mean()  # mean 1 over the batch, like sentence weights

    assert torch.allclose(tr._sentence_values(values, labels), per_sentence(lambda v: float(v.max())))
    tr.args.hardness_stat = HardnessStat.MEAN
    assert torch.allclose(tr._sentence_values(values, labels), per_sentence(lambda v: float(v.mean())))
    tr.args.hardness_stat = HardnessStat.MAX

    # one training step without a meta step (global_step 1, meta_interval 3): loss = mean_t w_t CE_t
    tr.create_optimizer_and_scheduler(num_training_steps=10)
    tr.state.global_step = 1
    model = tr.model.train()
    inputs = {k: v for k, v in batch.items()}
    torch.manual_seed(5)
    loss = tr.compute_loss(model, dict(inputs))
    torch.manual_seed(5)
    out = model(**{k: v for k, v in inputs.items() if k not in ("labels", "example_index")})
    t_loss, t_hard = tr._token_units(out.logits, labels)
    w = tr.reweighter.weights_no_grad(*tr._token_features(t_hard, labels))
    assert float(loss) == pytest.approx(float((w * t_loss).mean()), rel=1e-5)
    assert float(loss) != pytest.approx(float(tr._example_losses(out.logits, labels)[0].mean()), rel=1e-4)
    assert tr.meta_steps == 0

    trained = _ner_trainer(tmp_path / "e2e", tokenizer, tweetner, ner_weight_unit="token")
    phi0 = [p.detach().clone() for p in trained.reweighter.net.parameters()]
    trained.train()
    assert trained.meta_steps == trained.state.global_step > 0
    assert any(not torch.equal(a, b) for a, b in zip(phi0, trained.reweighter.net.parameters()))
    assert np.ptp(trained.memory.values) > 1e-3
    # after training, the tokens of one sentence get different weights (a sentence weight could not)
    out = trained.model.eval()(**{k: v for k, v in inputs.items() if k not in ("labels", "example_index")})
    _, h = trained._token_units(out.logits, labels)
    w = trained.reweighter.weights_no_grad(*trained._token_features(h, labels))
    spread = [float(np.ptp(w[rows == r].numpy())) for r in range(8) if int((rows == r).sum()) > 1]
    assert max(spread) > 1e-3


def test_token_weight_unit_options(tmp_path, tokenizer, tweetner, idai):
    with pytest.raises(ValueError, match="ner_weight_unit='token'"):
        HAMRArguments(output_dir=str(tmp_path), faithful=True, ner_weight_unit="token")
    with pytest.raises(ValueError, match="wnet_inputs='loss_class'"):
        HAMRArguments(output_dir=str(tmp_path), ner_weight_unit="token", wnet_inputs="loss_class")
    with pytest.raises(ValueError, match="WeightUnit"):
        HAMRArguments(output_dir=str(tmp_path), ner_weight_unit="word")
    tr = _ner_trainer(tmp_path, tokenizer, tweetner, ner_weight_unit="token", class_prior_power=0.5)
    counts = torch.as_tensor(np.asarray(tr.class_counts), dtype=torch.float32)
    present = counts > 0
    assert torch.allclose(tr._tag_prior[present], counts[present] ** -0.5)
    assert torch.all(tr._tag_prior[~present] == 1)
    batch = tr.data_collator([tr.train_dataset[i] for i in range(8)])
    labels = batch["labels"]
    _, prior = tr._token_features(torch.rand(int((labels != -100).sum())), labels)
    assert torch.equal(prior, tr._tag_prior[labels[labels != -100]])
    cls = _trainer(tmp_path / "cls", tokenizer, idai, cls=HAMRTrainer, ner_weight_unit="token")
    assert not cls._token_unit  # classification weighs examples whatever the NER unit says


def test_normalise_through_mean_reaches_the_reweighter(tmp_path, tokenizer, idai):
    with pytest.raises(ValueError, match="normalise_through_mean=True"):
        HAMRArguments(output_dir=str(tmp_path), faithful=True, normalise_through_mean=True)
    tr = _trainer(tmp_path, tokenizer, idai, cls=HAMRTrainer, normalise_through_mean=True, num_train_epochs=1)
    assert tr.reweighter.detach_mean is False
    assert _trainer(tmp_path / "d", tokenizer, idai, cls=HAMRTrainer).reweighter.detach_mean is True
    phi0 = [p.detach().clone() for p in tr.reweighter.net.parameters()]
    tr.train()
    assert tr.meta_steps > 0 and tr.reweighter.num_skipped == 0
    assert any(not torch.equal(a, b) for a, b in zip(phi0, tr.reweighter.net.parameters()))


class _Payload:
    """A pickle that writes a file when it is loaded."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_crafted_hamr_state_is_refused_without_running_it(tmp_path):
    from hamr.methods.hamr.trainer import load_hamr_state_file

    marker = tmp_path / "pwned.txt"
    path = tmp_path / "hamr_state.pt"
    torch.save({"reweighter": _Payload(marker), "meta_steps": 3}, path)
    with pytest.raises(ValueError, match="refused to load") as info:
        load_hamr_state_file(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_real_hamr_state_loads_with_weights_only(tmp_path, tokenizer, idai):
    from hamr.methods.hamr.trainer import load_hamr_state_file

    trainer = _trainer(tmp_path, tokenizer, idai, num_train_epochs=1)
    path = tmp_path / "hamr_state.pt"
    torch.save(trainer.hamr_state_dict(), path)
    state = load_hamr_state_file(path)
    trainer.load_hamr_state_dict(state)
    assert torch.equal(state["boost"], torch.from_numpy(trainer.boost))
