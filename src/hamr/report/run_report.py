"""One run's HTML report (``hamr report RUN_DIR``; ``hamr train`` writes it at the end of a run).

Reads a run folder written by :func:`hamr.pipeline.run` and writes one self-contained ``report.html``:

- the run's summary and settings (``metrics.json``);
- per class (NER: per entity type) test precision / recall / F1 against the training count;
- classification: the test confusion matrix as heat maps (counts and row-normalised);
- validation F1 per class per epoch (``epoch_metrics.jsonl``);
- HAMR: every per-class series of ``hamr_diagnostics.jsonl`` (learned weights, sampling mass, and any other
  ``*_per_class`` record a method version writes), the hardness distribution per class, and a sortable,
  filterable table of the hardest training examples (``hamr_examples.tsv``, else ``hamr_hardness.json``) with
  label, prediction, hardness m, boost b, sampling probability p and nearest training neighbours; NER
  sentences show their gold and predicted spans.

The training split is rebuilt from the run's configuration (``run_config.json`` written by ``hamr train``,
a bench run's ``run.json``, else the dataset, seed and cap recorded in ``metrics.json``) and checked against
the run's files (size, labels, the hardness file's text digest) before any text, prediction or neighbour is
shown. Predictions of training examples are not stored by a run: they are computed from the saved model
(``model/``) when there is one, else the table says "not stored".

**Texts.** Some corpora's terms forbid publishing their texts (HumAID: only tweet ids may be shared;
TweetNER7's tweets remain under X's terms). By default (``texts=None``) a report shows texts only for a run on
the user's own files, or on another benchmark when the report is written outside a git work tree; tweet
corpora (``humaid_*``, ``tweetner7``) show indices (NER: word positions) unless texts are asked for
(``--texts``, filled in locally from the data folder).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..config import RUN_CONFIG_FILE
from ..enums import TaskType
from ..errors import InputError
from . import html as H
from .spans import LEGEND, sentence_html

logger = logging.getLogger(__name__)

__all__ = ["RunReportOptions", "RunData", "load_run", "write_run_report", "default_show_texts",
           "TWEET_CORPORA", "REPORT_FILE", "RUN_CONFIG_FILE"]

REPORT_FILE = "report.html"
#: The RunConfig of a ``hamr train`` run, written beside metrics.json (see :func:`hamr.cli.train`).
#: Benchmarks whose texts are tweets: their texts are never shown unless asked for.
TWEET_CORPORA = ("humaid_", "tweetner7")


@dataclass
class RunReportOptions:
    """Options of :func:`write_run_report`."""

    #: Show training texts: True / False, or None for the default (see the module: hidden for tweet corpora,
    #: and for any benchmark when the report is written inside a git work tree).
    texts: bool | None = None
    #: Folder of the benchmark datasets (default: as ``hamr train``: ``HAMR_DATA_ROOT``, then ../shared/datasets).
    data_root: str | None = None
    #: Rows of the hardest-examples table (the top by final hardness m).
    hardest: int = 200
    #: Nearest training neighbours per row (sentence embeddings + FAISS); 0 leaves them out.
    neighbours: int = 5
    #: Compute the predictions of the table's examples from the run's saved model (``model/``) when present.
    predict: bool = True
    #: Batch size of those predictions.
    batch_size: int = 32


@dataclass
class RunData:
    """What a run folder holds, read and checked (see :func:`load_run`)."""

    run_dir: Path
    metrics: dict[str, Any]
    epochs: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    #: per training index: label (HAMR group), m, b, p; None when the run has no hardness table
    examples: dict[str, list] | None = None
    examples_source: str | None = None
    config: dict[str, Any] | None = None
    config_source: str | None = None

    @property
    def task(self) -> TaskType:
        return TaskType.parse(self.metrics.get("task", "classification"))

    @property
    def dataset(self) -> str:
        return str(self.metrics.get("dataset", ""))


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{n}: not a JSON line ({exc})") from None
    return out


def read_examples_tsv(path: Path) -> dict[str, list]:
    """``hamr_examples.tsv`` as columns ``index, label, m, b, p`` (checked: indices 0..N-1 in order)."""
    cols: dict[str, list] = {"index": [], "label": [], "m": [], "b": [], "p": []}
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        need = ("index", "label", "hardness_m", "boost_b", "probability_p")
        missing = [c for c in need if c not in header]
        if missing:
            raise InputError(f"{path}: header lacks column(s) {', '.join(missing)} (has {', '.join(header)})")
        col = {name: i for i, name in enumerate(header)}
        for line_no, line in enumerate(fh, 2):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != len(header):
                raise InputError(f"{path}:{line_no}: {len(parts)} fields, expected {len(header)}")
            idx = int(parts[col["index"]])
            if idx != len(cols["index"]):
                raise InputError(f"{path}:{line_no}: index {idx}, expected {len(cols['index'])}")
            cols["index"].append(idx)
            cols["label"].append(parts[col["label"]])
            cols["m"].append(float(parts[col["hardness_m"]]))
            cols["b"].append(float(parts[col["boost_b"]]))
            cols["p"].append(float(parts[col["probability_p"]]))
    return cols


def _config_of(run_dir: Path, metrics: dict) -> tuple[dict | None, str | None]:
    if (run_dir / RUN_CONFIG_FILE).exists():
        return json.loads((run_dir / RUN_CONFIG_FILE).read_text()), RUN_CONFIG_FILE
    if (run_dir / "run.json").exists():
        payload = json.loads((run_dir / "run.json").read_text())
        if isinstance(payload.get("config"), dict):
            return payload["config"], "run.json"
    from ..data import BENCHMARKS

    if metrics.get("dataset") in BENCHMARKS:
        return ({"dataset": metrics["dataset"], "method": metrics.get("method", "erm"), "seed": metrics.get("seed", 42),
                 "max_train_examples": metrics.get("max_train_examples"), "max_length": metrics.get("max_length", 64),
                 "options": {}}, "metrics.json (dataset, seed and training cap; no limit)")
    return None, None


def load_run(run_dir: str | Path) -> RunData:
    """Read a run folder: ``metrics.json`` (required), the per-epoch and HAMR files when present."""
    run_dir = Path(run_dir)
    mpath = run_dir / "metrics.json"
    if not mpath.exists():
        raise FileNotFoundError(f"{run_dir}: no metrics.json (is it a run folder written by `hamr train`?)")
    try:
        metrics = json.loads(mpath.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{mpath}: not JSON ({exc})") from None
    data = RunData(run_dir, metrics, _read_jsonl(run_dir / "epoch_metrics.jsonl"),
                   _read_jsonl(run_dir / "hamr_diagnostics.jsonl"))
    if (run_dir / "hamr_examples.tsv").exists():
        data.examples, data.examples_source = read_examples_tsv(run_dir / "hamr_examples.tsv"), "hamr_examples.tsv"
    elif (run_dir / "hamr_hardness.json").exists():
        from ..resampling import read_hardness_file

        m = read_hardness_file(run_dir / "hamr_hardness.json")
        n = len(m)
        data.examples = {"index": list(range(n)), "label": [None] * n, "m": m.tolist(), "b": [None] * n,
                         "p": [None] * n}
        data.examples_source = "hamr_hardness.json (hardness only: no labels, boosts or probabilities)"
    data.config, data.config_source = _config_of(run_dir, metrics)
    return data


def _inside_git_worktree(path: Path) -> bool:
    for parent in [path.resolve(), *path.resolve().parents]:
        if (parent / ".git").exists():
            return True
    return False


def default_show_texts(dataset: str, from_files: bool, out: Path) -> bool:
    """The default of ``texts``: see the module docstring."""
    if dataset.startswith(TWEET_CORPORA):
        return False
    if from_files:
        return True
    return not _inside_git_worktree(out.parent)


# ---- the training split, predictions, neighbours ------------------------------------------------------


@dataclass
class _Train:
    split: Any = None  # hamr.data.Split, index-aligned with the hardness table
    vocab: Any = None
    problem: str | None = None  # why there is no split


def _rebuild_training_split(data: RunData, data_root: str | None) -> _Train:
    if data.config is None:
        return _Train(problem="the run's configuration is unknown (no run_config.json or run.json, and the "
                              "dataset is not a benchmark)")
    from ..config import RunConfig
    from ..metaset import build_meta_set
    from ..pipeline import load_data

    names = {f.name for f in dataclasses.fields(RunConfig)}
    cfg = {k: v for k, v in data.config.items() if k in names}
    if data_root:
        cfg["data_root"] = data_root
    cfg["output_dir"] = str(data.run_dir)
    try:
        config = RunConfig(**cfg)
        bundle = load_data(config)
    except Exception as exc:  # noqa: BLE001 - any data problem becomes a sentence in the report
        return _Train(problem=f"the training data could not be loaded ({type(exc).__name__}: {exc})")
    train = bundle.train
    settings = data.metrics.get("method_settings") or {}
    if str(data.metrics.get("method")) == "hamr" and str(settings.get("meta_strip_from_train")) == "True":
        meta = build_meta_set(bundle.train, bundle.validation, seed=config.seed, strip_from_train=True)
        train = meta.train if meta.train is not None else bundle.train
    ex = data.examples
    if ex is not None:
        if len(ex["index"]) != len(train):
            return _Train(problem=f"the rebuilt training split has {len(train)} examples, the run's "
                                  f"{data.examples_source.split()[0]} {len(ex['index'])}: not the same data")
        if (data.run_dir / "hamr_hardness.json").exists():
            from ..resampling import read_hardness_file

            try:
                read_hardness_file(data.run_dir / "hamr_hardness.json", train.all_texts())
            except ValueError as exc:
                return _Train(problem=f"the rebuilt training split does not match the run: {exc}")
        if train.texts is not None and ex["label"][0] is not None:
            bad = next((i for i, (a, b) in enumerate(zip(train.labels, ex["label"])) if a != b), None)
            if bad is not None:
                return _Train(problem=f"example {bad}: the run's table says {ex['label'][bad]!r}, the rebuilt "
                                      f"split {train.labels[bad]!r}: not the same data")
    return _Train(split=train, vocab=bundle.vocab)


def _predict(model_dir: Path, split, indices: Sequence[int], task: TaskType, max_length: int,
             batch_size: int) -> list:
    """Predicted labels (NER: word-level tag rows, truncated words as ``O``) of ``split[indices]``."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification

    from ..data import LabelVocab
    from ..tasks import IndexCollator, encode_split, load_tokenizer, predictions_to_labels

    config = AutoConfig.from_pretrained(model_dir)
    vocab = LabelVocab([config.id2label[i] for i in range(config.num_labels)], task)
    sub = split.subset(list(indices))
    tokenizer = load_tokenizer(str(model_dir))
    cls = AutoModelForTokenClassification if task == TaskType.NER else AutoModelForSequenceClassification
    model = cls.from_pretrained(model_dir).eval()
    encoded = encode_split(sub, tokenizer, vocab, max_length)
    collate = IndexCollator(tokenizer, task)
    out: list = []
    with torch.no_grad():
        for start in range(0, len(encoded), batch_size):
            batch = collate([encoded[i] for i in range(start, min(start + batch_size, len(encoded)))])
            batch.pop("example_index", None)
            gold = batch.pop("labels")
            logits = model(**batch).logits.numpy()
            _, pred = predictions_to_labels(task, logits, gold.numpy(), vocab)
            out.extend(pred)
    if task == TaskType.NER:
        out = [p + ["O"] * (len(g) - len(p)) for p, g in zip(out, sub.labels)]
    return out


