"""One training run from data to metrics: what ``hamr train`` and ``hamr bench`` call.

:func:`run` loads a dataset (a benchmark name or files), tokenizes it, trains with the chosen method,
evaluates on validation after every epoch and on test at the end, and writes into ``output_dir``:

- ``model/``: the fine-tuned model and tokenizer (``save_pretrained``; loads with plain ``AutoModelFor...`` and
  ``transformers.pipeline``), its model card ``README.md`` and ``hamr.json`` (see :mod:`hamr.modelcard`);
- ``metrics.json``: test (and validation) metrics, per class / type, quartiles, timings, peak memory;
- ``test_predictions.tsv``: one row per test example (index, id, gold, predicted, then the probabilities: for
  classification ``probability`` of the predicted class and ``p:<class>`` per class; for NER
  ``probabilities``, the predicted tag's probability per word);
- ``logits.npz``: the final model's raw validation and test logits, before any decision offsets
  (``<split>_logits`` [N, C], ``<split>_labels`` [N]; NER: the labelled positions only, with
  ``<split>_positions`` [M, 2], each one's sentence and sub-token position), ``label_names`` and the folded
  ``offsets``: to study decision rules (offsets, other fits) without re-training (:func:`read_logits`);
- ``epoch_metrics.jsonl``: validation macro/micro F1 and per-class F1 after every epoch;
- the files the method declares in its registry entry (``output_files``): for HAMR ``hamr_diagnostics.jsonl``,
  ``hamr_examples.tsv`` and the label-free ``hamr_hardness.json`` (see :class:`~hamr.methods.hamr.HAMRTrainer`),
  ``lnr_flips.json`` for LNR, ``gbc_selection.json`` for GBC.

A new run first deletes what an earlier run left in ``output_dir`` (the names in
:data:`hamr.run_outputs.RUN_OUTPUTS`), unless it resumes; every file is written under a temporary name and
renamed into place. With ``checkpoint_every`` the Trainer saves ``trainer/checkpoint-N`` folders, each complete
once its marker is written; ``resume=True`` continues from the latest complete one (and deletes the
checkpoints when the run finishes). Ctrl-C raises :class:`RunInterrupted`, which says how to resume.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .config import RUN_CONFIG_FILE, RunConfig, resolve_learning_rate, run_config_record
from .constants import IGNORE_INDEX
from .data import DataBundle, DataError, Split, load_benchmark, load_files
from .enums import CheckpointEvery, DecisionOffsets, TaskType
from .errors import SettingError
from .holdout import validation_holdout
from .losses import class_counts_from_labels
from .methods import get_method, list_methods
from .methods.arguments import ImbalanceArguments
from .methods.context import RunContext
from .methods.settings import (  # noqa: F401 - re-exported: the bench and older callers read them here
    _method_settings,
    _resolved_method_settings,
    current_method_settings,
    current_resolved_settings,
    relevant_method_settings,
)
from .metrics import classification_metrics, ner_metrics
from .offsets import resolve_form
from .options import validate_options
from .run_outputs import (
    CHECKPOINT_MARKER,
    LOGITS_FILE,
    TEMP_PREFIX,
    atomic_folder,
    atomic_write_text,
    clear_run_outputs,
    latest_complete_checkpoint,
)
from .tasks import EncodedDataset, encode_split, labels_by_word, load_tokenizer, predictions_to_labels

logger = logging.getLogger(__name__)


def check_method_config(config: RunConfig) -> None:
    """What a run's settings must satisfy for its method (its registry entry): a method that trains in stages
    (``resumable=False``: LNR, GBC, MetaBalance) cannot checkpoint or resume."""
    if not get_method(config.method).resumable and (config.resume or config.checkpoint_every != CheckpointEvery.NONE):
        able = ", ".join(m.value for m in list_methods() if get_method(m).resumable)
        raise SettingError(f"RunConfig: method {config.method.value} trains in stages and cannot checkpoint or "
                         f"resume (checkpoint_every=none, resume=False); methods that can: {able}")


def check_trainable(bundle: DataBundle) -> None:
    """Refuse a training split that cannot teach anything measurable: one class (classification; its F1 would
    read 100) or no entity at all (NER, every tag O)."""
    train = bundle.train
    where = train.locations[0].rsplit(":", 1)[0] if train.locations else f"{bundle.name} ({train.name})"
    if len(train) == 0:
        raise DataError(f"{where}: the training split is empty")
    counts = train.label_counts()
    if bundle.task == TaskType.CLASSIFICATION and len(counts) < 2:
        only = next(iter(counts), None)
        raise DataError(f"{where}: the training split has a single class ({only!r}, {len(train)} examples); "
                        "a classifier needs examples of at least two classes")
    if bundle.task == TaskType.NER and not counts:
        raise DataError(f"{where}: the training split has no entity (all {len(train)} sentences are tagged O); "
                        "an NER model needs B-/I- tags to learn from")


def load_data(config: RunConfig) -> DataBundle:
    """The run's dataset; with ``max_train_examples``, a seeded random sample of the training split (a random
    sample keeps the class imbalance, the first N lines may not: SST-5's file is ordered by label)."""
    bundle = _load_all(config)
    cap = config.max_train_examples
    if cap and len(bundle.train) > cap:
        keep = np.sort(np.random.default_rng(config.seed).choice(len(bundle.train), size=cap, replace=False))
        bundle = DataBundle(bundle.name, bundle.task, bundle.train.subset(keep.tolist()), bundle.validation,
                            bundle.test, vocab=bundle.vocab, unseen_report=bundle.unseen_report)
    return bundle


