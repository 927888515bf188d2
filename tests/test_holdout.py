"""Honest validation (issue 22): the held-out half of validation, stratified, fixed, never in the meta set."""

from __future__ import annotations

import json

import pytest

from hamr.data import load_benchmark
from hamr.enums import TaskType
from hamr.holdout import split_validation, validation_groups
from hamr.data.types import Split


def _cls_split(labels):
    return Split("validation", TaskType.CLASSIFICATION, list(labels), texts=[f"t{i}" for i in range(len(labels))])


def test_stratified_disjoint_complete_and_fixed():
    labels = ["a"] * 10 + ["b"] * 4 + ["c"] * 3 + ["d"] * 1 + ["e"] * 3
    split = _cls_split(labels)
    h = split_validation(split, 0.5, seed=0)
    assert sorted(h.meta_indices + h.heldout_indices) == list(range(len(labels)))
    assert not set(h.meta_indices) & set(h.heldout_indices)
    held = [labels[i] for i in h.heldout_indices]
    assert held.count("a") == 5 and held.count("b") == 2
    # odd classes in sorted order c, d, e: floor(1.5)=1, floor(0.5)=0, floor(1.5)=1, the extra example alternating
    # from one odd class to the next (c: none, d: one, e: none)
    assert [held.count(k) for k in "cde"] == [1, 1, 1]
    assert split_validation(split, 0.5, seed=0) == h  # fixed by its seed, not the run's
    assert split_validation(split, 0.5, seed=1).heldout_indices != h.heldout_indices


def test_ner_strata_are_the_rarest_entity_type():
    bundle = load_benchmark("tweetner7", limit={"train": 8, "validation": 60, "test": 4})
    groups = validation_groups(bundle.validation)
    counts = bundle.validation.label_counts()
    for g, tags in zip(groups, bundle.validation.labels):
        types = {t[2:] for t in tags if t != "O"}
        assert (g == "O") == (not types)
        if types:
            assert counts[g] == min(counts[t] for t in types)
    h = split_validation(bundle.validation, 0.5, seed=0)
    assert abs(len(h.heldout_indices) - 30) <= len(set(groups))


def test_bad_fraction_is_refused():
    with pytest.raises(ValueError, match="validation_holdout"):
        split_validation(_cls_split(["a", "b"]), 1.0)


@pytest.mark.filterwarnings("ignore:class .*:UserWarning")
@pytest.mark.parametrize("dataset", ["humaid_idai19", "tweetner7"])
def test_pipeline_scores_the_heldout_half_and_keeps_it_out_of_the_meta_set(dataset, tmp_path, monkeypatch):
    """A whole pipeline run (tiny model): validation_heldout in metrics.json, the meta set built from the other
    half (its validation rows are exactly the meta half's)."""
    import hamr.embeddings
    import hamr.metaset
    import hamr.methods.context
    import hamr.pipeline as pipeline
    from conftest import random_embeddings, tiny_bert

    seen = {}
    real_build = hamr.metaset.build_meta_set

    def spy(train, validation, **kw):
        seen["validation"] = validation
        return real_build(train, validation, **kw)

    monkeypatch.setattr(hamr.metaset, "build_meta_set", spy)
    monkeypatch.setattr(hamr.embeddings, "embed_texts", lambda texts, *a, **k: random_embeddings(len(texts)))
    monkeypatch.setattr(hamr.methods.context, "load_model", lambda task, vocab, model=None: tiny_bert(
        pipeline.load_tokenizer(), len(vocab), str(task)))
    config = pipeline.RunConfig(dataset=dataset, limit=40, method="hamr", max_length=32, epochs=1,
                                batch_size=8, output_dir=str(tmp_path), save_model=False, evaluate_each_epoch=False,
                                options={"disable_tqdm": True})
    result = pipeline.run(config)
    bundle = pipeline.load_data(config)
    h = split_validation(bundle.validation, 0.5, 0)
    assert seen["validation"].all_texts() == [bundle.validation.text(i) for i in h.meta_indices]
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["validation_holdout"]["heldout_examples"] == len(h.heldout_indices)
    for key in ("validation", "validation_heldout", "validation_meta_half"):
        assert 0.0 <= m[key]["macro_f1"] <= 1.0
    if dataset == "humaid_idai19":
        n_held = sum(v["support"] for v in m["validation_heldout"]["per_class"].values())
        assert n_held == len(h.heldout_indices)
    else:  # entity mentions of the held-out sentences
        held = bundle.validation.subset(h.heldout_indices).label_counts()
        assert {k: v["support"] for k, v in m["validation_heldout"]["per_type"].items() if v["support"]} == held
    assert result["meta_validation_examples"] == len(h.meta_indices)