def _neighbours(texts: list[str], rows: Sequence[int], k: int, settings: dict) -> list[list[tuple[int, float]]]:
    """The ``k`` nearest training examples (cosine, FAISS inner product on unit embeddings) of each row."""
    import faiss

    from ..embeddings import embed_texts

    model = settings.get("embedding_model")
    cache = settings.get("embedding_cache_dir")
    emb = embed_texts(texts, None if model in (None, "None") else model,
                      cache_dir=None if cache in (None, "None") else cache)
    index = faiss.IndexFlatIP(emb.shape[1])
    index.add(np.ascontiguousarray(emb, dtype=np.float32))
    sims, ids = index.search(np.ascontiguousarray(emb[list(rows)], dtype=np.float32), min(k + 1, len(texts)))
    out = []
    for r, (srow, irow) in zip(rows, zip(sims, ids)):
        out.append([(int(j), float(s)) for j, s in zip(irow, srow) if j != r and j >= 0][:k])
    return out


# ---- figures ----------------------------------------------------------------------------------------


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colours(classes: Sequence[str]) -> dict[str, Any]:
    plt = _plt()
    return {c: plt.cm.tab20(i % 20) for i, c in enumerate(classes)}


def _integer_epochs(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _per_class_figure(per: dict[str, dict], counts: dict[str, int] | None, what: str) -> str:
    plt = _plt()
    labels = list(per)
    if counts:
        labels = sorted(labels, key=lambda c: (counts.get(c, 0), c))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.25, 1]})
    ax = axes[0]
    x = np.arange(len(labels))
    for j, (key, colour) in enumerate((("precision", "#54aeff"), ("recall", "#d4a72c"), ("f1", "#1f883d"))):
        ax.bar(x + (j - 1) * 0.27, [100 * per[c][key] for c in labels], 0.27, label=key, color=colour)
    ax.set_xticks(x, [f"{c} ({counts.get(c, 0)})" if counts else c for c in labels], rotation=40, ha="right",
                  fontsize=7)
    ax.set_ylabel("test %")
    ax.set_ylim(0, 100)
    ax.set_title(f"test precision, recall, F1 per {what}" + (" (training count; rarest left)" if counts else ""))
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    ax = axes[1]
    if counts:
        xs = [max(counts.get(c, 0), 0.8) for c in labels]
        ax.scatter(xs, [100 * per[c]["f1"] for c in labels], color="#1f883d")
        for c, xv in zip(labels, xs):
            ax.annotate(c[:22], (xv, 100 * per[c]["f1"]), fontsize=6, xytext=(3, 2), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("training count (log)")
        ax.set_ylabel("test F1 %")
        ax.set_ylim(-2, 102)
        ax.set_title(f"test F1 against training count per {what}")
        ax.grid(alpha=0.3)
    else:
        ax.axis("off")
        ax.text(0.5, 0.5, "training counts not available", ha="center", va="center")
    fig.tight_layout()
    return H.figure_svg(fig)


def _confusion_figure(cm: list[list[int]], labels: Sequence[str]) -> str:
    plt = _plt()
    a = np.asarray(cm, dtype=float)
    rows = a.sum(axis=1, keepdims=True)
    norm = np.divide(a, rows, out=np.zeros_like(a), where=rows > 0)
    n = len(labels)
    size = max(4.5, 0.45 * n + 2.5)
    fig, axes = plt.subplots(1, 2, figsize=(2 * size + 1, size))
    short = [c[:20] for c in labels]
    for ax, mat, title, fmt in ((axes[0], a, "counts", "{:.0f}"), (axes[1], norm, "row-normalised (recall)", "{:.2f}")):
        im = ax.imshow(mat, cmap="Blues", vmin=0, vmax=mat.max() if mat.max() > 0 else 1)
        ax.set_xticks(range(n), short, rotation=50, ha="right", fontsize=7)
        ax.set_yticks(range(n), short, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        ax.set_title(f"test confusion matrix, {title}")
        if n <= 20:
            top = mat.max() if mat.max() > 0 else 1
            for i in range(n):
                for j in range(n):
                    if mat[i, j] > 0:
                        ax.text(j, i, fmt.format(mat[i, j]), ha="center", va="center", fontsize=6,
                                color="white" if mat[i, j] > 0.6 * top else "black")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return H.figure_svg(fig)


def _epoch_figure(epochs: list[dict], classes: Sequence[str]) -> str:
    plt = _plt()
    colours = _colours(classes)
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for c in classes:
        pts = [(r["epoch"], r[f"f1/{c}"]) for r in epochs if f"f1/{c}" in r]
        if pts:
            ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], marker="o", color=colours[c], label=c)
    macro = [(r["epoch"], r["macro_f1"]) for r in epochs if "macro_f1" in r]
    if macro:
        ax.plot([p[0] for p in macro], [100 * p[1] for p in macro], "k--", lw=2, label="macro-F1")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation F1 %")
    ax.set_ylim(-2, 102)
    ax.set_title("validation F1 per class after every epoch")
    _integer_epochs(ax)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return H.figure_svg(fig)


