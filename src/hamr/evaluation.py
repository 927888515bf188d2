"""Evaluating a saved model on a dataset split (``hamr evaluate``)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from .constants import IGNORE_INDEX
from .data import DataBundle, load_benchmark, load_files
from .enums import Device, TaskType
from .errors import InputError
from .pipeline import evaluate_predictions
from .predict import resolve_device
from .progress import progress
from .tasks import IndexCollator, encode_split, load_tokenizer


def evaluate_saved_model(
    model_dir: str,
    *,
    dataset: str | None = None,
    data_file: str | None = None,
    train_file: str | None = None,
    task: TaskType | None = None,
    split: str = "test",
    data_root: str | None = None,
    max_length: int = 64,
    batch_size: int = 32,
    limit: int | None = None,
    unseen_labels: str | None = None,
    device: Device | str = Device.AUTO,
    quiet: bool | None = None,
) -> dict[str, Any]:
    """Metrics of a ``save_pretrained`` model on a benchmark split or a data file.

    The label vocabulary is the model's own (``config.id2label``); a gold label the model does not know is an
    error listing every such label (or, with ``unseen_labels`` drop | map:FILE, those examples are dropped or
    relabelled and the result says how many under ``unseen_labels``). Quartiles use the training split's
    frequencies (benchmark, or ``train_file``). It runs on ``device`` (auto: the GPU when there is one) with a
    progress bar (:func:`hamr.progress.progress`; ``quiet=True`` hides it).
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification

    from .data import LabelVocab
    from .tasks import check_model_path

    if not os.path.isdir(model_dir):
        check_model_path(model_dir)
        raise FileNotFoundError(2, "model folder does not exist", model_dir)
    config = AutoConfig.from_pretrained(model_dir)
    tokenizer = load_tokenizer(model_dir)  # first: a folder without its tokenizer files is refused at once
    labels = [config.id2label[i] for i in range(config.num_labels)]
    if dataset:
        bundle = load_benchmark(dataset, data_root, limit=limit)
        target = bundle.splits().get(split)
        if target is None:
            raise InputError(f"{dataset} has no split {split!r}; it has {', '.join(bundle.splits())}")
        task = bundle.task
        train = bundle.train
    else:
        if data_file is None or task is None:
            raise InputError("give a benchmark dataset, or a data file with its task")
        task = TaskType.parse(task)
        # validation=data_file: no validation split is carved from the training file, so the quartile groups
        # come from the whole file
        loaded = load_files(task, train_file or data_file, validation=data_file, test=data_file,
                            unseen_labels=unseen_labels)
        target, train = loaded.test, loaded.train
    vocab = LabelVocab(labels, task)
    if task == TaskType.NER and "O" not in vocab.index:
        raise InputError(f"{model_dir}: a token-classification model without an 'O' label")
    bundle = DataBundle("eval", task, train, test=target, vocab=vocab, unseen_labels=unseen_labels)
    target = bundle.test
    cls = AutoModelForTokenClassification if task == TaskType.NER else AutoModelForSequenceClassification
    device = resolve_device(device)
    model = cls.from_pretrained(model_dir).to(device).eval()
    encoded = encode_split(target, tokenizer, vocab, max_length)
    collate = IndexCollator(tokenizer, task)
    logits, golds = [], []
    starts = range(0, len(encoded), batch_size)
    with torch.no_grad():
        for start in progress(starts, total=len(starts), desc=f"evaluate {split}", unit="batch", quiet=quiet):
            batch = collate([encoded[i] for i in range(start, min(start + batch_size, len(encoded)))])
            batch.pop("example_index", None)
            gold = batch.pop("labels")
            out = model(**{k: v.to(device) for k, v in batch.items()}).logits
            logits.extend(out.float().cpu().numpy())
            golds.extend(gold.numpy())
    if task == TaskType.NER:
        width = max(x.shape[0] for x in logits)
        logits = np.stack([np.pad(x, ((0, width - x.shape[0]), (0, 0))) for x in logits])
        golds = np.stack([np.pad(g, (0, width - g.shape[0]), constant_values=IGNORE_INDEX) for g in golds])
    result = {"model": model_dir, "split": split, "task": str(task)}
    if bundle.unseen_report:
        result["unseen_labels"] = bundle.unseen_report
    result[split] = evaluate_predictions(task, bundle, np.asarray(logits), np.asarray(golds), gold_split=target,
                                          word_index=encoded.word_index)
    return result
