"""LNR, Label-Noise Rebalancing (Hu et al., ICML 2025), method.md §6.

Two stages, both inside :func:`train_lnr` (so the pipeline's timing covers both):

1. a plain cross-entropy model (a fresh ``ctx.new_model()``) is trained for ``args.lnr_first_stage_epochs``
   epochs on the training set, without evaluation, and predicts class probabilities on the training set;
2. labels are flipped once with :func:`hamr.losses.lnr_flip` (rng ``numpy.random.default_rng(args.seed)``,
   threshold ``args.lnr_t_flip``), the flips are logged and written to ``<args.output_dir>/lnr_flips.json``,
   and a second fresh model is trained with plain cross-entropy on the flipped labels for the full budget
   (``args``, unchanged). That second Trainer is returned.

Classification: the unit is the example, its probabilities the softmax of the first-stage logits.

NER: the unit is the **entity span**. LNR flips labels from frequent to rare classes; for NER the classes
that make sense to trade are the entity types (flipping ``O`` tokens would invent span boundaries the
formula knows nothing about, and a single ``B-``/``I-`` tag flip would break IOB2). So:

- spans are read from the IOB2 tags of the labelled positions (label != -100: first sub-token of each
  word) of the encoded sentence, in order; a ``B-X``, or an ``I-X`` not continuing an ``X``, opens a span;
- P(type k | span) = the mean over the span's tokens of P(B-k) + P(I-k) under the first-stage model
  (not renormalised over the types: a span the model reads as ``O`` has small values for every type and
  hardly ever flips);
- class counts are spans per type in the (encoded) training set; the LNR rule of :func:`lnr_flip` runs over
  all spans of the training set with these;
- a flipped span keeps its boundaries and its B-/I- structure: ``B-old → B-new``, ``I-old → I-new``.
  ``O`` tokens never change.

Entities cut off by ``max_length`` are invisible to both stages and are not counted.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os
from typing import Any, Sequence

import numpy as np

from ..enums import TaskType
from ..losses import WeightedCrossEntropy, class_counts_from_labels, lnr_flip, lnr_max_eligible_z
from ..tasks import IGNORE_INDEX, EncodedDataset

logger = logging.getLogger(__name__)

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
    max_eligible_z: float | None = None  # the largest z LNR could flip on (losses.lnr_max_eligible_z)

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
                raise ValueError(f"LNR for NER needs IOB2 tags (O, B-X, I-X); got tag {t!r}")
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


def train_lnr(ctx):
    """LNR end to end (see the module docstring); returns the trained second-stage Trainer, with the flip
    summary as ``trainer.lnr_flips``."""
    from ..trainer import ImbalanceTrainer

    args = ctx.args
    task = ctx.bundle.task
    if args.lnr_first_stage_epochs <= 0:
        raise ValueError(f"lnr_first_stage_epochs must be > 0, got {args.lnr_first_stage_epochs}")
    stage1_args = dataclasses.replace(
        args,
        num_train_epochs=args.lnr_first_stage_epochs,
        max_steps=-1,
        eval_strategy="no",
        save_strategy="no",
        load_best_model_at_end=False,
        output_dir=os.path.join(args.output_dir, "lnr_stage1"),
    )
    stage1 = ImbalanceTrainer(
        model=ctx.new_model(),
        args=stage1_args,
        train_dataset=ctx.train,
        processing_class=ctx.tokenizer,
        loss_fn=WeightedCrossEntropy(),
        task=task,
    )
    stage1.train()
    pred = stage1.predict(ctx.train, metric_key_prefix="lnr_stage1")
    del stage1
    gc.collect()

    flipped, result = flip_dataset(
        ctx.train, pred.predictions, pred.label_ids, task, ctx.bundle.vocab.labels,
        t_flip=args.lnr_t_flip, seed=args.seed,
    )
    summary = {"t_flip": args.lnr_t_flip, "seed": args.seed, "first_stage_epochs": args.lnr_first_stage_epochs}
    summary.update(result.summary())
    logger.info(
        "LNR flipped %d of %d %ss: %s", result.num_flipped, result.num_units, result.unit.replace("_", " "),
        ", ".join(f"{f['from']}->{f['to']}: {f['count']}" for f in summary["flips"]) or "none",
    )
    if result.num_flipped == 0:
        logger.warning(no_flip_message(result.max_eligible_z, args.lnr_t_flip))
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, FLIPS_FILE), "w") as fh:
        json.dump(summary, fh, indent=2)

    trainer = ImbalanceTrainer(**ctx.trainer_kwargs(args=args, train_dataset=flipped, loss_fn=WeightedCrossEntropy()))
    trainer.lnr_flips = summary
    trainer.train()
    return trainer