def per_class_series(diagnostics: list[dict]) -> dict[str, dict[str, list[tuple[float, Any]]]]:
    """Every per-class series of ``hamr_diagnostics.jsonl``: ``{key: {class: [(epoch, value), ...]}}`` for
    each record field that maps class names to numbers or to summary dicts (``{"median", "q10", ...}``).
    One level of nesting is read too (``{"class_params": {"beta": {class: v}}}`` gives ``class_params.beta``).
    Generic on purpose: a method version that logs a new per-class parameter gets a panel without code."""
    def is_series(value: Any) -> bool:
        return isinstance(value, dict) and bool(value) and all(
            (isinstance(v, (int, float)) and not isinstance(v, bool)) or
            (isinstance(v, dict) and ("median" in v or "mean" in v)) for v in value.values())

    out: dict[str, dict[str, list]] = {}
    for rec in diagnostics:
        epoch = rec.get("epoch")
        for key, value in rec.items():
            if key in ("memory",) or not isinstance(value, dict):  # run-level figures, not per class
                continue
            if is_series(value):
                found = {key: value}
            else:  # one level of nesting: {"class_params": {"beta": {class: v}, "delta": {...}}}
                found = {f"{key}.{k}": v for k, v in value.items() if is_series(v)}
            for name, series in found.items():
                for cls, v in series.items():
                    out.setdefault(name, {}).setdefault(cls, []).append((epoch, v))
    return out


