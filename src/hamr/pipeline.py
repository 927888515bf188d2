"""One training run from data to metrics: what ``hamr train`` and ``hamr bench`` call.

:func:`run` loads a dataset (a benchmark name or files), tokenizes it, trains with the chosen method,
evaluates on validation after every epoch and on test at the end, and writes into ``output_dir``:

- ``model/``: the fine-tuned model and tokenizer (``save_pretrained``; loads with plain ``AutoModelFor...``);
- ``metrics.json``: test (and validation) metrics, per class / type, quartiles, timings, peak memory;
- ``test_predictions.tsv``: one row per test example (id or index, gold, predicted);
- ``epoch_metrics.jsonl``: validation macro/micro F1 and per-class F1 after every epoch;
- the files the method declares in its registry entry (``output_files``): for HAMR ``hamr_diagnostics.jsonl``,
  ``hamr_examples.tsv`` and the label-free ``hamr_hardness.json`` (see :class:`~hamr.methods.hamr.HAMRTrainer`),
  ``lnr_flips.json`` for LNR, ``gbc_selection.json`` for GBC.
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
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .config import RunConfig, resolve_learning_rate
from .constants import IGNORE_INDEX
from .data import DataBundle, Split, load_benchmark, load_files
from .enums import Method, TaskType
from .methods import get_method
from .methods.arguments import ImbalanceArguments
from .methods.context import RunContext
from .metrics import classification_metrics, ner_metrics
from .options import validate_options
from .tasks import EncodedDataset, encode_split, labels_by_word, load_tokenizer, predictions_to_labels

logger = logging.getLogger(__name__)


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
        if not np.array_equal(row[row != IGNORE_INDEX], mine[mine != IGNORE_INDEX]):
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


def train_with_method(ctx: RunContext):
    """Train ``ctx`` with its method's registered ``train_fn``; return the trained Trainer."""
    return get_method(ctx.config.method).train_fn(ctx)


def _method_settings(args: ImbalanceArguments) -> dict[str, str]:
    """Every field the method's arguments add to TrainingArguments, as run (defaults included)."""
    from transformers import TrainingArguments

    base = {f.name for f in dataclasses.fields(TrainingArguments)}
    return {f.name: str(getattr(args, f.name)) for f in dataclasses.fields(args) if f.name not in base}


def relevant_method_settings(method: Method | str, settings: dict[str, str]) -> dict[str, str]:
    """The part of a run's ``method_settings`` (see :func:`run`) that can change what ``method`` does: the fields
    its arguments class adds (:meth:`~hamr.methods.registry.MethodSpec.own_fields`; HAMR's own fields for HAMR,
    ``dice_smooth`` for Dice, nothing for ERM, ICF and the balanced sampler). Two runs of a method with equal
    relevant settings ran the same method, whatever the other methods' defaults were."""
    names = set(get_method(method).own_fields())
    return {k: v for k, v in settings.items() if k in names}


def current_method_settings(method: Method | str, options: dict[str, Any]) -> dict[str, str]:
    """What :func:`run` would record as ``method_settings`` for ``method`` with ``options`` on this code
    version (the library's current defaults), restricted to :func:`relevant_method_settings`."""
    method = Method.parse(method)
    return relevant_method_settings(method, _method_settings(_probe_arguments(method, options)))


def _probe_arguments(method: Method, options: dict[str, Any]) -> ImbalanceArguments:
    """The method's arguments with ``options`` on this code version's defaults (nothing is trained)."""
    cls = get_method(method).arguments_class
    return cls(output_dir=os.path.join(tempfile.gettempdir(), "hamr_settings_probe"), method=method, report_to=[],
               use_cpu=True, **options)


# resolved values that follow from the protocol's own settings (compared there), not from a library default
_PROTOCOL_RESOLVED = ("meta_batch_size",)


def _resolved_method_settings(args: ImbalanceArguments, task: TaskType) -> dict[str, str]:
    """The task-dependent values a HAMR run actually used (:meth:`HAMRArguments.resolved`: the weight net's lr,
    τ, λ, ... that its fields leave at None), as strings; empty for the other methods."""
    resolved = getattr(args, "resolved", None)  # the method's task-dependent defaults (HAMR's)
    if resolved is None:
        return {}
    return {k: str(v) for k, v in resolved(task).items()}


def current_resolved_settings(method: Method | str, options: dict[str, Any], task: TaskType | str) -> dict[str, str]:
    """What :func:`run` would record as ``resolved_method_settings`` for ``method`` with ``options`` on a
    ``task`` dataset on this code version, without the values the protocol's settings decide (the meta batch
    size follows the batch size)."""
    method = Method.parse(method)
    if not hasattr(get_method(method).arguments_class, "resolved"):
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
    for fname in get_method(config.method).output_files:
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
