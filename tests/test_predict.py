"""`hamr predict` and hamr.predict: values of the probabilities, labels and spans on every input format, the
errors a new user meets first, probabilities in test_predictions.tsv, the model card, transformers.pipeline()."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import tiny_bert
from hamr import pipeline
from hamr.cli import app
from hamr.data import DataError
from hamr.enums import TaskType
from hamr.modelcard import read_model_info, write_model_info
from hamr.predict import ModelDirError, Predictor, entity_spans, predict_file, read_input, softmax

runner = CliRunner()
CLASSES = ["flood", "food", "other"]
TAGS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
TEXTS = ["the river burst its banks", "we need water and rice", "thoughts are with everyone today",
         "roads closed near the bridge after heavy rain all night long in the north of the city"]


def _save(model, tokenizer, path, task, labels, max_length=32):
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {lab: i for i, lab in enumerate(labels)}
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    write_model_info(path, task=task, labels=labels, max_length=max_length, method="erm")
    return path


@pytest.fixture(scope="module")
def clf_dir(tokenizer, tmp_path_factory):
    return _save(tiny_bert(tokenizer, 3, seed=1), tokenizer, tmp_path_factory.mktemp("clf"),
                 TaskType.CLASSIFICATION, CLASSES)


@pytest.fixture(scope="module")
def ner_dir(tokenizer, tmp_path_factory):
    return _save(tiny_bert(tokenizer, len(TAGS), "ner", seed=2), tokenizer, tmp_path_factory.mktemp("ner"),
                 TaskType.NER, TAGS)


def _direct_probs(model_dir, text, max_length=32):
    """One text, no batching or padding: the reference the batched predictor must match."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
    with torch.no_grad():
        logits = model(**tok(text, truncation=True, max_length=max_length, return_tensors="pt")).logits[0]
    return torch.softmax(logits.double(), -1).numpy()


def test_softmax_rows_sum_to_one_and_survive_large_logits():
    p = softmax(np.array([[1000.0, 1000.0, -1000.0], [0.0, math.log(3.0), 0.0]]))
    np.testing.assert_allclose(p, [[0.5, 0.5, 0.0], [0.2, 0.6, 0.2]], atol=1e-12)


def test_entity_spans_follow_iob2_and_score_by_mean_and_min():
    tags = ["B-LOC", "I-LOC", "O", "I-PER", "B-PER", "B-PER", "I-LOC"]
    probs = [0.9, 0.5, 0.99, 0.6, 0.8, 0.7, 0.4]
    spans = entity_spans(tags, probs)
    assert [(s["type"], s["start"], s["end"]) for s in spans] == [
        ("LOC", 0, 2), ("PER", 3, 4), ("PER", 4, 5), ("PER", 5, 6), ("LOC", 6, 7)]
    assert spans[0]["score"] == pytest.approx(0.7) and spans[0]["min_score"] == pytest.approx(0.5)
    assert spans[1]["score"] == pytest.approx(0.6)
    assert entity_spans(["O", "O"]) == []


def test_predict_csv_probabilities_are_the_models_and_labels_their_argmax(clf_dir, tmp_path):
    src = tmp_path / "in.csv"
    with open(src, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["post", "body", "label"])
        for i, t in enumerate(TEXTS):
            w.writerow([f"p{i}", t, CLASSES[i % 3]])
    result = predict_file(clf_dir, src, tmp_path / "out.csv", text_column="body", id_column="post", batch_size=3)
    rows = list(csv.DictReader(open(tmp_path / "out.csv")))
    assert [r["id"] for r in rows] == ["p0", "p1", "p2", "p3"]
    assert [r["source"] for r in rows] == [f"{src}:{i}" for i in (2, 3, 4, 5)]
    assert [r["gold"] for r in rows] == ["flood", "food", "other", "flood"]
    for text, row in zip(TEXTS, rows):
        p = np.array([float(row[f"p:{c}"]) for c in CLASSES])
        assert p.sum() == pytest.approx(1.0, abs=1e-5)
        assert row["label"] == CLASSES[int(p.argmax())]
        assert float(row["probability"]) == pytest.approx(p.max(), abs=1e-6)
        np.testing.assert_allclose(p, _direct_probs(clf_dir, text), atol=1e-5)  # batching and padding change nothing
    summary = result.summary()
    assert sum(summary["predicted_counts"].values()) == 4 and "gold" in summary
    assert summary["max_length"] == 32 and summary["truncated"] == 0  # the max length of hamr.json


