"""hamr.fit on lists, DataFrames and datasets.Dataset; FittedModel predict/predict_proba/save/load; the
stratified carve; prepare_hamr_data for HAMRTrainer users; the quiet switch of the progress bars."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

import hamr
from hamr.api import FittedModel, prepare_hamr_data, stratified_validation, to_split
from hamr.data import DataError, Split
from hamr.enums import TaskType

WORDS = {0: ["flood", "river", "water", "rain"], 1: ["food", "rice", "hungry", "meal"], 2: ["hello", "music", "game"]}


def _texts(n, seed=0, weights=(0.6, 0.3, 0.1)):
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=n, p=weights)
    texts = [" ".join(rng.choice(WORDS[int(y)], size=4)) for y in labels]
    return texts, [int(y) for y in labels]




def test_fit_predict_save_load_round_trip_with_integer_labels(tiny_models, tmp_path):
    texts, labels = _texts(80)
    test = _texts(12, seed=1)
    clf = hamr.fit(train=(texts, labels), test=test, method="icf", epochs=1, max_length=16, learning_rate=2e-3,
                   disable_tqdm=True, logging_steps=100, quiet=True)
    assert clf.classes_ == [0, 1, 2] and clf.task == TaskType.CLASSIFICATION
    assert clf.metrics_["method"] == "icf" and clf.metrics_["train_examples"] == 72  # 8 carved for validation
    assert clf.metrics_["test_examples"] == 12
    probs = clf.predict_proba(test[0])
    assert probs.shape == (12, 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    pred = clf.predict(test[0])
    assert pred == [clf.classes_[i] for i in probs.argmax(1)] and all(isinstance(p, int) for p in pred)
    clf.save(tmp_path / "saved")
    assert (tmp_path / "saved" / "README.md").read_text().startswith("---\nlibrary_name: transformers")
    again = FittedModel.load(tmp_path / "saved", quiet=True)
    assert again.classes_ == [0, 1, 2] and again.metrics_ is None
    np.testing.assert_allclose(again.predict_proba(test[0]), probs, atol=1e-6)
    assert again.predict(test[0]) == pred
    with pytest.raises(TypeError, match="list of texts"):
        clf.predict("one string")


def test_fit_on_a_dataframe_and_a_dataset_with_their_own_column_names(tiny_models, tmp_path):
    import datasets
    import pandas as pd

    texts, labels = _texts(60)
    names = ["flood", "food", "other"]
    frame = pd.DataFrame({"tweet_body": texts, "category": [names[y] for y in labels]})
    val = pd.DataFrame({"tweet_body": texts[:9], "category": [names[y] for y in labels[:9]]})
    clf = hamr.fit(train=frame, validation=val, method="erm", text_column="tweet_body", label_column="category",
                   epochs=1, max_length=16, output_dir=tmp_path / "run", disable_tqdm=True, quiet=True)
    assert clf.classes_ == ["flood", "food", "other"]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["validation"]["per_class"].keys() == set(names)
    assert set(clf.predict(texts[:5])) <= set(names)

    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "y": datasets.ClassLabel(names=names)})
    ds = datasets.Dataset.from_dict({"sentence": texts, "y": labels}, features=features)
    split = to_split(ds, "train", text_column="sentence", label_column="y")
    assert split.labels[:5] == [names[y] for y in labels[:5]]  # ClassLabel names, not ids
    with pytest.raises(DataError, match=r"train data: no column\(s\) 'text'.*sentence, y"):
        to_split(ds, "train")
    with pytest.raises(DataError, match=r"validation row 1: empty label"):
        to_split((["a", "b"], ["x", " "]), "validation")


def test_fit_ner_takes_token_lists_and_returns_tag_lists(tiny_models):
    sents = [["Maria", "lives", "in", "Beira"], ["rain", "in", "Dondo"], ["Joao", "left"]] * 8
    tags = [["B-PER", "O", "O", "B-LOC"], ["O", "O", "B-LOC"], ["B-PER", "O"]] * 8
    ner = hamr.fit(train=(sents, tags), validation=(sents[:6], tags[:6]), method="erm", epochs=1, max_length=16,
                   disable_tqdm=True, quiet=True)
    assert ner.task == TaskType.NER and ner.classes_ == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    out = ner.predict([["Maria", "in", "Beira"], ["rain"]])
    assert [len(t) for t in out] == [3, 1] and all(t in ner.classes_ for row in out for t in row)
    probs = ner.predict_proba([["Maria", "in", "Beira"]])
    assert probs[0].shape == (3, 5)
    np.testing.assert_allclose(probs[0].sum(-1), 1.0, atol=1e-6)
    with pytest.raises(TypeError, match="NER model"):
        ner.predict(["Maria in Beira"])


def test_stratified_carve_keeps_every_class_in_train_and_its_proportions():
    labels = ["a"] * 70 + ["b"] * 25 + ["c"] * 4 + ["d"]
    split = Split("train", TaskType.CLASSIFICATION, labels, texts=[f"t{i}" for i in range(100)])
    train, val = stratified_validation(split, 0.2, seed=3)
    assert len(train) + len(val) == 100 and not set(train.texts) & set(val.texts)
    tc, vc = Counter(train.labels), Counter(val.labels)
    assert set(tc) == {"a", "b", "c", "d"}  # every class keeps a training example; "d" (one example) stays
    assert vc["d"] == 0 and vc["a"] == 14 and vc["b"] == 5 and vc["c"] == 1
    again = stratified_validation(split, 0.2, seed=3)[1]
    assert again.texts == val.texts  # seeded


def test_prepare_hamr_data_builds_the_balanced_meta_set(tokenizer):
    texts, labels = _texts(200, seed=4, weights=(0.8, 0.15, 0.05))
    val_texts, val_labels = _texts(40, seed=5, weights=(0.8, 0.15, 0.05))
    data = prepare_hamr_data((texts, labels), (val_texts, val_labels), tokenizer, max_length=16)
    before = Counter(str(y) for y in val_labels)
    target = sorted(before.values())[1]
    meta_counts = Counter(data.vocab.labels[it["labels"]] for it in data.meta_dataset)
    assert len(data.meta_dataset) == len(val_texts) + len(data.meta.train_indices_added)
    for c in ("0", "1", "2"):
        assert meta_counts[c] == max(before[c], target)  # every class lifted to the median validation count
    kw = data.trainer_kwargs()
    assert len(kw["train_dataset"]) == len(kw["train_texts"]) == 200 and kw["group_names"] == ["0", "1", "2"]
    assert kw["train_dataset"][7]["example_index"] == 7


def test_progress_bars_follow_the_quiet_switch(capsys, monkeypatch):
    from hamr.progress import progress

    assert list(progress(range(3), desc="x", quiet=False)) == [0, 1, 2]
    assert "x:" in capsys.readouterr().err  # a bar was drawn (and cleared: leave=False)
    list(progress(range(3), desc="y", quiet=True))
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("HAMR_QUIET", "1")
    list(progress(range(3), desc="z"))
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_fit_with_the_default_method_hamr_trains_through_the_meta_set(tiny_models, tmp_path):
    texts, labels = _texts(64, seed=6)
    clf = hamr.fit(train=(texts, labels), epochs=1, max_length=16, output_dir=tmp_path, disable_tqdm=True,
                   logging_steps=100, quiet=True)  # method="hamr": kNN embeddings with the packaged MiniLM
    assert clf.metrics_["method"] == "hamr" and "embedding_seconds" in clf.metrics_
    assert (tmp_path / "hamr_diagnostics.jsonl").exists() and (tmp_path / "model" / "README.md").exists()
    card = (tmp_path / "model" / "README.md").read_text()
    assert "- method settings: " in card and "`meta_interval=" in card  # HAMR's own fields, as run
    assert len(clf.predict(texts[:3])) == 3