def _series_figure(key: str, series: dict[str, list], classes: Sequence[str]) -> str:
    plt = _plt()
    colours = _colours(classes)
    fig, ax = plt.subplots(figsize=(9, 4.2))
    values = []
    stats = False
    for c in classes:
        pts = series.get(c)
        if not pts:
            continue
        xs = [p[0] for p in pts]
        if isinstance(pts[0][1], dict):
            stats = True
            mid = [p[1].get("median", p[1].get("mean")) for p in pts]
            ax.plot(xs, mid, marker="o", color=colours[c], label=c)
            if all("q10" in p[1] and "q90" in p[1] for p in pts):
                ax.fill_between(xs, [p[1]["q10"] for p in pts], [p[1]["q90"] for p in pts], color=colours[c],
                                alpha=0.12)
            values += mid
        else:
            ys = [float(p[1]) for p in pts]
            ax.plot(xs, ys, marker="o", color=colours[c], label=c)
            values += ys
    pos = [v for v in values if v is not None and v > 0]
    if pos and len(pos) == len(values) and max(pos) / min(pos) > 50:
        ax.set_yscale("log")
    name = key.replace("_per_class", "").replace("_", " ")
    ax.set_title(f"{name} per class" + (" (median, band: 10-90%)" if stats else ""))
    ax.set_xlabel("epoch")
    _integer_epochs(ax)
    ax.set_ylabel(name)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return H.figure_svg(fig)