def test_predict_jsonl_and_text_inputs_give_the_same_values(clf_dir, tmp_path):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"text": t, "id": i}) + "\n" for i, t in enumerate(TEXTS)))
    (tmp_path / "in.txt").write_text(TEXTS[0] + "\n\n" + "\n".join(TEXTS[1:]) + "\n")
    a = predict_file(clf_dir, tmp_path / "in.jsonl", tmp_path / "a.jsonl")
    b = predict_file(clf_dir, tmp_path / "in.txt", tmp_path / "b.tsv", max_length=8)
    assert b.input.sources == [f"{tmp_path / 'in.txt'}:{n}" for n in (1, 3, 4, 5)]  # the blank line is no example
    out = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [o["id"] for o in out] == ["0", "1", "2", "3"] and "gold" not in out[0]
    for o in out:
        assert sum(o["probabilities"].values()) == pytest.approx(1.0)
        assert o["label"] == max(o["probabilities"], key=o["probabilities"].get)
    # max_length 8 truncates the long texts: counted, and their probabilities differ from the full ones
    assert b.num_truncated == 1
    np.testing.assert_allclose(np.array(a.probabilities[:3]), np.array(b.probabilities[:3]), atol=1e-5)
    np.testing.assert_allclose(b.probabilities[3], _direct_probs(clf_dir, TEXTS[3], max_length=8), atol=1e-6)
    np.testing.assert_allclose(a.probabilities[3], _direct_probs(clf_dir, TEXTS[3], max_length=32), atol=1e-6)
    assert np.abs(a.probabilities[3] - b.probabilities[3]).max() > 1e-6
    rows = list(csv.DictReader(open(tmp_path / "b.tsv"), delimiter="\t"))
    assert len(rows) == 4 and "text" not in rows[0]  # no text unless asked


def test_predict_ner_on_conll_jsonl_and_text_tags_are_argmax_and_spans_match_tags(ner_dir, tmp_path):
    sents = [["Maria", "lives", "in", "New", "York"], ["rain", "in", "Beira", "again"]]
    gold = [["B-PER", "O", "O", "B-LOC", "I-LOC"], ["O", "O", "B-LOC", "O"]]
    (tmp_path / "g.conll").write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(s, g))
                                                  for s, g in zip(sents, gold)) + "\n")
    (tmp_path / "plain.conll").write_text("\n\n".join("\n".join(s) for s in sents) + "\n")
    (tmp_path / "s.jsonl").write_text("".join(json.dumps({"tokens": s}) + "\n" for s in sents))
    (tmp_path / "s.txt").write_text("\n".join(" ".join(s) for s in sents) + "\n")
    results = {name: predict_file(ner_dir, tmp_path / name, tmp_path / f"{name}.out.jsonl")
               for name in ("g.conll", "plain.conll", "s.jsonl", "s.txt")}
    assert results["g.conll"].input.gold == gold and results["plain.conll"].input.gold is None
    assert "gold" in results["g.conll"].summary()
    ref = results["g.conll"]
    for res in results.values():
        assert res.predicted == ref.predicted
        for probs, tags, spans in zip(res.probabilities, res.predicted, res.spans):
            np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-6)
            assert tags == [TAGS[int(r.argmax())] for r in probs]
            assert spans == entity_spans(tags, probs.max(-1).tolist())
    rows = [json.loads(line) for line in (tmp_path / "s.txt.out.jsonl").read_text().splitlines()]
    assert [len(r["tags"]) for r in rows] == [5, 4] and len(rows[0]["probabilities"]) == 5
    for r in rows:
        for s in r["spans"]:
            assert s["score"] == pytest.approx(np.mean(r["probabilities"][s["start"]:s["end"]]))
            assert r["tags"][s["start"]][2:] == s["type"]


def test_ner_words_cut_off_by_max_length_are_o_without_probability(ner_dir):
    pred = Predictor(ner_dir, max_length=6, quiet=True)
    probs = pred.predict_words([["a", "b", "c", "d", "e", "f", "g"], ["short"]])
    assert np.isnan(probs[0][4:]).all() and not np.isnan(probs[0][:4]).any()  # [CLS] + 4 words + [SEP]
    assert pred.num_truncated == 1


def test_clear_errors_for_a_missing_model_empty_input_and_missing_column(clf_dir, tmp_path):
    with pytest.raises(ModelDirError, match="no such model folder"):
        Predictor(tmp_path / "nope")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ModelDirError, match="no config.json"):
        Predictor(tmp_path / "empty_dir")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(DataError, match="empty.txt: no text lines"):
        read_input(tmp_path / "empty.txt", "classification")
    (tmp_path / "header_only.csv").write_text("text,label\n")
    with pytest.raises(DataError, match="header_only.csv: no examples"):
        read_input(tmp_path / "header_only.csv", "classification")
    (tmp_path / "cols.csv").write_text("tweet,category\nhello,a\n")
    with pytest.raises(DataError, match=r"cols.csv:1: no text column 'text'.*tweet, category"):
        read_input(tmp_path / "cols.csv", "classification")
    with pytest.raises(DataError, match=r"cols.csv:1: no label column 'gold'"):
        read_input(tmp_path / "cols.csv", "classification", text_column="tweet", label_column="gold")
    with pytest.raises(DataError, match="suffix"):
        predict_file(clf_dir, tmp_path / "cols.csv", tmp_path / "out.xlsx", text_column="tweet")


