"""One training run from data to metrics: what ``hamr train`` and ``hamr bench`` call.

:func:`run` loads a dataset (a benchmark name or files), tokenizes it, trains with the chosen method,
evaluates on validation after every epoch and on test at the end, and writes into ``output_dir``:

- ``model/``: the fine-tuned model and tokenizer (``save_pretrained``; loads with plain ``AutoModelFor...``);
- ``metrics.json``: test (and validation) metrics, per class / type, quartiles, timings, peak memory;
- ``test_predictions.tsv``: one row per test example (id or index, gold, predicted);
- ``epoch_metrics.jsonl``: validation macro/micro F1 and per-class F1 after every epoch;
- for HAMR, ``hamr_diagnostics.jsonl``, ``hamr_examples.tsv`` and the label-free ``hamr_hardness.json`` (see
  :class:`~hamr.trainer.HAMRTrainer`).
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

from .data import DataBundle, Split, load_benchmark, load_files
from .enums import Method, TaskType
from .metrics import classification_metrics, ner_metrics
from .tasks import (EncodedDataset, IndexCollator, encode_split, labels_by_word, load_model, load_tokenizer,
                    predictions_to_labels)
from .training_args import HAMRArguments, ImbalanceArguments

logger = logging.getLogger(__name__)


@dataclass
class RunConfig:
    """Everything one run needs. ``options`` sets any further field of :class:`~hamr.HAMRArguments` /
    :class:`~hamr.ImbalanceArguments` by name (e.g. ``{"lookahead_scope": "head"}``)."""

    dataset: str | None = None  # a benchmark name (hamr.data.list_benchmarks())
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

    def __post_init__(self) -> None:
        self.method = Method.parse(self.method)
        if self.task is not None:
            self.task = TaskType.parse(self.task)
        if (self.dataset is None) == (self.train_file is None):
            raise ValueError("give either a benchmark dataset name or a train_file")
        if self.train_file is not None and self.task is None:
            raise ValueError("a run from files needs task=classification|ner")
        if not 0.0 <= self.validation_holdout < 1.0:
            raise ValueError(f"RunConfig.validation_holdout must be in [0, 1), got {self.validation_holdout}")


def load_data(config: RunConfig) -> DataBundle:
    """The run's dataset; with ``max_train_examples``, a seeded random sample of the training split (a random
    sample keeps the class imbalance, the first N lines may not: SST-5's file is ordered by label)."""
    bundle = _load_all(config)
    cap = config.max_train_examples
    if cap and len(bundle.train) > cap:
        keep = np.sort(np.random.default_rng(config.seed).choice(len(bundle.train), size=cap, replace=False))
        bundle = DataBundle(bundle.name, bundle.task, bundle.train.subset(keep.tolist()), bundle.validation,
                            bundle.test, vocab=bundle.vocab)
    return bundle


def _load_all(config: RunConfig) -> DataBundle:
    if config.dataset is not None:
        return load_benchmark(config.dataset, config.data_root, seed=config.seed, limit=config.limit)
    bundle = load_files(
        config.task,
        config.train_file,
        config.validation_file,
        config.test_file,
        fmt=config.data_format,
        seed=config.seed,
        **config.data_options,
    )
    if config.limit:
        bundle = DataBundle(
            bundle.name,
            bundle.task,
            bundle.train.subset(range(min(config.limit, len(bundle.train)))),
            None if bundle.validation is None else bundle.validation.subset(range(min(config.limit, len(bundle.validation)))),
            None if bundle.test is None else bundle.test.subset(range(min(config.limit, len(bundle.test)))),
            vocab=bundle.vocab,
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
        save_strategy="no",
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
        trainer.train()
        return trainer
    if method in (Method.LNR, Method.GBC, Method.METABALANCE):
        from . import baselines

        return baselines.train(method, ctx)
    trainer = ImbalanceTrainer(**ctx.trainer_kwargs())
    trainer.train()
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
    """One row per example; NER rows hold one tag per word of the sentence (see :func:`evaluate_predictions`)."""
    gold, pred = predictions_to_labels(task, logits, label_ids, bundle.vocab)
    if task == TaskType.NER:
        gold, pred = words_gold_and_predicted(split, pred, word_index)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("index\tid\tgold\tpredicted\n")
        for i, (g, p) in enumerate(zip(gold, pred)):
            ident = split.ids[i] if split.ids else ""
            if task == TaskType.NER:
                g, p = " ".join(g), " ".join(p)
            fh.write(f"{i}\t{ident}\t{g}\t{p}\n")


def _epoch_metrics(log_history: list[dict]) -> list[dict]:
    return [
        {k.replace("eval_", ""): v for k, v in rec.items() if k.startswith("eval_") or k == "epoch"}
        for rec in log_history
        if "eval_macro_f1" in rec
    ]


def run(config: RunConfig) -> dict[str, Any]:
    """Train and evaluate one configuration; return (and write) its metrics."""
    from transformers import set_seed

    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    set_seed(config.seed)
    bundle = load_data(config)
    task = bundle.task
    tokenizer = load_tokenizer(config.model)
    encoded = {name: encode_split(s, tokenizer, bundle.vocab, config.max_length) for name, s in bundle.splits().items()}
    args = training_arguments(config, task, str(out / "trainer"))
    ctx = RunContext(config, bundle, tokenizer, encoded["train"], encoded.get("validation"), args,
                     make_compute_metrics(task, bundle, encoded))
    t0 = time.perf_counter()
    trainer = train_with_method(ctx)
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
        **ctx.extra,
    }
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
    with open(out / "epoch_metrics.jsonl", "w") as fh:
        for rec in result["epoch_metrics"]:
            fh.write(json.dumps(rec) + "\n")
    for fname in ("hamr_diagnostics.jsonl", "hamr_examples.tsv", "hamr_hardness.json", "lnr_flips.json",
                  "gbc_selection.json"):
        src = Path(args.output_dir) / fname
        if src.exists():
            shutil.move(str(src), out / fname)
    from .diagnostics import plot_run

    try:  # a figure is not worth a finished run: its failure is logged and recorded, the results are kept
        plot_run(out)
    except Exception as exc:  # noqa: BLE001
        logger.warning("diagnostics plot of %s failed (%s: %s); the run's results are saved", out,
                       type(exc).__name__, exc)
        result["diagnostics_plot_error"] = f"{type(exc).__name__}: {exc}"
    if (Path(args.output_dir)).is_dir() and not any(Path(args.output_dir).iterdir()):
        Path(args.output_dir).rmdir()
    if config.save_model:
        trainer.save_model(str(out / "model"))
        tokenizer.save_pretrained(str(out / "model"))
    with open(out / "metrics.json", "w") as fh:
        json.dump(result, fh, indent=2, default=str)
    return result
