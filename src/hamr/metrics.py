"""Evaluation figures of method.md §7: classification P/R/F1, span-level NER F1, quartile analysis.

Every figure is a fraction in [0, 1] (the CLI prints it ×100).

Choices, stated once here:

- **Classification, all classes count.** Per-class scores and macro-F1 are computed over *every* label of
  the vocabulary (``labels=range(len(labels))``), with ``zero_division=0``. A class that has no support and
  is never predicted in the evaluation split therefore gets P = R = F1 = 0 and still pulls macro-F1 down.
  This keeps macro-F1 comparable across splits and seeds (the denominator is always the number of classes)
  and never rewards a model for a class it could not be tested on.
- **NER, spans.** Entities are IOB2 spans extracted by seqeval; ``O`` is never an entity. A predicted span
  counts only if type, start and end all match a gold span (a boundary error is a false positive *and* a
  false negative). ``mode="default"`` is conlleval-compatible (an ``I-X`` that does not continue an ``X``
  starts a new span); ``mode="strict"`` uses seqeval's strict IOB2 scheme (such an ``I-X`` is no span).
  Macro-F1 is the unweighted mean of per-type F1 over the types that occur in the gold tags or in
  ``train_counts``, so a type that is never (correctly) predicted counts as 0. A type that is only ever
  predicted (neither gold nor training) still costs micro precision and appears in ``per_type``, but is not
  in the macro average.
- **Quartiles** (Figure 2): labels sorted by training frequency, four groups Q1 (rarest) .. Q4 via
  :func:`hamr.data.types.quartile_groups`; each group reports the unweighted mean per-label F1, ``None``
  for an empty group; a label without an F1 (never evaluated) counts as 0.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import IOB2, Entities
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from .data.types import quartile_groups

__all__ = ["classification_metrics", "ner_metrics", "quartile_f1"]

_QUARTILE_NAMES = ("Q1", "Q2", "Q3", "Q4")
_NER_MODES = ("default", "strict")


def quartile_f1(per_label_f1: dict[str, float], train_counts: dict[str, int]) -> dict[str, Any]:
    """Mean per-label F1 of each training-frequency quartile (method.md §7, paper Figure 2).

    Returns ``{"Q1": float | None, ..., "Q4": float | None, "groups": {"Q1": [labels], ...}}``; Q1 holds
    the rarest labels. A group is ``None`` when it is empty (fewer than four labels); a label of
    ``train_counts`` missing from ``per_label_f1`` counts as F1 = 0.
    """
    groups = quartile_groups(train_counts)
    out: dict[str, Any] = {}
    for name, group in zip(_QUARTILE_NAMES, groups):
        out[name] = float(np.mean([per_label_f1.get(lab, 0.0) for lab in group])) if group else None
    out["groups"] = {name: list(group) for name, group in zip(_QUARTILE_NAMES, groups)}
    return out


def classification_metrics(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    labels: list[str],
    train_counts: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Single-label classification scores over all ``labels`` (ids index into ``labels``).

    Returns ``macro_f1``, ``micro_f1`` (equal to ``accuracy`` for single-label data), ``accuracy``,
    ``per_class`` ``{label: {precision, recall, f1, support}}`` for every label of the vocabulary,
    ``confusion_matrix`` (list of rows; row = true label, column = predicted, both in ``labels`` order)
    and, when ``train_counts`` (label -> training examples) is given, ``quartiles`` (see
    :func:`quartile_f1`). A class with neither support nor predictions scores 0 and is part of macro-F1.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} examples but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("cannot score an empty evaluation set")
    n = len(labels)
    for name, ys in (("y_true", y_true), ("y_pred", y_pred)):
        for i, y in enumerate(ys):
            if not 0 <= int(y) < n:
                raise ValueError(f"{name}[{i}] = {y} is not a label id in [0, {n})")
    ids = list(range(n))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=ids, average=None, zero_division=0
    )
    micro_f1 = precision_recall_fscore_support(
        y_true, y_pred, labels=ids, average="micro", zero_division=0
    )[2]
    per_class = {
        lab: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, lab in enumerate(labels)
    }
    out: dict[str, Any] = {
        "macro_f1": float(np.mean(f1)),
        "micro_f1": float(micro_f1),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
    }
    if train_counts is not None:
        out["quartiles"] = quartile_f1({lab: s["f1"] for lab, s in per_class.items()}, train_counts)
    return out


def _spans(tag_rows: list[list[str]], mode: str,
           cache: dict[tuple[str, ...], tuple] | None = None) -> set[tuple[int, str, int, int]]:
    """Every entity span as ``(sentence, type, start, end)`` under the chosen IOB2 reading; each distinct tag row
    is read once. ``cache`` (default reading only) carries those readings across calls, for callers that score
    many predictions of the same sentences (the ``macro_f1`` decision-offsets search changes few rows between
    two scores)."""
    if mode == "strict":
        return {e.to_tuple() for row in Entities(tag_rows, IOB2).entities for e in row}
    cache = {} if cache is None else cache
    out: set[tuple[int, str, int, int]] = set()
    for i, row in enumerate(tag_rows):
        key = tuple(row)
        found = cache.get(key)
        if found is None:
            found = cache[key] = tuple(get_entities(list(row)))
        out.update((i, etype, start, end) for etype, start, end in found)
    return out


def _prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def ner_metrics(
    true_tags: list[list[str]],
    pred_tags: list[list[str]],
    train_counts: dict[str, int] | None = None,
    mode: str = "default",
    span_cache: dict | None = None,
) -> dict[str, Any]:
    """Span-level NER scores on IOB2 tag rows (seqeval span extraction, ``O`` excluded).

    Returns ``micro_f1``, ``micro_precision``, ``micro_recall``, ``macro_f1`` (mean per-type F1 over the
    types in the gold tags or in ``train_counts``), ``per_type`` ``{type: {precision, recall, f1,
    support}}`` (support = gold spans) and, when ``train_counts`` (entity type -> training mentions) is
    given, ``quartiles`` over entity types (see :func:`quartile_f1`).

    ``mode="default"`` reads spans like conlleval; ``mode="strict"`` uses seqeval's strict IOB2 scheme.
    Sentences must pair up one to one with equal lengths, otherwise a ``ValueError`` names the sentence.
    ``span_cache``: a dict the caller keeps between calls on the same sentences (default mode): each distinct tag
    row's spans are extracted once (same scores, tested).
    """
    if mode not in _NER_MODES:
        raise ValueError(f"mode {mode!r} is not one of: {', '.join(_NER_MODES)}")
    if len(true_tags) != len(pred_tags):
        raise ValueError(f"{len(true_tags)} gold sentences but {len(pred_tags)} predicted sentences")
    for i, (gold, pred) in enumerate(zip(true_tags, pred_tags)):
        if len(gold) != len(pred):
            raise ValueError(f"sentence {i}: {len(gold)} gold tags but {len(pred)} predicted tags")
    gold_spans = _spans(true_tags, mode, span_cache)
    pred_spans = _spans(pred_tags, mode, span_cache)
    correct = gold_spans & pred_spans

    def count_by_type(spans: set[tuple[int, str, int, int]]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, etype, _, _ in spans:
            counts[etype] = counts.get(etype, 0) + 1
        return counts

    n_gold, n_pred, n_correct = count_by_type(gold_spans), count_by_type(pred_spans), count_by_type(correct)
    macro_types = set(n_gold) | set(train_counts or {})
    per_type: dict[str, dict[str, float | int]] = {}
    for etype in sorted(macro_types | set(n_pred)):
        p, r, f = _prf(n_correct.get(etype, 0), n_pred.get(etype, 0), n_gold.get(etype, 0))
        per_type[etype] = {"precision": p, "recall": r, "f1": f, "support": n_gold.get(etype, 0)}
    micro_p, micro_r, micro_f = _prf(len(correct), len(pred_spans), len(gold_spans))
    macro_f1 = float(np.mean([per_type[t]["f1"] for t in sorted(macro_types)])) if macro_types else 0.0
    out: dict[str, Any] = {
        "micro_f1": micro_f,
        "micro_precision": micro_p,
        "micro_recall": micro_r,
        "macro_f1": macro_f1,
        "per_type": per_type,
    }
    if train_counts is not None:
        out["quartiles"] = quartile_f1({t: float(s["f1"]) for t, s in per_type.items()}, train_counts)
    return out
