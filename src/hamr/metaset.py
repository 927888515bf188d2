"""The balanced meta set M of method.md §3.

M is the whole validation split plus training examples of under-represented classes:

- classification: per-class validation counts; the target is their median (with an even number of classes
  the upper middle value); every class below it gets training examples of that class, drawn at random
  without replacement (``numpy.random.default_rng(seed)``, classes visited in label order), until it
  reaches the target or its training examples run out;
- NER: the same with entity mentions per type (:meth:`Split.label_counts`); training sentences are added
  greedily: take the type with the largest remaining deficit (ties: label order), among the unused training
  sentences that mention it pick the one that fills the most remaining deficit over all types
  (Σ_t min(mentions_t, deficit_t); ties broken at random with the seeded generator), add it, update all
  counts, repeat until no type is below the target or no sentence mentions the types still below it.

The classes considered are those of the training and the validation split together (a class absent from
validation counts 0 there). By default the examples are *copied*: the training split is unchanged, so the
meta set overlaps the training set. ``strip_from_train=True`` reproduces the reference script, which moves
them out of train (on Cyclone-Idai19 that removes all 13 training examples of ``missing_or_found_people``);
it returns the reduced training split and warns when a class loses half or more of its training examples.
A warning also names every class with fewer than ``min_train_examples`` training examples (NER: mentions).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .data.types import DataError, Split, _label_sort_key, entity_types_of
from .enums import TaskType


@dataclass
class MetaSet:
    """The meta split and how it was built.

    ``counts_before``/``counts_after``: per-class counts (NER: entity mentions per type) of the validation
    split and of the meta split. ``train`` / ``train_kept_indices`` are only set with
    ``strip_from_train=True``: the reduced training split and, for each of its rows, its original index.
    """

    split: Split
    train_indices_added: list[int]
    target: int
    counts_before: dict[str, int]
    counts_after: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    train: Split | None = None
    train_kept_indices: list[int] | None = None


def _median_upper(counts: dict[str, int]) -> int:
    values = sorted(counts.values())
    return values[len(values) // 2]


def _draw_classification(
    train: Split, before: dict[str, int], target: int, rng: np.random.Generator
) -> list[int]:
    by_class: dict[str, list[int]] = {}
    for i, y in enumerate(train.labels):
        by_class.setdefault(y, []).append(i)
    added: list[int] = []
    for c in before:  # already in label order
        deficit = target - before[c]
        pool = by_class.get(c, [])
        take = min(max(deficit, 0), len(pool))
        if take:
            added.extend(sorted(int(i) for i in rng.choice(pool, size=take, replace=False)))
    return added


def _draw_ner(train: Split, before: dict[str, int], target: int, rng: np.random.Generator) -> list[int]:
    types = list(before)
    col = {t: j for j, t in enumerate(types)}
    mentions = np.zeros((len(train), len(types)), dtype=np.int64)
    for i, tags in enumerate(train.labels):
        for t in entity_types_of(tags):
            mentions[i, col[t]] += 1
    counts = np.array([before[t] for t in types], dtype=np.int64)
    used = np.zeros(len(train), dtype=bool)
    exhausted = np.zeros(len(types), dtype=bool)
    added: list[int] = []
    while True:
        deficit = np.maximum(target - counts, 0)
        open_deficit = np.where(exhausted, 0, deficit)
        if open_deficit.max() <= 0:
            return added
        t = int(np.argmax(open_deficit))  # the largest deficit, ties to the first type in label order
        cand = np.flatnonzero((mentions[:, t] > 0) & ~used)
        if cand.size == 0:
            exhausted[t] = True
            continue
        gain = np.minimum(mentions[cand], deficit).sum(axis=1)
        pick = int(rng.choice(cand[gain == gain.max()]))
        used[pick] = True
        counts += mentions[pick]
        added.append(pick)


def _concat(a: Split, b: Split, name: str) -> Split:
    """``a`` followed by ``b`` as one split; locations always kept (file:line or split/example)."""
    both = lambda xs, ys: None if xs is None or ys is None else list(xs) + list(ys)  # noqa: E731
    return Split(
        name=name,
        task=a.task,
        labels=list(a.labels) + list(b.labels),
        texts=both(a.texts, b.texts),
        tokens=both(a.tokens, b.tokens),
        locations=[a.where(i) for i in range(len(a))] + [b.where(i) for i in range(len(b))],
        ids=both(a.ids, b.ids),
    )


def build_meta_set(
    train: Split,
    validation: Split,
    *,
    seed: int = 42,
    strip_from_train: bool = False,
    min_train_examples: int = 20,
) -> MetaSet:
    """Build the balanced meta set (see the module docstring); warnings go to ``warnings.warn`` and
    ``MetaSet.warnings``."""
    if train.task != validation.task:
        raise DataError(f"build_meta_set: train is {train.task} but validation is {validation.task}")
    if len(validation) == 0:
        raise DataError("build_meta_set: the validation split is empty")
    train_counts = train.label_counts()
    val_counts = validation.label_counts()
    classes = sorted(set(train_counts) | set(val_counts), key=_label_sort_key)
    if not classes:
        raise DataError("build_meta_set: neither split has any label (NER: any entity)")
    before = {c: val_counts.get(c, 0) for c in classes}
    target = _median_upper(before)
    rng = np.random.default_rng(seed)
    if train.task == TaskType.CLASSIFICATION:
        added = _draw_classification(train, before, target, rng)
    else:
        added = _draw_ner(train, before, target, rng)

    meta = _concat(validation, train.subset(added), name="meta")
    after = {c: meta.label_counts().get(c, 0) for c in classes}
    unit = "examples" if train.task == TaskType.CLASSIFICATION else "entity mentions"
    messages: list[str] = []
    for c in classes:
        if train_counts.get(c, 0) < min_train_examples:
            messages.append(
                f"class {c!r} has only {train_counts.get(c, 0)} training {unit} (< {min_train_examples}); "
                "results on it are fragile"
                + ("" if strip_from_train else ", and the meta set copies them (meta and train overlap)")
            )
        if after[c] < target:
            messages.append(
                f"class {c!r} stays below the meta-set target {target}: {after[c]} {unit} after using every "
                "training example that has it"
            )

    result = MetaSet(meta, added, target, before, after, messages)
    if strip_from_train:
        kept = sorted(set(range(len(train))) - set(added))
        reduced = train.subset(kept)
        reduced_counts = reduced.label_counts()
        for c in classes:
            n_before, n_after = train_counts.get(c, 0), reduced_counts.get(c, 0)
            if n_before and n_after == 0:
                messages.append(
                    f"strip_from_train removes ALL {n_before} training {unit} of class {c!r}: the model never "
                    "trains on it"
                )
            elif n_before and n_after <= n_before / 2:
                messages.append(
                    f"strip_from_train removes {n_before - n_after} of the {n_before} training {unit} of class "
                    f"{c!r} ({n_after} left)"
                )
        result.train, result.train_kept_indices = reduced, kept
    for msg in messages:
        warnings.warn(msg, UserWarning, stacklevel=2)
    return result
