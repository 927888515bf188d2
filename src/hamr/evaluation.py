"""Evaluating a saved model on a dataset split (``hamr evaluate``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .constants import IGNORE_INDEX
from .data import DataBundle, load_benchmark, load_files
from .enums import TaskType
from .pipeline import evaluate_predictions
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
) -> dict[str, Any]:
    """Metrics of a ``save_pretrained`` model on a benchmark split or a data file.

    The label vocabulary is the model's own (``config.id2label``); a gold label the model does not know is an
    error naming the example. Quartiles use the training split's frequencies (benchmark, or ``train_file``).
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification

    from .data import LabelVocab

    config = AutoConfig.from_pretrained(model_dir)
    tokenizer = load_tokenizer(model_dir)  # first: a folder without its tokenizer files is refused at once
    labels = [config.id2label[i] for i in range(config.num_labels)]
    if dataset:
        bundle = load_benchmark(dataset, data_root, limit=limit)
        target = bundle.splits().get(split)
        if target is None:
            raise ValueError(f"{dataset} has no split {split!r}; it has {', '.join(bundle.splits())}")
        task = bundle.task
        train = bundle.train
    else:
        if data_file is None or task is None:
            raise ValueError("give a benchmark dataset, or a data file with its task")
        task = TaskType.parse(task)
        # validation=data_file: no validation split is carved from the training file, so the quartile groups
        # come from the whole file
        loaded = load_files(task, train_file or data_file, validation=data_file, test=data_file)
        target, train = loaded.test, loaded.train
    vocab = LabelVocab(labels, task)
    if task == TaskType.NER and "O" not in vocab.index:
        raise ValueError(f"{model_dir}: a token-classification model without an 'O' label")
    bundle = DataBundle("eval", task, train, test=target, vocab=vocab)
    cls = AutoModelForTokenClassification if task == TaskType.NER else AutoModelForSequenceClassification
    model = cls.from_pretrained(model_dir).eval()
    encoded = encode_split(target, tokenizer, vocab, max_length)
    collate = IndexCollator(tokenizer, task)
    logits, golds = [], []
    with torch.no_grad():
        for start in range(0, len(encoded), batch_size):
            batch = collate([encoded[i] for i in range(start, min(start + batch_size, len(encoded)))])
            batch.pop("example_index", None)
            gold = batch.pop("labels")
            out = model(**batch).logits
            logits.extend(out.numpy())
            golds.extend(gold.numpy())
    if task == TaskType.NER:
        width = max(x.shape[0] for x in logits)
        logits = np.stack([np.pad(x, ((0, width - x.shape[0]), (0, 0))) for x in logits])
        golds = np.stack([np.pad(g, (0, width - g.shape[0]), constant_values=IGNORE_INDEX) for g in golds])
    result = {"model": model_dir, "split": split, "task": str(task)}
    result[split] = evaluate_predictions(task, bundle, np.asarray(logits), np.asarray(golds), gold_split=target,
                                          word_index=encoded.word_index)
    return result