def _load_all(config: RunConfig) -> DataBundle:
    if config.data is not None:
        return config.data
    if config.dataset is not None:
        return load_benchmark(config.dataset, config.data_root, seed=config.seed, limit=config.limit)
    bundle = load_files(
        config.task,
        config.train_file,
        config.validation_file,
        config.test_file,
        fmt=config.data_format,
        seed=config.seed,
        unseen_labels=config.unseen_labels,
        **config.data_options,
    )
    if config.limit is not None:
        bundle = DataBundle(
            bundle.name,
            bundle.task,
            bundle.train.subset(range(min(config.limit, len(bundle.train)))),
            None if bundle.validation is None else bundle.validation.subset(range(min(config.limit, len(bundle.validation)))),
            None if bundle.test is None else bundle.test.subset(range(min(config.limit, len(bundle.test)))),
            vocab=bundle.vocab,
            unseen_report=bundle.unseen_report,
        )
    return bundle


def training_arguments(config: RunConfig, task: TaskType, output_dir: str) -> ImbalanceArguments:
    """The TrainingArguments of a run: the method's arguments class (its registry entry) with the run's settings
    and ``config.options``."""
    cls = get_method(config.method).arguments_class
    validate_options(config.options, cls, f"options of method {config.method}")
    base = dict(
        output_dir=output_dir,
        method=config.method,
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=max(config.batch_size, 32),
        learning_rate=resolve_learning_rate(config.learning_rate, task),
        seed=config.seed,
        data_seed=config.seed,
        eval_strategy="epoch" if config.evaluate_each_epoch else "no",
        save_strategy=config.checkpoint_every.value if config.checkpoint_every != CheckpointEvery.NONE else "no",
        save_steps=config.checkpoint_steps or 500,
        save_total_limit=2 if config.checkpoint_every != CheckpointEvery.NONE else None,
        logging_strategy="steps",
        logging_steps=50,
        report_to=[],
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=False,
    )
    base.update(config.options)
    return cls(**base)


def make_compute_metrics(task: TaskType, bundle: DataBundle,
                         encoded: dict[str, EncodedDataset] | None = None) -> Callable:
    """The Trainer's ``compute_metrics``: macro/micro F1 and per-class F1 (prefixed ``f1/``).

    NER with ``encoded`` (split name -> its EncodedDataset): when the predictions are those of one of these
    splits (same rows, same gold label ids), they are put back on that split's words (:func:`labels_by_word`),
    so a word without sub-tokens keeps its own position; the words cut off by ``max_length`` are left out, as
    the label ids leave them out."""
    vocab = bundle.vocab
    splits = bundle.splits()

    def compute(pred) -> dict[str, float]:
        gold_split, word_index = None, None
        if task == TaskType.NER and encoded:
            for name, ds in encoded.items():
                if name in splits and _same_label_rows(ds, pred.label_ids):
                    gold_split, word_index = splits[name], ds.word_index
                    break
        m = evaluate_predictions(task, bundle, pred.predictions, pred.label_ids, gold_split=gold_split,
                                 word_index=word_index, truncated_as_o=False)
        per = m.get("per_class") or m.get("per_type") or {}
        out = {"macro_f1": m["macro_f1"], "micro_f1": m["micro_f1"]}
        out.update({f"f1/{k}": v["f1"] for k, v in per.items()})
        return out

    compute.vocab = vocab  # type: ignore[attr-defined]
    return compute


