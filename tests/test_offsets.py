"""Decision offsets (hamr.offsets, session 24): fitted per-class logit offsets, folded into the output bias."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from hamr.enums import TaskType
from hamr.offsets import GRID, fit_offsets, fold_offsets, output_layer


def _biased_logits(n_per_class=(300, 300, 300), shift=2.0, seed=0):
    """Three well-separated classes whose classifier is biased against class 2 by ``shift``."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(n, c) for c, n in enumerate(n_per_class)])
    logits = 3.0 * np.eye(3)[y] + rng.normal(0, 1.0, (len(y), 3))
    logits[:, 2] -= shift
    return logits, y


def _macro_f1(y, k):
    def score(logits):
        p = logits.argmax(-1)
        f1 = []
        for c in range(k):
            tp = np.sum((p == c) & (y == c))
            d = np.sum(p == c) + np.sum(y == c)
            f1.append(2 * tp / d if d else 0.0)
        return float(np.mean(f1))
    return score


def test_balanced_fit_undoes_a_known_bias():
    logits, y = _biased_logits(shift=2.0)
    d = fit_offsets("balanced", TaskType.CLASSIFICATION, logits, y, np.array([1, 1, 1]), ["a", "b", "c"])
    assert abs(d.sum()) < 1e-9  # centred
    # the balanced CE optimum puts class 2 back level with the others (up to the small L2 penalty)
    assert d[2] - (d[0] + d[1]) / 2 == pytest.approx(2.0, abs=0.25)
    assert abs(d[0] - d[1]) < 0.2


def test_half_pushes_less_than_balanced_when_the_class_is_rare_in_training():
    logits, y = _biased_logits(shift=2.0)
    counts = np.array([900, 900, 30])  # class 2 rare in training: the natural half wants it predicted seldom
    bal = fit_offsets("balanced", TaskType.CLASSIFICATION, logits, y, counts, ["a", "b", "c"])
    half = fit_offsets("half", TaskType.CLASSIFICATION, logits, y, counts, ["a", "b", "c"])
    assert 0 < half[2] < bal[2]


def test_macro_f1_search_never_lowers_the_fit_score_and_uses_the_grid():
    logits, y = _biased_logits(shift=2.0)
    score = _macro_f1(y, 3)
    d = fit_offsets("macro_f1", TaskType.CLASSIFICATION, logits, y, np.array([1, 1, 1]), ["a", "b", "c"], macro_f1=score)
    assert score(logits + d) > score(logits) + 0.05
    # before centring every offset was a grid value: differences of offsets are multiples of the grid step
    step = GRID[1] - GRID[0]
    diffs = (d - d[0]) / step
    assert np.allclose(diffs, np.round(diffs), atol=1e-6)
    with pytest.raises(ValueError, match="scoring function"):
        fit_offsets("macro_f1", TaskType.CLASSIFICATION, logits, y, np.array([1, 1, 1]), ["a", "b", "c"])


def test_ner_search_moves_b_and_i_of_a_type_together_and_needs_o():
    rng = np.random.default_rng(1)
    names = ["O", "B-X", "I-X", "B-Y", "I-Y"]
    y = rng.integers(0, 5, size=(20, 6))
    y[:, -1] = -100
    logits = 2.0 * np.eye(5)[np.where(y < 0, 0, y)] + rng.normal(0, 1.5, (20, 6, 5))
    logits[..., 1:3] -= 1.5  # X under-predicted

    def score(lg):
        m = y != -100
        return _macro_f1(y[m], 5)(lg[m])

    d = fit_offsets("macro_f1", TaskType.NER, logits, y, np.ones(5), names, macro_f1=score)
    assert d[1] == pytest.approx(d[2]) and d[3] == pytest.approx(d[4])
    bal = fit_offsets("balanced", TaskType.NER, logits, y, np.ones(5), names)
    assert np.all(np.isfinite(bal)) and bal[1] > bal[0]
    with pytest.raises(ValueError, match="'O' tag"):
        fit_offsets("balanced", TaskType.NER, logits, y, np.ones(5), ["Z", "B-X", "I-X", "B-Y", "I-Y"])


