"""Decision offsets re-fitted from saved logits (``logits.npz``), with one more rule: the form chosen by k-fold
cross-validation inside the fit rows (issue 22, session 25).

The ``macro_f1`` search overfits when the validation meta half holds 1-4 examples of a class (Idai19 seed 43 in
``i24_offsets``). ``cv`` picks, per run, among none / balanced / half / macro_f1 the form whose offsets, fitted on
k-1 folds of the fit rows, score the best mean macro-F1 on the held-out fold, then fits that form on all fit rows.
Nothing here re-trains: every run's raw validation logits are in its ``logits.npz`` (runs from session 25 on).

    python benchmarks/runs/offsets_cv.py benchmarks/results/cpu_offsets [--folds 5] [--json out.json]

Prints held-out validation macro / micro-F1 only (the half neither the meta set nor any fit saw); no test figure.
The re-fitted forms must equal the run's own record (``decision_offsets.forms``): the script checks it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics as st
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from screen_tables import is_table3_run

from hamr.config import RunConfig
from hamr.enums import DecisionOffsets, TaskType
from hamr.holdout import validation_holdout
from hamr.losses import class_counts_from_labels
from hamr.offsets import fit_offsets
from hamr.pipeline import (
    _macro_f1_scorer,
    encode_split,
    evaluate_predictions,
    load_data,
    load_tokenizer,
    read_logits,
    split_logits,
)

FORMS = ("none", "balanced", "half", "macro_f1")
RULES = FORMS + ("cv",)


class RunData:
    """One run's validation logits, its hold-out and scorers over any subset of validation rows."""

    def __init__(self, run_dir: Path):
        self.dir = run_dir
        record = json.loads((run_dir / "run_config.json").read_text())
        record["output_dir"] = os.devnull
        self.config = RunConfig(**record)
        self.bundle = load_data(self.config)
        self.task = self.bundle.task
        self.holdout = validation_holdout(self.config, self.bundle)
        z = read_logits(run_dir)
        self.labels = [str(x) for x in z["label_names"]]
        logits, self.ids = split_logits(z, "validation", len(self.bundle.validation))
        self.logits = logits.astype(np.float64)
        self.words = None
        if self.task == TaskType.NER:
            tok = load_tokenizer(self.config.model)
            self.words = encode_split(self.bundle.validation, tok, self.bundle.vocab,
                                      max_length=self.config.max_length).word_index
            train_ids = encode_split(self.bundle.train, tok, self.bundle.vocab,
                                     max_length=self.config.max_length).label_ids()
        else:
            train_ids = [self.bundle.vocab.encode(y) for y in self.bundle.train.labels]
        self.counts = class_counts_from_labels(train_ids, len(self.labels))
        self.metrics = json.loads((run_dir / "metrics.json").read_text())

    def score(self, rows: list[int], delta: np.ndarray) -> dict:
        return evaluate_predictions(self.task, self.bundle, self.logits[rows] + delta, self.ids[rows],
                                    gold_split=self.bundle.validation.subset(rows),
                                    word_index=None if self.words is None else [self.words[i] for i in rows])

    def fit(self, form: str, rows: list[int]) -> np.ndarray:
        if form == "none":
            return np.zeros(len(self.labels))
        scorer = _macro_f1_scorer(self.task, self.bundle, self.ids[rows], self.bundle.validation.subset(rows),
                                  None if self.words is None else [self.words[i] for i in rows])
        return fit_offsets(DecisionOffsets.parse(form), self.task, self.logits[rows], self.ids[rows], self.counts,
                           self.labels, macro_f1=scorer)


def _folds(run: RunData, rows: list[int], k: int, seed: int) -> list[list[int]]:
    """k folds of ``rows``; classification: stratified by label (each class spread round-robin)."""
    rng = np.random.default_rng(seed)
    if run.task == TaskType.CLASSIFICATION:
        by_class: dict[int, list[int]] = defaultdict(list)
        for r in rows:
            by_class[int(run.ids[r])].append(r)
        order = [r for c in sorted(by_class) for r in rng.permutation(by_class[c]).tolist()]
    else:
        order = rng.permutation(rows).tolist()
    return [sorted(order[i::k]) for i in range(k)]


