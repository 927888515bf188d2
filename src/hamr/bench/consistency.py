"""Table 4 of the report: local label consistency of HAMR's hard set, from a finished run's hardness file and its
rebuilt training split."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import RunConfig
from ..errors import InputError
from .common import DATASET_LABELS, RUN_FILE, md_table, pct

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


def _read_examples_tsv(path: Path) -> tuple[list[str], list[float]]:
    """(group label, final hardness m) per training index, from a HAMR run's ``hamr_examples.tsv``."""
    labels, hardness = [], []
    with open(path, encoding="utf-8") as fh:
        col = {name: i for i, name in enumerate(fh.readline().rstrip("\n").split("\t"))}
        for expected, line in enumerate(fh):
            parts = line.rstrip("\n").split("\t")
            if int(parts[col["index"]]) != expected:
                raise InputError(f"{path}: row {expected} holds index {parts[col['index']]}")
            labels.append(parts[col["label"]])
            hardness.append(float(parts[col["hardness_m"]]))
    return labels, hardness


def training_split_of_run(run_dir: Path):
    """The training split a bench run trained on, in index order, rebuilt from its ``run.json`` (same data,
    seed, limit and training-example cap; for a HAMR run that strips its meta set from train, the stripped
    split). The hamr_examples.tsv has no texts (some corpora's terms forbid publishing them)."""
    from ..metaset import build_meta_set
    from ..pipeline import load_data

    payload = json.loads((run_dir / RUN_FILE).read_text())
    config = RunConfig(**payload["config"])
    bundle = load_data(config)
    options = config.options
    if config.method == "hamr" and (options.get("meta_strip_from_train") or options.get("faithful")):
        meta = build_meta_set(bundle.train, bundle.validation, seed=config.seed, strip_from_train=True)
        return meta.train if meta.train is not None else bundle.train, options
    return bundle.train, options


def _hardness_of_run(run_dir: Path, train) -> "np.ndarray":
    """The final hardness m of a HAMR run, in index order, checked against its rebuilt training split:
    from the label-free ``hamr_hardness.json`` (committed with the run) when there is one, else from the
    local ``hamr_examples.tsv`` (each row's label checked against the split), which is then converted to
    ``hamr_hardness.json`` so that the run's Table 4 row survives the machine."""
    import numpy as np

    from ..data import entity_types_of
    from ..methods.hamr import HARDNESS_FILE_NAME
    from ..resampling import read_hardness_file, write_hardness_file

    texts = train.all_texts()
    hardness_file = run_dir / HARDNESS_FILE_NAME
    if hardness_file.exists():
        return read_hardness_file(hardness_file, texts)
    groups, m = _read_examples_tsv(run_dir / "hamr_examples.tsv")
    if len(train) != len(groups):
        raise InputError(f"the rebuilt training split has {len(train)} examples, hamr_examples.tsv {len(groups)}")
    if train.texts is not None:
        bad = next((i for i, (a, b) in enumerate(zip(train.labels, groups)) if a != b), None)
    else:
        types = [set(entity_types_of(t)) or {"O"} for t in train.labels]
        bad = next((i for i, (ts, g) in enumerate(zip(types, groups)) if re.sub(r"^[BIES]-", "", g) not in ts), None)
    if bad is not None:
        raise InputError(f"example {bad}: hamr_examples.tsv says {groups[bad]!r}, the rebuilt split disagrees")
    write_hardness_file(hardness_file, m, texts)
    return np.asarray(m, dtype=np.float64)