def _same_label_rows(ds: EncodedDataset, label_ids) -> bool:
    """True when ``label_ids`` (padded with -100) are row by row the labels of ``ds``'s items."""
    if ds.word_index is None or label_ids is None or len(label_ids) != len(ds):
        return False
    for item, row in zip(ds.items, label_ids):
        row = np.asarray(row)
        mine = np.asarray(item["labels"])
        if not np.array_equal(row[row != IGNORE_INDEX], mine[mine != IGNORE_INDEX]):
            return False
    return True


def evaluate_predictions(
    task: TaskType, bundle: DataBundle, logits, label_ids, gold_split: Split | None = None,
    word_index: list[list[int]] | None = None, truncated_as_o: bool = True, span_cache: dict | None = None,
) -> dict[str, Any]:
    """Metrics of method.md §7 from raw logits and gold label ids, with quartiles by training frequency.

    NER with ``gold_split`` (needs ``word_index``, the encoded split's :attr:`EncodedDataset.word_index`):
    predictions are put back on the split's words by word index; a word without sub-tokens is predicted ``O``
    at its own position. With ``truncated_as_o`` (the final scoring), the gold tags are the full sentences and
    words cut off by ``max_length`` count as predicted ``O``, so truncation can only lower the score, never
    hide gold entities; without it (per-epoch scores) each sentence ends at its last word that kept a
    sub-token, as the label ids do. ``span_cache``: see :func:`hamr.metrics.ner_metrics` (NER only)."""
    train_counts = bundle.train.label_counts()
    if task == TaskType.CLASSIFICATION:
        pred = np.asarray(logits).argmax(-1)
        return classification_metrics(np.asarray(label_ids).tolist(), pred.tolist(), bundle.vocab.labels, train_counts)
    gold, predicted = predictions_to_labels(task, logits, label_ids, bundle.vocab)
    if gold_split is not None:
        gold, predicted = words_gold_and_predicted(gold_split, predicted, word_index, truncated_as_o)
    return ner_metrics(gold, predicted, train_counts, span_cache=span_cache)


def words_gold_and_predicted(split: Split, predicted: list[list[str]], word_index: list[list[int]] | None,
                             truncated_as_o: bool = True) -> tuple[list[list[str]], list[list[str]]]:
    """Gold and predicted tags per word of ``split`` from predictions at labelled positions (see
    :func:`evaluate_predictions`)."""
    if word_index is None or len(word_index) != len(split) or len(predicted) != len(split):
        raise ValueError(f"scoring {split.name!r} by words needs its encoded word_index, one row per sentence "
                         f"({len(split)} sentences, {len(predicted)} prediction rows)")
    gold_rows, pred_rows = [], []
    for g, p, words in zip(split.labels, predicted, word_index):
        n = len(g) if truncated_as_o else (max(words) + 1 if words else 0)
        gold_rows.append(list(g[:n]))
        pred_rows.append(labels_by_word(p, words, n))
    return gold_rows, pred_rows


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rows(x, rows: list[int]):
    """Rows of a prediction array (or of each array of a tuple)."""
    if isinstance(x, tuple):
        return tuple(_rows(a, rows) for a in x)
    return np.asarray(x)[rows]


def _macro_f1_scorer(task: TaskType, bundle: DataBundle, label_ids, gold_split: Split, word_index):
    """macro-F1 of shifted logits of fixed rows (the ``macro_f1`` offsets search), by :func:`evaluate_predictions`:
    the same definition every score of the run uses; NER keeps each distinct tag row's spans between calls."""
    cache: dict = {}
    return lambda logits: evaluate_predictions(task, bundle, logits, label_ids, gold_split=gold_split,
                                               word_index=word_index, span_cache=cache)["macro_f1"]


