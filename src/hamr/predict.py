"""Predicting with a saved model on new texts (``hamr predict``), with every class probability.

:class:`Predictor` loads a ``model/`` folder written by ``hamr train`` (or any ``save_pretrained`` sequence or
token classification model with its tokenizer) and predicts in batches, on a GPU when there is one, with a
progress bar:

- classification: :meth:`Predictor.predict_proba` gives the softmax probabilities ``[n, classes]`` with the
  classes in the model's label order (:attr:`Predictor.labels`, ``config.id2label``); the predicted label is
  the arg-max;
- NER: :meth:`Predictor.predict_words` gives, per sentence (a list of words), the tag probabilities of every
  word ``[words, tags]``, read at the word's first sub-token (as in training). A word cut off by
  ``max_length`` has no prediction: its row is NaN, its tag ``O`` and its probability empty, and the count
  is reported. :func:`entity_spans` turns a tag row into entity spans (IOB2, an ``I-X`` that does not continue
  an ``X`` starts a span, as in evaluation); a span's ``score`` is the **mean** probability of its words'
  predicted tags and ``min_score`` the lowest.

:func:`read_input` reads CSV/TSV, JSON Lines, CoNLL or plain text lines (one text, or for NER one
whitespace-tokenised sentence, per line), with gold labels when the file has them; :func:`predict_file`
reads, predicts and writes CSV, TSV or JSON Lines (by the output's suffix). The model's ``hamr.json`` (written
by ``hamr train``) gives the task and the max length of training; without it the task comes from the model's
architecture and the max length is the tokenizer's (at most 512).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .data import DataError
from .data.formats.common import _read_lines
from .data.formats.conll import load_conll
from .data.formats.delimited import _column_index, _delimiter_for, load_delimited
from .data.formats.jsonl import iter_json_objects, load_jsonl
from .enums import Device, TaskType
from .errors import InputError
from .progress import progress

logger = logging.getLogger(__name__)

#: Input formats of ``hamr predict`` (``text``: one example per line) and the suffixes that imply them.
INPUT_FORMATS = ("delimited", "jsonl", "conll", "text")
_INPUT_SUFFIXES = {".csv": "delimited", ".tsv": "delimited", ".jsonl": "jsonl", ".json": "jsonl",
                   ".conll": "conll", ".bio": "conll", ".iob2": "conll", ".txt": "text"}
OUTPUT_SUFFIXES = (".csv", ".tsv", ".jsonl")


class ModelDirError(InputError):
    """The model folder is missing or is not a saved classification model."""


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (stable: the row maximum is subtracted first)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def resolve_device(device: Device | str = Device.AUTO):
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    import torch

    device = Device.parse(device)
    if device == Device.CUDA and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA GPU is visible to torch (torch.cuda.is_available() is False)")
    if device == Device.AUTO:
        device = Device.CUDA if torch.cuda.is_available() else Device.CPU
    return torch.device(str(device))


def entity_spans(tags: Sequence[str], probs: Sequence[float] | None = None) -> list[dict[str, Any]]:
    """The entity spans of one IOB2 tag row: ``{"type", "start", "end"}`` (word indices, end exclusive), with
    ``score`` (mean word probability) and ``min_score`` when ``probs`` is given (NaN words are skipped)."""
    spans: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    for i, tag in enumerate(list(tags) + ["O"]):
        continues = cur is not None and tag.startswith("I-") and tag[2:] == cur["type"]
        if cur is not None and not continues:
            cur["end"] = i
            spans.append(cur)
            cur = None
        if tag.startswith("B-") or (tag.startswith("I-") and not continues):
            cur = {"type": tag[2:], "start": i}
    if probs is not None:
        for span in spans:
            vals = [float(p) for p in probs[span["start"]:span["end"]] if not math.isnan(float(p))]
            span["score"] = float(np.mean(vals)) if vals else None
            span["min_score"] = float(min(vals)) if vals else None
    return spans


# ------------------------------------------------------------------------------------------------------------
# the model


class Predictor:
    """A saved model ready to predict (see the module docstring)."""

    def __init__(self, model_dir: str | os.PathLike[str], *, device: Device | str = Device.AUTO,
                 batch_size: int = 32, max_length: int | None = None, quiet: bool | None = None) -> None:
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification

        from .modelcard import read_model_info
        from .tasks import load_tokenizer

        path = Path(model_dir)
        if not path.exists():
            raise ModelDirError(f"{path}: no such model folder (expected the model/ folder of a run, "
                                "e.g. runs/latest/model)")
        if not (path / "config.json").is_file():
            raise ModelDirError(f"{path}: not a saved model folder: no config.json in it (expected the model/ "
                                "folder of a run, e.g. runs/latest/model)")
        if batch_size < 1:
            raise InputError(f"batch size must be at least 1, got {batch_size}")
        config = AutoConfig.from_pretrained(str(path))
        info = read_model_info(path)
        if info.get("task"):
            self.task = TaskType.parse(info["task"])
        else:
            archs = config.architectures or []
            self.task = TaskType.NER if any(a.endswith("ForTokenClassification") for a in archs) \
                else TaskType.CLASSIFICATION
        self.labels: list[str] = [config.id2label[i] for i in range(config.num_labels)]
        self.tokenizer = load_tokenizer(str(path))
        limit = getattr(self.tokenizer, "model_max_length", 512) or 512
        self.max_length = int(max_length or info.get("max_length") or min(limit, 512))
        self.batch_size = batch_size
        self.quiet = quiet
        self.device = resolve_device(device)
        cls = AutoModelForTokenClassification if self.task == TaskType.NER else AutoModelForSequenceClassification
        self.model = cls.from_pretrained(str(path)).to(self.device).eval()
        self.model_dir = str(path)
        self.num_truncated = 0  # of the last call

    def _batches(self, encoded: list[list[int]], desc: str):
        """Indices in batches of similar length (longest first: an out-of-memory shows at once), with a bar."""
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        starts = range(0, len(order), self.batch_size)
        for s in progress(starts, total=len(starts), desc=desc, unit="batch", quiet=self.quiet):
            yield order[s:s + self.batch_size]

    def _logits(self, ids: list[list[int]], idx: list[int]) -> np.ndarray:
        import torch

        batch = self.tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt")
        batch = {k: v.to(self.device) for k, v in batch.items()}
        with torch.inference_mode():
            return self.model(**batch).logits.float().cpu().numpy()

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities ``[len(texts), len(labels)]`` in :attr:`labels` order (classification)."""
        if self.task != TaskType.CLASSIFICATION:
            raise InputError(f"{self.model_dir} is a token-classification (NER) model: use predict_words")
        texts = list(texts)
        if not texts:
            raise DataError("no texts to predict")
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise DataError(f"text {bad} is a {type(texts[bad]).__name__}, not a str")
        full = self.tokenizer(texts, truncation=False)["input_ids"]
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        self.num_truncated = sum(len(f) > self.max_length for f in full)
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        for idx in self._batches(ids, "predict"):
            out[idx] = softmax(self._logits(ids, idx))
        return out

    def predict_words(self, sentences: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Per sentence, the tag probabilities of every word ``[words, tags]`` (NaN rows: words cut off)."""
        if self.task != TaskType.NER:
            raise InputError(f"{self.model_dir} is a sequence-classification model: use predict_proba")
        sentences = [list(s) for s in sentences]
        if not sentences:
            raise DataError("no sentences to predict")
        for i, s in enumerate(sentences):
            if not s or not all(isinstance(w, str) for w in s):
                raise DataError(f"sentence {i}: expected a non-empty list of words (strings)")
        enc = self.tokenizer(sentences, is_split_into_words=True, truncation=True, max_length=self.max_length)
        ids = enc["input_ids"]
        out = [np.full((len(s), len(self.labels)), np.nan) for s in sentences]
        self.num_truncated = 0
        for idx in self._batches(ids, "predict"):
            probs = softmax(self._logits(ids, idx))
            for row, i in enumerate(idx):
                prev = None
                for pos, w in enumerate(enc.word_ids(i)):
                    if w is not None and w != prev:
                        out[i][w] = probs[row, pos]
                    prev = w
        self.num_truncated = sum(bool(np.isnan(o[:, 0]).any()) and len(ids[i]) >= self.max_length
                                 for i, o in enumerate(out))
        return out


# ------------------------------------------------------------------------------------------------------------
# input


@dataclass
class PredictInput:
    """Examples to predict: texts (classification) or word lists (NER), gold labels when the file had them,
    and each example's origin (``file:line``)."""

    path: str
    task: TaskType
    sources: list[str]
    texts: list[str] | None = None
    tokens: list[list[str]] | None = None
    gold: list | None = None
    ids: list[str] | None = None

    def __len__(self) -> int:
        return len(self.sources)


def infer_input_format(path: str | os.PathLike[str]) -> str:
    p = Path(path)
    try:
        return _INPUT_SUFFIXES[p.suffix.lower()]
    except KeyError:
        raise DataError(f"{p}: cannot infer the input format from the extension {p.suffix or '(none)'!r}; pass "
                        f"--format one of {', '.join(INPUT_FORMATS)} (known: {', '.join(_INPUT_SUFFIXES)})") from None


def _header(path: Path, delim: str) -> tuple[list[str], str]:
    quoting = csv.QUOTE_NONE if delim == "\t" else csv.QUOTE_MINIMAL
    for i, row in enumerate(csv.reader((ln + "\n" for ln in _read_lines(path)), delimiter=delim, quoting=quoting)):
        if row:
            return [h.strip() for h in row], f"{path}:{i + 1}"
    raise DataError(f"{path}: empty file; expected a header row naming the columns")


def _read_delimited(path: Path, text_column: str | int, label_column: str | int | None,
                    id_column: str | int | None, delimiter: str | None) -> PredictInput:
    delim = _delimiter_for(path, delimiter)
    header, where = _header(path, delim)
    if label_column is None and "label" in header:
        label_column = "label"
    if label_column is not None:  # gold labels: the training loader, with all its checks
        split = load_delimited(path, text_column=text_column, label_column=label_column, delimiter=delim,
                               id_column=id_column)
        return PredictInput(str(path), TaskType.CLASSIFICATION, split.locations, texts=split.texts,
                            gold=split.labels, ids=split.ids)
    t_idx = _column_index(header, text_column, "text", where)
    i_idx = None if id_column is None else _column_index(header, id_column, "id", where)
    quoting = csv.QUOTE_NONE if delim == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader((ln + "\n" for ln in _read_lines(path)), delimiter=delim, quoting=quoting, strict=True)
    texts, ids, sources = [], [], []
    seen_header, line = False, 1
    try:
        for row in reader:
            here = f"{path}:{line}"
            line = reader.line_num + 1
            if not row:
                continue
            if not seen_header:
                seen_header = True
                continue
            if len(row) != len(header):
                raise DataError(f"{here}: expected {len(header)} fields ({', '.join(header)}), found {len(row)}")
            if not row[t_idx].strip():
                raise DataError(f"{here}: empty text in column {header[t_idx]!r}")
            texts.append(row[t_idx])
            sources.append(here)
            if i_idx is not None:
                ids.append(row[i_idx])
    except csv.Error as exc:
        raise DataError(f"{path}:{line}: malformed row ({exc})") from None
    if not texts:
        raise DataError(f"{path}: no texts after the header row")
    return PredictInput(str(path), TaskType.CLASSIFICATION, sources, texts=texts, ids=ids if i_idx is not None else None)


def _read_jsonl(path: Path, task: TaskType, text_column: str, label_column: str | None, tokens_field: str,
                tags_field: str, id_column: str | None) -> PredictInput:
    records = list(iter_json_objects(path))
    if not records:
        raise DataError(f"{path}: no records; expected one JSON object per line")
    gold_field = (tags_field if task == TaskType.NER else (label_column or "label"))
    if gold_field in records[0][1] or (label_column is not None and task == TaskType.CLASSIFICATION):
        split = load_jsonl(path, text_field=text_column, label_field=gold_field, tokens_field=tokens_field,
                           tags_field=tags_field, **({"id_field": id_column} if id_column else {}))
        if split.task != task:
            raise DataError(f"{path}: this file is {split.task} but the model does {task}")
        return PredictInput(str(path), task, split.locations, texts=split.texts, tokens=split.tokens,
                            gold=split.labels, ids=split.ids)
    field_ = tokens_field if task == TaskType.NER else text_column
    id_field = id_column or "id"
    values, sources, ids = [], [], []
    for where, obj in records:
        if field_ not in obj:
            raise DataError(f"{where}: no field {field_!r} (the model does {task}); fields found: "
                            f"{', '.join(obj) or '(none)'}")
        v = obj[field_]
        if task == TaskType.NER:
            if not isinstance(v, list) or not v or not all(isinstance(t, str) for t in v):
                raise DataError(f"{where}: expected {field_!r} to be a non-empty list of strings")
        elif not isinstance(v, str) or not v.strip():
            raise DataError(f"{where}: expected {field_!r} to be a non-empty string")
        values.append(v)
        sources.append(where)
        ids.append(str(obj[id_field]) if id_field in obj else None)
    have_ids = all(i is not None for i in ids)
    return PredictInput(str(path), task, sources, texts=None if task == TaskType.NER else values,
                        tokens=values if task == TaskType.NER else None, ids=ids if have_ids else None)


def _read_conll(path: Path, token_column: int, tag_column: int | None, delimiter: str | None) -> PredictInput:
    lines = _read_lines(path)
    widths = {len(ln.split(delimiter)) for ln in lines if ln.strip() and not ln.startswith("-DOCSTART-")}
    if not widths:
        raise DataError(f"{path}: no tokens; expected one token per line, a blank line between sentences")
    if tag_column is not None or min(widths) >= 2:  # tags present: the training loader
        split = load_conll(path, token_column=token_column, tag_column=-1 if tag_column is None else tag_column,
                           delimiter=delimiter)
        return PredictInput(str(path), TaskType.NER, split.locations, tokens=split.tokens, gold=split.labels)
    tokens, sources, cur, start = [], [], [], 0
    for line_no, line in enumerate(lines + [""], start=1):
        if not line.strip() or line.startswith("-DOCSTART-"):
            if cur:
                tokens.append(cur)
                sources.append(f"{path}:{start}")
                cur = []
            continue
        if not cur:
            start = line_no
        cur.append(line.split(delimiter)[0].strip())
    return PredictInput(str(path), TaskType.NER, sources, tokens=tokens)


def _read_text(path: Path, task: TaskType) -> PredictInput:
    values, sources = [], []
    for line_no, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue  # blank lines separate nothing; they are not examples
        values.append(line.split() if task == TaskType.NER else line)
        sources.append(f"{path}:{line_no}")
    if not values:
        raise DataError(f"{path}: no text lines (the file is empty or blank)")
    return PredictInput(str(path), task, sources, texts=None if task == TaskType.NER else values,
                        tokens=values if task == TaskType.NER else None)


def read_input(path: str | os.PathLike[str], task: TaskType | str, *, fmt: str | None = None,
               text_column: str | int = "text", label_column: str | int | None = None,
               id_column: str | int | None = None, tokens_field: str = "tokens", tags_field: str = "tags",
               token_column: int = 0, tag_column: int | None = None, delimiter: str | None = None) -> PredictInput:
    """Read the examples to predict from a file (see the module docstring).

    CSV/TSV: the texts are ``text_column``; gold labels come from ``label_column`` (``label`` when that column
    exists and none is named); a named column that is missing is an error naming the file and the columns.
    JSON Lines: ``text_column`` (classification) or ``tokens_field`` (NER), with gold from ``label`` /
    ``tags_field`` when the first record has it. CoNLL: one token per line; a second column is the gold tag.
    Plain text: one example per non-blank line (NER: split on whitespace).
    """
    p = Path(path)
    task = TaskType.parse(task)
    if not p.exists():
        raise DataError(f"{p}: file not found")
    fmt = fmt or infer_input_format(p)
    if fmt not in INPUT_FORMATS:
        raise DataError(f"unknown input format {fmt!r}; expected one of {', '.join(INPUT_FORMATS)}")
    if fmt == "delimited":
        if task == TaskType.NER:
            raise DataError(f"{p}: a CSV/TSV file holds one text per row; an NER model needs words: give CoNLL, "
                            "JSON Lines with a tokens field, or plain text lines")
        return _read_delimited(p, text_column, label_column, id_column, delimiter)
    if fmt == "jsonl":
        return _read_jsonl(p, task, str(text_column), None if label_column is None else str(label_column),
                           tokens_field, tags_field, None if id_column is None else str(id_column))
    if fmt == "conll":
        if task != TaskType.NER:
            raise DataError(f"{p}: a CoNLL file holds tagged words; this model does text classification")
        return _read_conll(p, token_column, tag_column, delimiter)
    return _read_text(p, task)


# ------------------------------------------------------------------------------------------------------------
# predicting a file


@dataclass
class PredictResult:
    """What :func:`predict_file` predicted: labels / tag rows, probabilities, spans and a summary."""

    input: PredictInput
    labels: list[str]  # the model's classes (tags), in probability-column order
    predicted: list  # classification: label per example; NER: tag list per sentence
    probabilities: list  # classification: [n, C] array; NER: per sentence [words, tags] arrays
    num_truncated: int
    max_length: int
    device: str
    spans: list[list[dict[str, Any]]] = field(default_factory=list)  # NER

    def summary(self) -> dict[str, Any]:
        """Counts per predicted label (NER: spans per type), truncation, and scores when gold is known."""
        from .metrics import classification_metrics, ner_metrics

        out: dict[str, Any] = {"examples": len(self.input), "device": self.device, "max_length": self.max_length,
                               "truncated": self.num_truncated}
        counts: dict[str, int] = {}
        if self.input.task == TaskType.CLASSIFICATION:
            for y in self.predicted:
                counts[y] = counts.get(y, 0) + 1
            out["predicted_counts"] = {lab: counts.get(lab, 0) for lab in self.labels}
            out["mean_probability"] = float(np.mean([p.max() for p in self.probabilities]))
        else:
            for row in self.spans:
                for s in row:
                    counts[s["type"]] = counts.get(s["type"], 0) + 1
            out["predicted_spans"] = dict(sorted(counts.items()))
        if self.input.gold is not None:
            if self.input.task == TaskType.CLASSIFICATION:
                unknown = sorted(set(self.input.gold) - set(self.labels))
                if unknown:
                    out["gold_labels_unknown_to_model"] = unknown
                else:
                    index = {lab: i for i, lab in enumerate(self.labels)}
                    m = classification_metrics([index[g] for g in self.input.gold],
                                               [index[p] for p in self.predicted], self.labels)
                    out["gold"] = {"macro_f1": m["macro_f1"], "micro_f1": m["micro_f1"]}
            else:
                m = ner_metrics([list(g) for g in self.input.gold], self.predicted)
                out["gold"] = {"macro_f1": m["macro_f1"], "micro_f1": m["micro_f1"]}
        return out


def predict_input(predictor: Predictor, inp: PredictInput) -> PredictResult:
    """Predict every example of ``inp`` with ``predictor``."""
    if inp.task != predictor.task:
        raise DataError(f"{inp.path}: read as {inp.task} but the model does {predictor.task}")
    labels = predictor.labels
    if inp.task == TaskType.CLASSIFICATION:
        probs = predictor.predict_proba(inp.texts)  # type: ignore[arg-type]
        predicted = [labels[i] for i in probs.argmax(-1)]
        return PredictResult(inp, labels, predicted, list(probs), predictor.num_truncated, predictor.max_length,
                             str(predictor.device))
    word_probs = predictor.predict_words(inp.tokens)  # type: ignore[arg-type]
    predicted, spans = [], []
    for p in word_probs:
        tags = ["O" if np.isnan(r).any() else labels[int(r.argmax())] for r in p]
        top = [float("nan") if np.isnan(r).any() else float(r.max()) for r in p]
        predicted.append(tags)
        spans.append(entity_spans(tags, top))
    return PredictResult(inp, labels, predicted, word_probs, predictor.num_truncated, predictor.max_length,
                         str(predictor.device), spans)


def _fmt(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.6f}"


def write_predictions(path: str | os.PathLike[str], result: PredictResult, *, with_text: bool = False) -> Path:
    """Write ``result`` as CSV, TSV or JSON Lines (by the suffix of ``path``).

    Classification: ``index, source, [id], [text], [gold], label, probability, p:<class>...`` (classes in the
    model's label order; in JSON Lines one ``probabilities`` object, class -> probability). NER: ``index, source, [id], [tokens], [gold], tags, probabilities, spans`` (tags,
    tokens and probabilities space-separated in CSV/TSV, lists in JSON Lines; spans a JSON list of
    ``{type, start, end, score, min_score}``, ``end`` exclusive, ``score`` the mean word probability).
    Texts are written only with ``with_text=True``; rows line up with the input by ``index`` and ``source``.
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise DataError(f"{out}: cannot tell the output format from the suffix {suffix or '(none)'!r}; "
                        f"name the file {' / '.join(OUTPUT_SUFFIXES)}")
    inp, ner = result.input, result.input.task == TaskType.NER
    rows: list[dict[str, Any]] = []
    for i in range(len(inp)):
        row: dict[str, Any] = {"index": i, "source": inp.sources[i]}
        if inp.ids is not None:
            row["id"] = inp.ids[i]
        if with_text:
            row["tokens" if ner else "text"] = inp.tokens[i] if ner else inp.texts[i]  # type: ignore[index]
        if inp.gold is not None:
            row["gold"] = inp.gold[i]
        p = result.probabilities[i]
        if ner:
            row["tags"] = result.predicted[i]
            row["probabilities"] = [None if np.isnan(r).any() else float(r.max()) for r in p]
            row["spans"] = result.spans[i]
        else:
            row["label"] = result.predicted[i]
            row["probability"] = float(p.max())
            row["probabilities"] = {lab: float(v) for lab, v in zip(result.labels, p)}
        rows.append(row)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".jsonl":
        with open(out, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        return out
    if not ner:  # CSV/TSV: one column per class
        rows = [{**{k: v for k, v in r.items() if k != "probabilities"},
                 **{f"p:{lab}": v for lab, v in r["probabilities"].items()}} for r in rows]
    with open(out, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t" if suffix == ".tsv" else ",", lineterminator="\n")
        writer.writerow(list(rows[0]))
        for row in rows:
            cells = []
            for k, v in row.items():
                if k in ("tokens", "gold", "tags") and isinstance(v, list):
                    cells.append(" ".join(v))
                elif k == "probabilities":
                    cells.append(" ".join("" if x is None else f"{x:.4f}" for x in v))
                elif k == "spans":
                    cells.append(json.dumps(v))
                elif isinstance(v, float):
                    cells.append(_fmt(v))
                else:
                    cells.append(v)
            writer.writerow(cells)
    return out


def predict_file(model_dir: str | os.PathLike[str], input_path: str | os.PathLike[str],
                 out: str | os.PathLike[str], *, device: Device | str = Device.AUTO, batch_size: int = 32,
                 max_length: int | None = None, with_text: bool = False, quiet: bool | None = None,
                 **read_options: Any) -> PredictResult:
    """Read ``input_path``, predict with the model in ``model_dir``, write ``out``; return the result."""
    if Path(out).suffix.lower() not in OUTPUT_SUFFIXES:  # before the model is loaded
        raise DataError(f"{out}: cannot tell the output format from the suffix {Path(out).suffix or '(none)'!r}; "
                        f"name the file {' / '.join(OUTPUT_SUFFIXES)}")
    predictor = Predictor(model_dir, device=device, batch_size=batch_size, max_length=max_length, quiet=quiet)
    inp = read_input(input_path, predictor.task, **read_options)
    result = predict_input(predictor, inp)
    write_predictions(out, result, with_text=with_text)
    return result