def test_fold_into_the_output_bias_and_refuse_a_head_without_one():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = torch.randn(5, 4)
    before = model(x).detach().numpy()
    delta = np.array([0.5, -0.25, -0.25])
    assert output_layer(model, 3) is model[2]
    fold_offsets(model, delta)
    assert np.allclose(model(x).detach().numpy(), before + delta, atol=1e-6)
    with pytest.raises(ValueError, match=r"decision offsets: Sequential: .*no bias.*decision_offsets=none"):
        fold_offsets(nn.Sequential(nn.Linear(4, 3, bias=False)), delta)


@pytest.mark.filterwarnings("ignore:class .*:UserWarning")
@pytest.mark.parametrize("dataset", ["humaid_idai19", "tweetner7"])
def test_pipeline_fits_on_the_meta_half_folds_and_keeps_the_plain_scores(dataset, tmp_path, monkeypatch):
    """A whole run (tiny model, ERM): every form scored on the held-out half, the chosen one folded into the saved
    model (its logits are the plain ones plus δ), the plain scores kept under ``without``."""
    import hamr.methods.context
    import hamr.offsets
    import hamr.pipeline as pipeline
    from conftest import tiny_bert

    monkeypatch.setattr(hamr.methods.context, "load_model", lambda task, vocab, model=None: tiny_bert(
        pipeline.load_tokenizer(), len(vocab), str(task)))
    biases = {}
    real_fold = hamr.offsets.fold_offsets

    def spy(model, delta):
        biases["before"] = output_layer(model, len(delta)).bias.detach().clone().numpy()
        real_fold(model, delta)

    monkeypatch.setattr(hamr.offsets, "fold_offsets", spy)
    config = pipeline.RunConfig(dataset=dataset, limit=40, method="erm", max_length=32, epochs=1, batch_size=8,
                                output_dir=str(tmp_path), save_model=True, evaluate_each_epoch=False,
                                decision_offsets="balanced", options={"disable_tqdm": True})
    result = pipeline.run(config)
    rec = result["decision_offsets"]
    bundle = pipeline.load_data(config)
    h = pipeline.validation_holdout(config, bundle)
    assert rec["fit_rows"] == len(h.meta_indices) and rec["form"] == "balanced"
    assert set(rec["forms"]) == {"none", "balanced", "half", "macro_f1"}
    assert all("validation_heldout" in f for f in rec["forms"].values())
    assert rec["forms"]["balanced"]["validation_heldout"]["macro_f1"] == result["validation_heldout"]["macro_f1"]
    assert rec["forms"]["none"]["offsets"] == {lab: 0.0 for lab in bundle.vocab.labels}
    assert set(rec["without"]) == {"validation", "test"}
    # every form's test score is recorded: the chosen form's equals the run's test, none's the test without offsets
    assert rec["forms"]["balanced"]["test"]["macro_f1"] == pytest.approx(result["test"]["macro_f1"], abs=1e-12)
    assert rec["forms"]["none"]["test"]["macro_f1"] == pytest.approx(rec["without"]["test"]["macro_f1"], abs=1e-12)
    assert rec["forms"]["none"]["test"]["micro_f1"] == pytest.approx(rec["without"]["test"]["micro_f1"], abs=1e-12)
    assert any(abs(v) > 1e-3 for v in rec["offsets"].values())
    # the saved model carries the offsets in its output bias (the run itself checked the logits moved by δ)
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    cls = AutoModelForTokenClassification if dataset == "tweetner7" else AutoModelForSequenceClassification
    saved = cls.from_pretrained(str(tmp_path / "model"))
    delta = np.array([rec["offsets"][lab] for lab in bundle.vocab.labels])
    got = output_layer(saved, len(delta)).bias.detach().numpy()
    assert np.allclose(got - biases["before"], delta, atol=1e-4)
    assert json.loads((tmp_path / "metrics.json").read_text())["decision_offsets"]["offsets"] == rec["offsets"]
    # logits.npz holds the raw logits (offsets taken out): with the offsets added back they give the run's scores
    z = pipeline.read_logits(tmp_path)
    assert list(z["label_names"]) == list(bundle.vocab.labels)
    assert np.allclose(z["offsets"], delta, atol=1e-4)
    assert ("test_positions" in z) == (dataset == "tweetner7")  # NER: the labelled positions only
    for split in ("validation", "test"):
        logits, labels = pipeline.split_logits(z, split, len(bundle.splits()[split]))
        encoded = pipeline.encode_split(bundle.splits()[split], pipeline.load_tokenizer(), bundle.vocab, max_length=32)
        scores = pipeline.evaluate_predictions(bundle.task, bundle, logits + z["offsets"], labels,
                                               gold_split=bundle.splits()[split], word_index=encoded.word_index)
        assert scores["macro_f1"] == pytest.approx(result[split]["macro_f1"], abs=1e-9), split
        plain = pipeline.evaluate_predictions(bundle.task, bundle, logits, labels,
                                              gold_split=bundle.splits()[split], word_index=encoded.word_index)
        assert plain["micro_f1"] == pytest.approx(rec["without"][split]["micro_f1"], abs=1e-9), split
    # the validation split is predicted once (before folding): the saved model's own logits on every validation
    # row are the stored plain logits plus δ
    saved.eval()
    val = pipeline.encode_split(bundle.validation, pipeline.load_tokenizer(), bundle.vocab, max_length=32)
    plain, labels = pipeline.split_logits(z, "validation", len(bundle.validation))
    with torch.no_grad():
        for i, item in enumerate(val.items):
            out = saved(input_ids=torch.tensor([item["input_ids"]]),
                        attention_mask=torch.tensor([item["attention_mask"]])).logits[0].numpy()
            if dataset == "tweetner7":
                pos = np.nonzero(np.asarray(item["labels"]) != -100)[0]
                out, want = out[pos], plain[i, pos] + delta
            else:
                want = plain[i] + delta
            assert np.allclose(out, want, atol=1e-4), i
    card = (tmp_path / "model" / "README.md").read_text()
    assert "decision offsets (`balanced`)" in card and "test macro-F1 without them" in card