def _decision_offsets(config: RunConfig, form: DecisionOffsets, bundle: DataBundle, encoded: dict, trainer, say):
    """Fit every form of :mod:`hamr.offsets` on the validation rows outside the held-out half, score each on the
    held-out half, fold ``form``'s δ (``config.decision_offsets`` resolved, :func:`hamr.offsets.resolve_form`)
    into the model; return (record, δ, (validation logits before folding, their label ids), every form's δ)."""
    from .offsets import FITTED_FORMS, fit_offsets, fold_offsets

    task = bundle.task
    if "validation" not in encoded:
        raise SettingError("RunConfig.decision_offsets needs a validation split to fit the offsets on (give "
                         "validation_file, or set decision_offsets=none)")
    t0 = time.perf_counter()
    pred = trainer.predict(encoded["validation"], metric_key_prefix="offsets_fit")
    logits, label_ids = np.asarray(pred.predictions, dtype=np.float64), np.asarray(pred.label_ids)
    holdout = validation_holdout(config, bundle)
    fit_rows = holdout.meta_indices if holdout is not None else list(range(len(bundle.validation)))
    words = encoded["validation"].word_index
    fit_words = None if words is None else [words[i] for i in fit_rows]
    fit_split = bundle.validation.subset(fit_rows)
    labels = list(bundle.vocab.labels)
    counts = class_counts_from_labels(encoded["train"].label_ids(), len(labels))
    record: dict[str, Any] = {"form": form.value, "requested": config.decision_offsets.value, "fit_rows": len(fit_rows),
                              "fit_on": "validation meta half" if holdout is not None else "validation (all)",
                              "forms": {}}
    chosen = None
    deltas: dict[DecisionOffsets, np.ndarray] = {}
    scorer = _macro_f1_scorer(task, bundle, label_ids[fit_rows], fit_split, fit_words)
    for kind in FITTED_FORMS:
        if kind == DecisionOffsets.NONE:
            d = np.zeros(len(labels))
        else:
            d = fit_offsets(kind, task, logits[fit_rows], label_ids[fit_rows], counts, labels, macro_f1=scorer)
        entry: dict[str, Any] = {"offsets": {lab: round(float(v), 4) for lab, v in zip(labels, d)}}
        fit_scores = evaluate_predictions(task, bundle, logits[fit_rows] + d, label_ids[fit_rows],
                                          gold_split=fit_split, word_index=fit_words)
        entry["fit_rows"] = {"macro_f1": fit_scores["macro_f1"], "micro_f1": fit_scores["micro_f1"]}
        if holdout is not None:
            rows = holdout.heldout_indices
            held = evaluate_predictions(task, bundle, logits[rows] + d, label_ids[rows],
                                        gold_split=bundle.validation.subset(rows),
                                        word_index=None if words is None else [words[i] for i in rows])
            keep = ("macro_f1", "micro_f1", "per_class", "per_type")
            entry["validation_heldout"] = {k: held[k] for k in keep if k in held}
        record["forms"][kind.value] = entry
        deltas[kind] = d
        if kind == form:
            chosen = d
    assert chosen is not None
    fold_offsets(trainer.model, chosen)
    _check_folded(trainer, encoded["validation"], logits, label_ids, chosen)
    record["seconds"] = round(time.perf_counter() - t0, 2)  # the validation pass, all four fits, the fold check
    record["offsets"] = record["forms"][form.value]["offsets"]
    say(f"decision offsets ({form.value}{' (auto)' if form != config.decision_offsets else ''}, fitted on {len(fit_rows)} validation rows) folded into "
        "the output bias: " + ", ".join(f"{k} {v:+.2f}" for k, v in record["offsets"].items()))
    return record, chosen, (logits, label_ids), deltas


#: Validation rows predicted again after folding the offsets, to check the fold (the whole split is not
#: predicted twice: its logits after folding are the fit pass's plus δ).
FOLD_CHECK_ROWS = 16