def _hardness_figure(labels: Sequence[str], m: Sequence[float], order: Sequence[str]) -> str:
    plt = _plt()
    groups = [[v for lab, v in zip(labels, m) if lab == c] for c in order]
    fig, ax = plt.subplots(figsize=(max(7, 0.7 * len(order) + 3), 4.2))
    ax.boxplot(groups, showfliers=True, flierprops={"markersize": 2, "alpha": 0.4})
    ax.set_xticks(range(1, len(order) + 1), [f"{c[:22]} ({len(g)})" for c, g in zip(order, groups)], rotation=40,
                  ha="right", fontsize=7)
    ax.set_ylabel("final hardness m")
    ax.set_title("hardness distribution per class (training examples, after the last epoch)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return H.figure_svg(fig)


# ---- sections ---------------------------------------------------------------------------------------


def _summary_section(data: RunData) -> str:
    m = data.metrics
    test, val = m.get("test") or {}, m.get("validation") or {}
    stats = [("test macro-F1", H.pct(test.get("macro_f1"))), ("test micro-F1", H.pct(test.get("micro_f1"))),
             ("validation macro-F1", H.pct(val.get("macro_f1"))), ("validation micro-F1", H.pct(val.get("micro_f1")))]
    if m.get("train_seconds") is not None:
        stats.append(("training time", f"{float(m['train_seconds']):.0f} s"))
    if m.get("peak_memory_mb") is not None:
        stats.append(("peak memory", f"{float(m['peak_memory_mb']):.0f} MB"))
    boxes = '<div class="summary">' + "".join(
        f'<div class="stat"><b class="stat-value" data-stat="{H.esc(k)}">{H.esc(v)}</b>{H.esc(k)}</div>'
        for k, v in stats) + "</div>"
    keys = ("dataset", "task", "method", "model", "seed", "epochs", "max_length", "batch_size", "learning_rate",
            "train_examples", "max_train_examples", "test_examples", "truncated", "options", "seconds_per_epoch",
            "total_seconds", "embedding_seconds")
    kv = H.key_values((k, json.dumps(m[k]) if isinstance(m[k], (dict, list)) else m[k]) for k in keys if k in m)
    details = ""
    for key in ("method_settings", "resolved_method_settings"):
        if m.get(key):
            details += (f"<details><summary>{H.esc(key)} ({len(m[key])})</summary>" +
                        H.key_values(sorted(m[key].items())) + "</details>")
    q = test.get("quartiles")
    quart = ""
    if q:
        quart = "<h3>Test F1 per training-frequency quartile (Q1 = rarest)</h3>" + H.table(
            ["quartile", "F1 %", "labels"],
            [[k, H.Cell(H.pct(q.get(k)), q.get(k)), ", ".join((q.get("groups") or {}).get(k, []))]
             for k in ("Q1", "Q2", "Q3", "Q4")], numeric=[1])
    return H.section("Summary", boxes, kv, details, quart, anchor="summary")


def _per_class_section(data: RunData, counts: dict[str, int] | None, counts_source: str) -> str:
    test = data.metrics.get("test") or {}
    val = data.metrics.get("validation") or {}
    per = test.get("per_class") or test.get("per_type") or {}
    vper = val.get("per_class") or val.get("per_type") or {}
    what = "entity type" if data.task == TaskType.NER else "class"
    if not per:
        return H.section(f"Per {what}", H.note("not available: metrics.json has no per-class test scores."),
                         anchor="per-class")
    rows = []
    for c, s in per.items():
        rows.append([c, H.Cell(str(counts[c]) if counts and c in counts else "–", counts.get(c) if counts else None),
                     s["support"], H.Cell(H.pct(s["precision"]), s["precision"]), H.Cell(H.pct(s["recall"]), s["recall"]),
                     H.Cell(H.pct(s["f1"]), s["f1"]),
                     H.Cell(H.pct(vper[c]["f1"]), vper[c]["f1"]) if c in vper else "–"])
    tbl = H.table([what, "training count", "test support", "precision %", "recall %", "F1 %", "validation F1 %"],
                  rows, sortable=True, table_id="per-class-table", numeric=[1, 2, 3, 4, 5, 6])
    src = H.note(f"Training counts: {counts_source}.")
    parts = [_per_class_figure(per, counts, what), tbl, src]
    return H.section(f"Per {what}: test precision, recall and F1 against training count", *parts, anchor="per-class")


def _confusion_section(data: RunData) -> str:
    test = data.metrics.get("test") or {}
    cm, per = test.get("confusion_matrix"), test.get("per_class")
    if not cm or not per:
        return H.section("Confusion matrix", H.note("not available: metrics.json has no test confusion matrix."),
                         anchor="confusion")
    labels = list(per)
    if len(cm) != len(labels):
        return H.section("Confusion matrix", H.note(f"not shown: a {len(cm)}×{len(cm)} matrix for {len(labels)} "
                                                    "classes in metrics.json."), anchor="confusion")
    return H.section("Confusion matrix (test)", _confusion_figure(cm, labels),
                     H.note("Rows: gold class; columns: predicted class; class order as in metrics.json."),
                     anchor="confusion")


def _epochs_section(data: RunData, classes: Sequence[str]) -> str:
    eps = data.epochs
    if not eps:
        return H.section("Validation F1 per epoch", H.note(
            "not available: no epoch_metrics.jsonl records (the run evaluated on validation only at the end; "
            "per-epoch evaluation is RunConfig.evaluate_each_epoch)."), anchor="epochs")
    cls = [c for c in classes if any(f"f1/{c}" in r for r in eps)]
    header = ["epoch", "macro-F1 %", *cls]
    rows = [[H.Cell(f"{r.get('epoch', 0):g}", r.get("epoch")), H.Cell(H.pct(r.get("macro_f1")), r.get("macro_f1")),
             *[H.Cell(H.pct(r.get(f"f1/{c}")), r.get(f"f1/{c}")) for c in cls]] for r in eps]
    return H.section("Validation F1 per class per epoch", _epoch_figure(eps, cls),
                     "<details><summary>table</summary>" + H.table(header, rows, numeric=range(len(header))) +
                     "</details>", anchor="epochs")


def _diagnostics_section(data: RunData, classes: Sequence[str]) -> str:
    series = per_class_series(data.diagnostics)
    if not series:
        return ""
    in_series = [c for s in series.values() for c in s]
    all_classes = list(dict.fromkeys([*[c for c in classes if c in set(in_series)], *in_series]))
    parts = [H.note("Every per-class series the run's hamr_diagnostics.jsonl holds, one panel each: the learned "
                    "example weights of the meta step (per class: median with the 10-90% band, over the epoch's "
                    "weighted examples), the sampling mass of the next epoch's Eq. 4 distribution, and any further "
                    "learned per-class parameter the method version records.")]
    last = data.diagnostics[-1]
    for key, s in series.items():
        parts.append(f"<h3>{H.esc(key)}</h3>")
        parts.append(_series_figure(key, s, [c for c in all_classes if c in s]))
    rows = []
    for c in all_classes:
        row = [c]
        for key in series:
            holder = last.get(key) if key in last else (last.get(key.split(".")[0]) or {}).get(key.split(".", 1)[-1])
            v = (holder or {}).get(c)
            if isinstance(v, dict):
                v = v.get("median", v.get("mean"))
            row.append(H.Cell(f"{v:.4g}", v) if isinstance(v, (int, float)) else "–")
        rows.append(row)
    parts.append(f"<h3>After epoch {H.esc(last.get('epoch'))}</h3>" +
                 H.table(["class", *series], rows, sortable=True, numeric=range(1, len(series) + 1)))
    extra = {k: v for k, v in last.items() if k not in series and not isinstance(v, dict)}
    if extra:
        parts.append(H.key_values(extra.items()))
    return H.section("HAMR: learned class parameters and sampling mass per epoch", *parts, anchor="hamr")


def _hardest_section(data: RunData, options: RunReportOptions, train: _Train, show_texts: bool,
                     class_order: Sequence[str]) -> tuple[str, str]:
    """(hardness distribution section, hardest examples section)."""
    ex = data.examples
    if ex is None:
        return "", ""
    n = len(ex["m"])
    labels = ex["label"]
    if labels[0] is None and train.split is not None:
        labels = list(train.split.labels) if train.split.texts is not None else _ner_groups(train.split.labels)
    notes = [H.note(f"Hardness from {data.examples_source}; {n} training examples.")]
    dist = ""
    if labels[0] is not None:
        order = [c for c in class_order if c in set(labels)] + sorted(set(labels) - set(class_order))
        dist = H.section("Hardness distribution per class", _hardness_figure(labels, ex["m"], order),
                         H.note("Final hardness m (the Eq. 5 memory of each example's meta-weighted loss) per class "
                                "of the training examples (NER: the sentence's group label)."), anchor="hardness")
    m = np.asarray(ex["m"], dtype=float)
    top = [int(i) for i in np.argsort(-m, kind="stable")[: max(0, options.hardest)]]
    task = data.task
    split = train.split
    preds: list | None = None
    pred_note = "Predictions of training examples are not stored by a run."
    model_dir = data.run_dir / "model"
    if split is not None and options.predict and model_dir.is_dir() and top:
        try:
            preds = _predict(model_dir, split, top, task, int(data.metrics.get("max_length", 64)), options.batch_size)
            pred_note = f"Predictions computed now from the run's saved model ({model_dir.name}/)."
        except Exception as exc:  # noqa: BLE001
            pred_note = f"Predictions not available: the saved model could not be run ({type(exc).__name__}: {exc})."
    elif split is not None and not model_dir.is_dir():
        pred_note += " The run saved no model, so they are not computed either (\"not stored\")."
    neigh: list | None = None
    neigh_note = ""
    if options.neighbours > 0 and split is not None and top:
        try:
            neigh = _neighbours(split.all_texts(), top, options.neighbours, data.metrics.get("method_settings") or {})
            neigh_note = (f"Neighbours: the {options.neighbours} nearest training examples by cosine similarity of "
                          "the run's sentence embeddings (hamr.embeddings, FAISS), as index, label, cosine similarity.")
        except Exception as exc:  # noqa: BLE001
            neigh_note = f"Neighbours not available ({type(exc).__name__}: {exc})."
    elif options.neighbours > 0:
        neigh_note = "Neighbours not available: they need the training texts (see above)."
    if split is None:
        notes.append(H.note(f"Texts, predictions and neighbours not available: {train.problem}", "warn"))
    notes.append(H.note(pred_note))
    if neigh_note:
        notes.append(H.note(neigh_note))
    if split is not None and not show_texts:
        notes.append(H.note("Texts hidden: this corpus's terms do not allow publishing its texts, or the report is "
                            "written inside a repository (run `hamr report RUN_DIR --texts` to fill them in locally; "
                            "do not commit that file). " +
                            ("NER sentences show word positions (#i) with their spans." if task == TaskType.NER else
                             "Join on the index (or the example id) to read an example."), "warn"))
    ner = task == TaskType.NER
    header = ["rank", "index"]
    has_ids = split is not None and split.ids is not None
    if has_ids:
        header.append("id")
    header += ["label", "prediction", "hardness m", "boost b", "sampling p", "p × N"]
    if ner and split is not None:
        header.append("sentence (gold / predicted spans)")
    elif show_texts and split is not None:
        header.append("text")
    if neigh is not None:
        header.append("nearest neighbours")
    rows = []
    for rank, i in enumerate(top, 1):
        lab = labels[i] if labels[i] is not None else "–"
        row: list[Any] = [H.Cell(str(rank), rank), H.Cell(str(i), i)]
        if has_ids:
            row.append(split.ids[i] or "")
        row.append(lab)
        if preds is None:
            row.append(H.Cell('<span class="muted">not stored</span>'))
        elif ner:
            pred_types = sorted(set(_types(preds[rank - 1])))
            ok = preds[rank - 1] == list(split.labels[i])
            row.append(H.Cell(H.esc(", ".join(pred_types) or "O") + ("" if ok else ' <span class="wrong">≠</span>'),
                              ", ".join(pred_types) or "O"))
        else:
            p = preds[rank - 1]
            row.append(H.Cell(H.esc(p), p, cls=None if p == lab else "wrong"))
        for key in ("m", "b", "p"):
            v = ex[key][i]
            row.append(H.Cell(f"{v:.4g}", v) if v is not None else "–")
        row.append(H.Cell(f"{ex['p'][i] * n:.3g}", ex["p"][i] * n) if ex["p"][i] is not None else "–")
        if ner and split is not None:
            row.append(H.Cell(sentence_html(split.tokens[i], split.labels[i], preds[rank - 1] if preds else None,
                                            show_tokens=show_texts)))
        elif show_texts and split is not None:
            row.append(split.texts[i])
        if neigh is not None:
            items = []
            for j, s in neigh[rank - 1]:
                lj = labels[j] if labels[j] is not None else "?"
                title = f' title="{H.esc(split.text(j)[:300])}"' if show_texts else ""
                items.append(f'<span class="nb"{title}>{j} {H.esc(lj)} {s:.2f}</span>')
            row.append(H.Cell("".join(items)))
        rows.append(row)
    numeric = [0, 1] + [header.index(h) for h in ("hardness m", "boost b", "sampling p", "p × N")]
    tbl = H.table(header, rows, sortable=True, filterable=True, table_id="hardest", numeric=numeric)
    intro = H.note(f"The {len(top)} training examples with the highest final hardness m. p is the probability of "
                   "drawing the example in the next epoch's sampler (Eq. 4), p × N its ratio to uniform sampling; b "
                   "is its neighbourhood boost. Click a column header to sort, type in the box to filter.")
    legend = LEGEND if ner and split is not None else ""
    return dist, H.section("Hardest training examples", intro, *notes, legend, tbl, anchor="hardest-examples")


def _types(tags: Sequence[str]) -> list[str]:
    from ..data import entity_types_of

    return entity_types_of(list(tags))


def _ner_groups(tag_rows) -> list[str]:
    from ..resampling import ner_sentence_labels

    return list(ner_sentence_labels(tag_rows))


def _training_counts(data: RunData, train: _Train) -> tuple[dict[str, int] | None, str]:
    if train.split is not None:
        counts = train.split.label_counts()
        src = "the rebuilt training split" + (" (HAMR's, without the meta set)" if str(
            (data.metrics.get("method_settings") or {}).get("meta_strip_from_train")) == "True" else "")
        if data.task == TaskType.NER:
            src += ", entity mentions per type"
        return counts, src
    if data.examples is not None and data.task == TaskType.CLASSIFICATION and data.examples["label"][0] is not None:
        counts: dict[str, int] = {}
        for lab in data.examples["label"]:
            counts[lab] = counts.get(lab, 0) + 1
        return counts, f"{data.examples_source} (the training data itself was not available: {train.problem})"
    return None, f"not available ({train.problem or 'no training data'})"


def build_run_report(data: RunData, options: RunReportOptions, out: Path) -> str:
    """The report page of a loaded run (see :func:`write_run_report`)."""
    from_files = bool(data.config and data.config.get("train_file"))
    show_texts = options.texts if options.texts is not None else default_show_texts(data.dataset, from_files, out)
    train = _rebuild_training_split(data, options.data_root)
    counts, counts_source = _training_counts(data, train)
    test = data.metrics.get("test") or {}
    per = test.get("per_class") or test.get("per_type") or {}
    classes = list(per)
    if counts:
        classes = sorted(classes, key=lambda c: (counts.get(c, 0), c))
    body = [_summary_section(data), _per_class_section(data, counts, counts_source)]
    if data.task == TaskType.CLASSIFICATION:
        body.append(_confusion_section(data))
    body.append(_epochs_section(data, classes))
    body.append(_diagnostics_section(data, classes))
    dist, hardest = _hardest_section(data, options, train, show_texts, classes)
    body += [dist, hardest]
    if data.config_source:
        body.append(H.note(f"Training split rebuilt from {data.config_source}."))
    nav = [("summary", "summary"), ("per-class", "per class")]
    if data.task == TaskType.CLASSIFICATION:
        nav.append(("confusion", "confusion"))
    nav.append(("epochs", "per epoch"))
    if data.diagnostics:
        nav.append(("hamr", "HAMR"))
    if dist:
        nav.append(("hardness", "hardness"))
    if hardest:
        nav.append(("hardest-examples", "hardest examples"))
    title = f"{data.dataset} · {data.metrics.get('method', '')} · seed {data.metrics.get('seed', '')}"
    return H.page(title, [b for b in body if b], subtitle=f"Run report of {data.run_dir} (hamr report).", nav=nav)


def write_run_report(run_dir: str | Path, out: str | Path | None = None,
                     options: RunReportOptions | None = None) -> Path:
    """Write ``report.html`` for the run folder ``run_dir`` (or to ``out``); return its path."""
    options = options or RunReportOptions()
    data = load_run(run_dir)
    path = Path(out) if out is not None else Path(run_dir) / REPORT_FILE
    text = build_run_report(data, options, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