def test_cli_predict_prints_counts_and_names_the_missing_column(clf_dir, tmp_path):
    (tmp_path / "in.csv").write_text("body\n" + "\n".join(TEXTS) + "\n")
    r = runner.invoke(app, ["predict", str(clf_dir), str(tmp_path / "in.csv"), "--out", str(tmp_path / "o.csv"),
                            "--text-column", "body", "--device", "cpu", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "4 examples" in r.output and "0 of 4 truncated" in r.output
    assert len(list(csv.DictReader(open(tmp_path / "o.csv")))) == 4
    r = runner.invoke(app, ["predict", str(clf_dir), str(tmp_path / "in.csv"), "--out", str(tmp_path / "o.csv")])
    assert r.exit_code == 2 and "no text column 'text'" in r.output and "in.csv" in r.output


def test_saved_model_works_in_transformers_pipeline_with_real_label_names(clf_dir):
    from transformers import pipeline as hf_pipeline

    pipe = hf_pipeline("text-classification", model=str(clf_dir), device="cpu")
    out = pipe(TEXTS[:2], top_k=None)
    probs = Predictor(clf_dir, quiet=True).predict_proba(TEXTS[:2])
    for row, p in zip(out, probs):
        assert {d["label"] for d in row} == set(CLASSES)
        got = {d["label"]: d["score"] for d in row}
        np.testing.assert_allclose([got[c] for c in CLASSES], p, atol=1e-5)




def _card_pct(x):
    return f"{100 * x:.1f}"


def test_run_writes_probabilities_in_test_predictions_and_a_model_card_matching_metrics(tiny_models, tmp_path):
    import yaml

    pipeline.run(pipeline.RunConfig(
        dataset="humaid_idai19", limit=40, epochs=1, batch_size=16, max_length=32, output_dir=str(tmp_path),
        evaluate_each_epoch=False, options={"disable_tqdm": True, "logging_steps": 100},
    ))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    rows = list(csv.DictReader(open(tmp_path / "test_predictions.tsv"), delimiter="\t", quoting=csv.QUOTE_NONE))
    labels = read_model_info(tmp_path / "model")["labels"]
    assert list(rows[0])[:4] == ["index", "id", "gold", "predicted"]  # the old columns first, unchanged
    assert len(rows) == 40
    for r in rows:
        p = np.array([float(r[f"p:{lab}"]) for lab in labels])
        assert p.sum() == pytest.approx(1.0, abs=1e-4) and r["predicted"] == labels[int(p.argmax())]
        assert float(r["probability"]) == pytest.approx(p.max(), abs=1e-6)
    # the saved model reproduces the file's probabilities
    pred = Predictor(tmp_path / "model", quiet=True)
    assert pred.max_length == 32
    from hamr.data import load_benchmark

    test = load_benchmark("humaid_idai19", limit=40).test
    np.testing.assert_allclose(pred.predict_proba(test.texts[:5]),
                               [[float(r[f"p:{lab}"]) for lab in labels] for r in rows[:5]], atol=1e-5)

    card = (tmp_path / "model" / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["library_name"] == "transformers" and front["pipeline_tag"] == "text-classification"
    assert "hamr" in front["tags"] and front["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    for lab, v in metrics["test"]["per_class"].items():
        val = metrics["validation"]["per_class"][lab]["f1"]
        assert (f"| {lab} | {_card_pct(v['precision'])} | {_card_pct(v['recall'])} | {_card_pct(v['f1'])} | "
                f"{v['support']} | {_card_pct(val)} |") in card
    assert f"test: macro-F1 **{_card_pct(metrics['test']['macro_f1'])}**" in card
    assert f"max length 32 tokens, seed {metrics['seed']}" in card
    assert f"test {metrics['truncated']['test']} of 40" in card
    assert "HumAID terms of use" in card
    test_texts = set(test.texts)
    assert not any(line.strip() in test_texts for line in card.splitlines())  # no data text in the card


def test_ner_run_writes_one_probability_per_predicted_tag(tiny_models, tmp_path):
    pipeline.run(pipeline.RunConfig(
        dataset="tweetner7", limit=24, epochs=1, batch_size=8, max_length=32, output_dir=str(tmp_path),
        evaluate_each_epoch=False, options={"disable_tqdm": True, "logging_steps": 100},
    ))
    rows = list(csv.DictReader(open(tmp_path / "test_predictions.tsv"), delimiter="\t", quoting=csv.QUOTE_NONE))
    assert len(rows) == 24
    cut = 0
    for r in rows:
        probs = [float(x) for x in r["probabilities"].split()]
        tags = r["predicted"].split()
        assert len(probs) == len(tags) == len(r["gold"].split())  # one per word of the sentence
        for x, tag in zip(probs, tags):
            if math.isnan(x):  # a word cut off by max_length (or without sub-tokens) is predicted O
                cut += 1
                assert tag == "O"
            else:
                assert 1 / 15 <= x <= 1.0  # the arg-max of 15 tags is at least 1/15
    assert cut > 0  # max_length 32 cuts some TweetNER7 sentences, so the case above is exercised
    card = (tmp_path / "model" / "README.md").read_text()
    assert "pipeline_tag: token-classification" in card and '"tner/tweetner7"' in card
