"""A tiny synthetic run folder (the files `hamr train` writes) for the report tests; no training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CLASSES = ["alpha", "beta", "gamma"]
COUNTS = {"alpha": 18, "beta": 9, "gamma": 3}


def _train_rows() -> list[tuple[str, str]]:
    rows = []
    for c in CLASSES:
        for k in range(COUNTS[c]):
            rows.append((f"{c} example number {k} about topic {c}", c))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(rows))
    return [rows[i] for i in order]


def make_classification_run(root: Path, *, dataset_name: str = "train", n_epochs: int = 3) -> Path:
    """A HAMR classification run folder under ``root``/run, with its training files under ``root``/data.
    Returns the run folder. Numbers are distinct so that tests can find them in the page."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    train = _train_rows()
    (data / f"{dataset_name}.tsv").write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in train))
    (data / "validation.tsv").write_text("text\tlabel\n" + "".join(f"{c} held out {k}\t{c}\n" for c in CLASSES
                                                                   for k in range(2)))
    run = root / "run"
    run.mkdir(parents=True, exist_ok=True)
    per_class = {
        "alpha": {"precision": 0.912345, "recall": 0.871234, "f1": 0.891313, "support": 40},
        "beta": {"precision": 0.654321, "recall": 0.598765, "f1": 0.625311, "support": 20},
        "gamma": {"precision": 0.301234, "recall": 0.456789, "f1": 0.363047, "support": 7},
    }
    metrics = {
        "dataset": dataset_name, "task": "classification", "method": "hamr", "model": "tiny", "seed": 42,
        "epochs": n_epochs, "max_length": 32, "batch_size": 4, "learning_rate": 4e-5, "options": {},
        "method_settings": {"meta_strip_from_train": "False", "knn_ratio": "0.1"},
        "resolved_method_settings": {"wnet_lr": "0.001"},
        "train_examples": len(train), "train_seconds": 12.345, "peak_memory_mb": 456.7,
        "test": {"macro_f1": 0.626557, "micro_f1": 0.761194, "accuracy": 0.761194, "per_class": per_class,
                 "confusion_matrix": [[35, 4, 1], [6, 12, 2], [2, 2, 3]],
                 "quartiles": {"Q1": 0.363047, "Q2": 0.625311, "Q3": None, "Q4": 0.891313,
                               "groups": {"Q1": ["gamma"], "Q2": ["beta"], "Q3": [], "Q4": ["alpha"]}}},
        "validation": {"macro_f1": 0.587654, "micro_f1": 0.666667,
                       "per_class": {c: {"precision": 0.5, "recall": 0.5, "f1": 0.5 + 0.1 * i, "support": 2}
                                     for i, c in enumerate(CLASSES)}},
    }
    (run / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (run / "run_config.json").write_text(json.dumps({
        "dataset": None, "train_file": str(data / f"{dataset_name}.tsv"),
        "validation_file": str(data / "validation.tsv"), "test_file": None, "task": "classification",
        "method": "hamr", "seed": 42, "max_length": 32, "epochs": n_epochs, "options": {}}))
    with open(run / "epoch_metrics.jsonl", "w") as fh:
        for e in range(1, n_epochs + 1):
            rec = {"epoch": float(e), "macro_f1": 0.3 + 0.1 * e}
            rec.update({f"f1/{c}": 0.2 + 0.1 * e + 0.05 * i for i, c in enumerate(CLASSES)})
            fh.write(json.dumps(rec) + "\n")
    with open(run / "hamr_diagnostics.jsonl", "w") as fh:
        for e in range(1, n_epochs + 1):
            weights = {c: {"n": 10, "mean": 1.0 + i + 0.1 * e, "q10": 0.5 + i, "median": 1.0 + i + 0.1 * e,
                           "q90": 1.5 + i + 0.2 * e, "min": 0.1, "max": 3.0 + i} for i, c in enumerate(CLASSES)}
            mass = {"alpha": 0.5 - 0.05 * e, "beta": 0.3, "gamma": 0.2 + 0.05 * e}
            beta = {c: 0.01 * (i + 1) * e for i, c in enumerate(CLASSES)}  # a further learned per-class series
            fh.write(json.dumps({"epoch": e, "global_step": 8 * e, "weights_per_class": weights,
                                 "sampling_mass_per_class": mass, "beta_per_class": beta,
                                 "class_params": {"delta": {c: -0.1 * i * e for i, c in enumerate(CLASSES)},
                                                  "note": "not a series"},
                                 "memory": {"min": 0.1, "max": 3.0}, "meta_steps": 3 * e}) + "\n")
    rng = np.random.default_rng(1)
    m = rng.uniform(0.2, 3.0, size=len(train))
    b = rng.uniform(0.0, 1.0, size=len(train))
    p = m * (1 + 0.7 * b)
    p = p / p.sum()
    with open(run / "hamr_examples.tsv", "w") as fh:
        fh.write("index\tlabel\thardness_m\tboost_b\tprobability_p\n")
        for i, (_, label) in enumerate(train):
            fh.write(f"{i}\t{label}\t{m[i]:.6g}\t{b[i]:.6g}\t{p[i]:.6g}\n")
    return run


def make_ner_run(root: Path) -> Path:
    """A HAMR NER run folder (CoNLL training file, per-type metrics, a hardness table)."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    sents = [
        (["Alice", "met", "Bob", "in", "Paris"], ["B-PER", "O", "B-PER", "O", "B-LOC"]),
        (["The", "United", "Nations", "said"], ["O", "B-ORG", "I-ORG", "O"]),
        (["Nothing", "here"], ["O", "O"]),
        (["Carol", "Smith", "visited", "Rome"], ["B-PER", "I-PER", "O", "B-LOC"]),
    ] * 3
    (data / "ner.conll").write_text("".join("".join(f"{w}\t{t}\n" for w, t in zip(ws, ts)) + "\n" for ws, ts in sents))
    (data / "ner_val.conll").write_text("".join("".join(f"{w}\t{t}\n" for w, t in zip(ws, ts)) + "\n"
                                                for ws, ts in sents[:4]))
    run = root / "run"
    run.mkdir(parents=True, exist_ok=True)
    per_type = {"PER": {"precision": 0.81, "recall": 0.72, "f1": 0.762353, "support": 9},
                "LOC": {"precision": 0.55, "recall": 0.61, "f1": 0.578448, "support": 6},
                "ORG": {"precision": 0.2, "recall": 0.25, "f1": 0.222222, "support": 3}}
    metrics = {"dataset": "ner", "task": "ner", "method": "hamr", "seed": 42, "epochs": 2, "max_length": 32,
               "method_settings": {"meta_strip_from_train": "False"}, "train_examples": len(sents),
               "test": {"macro_f1": 0.521008, "micro_f1": 0.63, "per_type": per_type}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "run_config.json").write_text(json.dumps({
        "train_file": str(data / "ner.conll"), "validation_file": str(data / "ner_val.conll"), "task": "ner",
        "method": "hamr", "seed": 42, "max_length": 32, "data_options": {}}))
    groups = {"PER": "B-PER", "LOC": "B-LOC", "ORG": "B-ORG"}
    with open(run / "hamr_examples.tsv", "w") as fh:
        fh.write("index\tlabel\thardness_m\tboost_b\tprobability_p\n")
        for i, (_, tags) in enumerate(sents):
            ents = [t[2:] for t in tags if t.startswith("B-")]
            g = groups[min(ents, key=lambda e: {"ORG": 0, "LOC": 1, "PER": 2}[e])] if ents else "O"
            fh.write(f"{i}\t{g}\t{1.0 + 0.1 * i:.6g}\t0\t{1 / len(sents):.6g}\n")
    return run