def consistency_for_run(run_dir: Path, record: dict, k: int = 10) -> dict[str, float]:
    """Table 4 for one HAMR run: local label consistency of Random / Full Set / Hard Samples / Hard
    Neighbours. The hard set is the top ``knn_ratio`` of the run's final hardness m (``hamr_hardness.json``,
    else ``hamr_examples.tsv``: :func:`_hardness_of_run`); texts and labels come from
    :func:`training_split_of_run` (checked against the hardness file), embeddings from
    :func:`hamr.embeddings.embed_texts` (the run's embedder; cached). NER sentences are labelled with
    :func:`hamr.resampling.ner_sentence_labels` (their most frequent entity type)."""
    from ..embeddings import embed_texts
    from ..methods.hamr import HAMRArguments
    from ..resampling import consistency_table, hard_indices, ner_sentence_labels

    train, options = training_split_of_run(run_dir)
    m = _hardness_of_run(run_dir, train)
    labels = list(train.labels) if train.texts is not None else ner_sentence_labels(train.labels)
    defaults = {f.name: f.default for f in dataclasses.fields(HAMRArguments)}
    ratio = float(options.get("knn_ratio", defaults["knn_ratio"]))
    emb = embed_texts(train.all_texts(), options.get("embedding_model") or defaults["embedding_model"],
                      cache_dir=options.get("embedding_cache_dir"))
    return consistency_table(emb, labels, hard_indices(m, ratio), k=k, seed=int(record["seed"]))


def _has_hardness(run_dir: Path) -> bool:
    return (run_dir / "hamr_hardness.json").exists() or (run_dir / "hamr_examples.tsv").exists()


def consistency_section(out: Path, records: list[dict], datasets: list[str], hamr: str | None,
                         compute: bool) -> list[str]:
    lines = ["## Table 4: local label consistency", "",
             "Share of training examples whose 10 nearest training neighbours (sentence embeddings) mostly share "
             "their label, for a random set of the hard set's size, all examples, the hard set (top `knn_ratio` by "
             "the final hardness m of a HAMR run) and the hard set with its neighbours; mean over seeds.", ""]
    if not compute:
        return lines + ["not available: skipped (--no-consistency).", ""]
    runs = [r for r in records if r["method"] == hamr and _has_hardness(out / r["run_dir"])]
    if not runs:
        why = "no HAMR runs" if not any(r["method"] == hamr for r in records) else \
            "no HAMR run has its hardness (hamr_hardness.json or hamr_examples.tsv)"
        return lines + [f"not available: {why}.", ""]
    per: dict[str, list[dict[str, float]]] = {}
    problems = []
    for r in runs:
        try:
            table = consistency_for_run(out / r["run_dir"], r)
            per.setdefault(r["dataset"], []).append(table)
        except Exception as exc:
            problems.append(f"{r['run_dir']}: {exc}")
    sets = [("random", "Random"), ("full_set", "Full Set"), ("hard_samples", "Hard Samples"),
            ("hard_neighbours", "Hard Neighbours")]
    ds = [d for d in datasets if d in per]
    rows = [[label, *[f"{100 * sum(t[key] for t in per[d]) / len(per[d]):.1f}" for d in ds]] for key, label in sets]
    rows.append(["runs (seeds)", *[str(len(per[d])) for d in ds]])
    if ds:
        lines += md_table(["set", *[DATASET_LABELS.get(d, d) for d in ds]], rows) + [""]
    lines += [f"not available for {p}" for p in problems]
    lines += _rerun_notes(out, runs)
    return lines + [""]


def _rerun_notes(out: Path, runs: list[dict]) -> list[str]:
    """Which Table 4 hard sets come from a re-run (``hardness_rerun.json``, benchmarks/runs/rerun_hardness.py)
    and whether the re-run reproduced the committed test scores."""
    reruns = []
    for r in runs:
        path = out / r["run_dir"] / "hardness_rerun.json"
        if path.exists():
            reruns.append((r["run_dir"], json.loads(path.read_text())))
    if not reruns:
        return []
    differ = [(d, x) for d, x in reruns if not x.get("reproduced")]
    line = (f"{len(reruns)} of {len(runs)} hard sets come from a re-run of the run (same configuration and seed; "
            "its hardness table had not been kept)")
    if not differ:
        return ["", line + "; every re-run reproduced the committed test macro- and micro-F1 (to 1e-9)."]
    lines = ["", line + f"; {len(differ)} re-run(s) did not reproduce the committed test scores (test macro-F1 "
             "committed → re-run):"]
    for d, x in differ:
        c, n = (x.get("committed_test") or {}).get("macro_f1"), (x.get("rerun_test") or {}).get("macro_f1")
        lines.append(f"- {d}: {pct(c)} → {pct(n)}")
    return lines