def _check_folded(trainer, dataset: EncodedDataset, before: np.ndarray, label_ids, delta: np.ndarray) -> None:
    """The logits of the first :data:`FOLD_CHECK_ROWS` validation rows after folding must be the ones before
    plus δ (else the layer found was not the output layer)."""
    k = min(FOLD_CHECK_ROWS, len(dataset))
    head = EncodedDataset(dataset.items[:k], name=dataset.name,
                          word_index=None if dataset.word_index is None else dataset.word_index[:k])
    after = trainer.predict(head, metric_key_prefix="offsets_check")
    after_logits, after_labels = np.asarray(after.predictions, dtype=np.float64), np.asarray(after.label_ids)
    # NER: this pass pads to its own longest row, a prefix of the full pass's positions
    ref, ref_labels = before[:k], np.asarray(label_ids)[:k]
    if after_labels.ndim > 1:
        ref, ref_labels = ref[:, :after_labels.shape[1]], ref_labels[:, :after_labels.shape[1]]
    mask = after_labels != IGNORE_INDEX
    if ref_labels.shape != after_labels.shape or not np.array_equal(ref_labels[mask], after_labels[mask]):
        raise RuntimeError("decision offsets: the fold check's validation rows did not come back as in the fit pass")
    diff = np.abs(after_logits[mask] - (ref[mask] + delta)).max() if mask.any() else 0.0
    if not diff < 1e-3:
        raise RuntimeError(f"decision offsets: after folding them into the output bias the logits moved by up to "
                           f"{diff:.3g} more than the offsets; the model's last nn.Linear(..., num_labels) is not "
                           "its output layer. Set decision_offsets=none")


def train_with_method(ctx: RunContext):
    """Train ``ctx`` with its method's registered ``train_fn``; return the trained Trainer."""
    return get_method(ctx.config.method).train_fn(ctx)


def _write_predictions(path: Path, task: TaskType, split: Split, logits, label_ids, bundle: DataBundle,
                       word_index: list[list[int]] | None = None) -> None:
    """One row per example: ``index, id, gold, predicted`` (the columns readers rely on; NER rows hold one tag
    per word of the sentence, see :func:`evaluate_predictions`), then the softmax probabilities:
    classification ``probability`` (of the predicted class) and ``p:<class>`` for every class in label order;
    NER ``probabilities``, the predicted tag's probability per word, space-separated (``nan`` for a word
    without a prediction: cut off by ``max_length`` or without sub-tokens, predicted ``O``)."""
    from .predict import softmax

    gold, pred = predictions_to_labels(task, logits, label_ids, bundle.vocab)
    probs = softmax(np.asarray(logits, dtype=np.float64))
    labels = bundle.vocab.labels
    word_probs: list[list[str]] = []
    if task == TaskType.NER:
        gold, pred_words = words_gold_and_predicted(split, pred, word_index)
        for i, (g, words) in enumerate(zip(gold, word_index)):  # type: ignore[arg-type]
            at_positions = probs[i][np.asarray(label_ids[i]) != IGNORE_INDEX].max(-1)
            word_probs.append(labels_by_word([f"{x:.4f}" for x in at_positions], words, len(g), fill="nan"))
        pred = pred_words
    extra = "probability\t" + "\t".join(f"p:{lab}" for lab in labels) if task == TaskType.CLASSIFICATION \
        else "probabilities"
    rows = [f"index\tid\tgold\tpredicted\t{extra}\n"]
    for i, (g, p) in enumerate(zip(gold, pred)):
        ident = split.ids[i] if split.ids else ""
        if task == TaskType.NER:
            cells = " ".join(word_probs[i])
            g, p = " ".join(g), " ".join(p)
        else:
            cells = f"{probs[i].max():.6f}\t" + "\t".join(f"{x:.6f}" for x in probs[i])
        rows.append(f"{i}\t{ident}\t{g}\t{p}\t{cells}\n")
    atomic_write_text(path, "".join(rows))


