"""The balanced meta set (method.md §3)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from hamr.data import Split
from hamr.enums import TaskType
from hamr.metaset import build_meta_set

IDAI = Path("/work/shared/datasets/humaid_idai19")


def _idai_splits() -> tuple[Split, Split]:
    if not IDAI.is_dir():
        pytest.skip(f"{IDAI} is not available")
    try:
        from hamr.data import load_benchmark
    except ImportError:
        load_benchmark = None
    if load_benchmark is not None:
        bundle = load_benchmark("humaid_idai19")
        return bundle.train, bundle.validation
    out = []
    for name in ("train", "dev"):
        rows = (IDAI / f"cyclone_idai_2019_{name}.tsv").read_text(encoding="utf-8").splitlines()[1:]
        cells = [r.split("\t") for r in rows]
        out.append(Split(name, TaskType.CLASSIFICATION, [c[2] for c in cells], texts=[c[1] for c in cells]))
    return out[0], out[1]


def test_idai19_meta_set_reaches_the_median_without_stripping_train() -> None:
    train, validation = _idai_splits()
    n_train = len(train)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        meta = build_meta_set(train, validation, seed=42)
    small = "class 'missing_or_found_people' has only 13 training examples"
    assert any(small in str(w.message) and w.category is UserWarning for w in caught)
    assert any(small in w for w in meta.warnings)
    assert meta.target == 36  # validation counts 2 6 8 9 15 36 41 44 49 191: upper middle of ten
    assert len(train) == n_train and meta.train is None
    train_counts = train.label_counts()
    for c, before in meta.counts_before.items():
        assert meta.counts_after[c] == max(before, min(meta.target, before + train_counts[c]))
    assert meta.counts_after["missing_or_found_people"] == 15  # 2 + all 13
    added = meta.train_indices_added
    assert len(set(added)) == len(added) == len(meta.split) - len(validation)
    assert meta.split.name == "meta"
    assert meta.split.labels[: len(validation)] == validation.labels
    assert meta.split.texts[len(validation) :] == [train.texts[i] for i in added]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert build_meta_set(train, validation, seed=42).train_indices_added == added
        assert build_meta_set(train, validation, seed=43).train_indices_added != added


def test_idai19_strip_from_train_warns_loudly() -> None:
    train, validation = _idai_splits()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        meta = build_meta_set(train, validation, strip_from_train=True)
    assert meta.train is not None and len(meta.train) == len(train) - len(meta.train_indices_added)
    assert "missing_or_found_people" not in meta.train.label_counts()
    assert meta.train_kept_indices == sorted(set(range(len(train))) - set(meta.train_indices_added))
    assert any("removes ALL 13" in str(w.message) for w in caught)


def _ner(name: str, rows: list[list[str]]) -> Split:
    return Split(name, TaskType.NER, rows, tokens=[[f"w{j}" for j in range(len(r))] for r in rows])


def test_ner_greedy_by_deficit() -> None:
    # Validation mentions: A 5, B 1, C 3 -> median 3; B is 2 short.
    validation = _ner(
        "validation", [["B-A", "B-A", "B-A"], ["B-A", "I-A", "O", "B-A"], ["B-B", "B-C", "B-C", "B-C"]]
    )
    train = _ner(
        "train",
        [
            ["B-B", "O"],  # fills 1 of B's deficit
            ["B-B", "O", "B-B", "B-A"],  # fills 2: picked first
            ["O", "O"],
            ["B-C", "I-C"],
        ],
    )
    with pytest.warns(UserWarning, match="training entity mentions"):
        meta = build_meta_set(train, validation, seed=0)
    assert meta.target == 3
    assert meta.train_indices_added == [1]
    assert meta.counts_after == {"A": 6, "B": 3, "C": 3}
    assert meta.split.tokens[-1] == train.tokens[1]


def test_ner_seeded_ties_and_exhaustion() -> None:
    # A: 4, B: 0, C: 4, D: 1 -> sorted 0 1 4 4, upper middle 4. Four equally good B sentences.
    validation = _ner("validation", [["B-A"] * 4, ["B-C"] * 4, ["B-D"]])
    train = _ner("train", [["B-B"], ["O", "B-B"], ["B-B", "O"], ["O", "B-B", "O"], ["B-A"], ["B-D"]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metas = [build_meta_set(train, validation, seed=s) for s in (1, 1, 2, 3, 4, 5)]
    assert metas[0].train_indices_added == metas[1].train_indices_added
    assert sorted(metas[0].train_indices_added) == [0, 1, 2, 3, 5]  # every B sentence, then the only D
    assert len({tuple(m.train_indices_added[:4]) for m in metas}) > 1  # the order of the ties is seeded
    assert metas[0].counts_after == {"A": 4, "B": 4, "C": 4, "D": 2}
    assert any("'D' stays below" in w for w in metas[0].warnings)


def test_classification_upper_median_and_copy_semantics() -> None:
    val_labels = ["a"] * 1 + ["b"] * 2 + ["c"] * 3 + ["d"] * 4
    validation = Split("validation", TaskType.CLASSIFICATION, val_labels, texts=list("abcdefghij"))
    train_labels = ["a"] * 30 + ["b"] * 30 + ["c"] * 30 + ["d"] * 30
    train = Split("train", TaskType.CLASSIFICATION, train_labels, texts=[str(i) for i in range(120)])
    meta = build_meta_set(train, validation, seed=5)
    assert meta.target == 3 and meta.warnings == []
    assert meta.counts_after == {"a": 3, "b": 3, "c": 3, "d": 4}
    assert all(train.labels[i] in ("a", "b") for i in meta.train_indices_added)
    assert len(train) == 120