def evaluate_run(run: RunData, k: int) -> dict:
    fit_rows, held = run.holdout.meta_indices, run.holdout.heldout_indices
    out: dict[str, dict] = {}
    deltas = {f: run.fit(f, fit_rows) for f in FORMS}
    for f in FORMS:
        s = run.score(held, deltas[f])
        out[f] = {"macro": 100 * s["macro_f1"], "micro": 100 * s["micro_f1"]}
        recorded = 100 * run.metrics["decision_offsets"]["forms"][f]["validation_heldout"]["macro_f1"]
        if abs(recorded - out[f]["macro"]) > 0.05:
            print(f"warning: {run.dir}: form {f} re-fitted {out[f]['macro']:.2f}, the run recorded {recorded:.2f}",
                  file=sys.stderr)
    folds = _folds(run, fit_rows, k, seed=run.config.seed)
    cv = {}
    for f in FORMS:
        scores = []
        for i, fold in enumerate(folds):
            rest = sorted(r for j, other in enumerate(folds) if j != i for r in other)
            scores.append(run.score(fold, run.fit(f, rest))["macro_f1"])
        cv[f] = float(np.mean(scores))
    pick = max(FORMS, key=lambda f: (cv[f], -FORMS.index(f)))
    out["cv"] = dict(out[pick], form=pick)
    out["cv_scores"] = cv
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    results: dict[str, dict] = {}
    if a.json and a.json.exists():
        results = json.loads(a.json.read_text())
    # a cached entry counts only while its run is there and unchanged (done.json's digest, recorded since session
    # 29; older entries have none and stay): a removed run's entry goes, a re-made run is re-fitted
    for key in [k for k in results if not (a.folder / "runs" / k / "done.json").exists()]:
        print(f"{key}: run gone, cached entry dropped", file=sys.stderr)
        del results[key]
    for npz in sorted(a.folder.glob("runs/*/*/seed*/logits.npz")):
        run_dir = npz.parent
        key = "/".join(run_dir.parts[-3:])
        if not (run_dir / "done.json").exists() or is_table3_run(run_dir):
            continue  # Table-3 runs (HAMR variants) are not among the grid's compared methods
        stamp = hashlib.sha1((run_dir / "done.json").read_bytes()).hexdigest()[:12]
        if key in results and results[key].get("done_sha1", stamp) == stamp:
            continue
        results[key] = {**evaluate_run(RunData(run_dir), a.folds), "done_sha1": stamp}
        print(f"{key}: " + ", ".join(f"{r} {results[key][r]['macro']:.1f}" for r in RULES)
              + f" (cv chose {results[key]['cv']['form']})", file=sys.stderr)
        if a.json:
            a.json.write_text(json.dumps(results, indent=1))
    print("Held-out validation macro-F1 (%), decision offsets re-fitted from logits.npz; `cv` = the form chosen "
          f"by {a.folds}-fold cross-validation inside the fit rows. Mean over seeds (n).\n")
    print("| dataset | method | n | " + " | ".join(RULES) + " | cv chose |")
    print("|---|---|---|" + "---|" * len(RULES) + "---|")
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for key, r in results.items():
        d, m, _ = key.split("/")
        groups[(d, m)].append(r)
    gains: dict[str, list[float]] = defaultdict(list)
    for (d, m), rs in sorted(groups.items()):
        cells = [f"{st.mean(r[rule]['macro'] for r in rs):.1f}" for rule in RULES]
        for rule in RULES[1:]:
            gains[rule].append(st.mean(r[rule]["macro"] - r["none"]["macro"] for r in rs))
        chose = ", ".join(r["cv"]["form"] for r in rs)
        print(f"| {d} | {m} | {len(rs)} | " + " | ".join(cells) + f" | {chose} |")
    if gains:
        print("\nMean held-out macro-F1 gain over no offsets, over the (dataset, method) cells; cells with a loss "
              "of more than 1:\n")
        print("| rule | mean gain | cells < −1 | cells |")
        print("|---|---|---|---|")
        for rule in RULES[1:]:
            g = gains[rule]
            print(f"| {rule} | {st.mean(g):+.2f} | {sum(x < -1 for x in g)} | {len(g)} |")


if __name__ == "__main__":
    main()