def _logit_arrays(split: str, logits, label_ids) -> dict[str, np.ndarray]:
    """``split``'s raw logits (decision offsets already taken out) and gold ids for ``logits.npz``; for NER the
    labelled positions only, with the sentence of each."""
    raw = np.asarray(logits, dtype=np.float32)
    labels = np.asarray(label_ids)
    if raw.ndim == 3:
        mask = labels != IGNORE_INDEX
        return {f"{split}_logits": raw[mask], f"{split}_labels": labels[mask],
                f"{split}_positions": np.stack(np.nonzero(mask), axis=1).astype(np.int32)}
    return {f"{split}_logits": raw, f"{split}_labels": labels}


def read_logits(run_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """A finished run's ``logits.npz`` as a dict of arrays (see the module docstring)."""
    with np.load(Path(run_dir) / LOGITS_FILE, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def split_logits(saved: dict[str, np.ndarray], split: str, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``split``'s raw logits and label ids from :func:`read_logits` in the shapes :func:`evaluate_predictions`
    takes: classification as saved; NER rebuilt to [n_rows sentences, positions, tags] with -100 where nothing was
    labelled."""
    logits, labels = saved[f"{split}_logits"], saved[f"{split}_labels"]
    if f"{split}_positions" not in saved:
        return logits, labels
    pos = saved[f"{split}_positions"]
    shape = (n_rows, int(pos[:, 1].max()) + 1)
    full = np.zeros(shape + (logits.shape[1],), dtype=logits.dtype)
    ids = np.full(shape, IGNORE_INDEX)
    full[pos[:, 0], pos[:, 1]], ids[pos[:, 0], pos[:, 1]] = logits, labels
    return full, ids


def _epoch_metrics(log_history: list[dict]) -> list[dict]:
    return [
        {k.replace("eval_", ""): v for k, v in rec.items() if k.startswith("eval_") or k == "epoch"}
        for rec in log_history
        if "eval_macro_f1" in rec
    ]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: ``message`` says where the run stopped and how to resume it."""

    def __init__(self, message: str, checkpoint: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.checkpoint = checkpoint


# RunConfig fields that may differ between an interrupted run and its resumption
_RESUME_MAY_DIFFER = ("resume", "output_dir", "save_model")


def _resume_record(record: dict[str, Any]) -> dict[str, Any]:
    """The part of a run's :func:`~hamr.config.run_config_record` that a resumed run must repeat."""
    return {k: v for k, v in record.items() if k not in _RESUME_MAY_DIFFER}


def _resume_checkpoint(config: RunConfig, out: Path, say: Callable[[str], None]) -> str:
    """The latest complete checkpoint of ``out/trainer`` for a resumed run (incomplete ones are named and
    skipped); the run's settings must be those of the interrupted run."""
    ckpt, skipped = latest_complete_checkpoint(out / "trainer")
    for bad in skipped:
        say(f"skipping incomplete checkpoint {bad} (no completion marker: the run stopped while saving it)")
    if ckpt is None:
        raise FileNotFoundError(f"{out}: no complete checkpoint to resume from under {out / 'trainer'} (was the run "
                                "started with --checkpoint-every epoch|N?)")
    saved = out / RUN_CONFIG_FILE
    if saved.exists():
        before = _resume_record(json.loads(saved.read_text()))
        now = _resume_record(run_config_record(config))
        diff = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        if diff:
            raise SettingError(f"{saved}: --resume needs the interrupted run's settings; these differ: "
                             + ", ".join(f"{k} (was {before.get(k)!r}, now {now.get(k)!r})" for k in diff))
    say(f"resuming from {ckpt}")
    return str(ckpt)


def run(config: RunConfig, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train and evaluate one configuration; return (and write) its metrics. ``say`` prints what the run does
    to its folder (default: the log)."""
    from transformers import set_seed

    say = say or logger.warning
    out = Path(config.output_dir)
    check_method_config(config)
    resume_from = _resume_checkpoint(config, out, say) if config.resume else None
    set_seed(config.seed)
    bundle = load_data(config)  # bad data or a bad model fails here, before the folder is touched
    check_trainable(bundle)
    for split_name, rep in bundle.unseen_report.items():
        if rep["policy"] == "drop":
            say(f"{split_name}: dropped {rep['dropped_examples']} example(s) with labels never seen in training "
                f"({', '.join(f'{k} x{v}' for k, v in rep['labels'].items())}); scores use the other "
                f"{rep['kept_examples']}")
        else:
            say(f"{split_name}: mapped {rep['mapped_examples']} example(s) with labels never seen in training: "
                + ", ".join(f"{k} -> {v}" for k, v in rep["labels"].items()))
    task = bundle.task
    tokenizer = load_tokenizer(config.model)
    out.mkdir(parents=True, exist_ok=True)
    if not config.resume:
        removed = clear_run_outputs(out)
        if removed:
            say(f"cleared the previous run's outputs in {out}: {', '.join(removed)}")
    encoded = {name: encode_split(s, tokenizer, bundle.vocab, config.max_length) for name, s in bundle.splits().items()}
    args = training_arguments(config, task, str(out / "trainer"))
    if not config.resume:  # what --resume checks against and what the report rebuilds the training split from
        atomic_write_text(out / RUN_CONFIG_FILE, json.dumps(run_config_record(config), indent=2) + "\n")
    ctx = RunContext(config, bundle, tokenizer, encoded["train"], encoded.get("validation"), args,
                     make_compute_metrics(task, bundle, encoded), resume_from=resume_from)
    t0 = time.perf_counter()
    try:
        trainer = train_with_method(ctx)
    except KeyboardInterrupt:
        ckpt, _ = latest_complete_checkpoint(out / "trainer")
        if ckpt is None:
            how = ("no complete checkpoint was saved, so it cannot resume" +
                   ("" if config.checkpoint_every != CheckpointEvery.NONE else " (checkpoints were off)"))
        else:
            try:
                mark = json.loads((ckpt / CHECKPOINT_MARKER).read_text())
                at = f" (step {mark['global_step']}, epoch {float(mark['epoch']):g})"
            except (OSError, ValueError, KeyError, TypeError):
                at = ""
            how = f"the latest complete checkpoint is {ckpt}{at}; resume with the same command plus --resume"
        raise RunInterrupted(f"interrupted: training of {out} stopped; {how}", None if ckpt is None else str(ckpt)) from None
    total_seconds = time.perf_counter() - t0
    train_seconds = total_seconds - ctx.extra.get("embedding_seconds", 0.0)
    result: dict[str, Any] = {
        "dataset": bundle.name,
        "task": str(task),
        "method": str(config.method),
        "model": config.model or "all-MiniLM-L6-v2 (packaged)",
        "seed": config.seed,
        "epochs": config.epochs,
        "max_length": config.max_length,
        "batch_size": config.batch_size,
        "learning_rate": args.learning_rate,
        "options": {k: str(v) for k, v in config.options.items()},
        "method_settings": _method_settings(args),
        "resolved_method_settings": _resolved_method_settings(args, task),
        "train_examples": len(bundle.train),
        "max_train_examples": config.max_train_examples,
        "truncated": {k: v.num_truncated for k, v in encoded.items()},
        "train_seconds": train_seconds,
        "seconds_per_epoch": train_seconds / max(config.epochs, 1e-9),
        "total_seconds": total_seconds,
        "resumed_from": resume_from,
        **ctx.extra,
    }
    if bundle.unseen_report:
        result["unseen_labels"] = bundle.unseen_report
    delta = validation_before = None
    form, why_none = resolve_form(config.decision_offsets, "validation" in encoded, trainer.model, len(bundle.vocab))
    if why_none is not None:  # auto without offsets: said, and recorded
        say(f"decision offsets: none (auto: {why_none})")
        result["decision_offsets"] = {"form": "none", "requested": config.decision_offsets.value, "why": why_none}
    if form != DecisionOffsets.NONE:
        result["decision_offsets"], delta, validation_before, deltas = _decision_offsets(config, form, bundle, encoded,
                                                                                         trainer, say)
        without: dict[str, Any] = {}
        result["decision_offsets"]["without"] = without
    logit_arrays: dict[str, np.ndarray] = {"label_names": np.asarray(bundle.vocab.labels, dtype=str),
                                           "offsets": np.zeros(len(bundle.vocab)) if delta is None else delta}
    for name in ("validation", "test"):
        if name in encoded:
            if name == "validation" and validation_before is not None:  # predicted before folding: add δ
                plain, label_ids = validation_before
                logits = plain + delta
            else:
                pred = trainer.predict(encoded[name], metric_key_prefix=name)
                logits, label_ids = pred.predictions, pred.label_ids
                plain = logits if delta is None else np.asarray(logits) - delta
            logit_arrays.update(_logit_arrays(name, plain, label_ids))
            if delta is not None:  # the offsets are in the output bias now: score without them too
                without[name] = evaluate_predictions(task, bundle, plain, label_ids,
                                                     gold_split=bundle.splits()[name],
                                                     word_index=encoded[name].word_index)
            result[name] = evaluate_predictions(task, bundle, logits, label_ids,
                                                gold_split=bundle.splits()[name],
                                                word_index=encoded[name].word_index)
            if delta is not None and name == "test":  # every form's test score: a report picks the form on held-out
                for kind, d in deltas.items():
                    if kind == DecisionOffsets.NONE:
                        scores = without[name]
                    elif kind == form:
                        scores = result[name]
                    else:
                        scores = evaluate_predictions(task, bundle, plain + d, label_ids, gold_split=bundle.test,
                                                      word_index=encoded[name].word_index)
                    result["decision_offsets"]["forms"][kind.value]["test"] = {
                        k: scores[k] for k in ("macro_f1", "micro_f1", "per_class", "per_type") if k in scores}
            holdout = validation_holdout(config, bundle) if name == "validation" else None
            if holdout is not None:  # the half HAMR's meta set never saw, and the half it could use
                words = encoded[name].word_index
                for key, rows in (("validation_heldout", holdout.heldout_indices),
                                  ("validation_meta_half", holdout.meta_indices)):
                    result[key] = evaluate_predictions(task, bundle, _rows(logits, rows),
                                                       _rows(label_ids, rows),
                                                       gold_split=bundle.validation.subset(rows),
                                                       word_index=None if words is None else [words[i] for i in rows])
                result["validation_holdout"] = {"fraction": holdout.fraction, "seed": holdout.seed,
                                                "heldout_examples": len(holdout.heldout_indices),
                                                "meta_half_examples": len(holdout.meta_indices)}
            if name == "test" and trainer.is_world_process_zero():
                _write_predictions(out / "test_predictions.tsv", task, bundle.test, logits,
                                   label_ids, bundle, encoded[name].word_index)
    result["epoch_metrics"] = _epoch_metrics(trainer.state.log_history)
    result["train_losses"] = [rec["loss"] for rec in trainer.state.log_history if "loss" in rec]
    result["test_examples"] = len(bundle.test) if bundle.test is not None else 0
    result["peak_memory_mb"] = peak_memory_mb()
    if not trainer.is_world_process_zero():  # under torchrun every rank evaluates; one writes
        return result
    atomic_write_text(out / "epoch_metrics.jsonl", "".join(json.dumps(rec) + "\n" for rec in result["epoch_metrics"]))
    tmp = out / f"{TEMP_PREFIX}{LOGITS_FILE}"
    np.savez_compressed(tmp, **logit_arrays)
    os.replace(tmp, out / LOGITS_FILE)
    for fname in get_method(config.method).output_files:
        src = Path(args.output_dir) / fname
        if src.exists():
            os.replace(src, out / fname)
    from .diagnostics import plot_run

    try:  # a figure is not worth a finished run: its failure is logged and recorded, the results are kept
        plot_run(out)
    except Exception as exc:  # noqa: BLE001
        logger.warning("diagnostics plot of %s failed (%s: %s); the run's results are saved", out,
                       type(exc).__name__, exc)
        result["diagnostics_plot_error"] = f"{type(exc).__name__}: {exc}"
    if config.save_model:
        with atomic_folder(out / "model") as tmp:
            trainer.save_model(str(tmp))
            tokenizer.save_pretrained(str(tmp))
            from .modelcard import write_model_card

            write_model_card(tmp, result, bundle)
    atomic_write_text(out / "metrics.json", json.dumps(result, indent=2, default=str))
    # the run is finished: its checkpoints (only there to resume it) go
    trainer_dir = Path(args.output_dir)
    if trainer_dir.is_dir():
        shutil.rmtree(trainer_dir)
    return result