@pytest.mark.filterwarnings("ignore:class .*:UserWarning")
def test_a_layer_that_is_not_the_output_layer_is_caught_by_the_fold_check(tmp_path, monkeypatch):
    """The last Linear(..., num_labels) feeds a doubling: δ folded into its bias moves the logits by 2δ, and the run
    says so instead of scoring a model whose logits are not the fitted ones."""
    import hamr.methods.context
    import hamr.pipeline as pipeline
    from conftest import tiny_bert

    class Doubled(nn.Module):
        def forward(self, x):
            return 2 * x

    def load(task, vocab, model=None):
        m = tiny_bert(pipeline.load_tokenizer(), len(vocab), str(task))
        m.classifier = nn.Sequential(m.classifier, Doubled())
        return m

    monkeypatch.setattr(hamr.methods.context, "load_model", load)
    config = pipeline.RunConfig(dataset="humaid_idai19", limit=40, method="erm", max_length=32, epochs=1,
                                batch_size=8, output_dir=str(tmp_path), save_model=False, evaluate_each_epoch=False,
                                decision_offsets="balanced", options={"disable_tqdm": True})
    with pytest.raises(RuntimeError, match="is not its output layer"):
        pipeline.run(config)


def test_decision_offsets_setting_is_validated():
    from hamr.config import RunConfig

    with pytest.raises(ValueError, match="DecisionOffsets"):
        RunConfig(dataset="sst5", decision_offsets="sometimes")


def test_hamr_train_prints_the_scores_without_the_offsets(monkeypatch):
    import io

    from rich.console import Console

    import hamr.cli as cli

    buf = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=buf, width=200))
    split = {"macro_f1": 0.5, "micro_f1": 0.6, "per_class": {}}
    cli._print_metrics({"test": split, "decision_offsets": {"form": "macro_f1", "without": {
        "test": {"macro_f1": 0.4, "micro_f1": 0.61}}}})
    out = buf.getvalue()
    assert "macro-F1 50.0" in out and "without them: macro-F1 40.0 · micro-F1 61.0" in out
    assert "(macro_f1, in the saved model" in out
    buf.truncate(0), buf.seek(0)
    cli._print_metrics({"test": split, "decision_offsets": {"form": "macro_f1", "requested": "auto", "without": {
        "test": {"macro_f1": 0.4, "micro_f1": 0.61}}}})
    assert "with decision offsets (auto: macro_f1, in the saved model; `--decision-offsets none`" in buf.getvalue()
    buf.truncate(0), buf.seek(0)
    cli._print_metrics({"test": split, "decision_offsets": {"form": "none", "requested": "auto",
                                                            "why": "no validation split to fit them on"}})
    assert "decision offsets: none (auto: no validation split to fit them on)" in buf.getvalue()


