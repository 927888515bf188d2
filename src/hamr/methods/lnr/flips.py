"""LNR's flip rule (Hu et al., ICML 2025, method.md §6) and its application to a training set.

:func:`lnr_flip` flips labels of examples (classification) and :func:`flip_dataset` of entity spans (NER,
see :mod:`hamr.methods.lnr.trainer` for the unit); :func:`hamr.methods.lnr.trainer.train_lnr` runs the two
stages.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Sequence

import numpy as np

from ...constants import IGNORE_INDEX
from ...enums import TaskType
from ...errors import InputError
from ...losses import class_counts_from_labels
from ...tasks import EncodedDataset

FLIPS_FILE = "lnr_flips.json"


@dataclasses.dataclass
class FlipResult:
    """The outcome of one LNR flip: the new labels (same layout as the input), counts and flips by name."""

    labels: list  # per example: an int (classification) or a list of tag ids with -100 kept (NER)
    unit: str  # "example" | "entity_span"
    num_units: int
    class_names: list[str]
    class_counts: list[int]
    flips: dict[tuple[int, int], int]  # (from class, to class) -> count, class ids into class_names
    max_eligible_z: float | None = None  # the largest z LNR could flip on (lnr_max_eligible_z)

    @property
    def num_flipped(self) -> int:
        return int(sum(self.flips.values()))

    def summary(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "num_units": self.num_units,
            "num_flipped": self.num_flipped,
            "max_eligible_z": self.max_eligible_z,
            "class_counts": {n: int(c) for n, c in zip(self.class_names, self.class_counts)},
            "flips": [
                {"from": self.class_names[a], "to": self.class_names[b], "count": int(n)}
                for (a, b), n in sorted(self.flips.items())
            ],
        }


def _softmax(logits: np.ndarray) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


# ------------------------------------------------------------------------------------ classification


def flip_classification(
    probs: np.ndarray, labels: Sequence[int], class_names: Sequence[str], *, t_flip: float, rng: np.random.Generator
) -> FlipResult:
    """LNR on examples: ``probs`` ``[N, C]`` first-stage probabilities, ``labels`` ``[N]`` class ids."""
    labels = np.asarray(labels, dtype=np.int64)
    counts = class_counts_from_labels(labels.tolist(), len(class_names))
    new, flips = lnr_flip(np.asarray(probs), labels, counts, t_flip=t_flip, rng=rng)
    return FlipResult([int(y) for y in new], "example", len(labels), list(class_names), counts.tolist(), flips,
                      lnr_max_eligible_z(probs, labels, counts))


# ----------------------------------------------------------------------------------------------- NER


def _tag_tables(tag_names: Sequence[str]) -> tuple[list[str], dict[int, tuple[str, int]], dict[tuple[str, int], int]]:
    """Entity types (in vocabulary order), tag id -> (prefix, type id), (prefix, type id) -> tag id."""
    types: list[str] = []
    for t in tag_names:
        if t != "O" and t[2:] not in types:
            if t[:2] not in ("B-", "I-"):
                raise InputError(f"LNR for NER needs IOB2 tags (O, B-X, I-X); got tag {t!r}")
            types.append(t[2:])
    tid = {t: i for i, t in enumerate(types)}
    decode = {i: (t[:1], tid[t[2:]]) for i, t in enumerate(tag_names) if t != "O"}
    encode = {v: k for k, v in decode.items()}
    return types, decode, encode


def entity_spans(tag_ids: Sequence[int], decode: dict[int, tuple[str, int]]) -> list[tuple[int, list[int]]]:
    """Spans of one row of tag ids (IOB2), as ``(type id, positions)``; positions index ``tag_ids``,
    labelled positions only (-100 is skipped, it neither opens nor closes a span)."""
    spans: list[tuple[int, list[int]]] = []
    current: tuple[int, list[int]] | None = None
    for pos, tag in enumerate(tag_ids):
        if tag == IGNORE_INDEX:
            continue
        info = decode.get(int(tag))
        if info is None:  # O
            current = None
            continue
        prefix, etype = info
        if prefix == "I" and current is not None and current[0] == etype:
            current[1].append(pos)
            continue
        current = (etype, [pos])
        spans.append(current)
    return spans


def flip_ner_spans(
    tag_rows: Sequence[Sequence[int]],
    token_probs: Sequence[np.ndarray],
    tag_names: Sequence[str],
    *,
    t_flip: float,
    rng: np.random.Generator,
) -> FlipResult:
    """LNR on entity spans (see the module docstring).

    ``tag_rows``: per sentence the tag ids of its encoded positions (-100 for ignored ones);
    ``token_probs``: per sentence an array ``[len(row), num_tags]`` of first-stage tag probabilities at the
    same positions (rows at ignored positions are not read). Returns the new tag rows (same length, -100
    kept) and the flips per (from type, to type).
    """
    if len(tag_rows) != len(token_probs):
        raise ValueError(f"{len(tag_rows)} tag rows but {len(token_probs)} probability rows")
    types, decode, encode = _tag_tables(tag_names)
    b_ids = np.array([encode[("B", k)] for k in range(len(types))], dtype=np.int64)
    i_ids = np.array([encode[("I", k)] for k in range(len(types))], dtype=np.int64)
    where: list[tuple[int, list[int]]] = []
    span_types: list[int] = []
    span_probs: list[np.ndarray] = []
    for s, (row, probs) in enumerate(zip(tag_rows, token_probs)):
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape[0] < len(row) or (len(types) and probs.shape[1] != len(tag_names)):
            raise ValueError(f"sentence {s}: probabilities {probs.shape} do not cover {len(row)} positions "
                             f"× {len(tag_names)} tags")
        for etype, positions in entity_spans(row, decode):
            p = probs[positions]  # [len(span), num_tags]
            span_probs.append((p[:, b_ids] + p[:, i_ids]).mean(axis=0))
            span_types.append(etype)
            where.append((s, positions))
    counts = np.bincount(np.asarray(span_types, dtype=np.int64), minlength=len(types))
    new_rows = [list(map(int, row)) for row in tag_rows]
    if not span_types:
        return FlipResult(new_rows, "entity_span", 0, types, counts.tolist(), {})
    new_types, flips = lnr_flip(np.stack(span_probs), np.asarray(span_types), counts, t_flip=t_flip, rng=rng)
    for (s, positions), old, new in zip(where, span_types, new_types.tolist()):
        if new == old:
            continue
        for pos in positions:
            prefix, _ = decode[new_rows[s][pos]]
            new_rows[s][pos] = encode[(prefix, int(new))]
    return FlipResult(new_rows, "entity_span", len(span_types), types, counts.tolist(), flips,
                      lnr_max_eligible_z(np.stack(span_probs), np.asarray(span_types), counts))


# ------------------------------------------------------------------------------------------ datasets


def flip_dataset(
    dataset: EncodedDataset,
    logits: np.ndarray,
    label_ids: np.ndarray,
    task: TaskType,
    class_names: Sequence[str],
    *,
    t_flip: float,
    seed: int,
) -> tuple[EncodedDataset, FlipResult]:
    """Apply LNR to an encoded training set from the first-stage ``Trainer.predict`` output on it
    (``logits`` and ``label_ids`` in dataset order, padded with -100 for NER). ``class_names``: the label
    vocabulary (NER: the tags). The alignment of every row with the dataset is checked."""
    rng = np.random.default_rng(seed)
    logits = np.asarray(logits)
    label_ids = np.asarray(label_ids)
    if len(logits) != len(dataset) or len(label_ids) != len(dataset):
        raise ValueError(f"{len(logits)} prediction rows for {len(dataset)} training examples")
    if TaskType.parse(task) == TaskType.CLASSIFICATION:
        labels = [int(dataset[i]["labels"]) for i in range(len(dataset))]
        if label_ids.tolist() != labels:
            raise ValueError("LNR: first-stage predictions are not in training-set order")
        result = flip_classification(_softmax(logits), labels, class_names, t_flip=t_flip, rng=rng)
    else:
        rows = [list(dataset[i]["labels"]) for i in range(len(dataset))]
        token_probs = []
        for i, row in enumerate(rows):
            pred_pos = np.flatnonzero(label_ids[i] != IGNORE_INDEX)
            item_pos = np.flatnonzero(np.asarray(row) != IGNORE_INDEX)
            if label_ids[i][pred_pos].tolist() != [row[p] for p in item_pos]:
                raise ValueError(f"LNR: first-stage predictions of training sentence {i} are not aligned with it")
            probs = np.zeros((len(row), logits.shape[-1]))
            probs[item_pos] = _softmax(logits[i][pred_pos])
            token_probs.append(probs)
        result = flip_ner_spans(rows, token_probs, class_names, t_flip=t_flip, rng=rng)
    items = []
    for i in range(len(dataset)):
        item = dict(dataset[i])
        item["labels"] = result.labels[i]
        items.append(item)
    name = getattr(dataset, "name", "")
    return EncodedDataset(items, getattr(dataset, "num_truncated", 0), f"{name}+lnr" if name else "lnr"), result


# ------------------------------------------------------------------------------------------ training


def no_flip_message(max_eligible_z: float | None, t_flip: float) -> str:
    """The warning of a run in which LNR flipped nothing (it then trains as plain cross-entropy)."""
    z, t = max_eligible_z, t_flip
    why = ("no class is rarer than another" if z is None else
           f"t_flip {t:.2f} is above every z it could flip on (the largest is {z:.2f})" if z <= t else
           f"the largest eligible z ({z:.2f}) is above t_flip {t:.2f} but no draw fell under its rate")
    return (f"LNR flipped nothing, so it trains as plain cross-entropy: {why}; a lower lnr_t_flip flips more "
            "(a flip needs z > t_flip, and is likely only well above it)")



# ------------------------------------------------------------------------------------------- the rule


def lnr_flip_rates(
    probs: np.ndarray,
    labels: np.ndarray,
    class_counts: Iterable[int] | np.ndarray,
    *,
    t_flip: float,
) -> np.ndarray:
    """LNR flip rates ``[N, C]`` (method.md §6, Hu et al. 2025), before the random draw.

    For every class k: mean_k and std_k (population std) of P(k|x) over the examples *not* labelled k;
    z_ik = (P(k|x_i) − mean_k) / std_k (z = 0 for a class whose std is 0 or that every example has);
    prior = 1 − minmax(class_counts) (rarest class 1, most frequent 0; all 0 when every count is equal,
    which disables flipping); fliprate_ik = tanh(z_ik − t_flip) · max(prior_k − prior_{y_i}, 0), and 0 for
    k = y_i.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.asarray(list(class_counts), dtype=np.float64)
    if probs.ndim != 2 or labels.shape != (probs.shape[0],) or counts.shape != (probs.shape[1],):
        raise ValueError(
            f"expected probs [N, C], labels [N] and class_counts [C]; got {probs.shape}, "
            f"{labels.shape} and {counts.shape}"
        )
    c = probs.shape[1]
    if not ((labels >= 0) & (labels < c)).all():
        raise ValueError(f"labels must be class ids in [0, {c})")
    z, prior_weight, own = _lnr_z_prior(probs, labels, counts)
    rates = np.tanh(z - t_flip) * prior_weight
    rates[own] = 0.0
    return rates


