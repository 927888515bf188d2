"""The in-memory API: train on lists, DataFrames or ``datasets.Dataset`` objects, no files needed.

:func:`fit` turns the data into :class:`~hamr.data.Split` objects, builds a :class:`~hamr.data.DataBundle`
and trains through :func:`hamr.pipeline.run` (the same path as ``hamr train``: same methods, metrics, model
card), then loads the saved model into a :class:`FittedModel`::

    import hamr
    clf = hamr.fit(train=(texts, labels), method="hamr", epochs=3)      # or a DataFrame / Dataset
    clf.predict(["the bridge is gone"])        # -> ["infrastructure_and_utility_damage"]
    clf.predict_proba(["the bridge is gone"])  # -> array [1, n_classes], columns in clf.classes_ order
    clf.save("my_model"); hamr.FittedModel.load("my_model")

Data forms accepted for ``train`` / ``validation`` / ``test``:

- a tuple ``(texts, labels)``: texts a list of strings (classification) or of word lists (NER), labels one
  per text (NER: one IOB2 tag list per sentence);
- a ``pandas.DataFrame`` with ``text_column`` / ``label_column`` (NER: ``tokens_column`` / ``tags_column``);
- a ``datasets.Dataset`` with the same columns (``ClassLabel`` features give the label / tag names).

The task is inferred when ``task`` is None: word lists (or a frame with the tokens and tags columns and no
text column) mean NER. Labels become strings inside hamr; when every training label is an integer,
:meth:`FittedModel.predict` and :attr:`FittedModel.classes_` give integers back.

Without ``validation``, a validation split is carved from ``train``: stratified by class for classification
(scikit-learn's ``train_test_split``; a class with a single example stays in train, so every class keeps at
least one training example), random for NER (:func:`hamr.data.carve_validation`).

:func:`prepare_hamr_data` is for users of :class:`~hamr.HAMRTrainer` directly: from plain train/validation
data and a tokenizer it builds the encoded training set, the balanced meta set of method.md §3
(:func:`hamr.metaset.build_meta_set`) and the other arguments the trainer takes.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .data import DataBundle, DataError, LabelVocab, Split, carve_validation
from .data.formats.common import _check_tags
from .enums import Device, Method, TaskType

logger = logging.getLogger(__name__)

_ACCEPTED = "a (texts, labels) tuple, a pandas.DataFrame or a datasets.Dataset"


# ------------------------------------------------------------------------------------------------------------
# data in memory -> Split


def _is_word_list(x: Any) -> bool:
    return isinstance(x, (list, tuple)) and all(isinstance(w, str) for w in x)


def _columns_of(data: Any, role: str, text_column: str, label_column: str, tokens_column: str,
                tags_column: str, task: TaskType | None) -> tuple[list, list, TaskType, Any]:
    """(inputs, labels, task, label namer) of a DataFrame or Dataset, with an error naming missing columns."""
    columns = list(data.columns) if hasattr(data, "columns") and not hasattr(data, "features") \
        else list(data.column_names)
    if task is None:
        task = TaskType.NER if tokens_column in columns and tags_column in columns and text_column not in columns \
            else TaskType.CLASSIFICATION
    x_col, y_col = (tokens_column, tags_column) if task == TaskType.NER else (text_column, label_column)
    missing = [c for c in (x_col, y_col) if c not in columns]
    if missing:
        kind = "tokens_column / tags_column" if task == TaskType.NER else "text_column / label_column"
        raise DataError(f"{role} data: no column(s) {', '.join(map(repr, missing))} for {task}; columns found: "
                        f"{', '.join(map(str, columns))} (name them with {kind})")
    namer = None
    if hasattr(data, "features"):  # datasets.Dataset: ClassLabel names
        from datasets import ClassLabel

        feat = data.features[y_col]
        feat = getattr(feat, "feature", feat) if task == TaskType.NER else feat
        namer = feat.int2str if isinstance(feat, ClassLabel) else None
        return list(data[x_col]), list(data[y_col]), task, namer
    return list(data[x_col]), list(data[y_col]), task, None


def _label_str(value: Any, where: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        raise DataError(f"{where}: missing label")
    if isinstance(value, (np.integer,)):
        value = int(value)
    text = str(value).strip()
    if not text:
        raise DataError(f"{where}: empty label")
    return text


def to_split(data: Any, role: str = "train", *, task: TaskType | str | None = None, text_column: str = "text",
             label_column: str = "label", tokens_column: str = "tokens", tags_column: str = "tags") -> Split:
    """A :class:`Split` named ``role`` from in-memory data (see the module docstring); examples are located
    as ``"<role> row <i>"`` in error messages."""
    task = None if task is None else TaskType.parse(task)
    namer = None
    if isinstance(data, tuple):
        if len(data) != 2:
            raise DataError(f"{role} data: a tuple must be (texts, labels), got {len(data)} items")
        inputs, labels = list(data[0]), list(data[1])
        if task is None:
            task = TaskType.NER if inputs and _is_word_list(inputs[0]) else TaskType.CLASSIFICATION
    elif hasattr(data, "column_names") or hasattr(data, "columns"):
        inputs, labels, task, namer = _columns_of(data, role, text_column, label_column, tokens_column,
                                                  tags_column, task)
    else:
        raise DataError(f"{role} data: expected {_ACCEPTED}, got {type(data).__name__}")
    if len(inputs) != len(labels):
        raise DataError(f"{role} data: {len(inputs)} inputs but {len(labels)} labels")
    if not inputs:
        raise DataError(f"{role} data: no examples")
    locations = [f"{role} row {i}" for i in range(len(inputs))]
    if task == TaskType.CLASSIFICATION:
        for where, x in zip(locations, inputs):
            if not isinstance(x, str) or not x.strip():
                raise DataError(f"{where}: expected a non-empty text (str), got {x!r:.60}")
        names = [namer(int(y)) if namer is not None else _label_str(y, where) for where, y in zip(locations, labels)]
        return Split(role, task, names, texts=inputs, locations=locations)
    tokens, tags_out = [], []
    for where, words, tags in zip(locations, inputs, labels):
        words, tags = list(words), list(tags)
        if not words or not _is_word_list(words):
            raise DataError(f"{where}: expected a non-empty list of words (strings)")
        tags = [namer(int(t)) if namer is not None else _label_str(t, where) for t in tags]
        if len(tags) != len(words):
            raise DataError(f"{where}: {len(words)} words but {len(tags)} tags")
        _check_tags(tags, where)
        tokens.append(words)
        tags_out.append(tags)
    return Split(role, task, tags_out, tokens=tokens, locations=locations)


def stratified_validation(train: Split, size: float | int = 0.1, *, seed: int = 42) -> tuple[Split, Split]:
    """Carve a validation split from ``train``: stratified by class for classification (every class keeps at
    least one training example; a single-example class stays whole in train), random for NER."""
    if train.task == TaskType.NER:
        return carve_validation(train, size, seed=seed)
    from sklearn.model_selection import train_test_split

    n = len(train)
    count = size if isinstance(size, int) and not isinstance(size, bool) else max(1, round(n * float(size)))
    by_class: dict[str, list[int]] = {}
    for i, y in enumerate(train.labels):
        by_class.setdefault(y, []).append(i)
    singles = [idx[0] for idx in by_class.values() if len(idx) == 1]
    pool = [i for idx in by_class.values() if len(idx) > 1 for i in idx]
    strat_classes = sum(len(idx) > 1 for idx in by_class.values())
    count = min(max(count, strat_classes), len(pool) - strat_classes)
    if count < 1:
        raise DataError(f"{train.name}: too few examples ({n}) to carve a validation split; pass validation data")
    if singles:
        logger.warning("%s: %d class(es) have a single example; it stays in train and validation has none of "
                       "them: %s", train.name, len(singles), ", ".join(train.labels[i] for i in singles))
    kept, held = train_test_split(pool, test_size=count, random_state=seed,
                                  stratify=[train.labels[i] for i in pool])
    kept = sorted(list(kept) + singles)
    return train.subset(kept, name="train"), train.subset(sorted(held), name="validation")


def _label_values(labels: Sequence[Any]) -> dict[str, int] | None:
    """``{"3": 3, ...}`` when every label is an integer (so predictions can be given back as integers)."""
    flat = [y for y in labels]
    if flat and all(isinstance(y, (int, np.integer)) and not isinstance(y, bool) for y in flat):
        return {str(int(y)): int(y) for y in flat}
    return None


# ------------------------------------------------------------------------------------------------------------
# the fitted model


class FittedModel:
    """A trained model with a scikit-learn-like interface.

    ``classes_``: the classes in the column order of :meth:`predict_proba` (the model's ``id2label`` order:
    numeric labels by value, the rest alphabetically; NER: the IOB2 tags, ``O`` first). ``metrics_``: the
    run's metrics (as in ``metrics.json``) when the model was just trained, else None.
    """

    def __init__(self, predictor, *, metrics: dict[str, Any] | None = None,
                 label_values: dict[str, int] | None = None) -> None:
        from .modelcard import read_model_info

        self._predictor = predictor
        self.task: TaskType = predictor.task
        self.metrics_ = metrics
        self._label_values = label_values
        self._info = read_model_info(predictor.model_dir)  # read now: fit's temporary folder goes away
        card = Path(predictor.model_dir) / "README.md"
        self._card = card.read_text(encoding="utf-8") if card.is_file() else None

    @property
    def classes_(self) -> list:
        labels = self._predictor.labels
        return [self._label_values.get(lab, lab) for lab in labels] if self._label_values else list(labels)

    @property
    def model(self):
        """The underlying ``transformers`` model."""
        return self._predictor.model

    @property
    def tokenizer(self):
        return self._predictor.tokenizer

    def _check_inputs(self, x: Sequence[Any]) -> list:
        if isinstance(x, str):
            raise TypeError("predict takes a list of texts, not one string: wrap it in a list")
        x = list(x)
        if self.task == TaskType.NER and x and isinstance(x[0], str):
            raise TypeError("this is an NER model: predict takes a list of sentences, each a list of words")
        return x

    def predict_proba(self, x: Sequence[Any]):
        """Classification: probabilities ``[len(x), len(classes_)]``. NER: per sentence ``[words, tags]``
        (columns in ``classes_`` order; a row of NaN for a word cut off by the max length)."""
        x = self._check_inputs(x)
        if self.task == TaskType.NER:
            return self._predictor.predict_words(x)
        return self._predictor.predict_proba(x)

    def predict(self, x: Sequence[Any]) -> list:
        """Classification: one label per text. NER: one tag list per sentence (``O`` for a word cut off)."""
        probs = self.predict_proba(x)
        classes = self.classes_
        if self.task == TaskType.NER:
            return [["O" if np.isnan(r).any() else classes[int(r.argmax())] for r in p] for p in probs]
        return [classes[i] for i in np.asarray(probs).argmax(-1)]

    def save(self, directory: str | Path) -> Path:
        """Save the model, tokenizer, ``hamr.json`` and the model card (when there is one) into ``directory``;
        the folder loads with :meth:`load`, ``hamr predict`` and ``transformers.pipeline``."""
        from .modelcard import write_model_info

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self._predictor.model.save_pretrained(str(out))
        self._predictor.tokenizer.save_pretrained(str(out))
        info = self._info
        extra = {k: v for k, v in info.items() if k not in ("task", "labels", "max_length", "method", "hamr_version")}
        if self._label_values:
            extra["label_values"] = self._label_values
        write_model_info(out, task=self.task, labels=self._predictor.labels, max_length=self._predictor.max_length,
                         method=info.get("method", "unknown"), extra=extra)
        if self._card is not None:
            (out / "README.md").write_text(self._card, encoding="utf-8")
        return out

    @classmethod
    def load(cls, directory: str | Path, *, device: Device | str = Device.AUTO, batch_size: int = 32,
             quiet: bool | None = None) -> "FittedModel":
        """A model saved by :meth:`save` or ``hamr train`` (its ``model/`` folder)."""
        from .modelcard import read_model_info
        from .predict import Predictor

        predictor = Predictor(directory, device=device, batch_size=batch_size, quiet=quiet)
        return cls(predictor, label_values=read_model_info(directory).get("label_values"))

    def __repr__(self) -> str:
        return f"FittedModel(task={self.task}, classes={len(self.classes_)}, model_dir={self._predictor.model_dir!r})"


def fit(
    train: Any,
    validation: Any = None,
    test: Any = None,
    *,
    method: Method | str = Method.HAMR,
    task: TaskType | str | None = None,
    text_column: str = "text",
    label_column: str = "label",
    tokens_column: str = "tokens",
    tags_column: str = "tags",
    model: str | None = None,
    epochs: float = 3.0,
    batch_size: int = 16,
    learning_rate: float | None = None,
    max_length: int = 64,
    seed: int = 42,
    max_train_examples: int | None = None,
    validation_size: float | int = 0.1,
    decision_offsets: str = "auto",
    output_dir: str | Path | None = None,
    name: str = "in_memory",
    device: Device | str = Device.AUTO,
    quiet: bool | None = None,
    **method_options: Any,
) -> FittedModel:
    """Train a model on in-memory data with ``method`` and return it as a :class:`FittedModel`.

    ``train`` / ``validation`` / ``test``: see the module docstring. ``model``: a Hugging Face model name or
    folder (default: the packaged all-MiniLM-L6-v2). ``method_options``: any field of
    :class:`~hamr.HAMRArguments` (HAMR) or :class:`~hamr.ImbalanceArguments` (the other methods), e.g.
    ``lookahead_scope="last_k"``. ``decision_offsets``: ``auto`` (``macro_f1`` when the model's output layer has a bias)
    | ``none`` | ``balanced`` | ``half`` | ``macro_f1``, per-class logit offsets fitted on half the validation
    data after training and folded into the model (:mod:`hamr.offsets`). ``output_dir``: where the run's files go (model, model card, metrics.json,
    predictions); None trains in a temporary folder that is removed once the model is loaded. ``device`` and
    ``quiet`` are for prediction with the returned model.
    """
    from .config import RunConfig
    from .pipeline import run
    from .predict import Predictor

    train_split = to_split(train, "train", task=task, text_column=text_column, label_column=label_column,
                           tokens_column=tokens_column, tags_column=tags_column)
    task = train_split.task
    columns = dict(task=task, text_column=text_column, label_column=label_column, tokens_column=tokens_column,
                   tags_column=tags_column)
    if validation is None:
        train_split, val_split = stratified_validation(train_split, validation_size, seed=seed)
        logger.warning("no validation data given: held out %d of %d training examples (%s, seed %d)",
                       len(val_split), len(train_split) + len(val_split),
                       "stratified" if task == TaskType.CLASSIFICATION else "random", seed)
    else:
        val_split = to_split(validation, "validation", **columns)
    test_split = None if test is None else to_split(test, "test", **columns)
    bundle = DataBundle(name, task, train_split, val_split, test_split)
    label_values = None
    if task == TaskType.CLASSIFICATION and isinstance(train, tuple):
        label_values = _label_values(train[1])
    elif task == TaskType.CLASSIFICATION and hasattr(train, "columns") and not hasattr(train, "features"):
        label_values = _label_values(list(train[label_column]))

    temp = output_dir is None
    out = Path(tempfile.mkdtemp(prefix="hamr_fit_")) if temp else Path(output_dir)
    try:
        config = RunConfig(data=bundle, method=method, model=model, epochs=epochs, batch_size=batch_size,
                           learning_rate=learning_rate, max_length=max_length, seed=seed,
                           max_train_examples=max_train_examples, output_dir=str(out), save_model=True,
                           decision_offsets=decision_offsets, options=dict(method_options))
        result = run(config)
        if label_values:
            from .modelcard import read_model_info, write_model_info

            info = read_model_info(out / "model")
            write_model_info(out / "model", task=task, labels=info["labels"], max_length=info["max_length"],
                             method=info["method"], extra={"dataset": name, "label_values": label_values})
        predictor = Predictor(out / "model", device=device, quiet=quiet)
        fitted = FittedModel(predictor, metrics=result, label_values=label_values)
    finally:
        if temp:
            shutil.rmtree(out, ignore_errors=True)
    return fitted


# ------------------------------------------------------------------------------------------------------------
# HAMRTrainer users: the meta set from plain data


@dataclass
class HAMRData:
    """What :class:`~hamr.HAMRTrainer` needs, built by :func:`prepare_hamr_data`.

    ``train_dataset`` / ``eval_dataset`` / ``meta_dataset``: encoded datasets (``labels`` and
    ``example_index`` per item); ``train_texts``: the training texts in index order (for the kNN graph);
    ``vocab``: the label <-> id mapping (build the model with ``num_labels=len(vocab)``,
    ``id2label=vocab.id2label``, ``label2id=vocab.label2id``); ``meta``: how the meta set was built."""

    train_dataset: Any
    eval_dataset: Any
    meta_dataset: Any
    train_texts: list[str]
    vocab: LabelVocab
    meta: Any

    def trainer_kwargs(self) -> dict[str, Any]:
        """``HAMRTrainer(model=..., args=..., **data.trainer_kwargs())``."""
        return dict(train_dataset=self.train_dataset, eval_dataset=self.eval_dataset,
                    meta_dataset=self.meta_dataset, train_texts=self.train_texts, group_names=self.vocab.labels)


def prepare_hamr_data(train: Any, validation: Any, tokenizer, *, task: TaskType | str | None = None,
                      max_length: int = 64, seed: int = 42, strip_from_train: bool = False,
                      text_column: str = "text", label_column: str = "label", tokens_column: str = "tokens",
                      tags_column: str = "tags") -> HAMRData:
    """Encode plain train / validation data (any form :func:`fit` takes) for :class:`~hamr.HAMRTrainer` and
    build its balanced meta set from them (:func:`hamr.metaset.build_meta_set`: all of validation plus
    training examples of the classes below the median validation count)."""
    from .metaset import build_meta_set
    from .tasks import encode_split

    tr = to_split(train, "train", task=task, text_column=text_column, label_column=label_column,
                  tokens_column=tokens_column, tags_column=tags_column)
    va = to_split(validation, "validation", task=tr.task, text_column=text_column, label_column=label_column,
                  tokens_column=tokens_column, tags_column=tags_column)
    vocab = DataBundle("in_memory", tr.task, tr, va).vocab
    meta = build_meta_set(tr, va, seed=seed, strip_from_train=strip_from_train)
    if meta.train is not None:
        tr = meta.train
    return HAMRData(
        train_dataset=encode_split(tr, tokenizer, vocab, max_length),
        eval_dataset=encode_split(va, tokenizer, vocab, max_length),
        meta_dataset=encode_split(meta.split, tokenizer, vocab, max_length),
        train_texts=tr.all_texts(),
        vocab=vocab,
        meta=meta,
    )