def test_auto_resolves_to_macro_f1_only_with_validation_rows_and_a_bias():
    from hamr.enums import DecisionOffsets
    from hamr.offsets import resolve_form

    head = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3))
    assert resolve_form("auto", True, head, 3) == (DecisionOffsets.MACRO_F1, None)
    assert resolve_form("auto", False, head, 3) == (DecisionOffsets.NONE, "no validation split to fit them on")
    form, why = resolve_form("auto", True, nn.Sequential(nn.Linear(4, 3, bias=False)), 3)
    assert form == DecisionOffsets.NONE and "no bias" in why and "set decision_offsets" not in why
    # an explicit form is kept as given (its errors come with the fix in the message, later)
    assert resolve_form("balanced", False, None, 3) == (DecisionOffsets.BALANCED, None)
    assert resolve_form(DecisionOffsets.NONE, True, head, 3) == (DecisionOffsets.NONE, None)
    with pytest.raises(ValueError, match="resolve 'auto' first"):
        fit_offsets("auto", TaskType.CLASSIFICATION, np.zeros((2, 3)), np.array([0, 1]), np.ones(3), ["a", "b", "c"])


@pytest.mark.filterwarnings("ignore:class .*:UserWarning")
def test_default_auto_fits_macro_f1_with_validation_and_says_why_not_without(tmp_path, monkeypatch):
    """RunConfig's default (session 29): the macro_f1 offsets when the run has a validation split; without one,
    none, with the reason in metrics.json and the model card (not an error, as an explicit form would be)."""
    import hamr.methods.context
    import hamr.pipeline as pipeline
    from conftest import tiny_bert
    from hamr.data import DataBundle

    monkeypatch.setattr(hamr.methods.context, "load_model", lambda task, vocab, model=None: tiny_bert(
        pipeline.load_tokenizer(), len(vocab), str(task)))
    common = dict(limit=40, method="erm", max_length=32, epochs=1, batch_size=8, save_model=True,
                  evaluate_each_epoch=False, options={"disable_tqdm": True})
    config = pipeline.RunConfig(dataset="sst5", output_dir=str(tmp_path / "with"), **common)
    assert config.decision_offsets.value == "auto"
    rec = pipeline.run(config)["decision_offsets"]
    assert rec["form"] == "macro_f1" and rec["requested"] == "auto"
    assert rec["forms"]["macro_f1"]["offsets"] == rec["offsets"]

    full = pipeline.load_data(pipeline.RunConfig(dataset="sst5", limit=40))
    bundle = DataBundle("no_validation", full.task, full.train, None, full.test)
    out = tmp_path / "without"
    result = pipeline.run(pipeline.RunConfig(data=bundle, output_dir=str(out), **common))
    assert result["decision_offsets"] == {"form": "none", "requested": "auto",
                                          "why": "no validation split to fit them on"}
    assert json.loads((out / "metrics.json").read_text())["decision_offsets"]["form"] == "none"
    assert "decision offsets: none (auto: no validation split" in (out / "model" / "README.md").read_text()
    # an explicit form without validation is refused before any training
    with pytest.raises(ValueError, match=r"decision_offsets=macro_f1 needs a validation split .*auto or none"):
        pipeline.RunConfig(data=bundle, output_dir=str(tmp_path / "explicit"), decision_offsets="macro_f1", **common)
    # files without a validation file are fine: the loader carves one from train
    files = pipeline.RunConfig(train_file="train.tsv", task="classification", decision_offsets="macro_f1",
                               output_dir=str(tmp_path / "files"))
    assert files.decision_offsets.value == "macro_f1"
