"""One training run from data to metrics: what ``hamr train`` and ``hamr bench`` call.

:func:`run` loads a dataset (a benchmark name or files), tokenizes it, trains with the chosen method,
evaluates on validation after every epoch and on test at the end, and writes into ``output_dir``:

- ``model/``: the fine-tuned model and tokenizer (``save_pretrained``; loads with plain ``AutoModelFor...`` and
  ``transformers.pipeline``), its model card ``README.md`` and ``hamr.json`` (see :mod:`hamr.modelcard`);
- ``metrics.json``: test (and validation) metrics, per class / type, quartiles, timings, peak memory;
- ``test_predictions.tsv``: one row per test example (index, id, gold, predicted, then the probabilities: for
  classification ``probability`` of the predicted class and ``p:<class>`` per class; for NER
  ``probabilities``, the predicted tag's probability per word);
- ``epoch_metrics.jsonl``: validation macro/micro F1 and per-class F1 after every epoch;
- for HAMR, ``hamr_diagnostics.jsonl``, ``hamr_examples.tsv`` and the label-free ``hamr_hardness.json`` (see
  :class:`~hamr.trainer.HAMRTrainer`).

A new run first deletes what an earlier run left in ``output_dir`` (the names in
:data:`hamr.run_outputs.RUN_OUTPUTS`), unless it resumes; every file is written under a temporary name and
renamed into place. With ``checkpoint_every`` the Trainer saves ``trainer/checkpoint-N`` folders, each complete
once its marker is written; ``resume=True`` continues from the latest complete one (and deletes the
checkpoints when the run finishes). Ctrl-C raises :class:`RunInterrupted`, which says how to resume.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .data import DataBundle, DataError, Split, load_benchmark, load_files
from .enums import CheckpointEvery, Method, TaskType
from .run_outputs import (
    CHECKPOINT_MARKER,
    atomic_folder,
    atomic_write_text,
    clear_run_outputs,
    latest_complete_checkpoint,
)
from .metrics import classification_metrics, ner_metrics
from .tasks import (IGNORE_INDEX, EncodedDataset, IndexCollator, encode_split, labels_by_word, load_model,
                    load_tokenizer, predictions_to_labels)
from .training_args import HAMRArguments, ImbalanceArguments

logger = logging.getLogger(__name__)


@dataclass
class RunConfig:
    """Everything one run needs. ``options`` sets any further field of :class:`~hamr.HAMRArguments` /
    :class:`~hamr.ImbalanceArguments` by name (e.g. ``{"lookahead_scope": "head"}``)."""

    dataset: str | None = None  # a benchmark name (hamr.data.list_benchmarks())
    data: DataBundle | None = field(default=None, repr=False)  # or an in-memory dataset (hamr.fit builds one)
    train_file: str | None = None  # or files
    validation_file: str | None = None
    test_file: str | None = None
    task: TaskType | None = None  # required with files
    data_format: str | None = None  # delimited | jsonl | conll | ptb | hf (default: from the extension)
    data_options: dict[str, Any] = field(default_factory=dict)  # e.g. text_column, tag_column, label_map
    data_root: str | None = None
    limit: int | None = None  # first N examples of every split (smoke runs)
    max_train_examples: int | None = None  # a seeded random sample (seed) of the training split, for budgets
    model: str | None = None  # any HF model name or path (default: the packaged MiniLM)
    method: Method = Method.ERM
    max_length: int = 64
    epochs: float = 3.0
    batch_size: int = 16
    learning_rate: float | None = None  # None: 4e-5 classification, 2e-5 NER (method.md §8; MiniLM on 1k NER sentences needs 1e-4: cpu.json)
    seed: int = 42
    output_dir: str = "runs/latest"
    save_model: bool = True
    evaluate_each_epoch: bool = True
    # honest validation (issue 22, hamr.holdout): this share of the validation split, a stratified cut seeded by
    # validation_holdout_seed (fixed, not the run's seed), is kept out of HAMR's meta set and scored apart for
    # every method as metrics.json's ``validation_heldout``; 0 switches it off (the meta set takes all of it)
    validation_holdout: float = 0.5
    validation_holdout_seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    checkpoint_every: CheckpointEvery = CheckpointEvery.NONE  # none (bench default) | epoch | steps
    checkpoint_steps: int | None = None  # with checkpoint_every=steps: save every N optimiser steps
    resume: bool = False  # continue from the latest complete checkpoint of output_dir/trainer
    unseen_labels: str | None = None  # validation/test labels training lacks: error (None) | drop | map:FILE

    def __post_init__(self) -> None:
        self.method = Method.parse(self.method)
        self.checkpoint_every = CheckpointEvery.parse(self.checkpoint_every)
        if self.task is not None:
            self.task = TaskType.parse(self.task)
        if sum(x is not None for x in (self.dataset, self.train_file, self.data)) != 1:
            raise ValueError("give exactly one of a benchmark dataset name, a train_file or an in-memory data bundle")
        if self.train_file is not None and self.task is None:
            raise ValueError("a run from files needs task=classification|ner")
        validate_run_sizes(self)
        if not 0.0 <= self.validation_holdout < 1.0:
            raise ValueError(f"RunConfig.validation_holdout must be in [0, 1), got {self.validation_holdout}")
        if self.checkpoint_every == CheckpointEvery.STEPS and self.checkpoint_steps is None:
            raise ValueError("RunConfig.checkpoint_steps: checkpoint_every=steps needs a step count >= 1")
        if self.checkpoint_every != CheckpointEvery.STEPS and self.checkpoint_steps is not None:
            raise ValueError(f"RunConfig.checkpoint_steps is set but checkpoint_every={self.checkpoint_every.value}")
        if self.method in NOT_RESUMABLE and (self.resume or self.checkpoint_every != CheckpointEvery.NONE):
            raise ValueError(f"RunConfig: method {self.method.value} trains in stages and cannot checkpoint or "
                             f"resume (checkpoint_every=none, resume=False); methods that can: "
                             f"{', '.join(m.value for m in Method if m not in NOT_RESUMABLE)}")
        if "resume_from_checkpoint" in self.options:
            raise ValueError("option resume_from_checkpoint is not honoured by hamr's runs: use RunConfig.resume=True "
                             "(hamr train --resume), which continues from the latest complete checkpoint of output_dir")
        if self.unseen_labels is not None:
            from .data import UnseenLabelPolicy

            UnseenLabelPolicy.parse(self.unseen_labels)  # a bad value or a missing map file fails here, early


#: methods whose training runs in stages (a first model, then the real one): no checkpoints, no resume
NOT_RESUMABLE = (Method.LNR, Method.GBC, Method.METABALANCE)


def _check(ok: bool, name: str, expected: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"RunConfig.{name} must be {expected}, got {value!r}")


def validate_run_sizes(config: "RunConfig") -> None:
    """Refuse sizes that make a run meaningless (0 epochs, an empty slice, a zero batch, a negative lr ...)."""
    import math

    def pos_int(v):
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1

    _check(config.limit is None or pos_int(config.limit), "limit", "an int >= 1 (None: every example)", config.limit)
    _check(config.max_train_examples is None or pos_int(config.max_train_examples), "max_train_examples",
           "an int >= 1 (None: the whole training split)", config.max_train_examples)
    _check(pos_int(config.max_length) and config.max_length >= 3, "max_length",
           "an int >= 3 (special tokens plus at least one token)", config.max_length)
    _check(isinstance(config.epochs, (int, float)) and math.isfinite(config.epochs) and config.epochs > 0,
           "epochs", "a number > 0", config.epochs)
    _check(pos_int(config.batch_size), "batch_size", "an int >= 1", config.batch_size)
    lr = config.learning_rate
    _check(lr is None or (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0), "learning_rate",
           "a number > 0 (None: the task's default)", lr)
    _check(isinstance(config.seed, int) and 0 <= config.seed < 2**32, "seed", "an int in [0, 2**32)", config.seed)
    _check(config.checkpoint_steps is None or pos_int(config.checkpoint_steps), "checkpoint_steps",
           "an int >= 1", config.checkpoint_steps)


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
    """The TrainingArguments of a run: HAMRArguments for HAMR, ImbalanceArguments otherwise."""
    cls = HAMRArguments if config.method == Method.HAMR else ImbalanceArguments
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(config.options) - valid)
    if unknown:
        raise ValueError(
            f"unknown option(s) for method {config.method}: {', '.join(unknown)} (see {cls.__name__}'s fields)"
        )
    lr = config.learning_rate if config.learning_rate is not None else (2e-5 if task == TaskType.NER else 4e-5)
    base = dict(
        output_dir=output_dir,
        method=config.method,
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=max(config.batch_size, 32),
        learning_rate=lr,
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
        if not np.array_equal(row[row != -100], mine[mine != -100]):
            return False
    return True


def evaluate_predictions(
    task: TaskType, bundle: DataBundle, logits, label_ids, gold_split: Split | None = None,
    word_index: list[list[int]] | None = None, truncated_as_o: bool = True,
) -> dict[str, Any]:
    """Metrics of method.md §7 from raw logits and gold label ids, with quartiles by training frequency.

    NER with ``gold_split`` (needs ``word_index``, the encoded split's :attr:`EncodedDataset.word_index`):
    predictions are put back on the split's words by word index; a word without sub-tokens is predicted ``O``
    at its own position. With ``truncated_as_o`` (the final scoring), the gold tags are the full sentences and
    words cut off by ``max_length`` count as predicted ``O``, so truncation can only lower the score, never
    hide gold entities; without it (per-epoch scores) each sentence ends at its last word that kept a
    sub-token, as the label ids do."""
    train_counts = bundle.train.label_counts()
    if task == TaskType.CLASSIFICATION:
        pred = np.asarray(logits).argmax(-1)
        return classification_metrics(np.asarray(label_ids).tolist(), pred.tolist(), bundle.vocab.labels, train_counts)
    gold, predicted = predictions_to_labels(task, logits, label_ids, bundle.vocab)
    if gold_split is not None:
        gold, predicted = words_gold_and_predicted(gold_split, predicted, word_index, truncated_as_o)
    return ner_metrics(gold, predicted, train_counts)


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


@dataclass
class RunContext:
    """What a method's training function receives (see :mod:`hamr.baselines`)."""

    config: RunConfig
    bundle: DataBundle
    tokenizer: Any
    train: EncodedDataset
    validation: EncodedDataset | None
    args: ImbalanceArguments
    compute_metrics: Callable
    extra: dict[str, Any] = field(default_factory=dict)  # figures a method reports beside the metrics
    resume_from: str | None = None  # a complete checkpoint folder to continue from

    def new_model(self) -> torch.nn.Module:
        torch.manual_seed(self.config.seed)
        return load_model(self.bundle.task, self.bundle.vocab, self.config.model)

    def collator(self) -> IndexCollator:
        return IndexCollator(self.tokenizer, self.bundle.task)

    def encode(self, split: Split) -> EncodedDataset:
        return encode_split(split, self.tokenizer, self.bundle.vocab, self.config.max_length)

    def trainer_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """The keyword arguments every method's Trainer takes (a fresh model, the run's data and metrics)."""
        kwargs = dict(
            model=self.new_model(),
            args=self.args,
            train_dataset=self.train,
            eval_dataset=self.validation,
            processing_class=self.tokenizer,
            compute_metrics=self.compute_metrics,
            task=self.bundle.task,
        )
        kwargs.update(overrides)
        return kwargs


def validation_holdout(config: RunConfig, bundle: DataBundle):
    """The run's :class:`~hamr.holdout.ValidationHoldout` (None without a validation split or with the
    hold-out off)."""
    from .holdout import split_validation

    if bundle.validation is None or not config.validation_holdout:
        return None
    return split_validation(bundle.validation, config.validation_holdout, config.validation_holdout_seed)


def _rows(x, rows: list[int]):
    """Rows of a prediction array (or of each array of a tuple)."""
    if isinstance(x, tuple):
        return tuple(_rows(a, rows) for a in x)
    return np.asarray(x)[rows]


def train_with_method(ctx: RunContext):
    """Build and train the Trainer for ``ctx.config.method``; return the trained Trainer."""
    from .trainer import HAMRTrainer, ImbalanceTrainer

    method = ctx.config.method
    if method == Method.HAMR:
        from .metaset import build_meta_set

        args: HAMRArguments = ctx.args  # type: ignore[assignment]
        if ctx.bundle.validation is None:
            raise ValueError("HAMR needs a validation split to build the balanced meta set")
        meta_source = ctx.bundle.validation
        holdout = validation_holdout(ctx.config, ctx.bundle)
        if holdout is not None:  # the held-out half never enters the meta set
            meta_source = meta_source.subset(holdout.meta_indices, name="validation_meta_half")
            ctx.extra["meta_validation_examples"] = len(holdout.meta_indices)
        meta = build_meta_set(ctx.bundle.train, meta_source, seed=ctx.config.seed,
                              strip_from_train=args.meta_strip_from_train)
        train_split = meta.train if meta.train is not None else ctx.bundle.train
        train_ds = ctx.encode(train_split) if meta.train is not None else ctx.train
        trainer = HAMRTrainer(
            **ctx.trainer_kwargs(train_dataset=train_ds),
            meta_dataset=ctx.encode(meta.split),
            train_texts=train_split.all_texts(),
            group_names=ctx.bundle.vocab.labels,
        )
        t0 = time.perf_counter()
        trainer.prepare_knn()  # embeddings (cached on disk) and the FAISS graph: a one-off cost, timed apart
        ctx.extra["embedding_seconds"] = time.perf_counter() - t0
        trainer.train(resume_from_checkpoint=ctx.resume_from)
        return trainer
    if method in (Method.LNR, Method.GBC, Method.METABALANCE):
        from . import baselines

        return baselines.train(method, ctx)
    trainer = ImbalanceTrainer(**ctx.trainer_kwargs())
    trainer.train(resume_from_checkpoint=ctx.resume_from)
    return trainer


def _method_settings(args: ImbalanceArguments) -> dict[str, str]:
    """Every field the method's arguments add to TrainingArguments, as run (defaults included)."""
    from transformers import TrainingArguments

    base = {f.name for f in dataclasses.fields(TrainingArguments)}
    return {f.name: str(getattr(args, f.name)) for f in dataclasses.fields(args) if f.name not in base}


# the ImbalanceArguments fields each baseline reads (HAMR reads HAMRArguments' own fields)
_BASELINE_FIELDS: dict[Method, tuple[str, ...]] = {
    Method.DICE: ("dice_smooth",),
    Method.FOCAL: ("focal_gamma", "effective_number_beta"),
    Method.EFFECTIVE_NUMBER: ("effective_number_beta",),
}
_BASELINE_PREFIXES: dict[Method, str] = {Method.LNR: "lnr_", Method.GBC: "gbc_", Method.METABALANCE: "metabalance_",
                                         Method.LOGIT_ADJUSTMENT: "logit_adjustment_"}


def relevant_method_settings(method: Method | str, settings: dict[str, str]) -> dict[str, str]:
    """The part of a run's ``method_settings`` (see :func:`run`) that can change what ``method`` does: HAMR's
    own fields for HAMR, a baseline's fields for that baseline (``dice_smooth`` for Dice, ...), nothing for
    ERM, ICF and the balanced sampler. Two runs of a method with equal relevant settings ran the same method,
    whatever the other methods' defaults were."""
    method = Method.parse(method)
    if method == Method.HAMR:
        own = {f.name for f in dataclasses.fields(ImbalanceArguments)}
        return {k: v for k, v in settings.items() if k not in own}
    prefix = _BASELINE_PREFIXES.get(method)
    names = _BASELINE_FIELDS.get(method, ())
    return {k: v for k, v in settings.items() if k in names or (prefix is not None and k.startswith(prefix))}


def current_method_settings(method: Method | str, options: dict[str, Any]) -> dict[str, str]:
    """What :func:`run` would record as ``method_settings`` for ``method`` with ``options`` on this code
    version (the library's current defaults), restricted to :func:`relevant_method_settings`."""
    method = Method.parse(method)
    return relevant_method_settings(method, _method_settings(_probe_arguments(method, options)))


def _probe_arguments(method: Method, options: dict[str, Any]) -> ImbalanceArguments:
    """The method's arguments with ``options`` on this code version's defaults (nothing is trained)."""
    cls = HAMRArguments if method == Method.HAMR else ImbalanceArguments
    return cls(output_dir=os.path.join(tempfile.gettempdir(), "hamr_settings_probe"), method=method, report_to=[],
               use_cpu=True, **options)


# resolved values that follow from the protocol's own settings (compared there), not from a library default
_PROTOCOL_RESOLVED = ("meta_batch_size",)


def _resolved_method_settings(args: ImbalanceArguments, task: TaskType) -> dict[str, str]:
    """The task-dependent values a HAMR run actually used (:meth:`HAMRArguments.resolved`: the weight net's lr,
    τ, λ, ... that its fields leave at None), as strings; empty for the other methods."""
    if not isinstance(args, HAMRArguments):
        return {}
    return {k: str(v) for k, v in args.resolved(task).items()}


def current_resolved_settings(method: Method | str, options: dict[str, Any], task: TaskType | str) -> dict[str, str]:
    """What :func:`run` would record as ``resolved_method_settings`` for ``method`` with ``options`` on a
    ``task`` dataset on this code version, without the values the protocol's settings decide (the meta batch
    size follows the batch size)."""
    method = Method.parse(method)
    if method != Method.HAMR:
        return {}
    resolved = _resolved_method_settings(_probe_arguments(method, options), TaskType.parse(task))
    return {k: v for k, v in resolved.items() if k not in _PROTOCOL_RESOLVED}


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


def _config_record(config: RunConfig) -> dict[str, Any]:
    return {k: (str(v) if not isinstance(v, (int, float, bool, type(None), dict, list)) else v)
            for k, v in dataclasses.asdict(config).items() if k not in _RESUME_MAY_DIFFER}


def _resume_checkpoint(config: RunConfig, out: Path, say: Callable[[str], None]) -> str:
    """The latest complete checkpoint of ``out/trainer`` for a resumed run (incomplete ones are named and
    skipped); the run's settings must be those of the interrupted run."""
    ckpt, skipped = latest_complete_checkpoint(out / "trainer")
    for bad in skipped:
        say(f"skipping incomplete checkpoint {bad} (no completion marker: the run stopped while saving it)")
    if ckpt is None:
        raise FileNotFoundError(f"{out}: no complete checkpoint to resume from under {out / 'trainer'} (was the run "
                                "started with --checkpoint-every epoch|N?)")
    saved = out / "run_config.json"
    if saved.exists():
        before = json.loads(saved.read_text())
        now = json.loads(json.dumps(_config_record(config), default=str))
        diff = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        if diff:
            raise ValueError(f"{saved}: --resume needs the interrupted run's settings; these differ: "
                             + ", ".join(f"{k} (was {before.get(k)!r}, now {now.get(k)!r})" for k in diff))
    say(f"resuming from {ckpt}")
    return str(ckpt)


def run(config: RunConfig, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train and evaluate one configuration; return (and write) its metrics. ``say`` prints what the run does
    to its folder (default: the log)."""
    from transformers import set_seed

    say = say or logger.warning
    out = Path(config.output_dir)
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
    if not config.resume and config.checkpoint_every != CheckpointEvery.NONE:  # what --resume checks against
        atomic_write_text(out / "run_config.json", json.dumps(_config_record(config), indent=2, default=str))
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
    for name in ("validation", "test"):
        if name in encoded:
            pred = trainer.predict(encoded[name], metric_key_prefix=name)
            result[name] = evaluate_predictions(task, bundle, pred.predictions, pred.label_ids,
                                                gold_split=bundle.splits()[name],
                                                word_index=encoded[name].word_index)
            holdout = validation_holdout(config, bundle) if name == "validation" else None
            if holdout is not None:  # the half HAMR's meta set never saw, and the half it could use
                words = encoded[name].word_index
                for key, rows in (("validation_heldout", holdout.heldout_indices),
                                  ("validation_meta_half", holdout.meta_indices)):
                    result[key] = evaluate_predictions(task, bundle, _rows(pred.predictions, rows),
                                                       _rows(pred.label_ids, rows),
                                                       gold_split=bundle.validation.subset(rows),
                                                       word_index=None if words is None else [words[i] for i in rows])
                result["validation_holdout"] = {"fraction": holdout.fraction, "seed": holdout.seed,
                                                "heldout_examples": len(holdout.heldout_indices),
                                                "meta_half_examples": len(holdout.meta_indices)}
            if name == "test" and trainer.is_world_process_zero():
                _write_predictions(out / "test_predictions.tsv", task, bundle.test, pred.predictions,
                                   pred.label_ids, bundle, encoded[name].word_index)
    result["epoch_metrics"] = _epoch_metrics(trainer.state.log_history)
    result["train_losses"] = [rec["loss"] for rec in trainer.state.log_history if "loss" in rec]
    result["test_examples"] = len(bundle.test) if bundle.test is not None else 0
    result["peak_memory_mb"] = peak_memory_mb()
    if not trainer.is_world_process_zero():  # under torchrun every rank evaluates; one writes
        return result
    atomic_write_text(out / "epoch_metrics.jsonl", "".join(json.dumps(rec) + "\n" for rec in result["epoch_metrics"]))
    for fname in ("hamr_diagnostics.jsonl", "hamr_examples.tsv", "hamr_hardness.json", "lnr_flips.json",
                  "gbc_selection.json"):
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