def lnr_max_eligible_z(probs: np.ndarray, labels: np.ndarray, class_counts: Iterable[int] | np.ndarray) -> float | None:
    """The largest z_ik over the pairs LNR could flip (a rarer class k than y_i: prior weight > 0), or None
    when there is none. Nothing flips with certainty unless it exceeds ``t_flip``: when LNR flips nothing,
    this says how far ``t_flip`` is from doing anything."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    z, prior_weight, _ = _lnr_z_prior(probs, labels, np.asarray(list(class_counts), dtype=np.float64))
    eligible = prior_weight > 0
    return float(z[eligible].max()) if eligible.any() else None


def _lnr_z_prior(probs: np.ndarray, labels: np.ndarray, counts: np.ndarray):
    """z ``[N, C]``, prior weight ``[N, C]`` and the own-label mask of :func:`lnr_flip_rates`."""
    c = probs.shape[1]
    own = labels[:, None] == np.arange(c)[None, :]  # [N, C]: example i is labelled k
    others = ~own
    z = np.zeros_like(probs)
    for k in range(c):
        col = probs[others[:, k], k]
        if col.size == 0:
            continue
        std = col.std()
        if std > 0:
            z[:, k] = (probs[:, k] - col.mean()) / std
    span = counts.max() - counts.min()
    prior = 1.0 - (counts - counts.min()) / span if span > 0 else np.zeros(c)
    prior_weight = np.maximum(prior[None, :] - prior[labels][:, None], 0.0)
    return z, prior_weight, own


def lnr_flip(
    probs: np.ndarray,
    labels: np.ndarray,
    class_counts: Iterable[int] | np.ndarray,
    *,
    t_flip: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[tuple[int, int], int]]:
    """Label-Noise Rebalancing (method.md §6): flip some labels towards rarer classes, before training.

    ``probs`` ``[N, C]`` are a first-stage model's class probabilities on the training set, ``labels``
    ``[N]`` its labels, ``class_counts`` ``[C]`` the training count per class. With the rates of
    :func:`lnr_flip_rates`, example i flips to k* = argmax_k fliprate_ik when fliprate_ik* > u_i, u_i ~
    U(0, 1) drawn once per example (``rng.random(N)``, in example order); otherwise it keeps its label.
    Returns the new labels and the number of flips per ``(from, to)`` class pair.
    """
    rates = lnr_flip_rates(probs, labels, class_counts, t_flip=t_flip)
    labels = np.asarray(labels, dtype=np.int64)
    u = rng.random(labels.shape[0])
    target = rates.argmax(axis=1)
    best = rates[np.arange(labels.shape[0]), target]
    flip = best > u
    new_labels = np.where(flip, target, labels)
    flips: dict[tuple[int, int], int] = {}
    for src, dst in zip(labels[flip].tolist(), target[flip].tolist()):
        flips[(src, dst)] = flips.get((src, dst), 0) + 1
    return new_labels, flips
