"""Re-score NER runs whose validation/test logits were kept (``<split>_logits.npz`` in the run folder), with the
old alignment (labelled positions in order, short rows padded with O at the END: issue 20's defect) and the
fixed one (each prediction placed at its word's index by the tokenizer's word ids; a word without sub-tokens or
cut by max_length gets an explicit O at its own position).

usage: python benchmarks/runs/rescore_ner.py RUN_DIR [RUN_DIR ...]   (each a bench run folder with run.json)
Prints, per run and split: the committed figure (metrics.json of the same cell in --committed, if given), the
old-alignment and the fixed-alignment macro/micro-F1 (x100, 2 decimals). No text is printed.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from hamr.metrics import ner_metrics  # noqa: E402
from hamr.pipeline import RunConfig, load_data  # noqa: E402
from hamr.tasks import IGNORE_INDEX, load_tokenizer  # noqa: E402


def score(run_dir: Path, committed_root: Path | None) -> list[dict]:
    spec = json.loads((run_dir / "run.json").read_text())
    cfg = dict(spec["config"])
    cfg["output_dir"] = "/tmp/rescore_unused"
    if "validation_holdout" in RunConfig.__dataclass_fields__:
        cfg["validation_holdout"] = 0.0  # these runs were scored on whole validation splits
    config = RunConfig(**{k: v for k, v in cfg.items() if k in RunConfig.__dataclass_fields__})
    bundle = load_data(config)
    tok = load_tokenizer(config.model)
    train_counts = bundle.train.label_counts()
    rows = []
    for name, split in bundle.splits().items():
        f = run_dir / f"{name}_logits.npz"
        if not f.exists():
            continue
        z = np.load(f)
        pred_ids = z["logits"].argmax(-1)
        label_ids = z["labels"]
        enc = tok(split.tokens, is_split_into_words=True, truncation=True, max_length=config.max_length)
        gold = [list(r) for r in split.labels]
        old, new = [], []
        for i in range(len(split)):
            keep = np.nonzero(label_ids[i] != IGNORE_INDEX)[0]
            p = [bundle.vocab.labels[pred_ids[i][j]] for j in keep]
            old.append(p + ["O"] * (len(gold[i]) - len(p)))
            words = enc.word_ids(i)
            placed = ["O"] * len(gold[i])
            for j in keep:
                placed[words[j]] = bundle.vocab.labels[pred_ids[i][j]]
            new.append(placed)
        m_old, m_new = ner_metrics(gold, old, train_counts), ner_metrics(gold, new, train_counts)
        row = {"run": str(run_dir), "split": name, "old_macro": m_old["macro_f1"], "old_micro": m_old["micro_f1"],
               "new_macro": m_new["macro_f1"], "new_micro": m_new["micro_f1"]}
        if committed_root is not None:
            s = spec["spec"]
            c = committed_root / "runs" / s["dataset"] / s["entry"] / f"seed{s['seed']}" / "metrics.json"
            if c.exists():
                m = json.loads(c.read_text())[name]
                row.update(committed_macro=m["macro_f1"], committed_micro=m["micro_f1"])
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--committed", type=Path, default=None, help="results folder of the committed grid")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    a = ap.parse_args()
    rows = [r for d in a.runs for r in score(d, a.committed)]
    pct = lambda x: "" if x is None else f"{100 * x:.2f}"  # noqa: E731
    print("| run | split | committed macro / micro | old alignment | fixed alignment | Δ macro | Δ micro |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        name = "/".join(Path(r["run"]).parts[-3:])
        print(f"| {name} | {r['split']} | {pct(r.get('committed_macro'))} / {pct(r.get('committed_micro'))} | "
              f"{pct(r['old_macro'])} / {pct(r['old_micro'])} | {pct(r['new_macro'])} / {pct(r['new_micro'])} | "
              f"{100 * (r['new_macro'] - r['old_macro']):+.2f} | {100 * (r['new_micro'] - r['old_micro']):+.2f} |")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
