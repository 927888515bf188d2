"""Where the macro-F1 differences between methods come from: per-class (per-entity-type) test F1, precision and
recall, averaged over the seeds each method has finished, from the committed ``metrics.json`` of the CPU grid.

Usage: python benchmarks/runs/per_class.py benchmarks/results/cpu [--methods erm,hamr,metabalance] > out.md

For each dataset: one row per class, ordered by test support (rarest first), with each method's mean F1 and
precision / recall, and the number of seeds behind each mean. Reads only finished runs (``done.json``).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path


def _per_class(test: dict) -> dict:
    return test.get("per_class") or test.get("per_type") or {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="bench output folder (with runs/<dataset>/<method>/seed*/)")
    ap.add_argument("--methods", default="erm,hamr,metabalance", help="comma-separated methods, first is the reference")
    args = ap.parse_args()
    methods = args.methods.split(",")
    runs = Path(args.out, "runs")
    print(f"# Per-class test F1 (P / R), mean over finished seeds\n\nCommand: `python benchmarks/runs/per_class.py "
          f"{args.out} --methods {args.methods}`\n")
    for ds_dir in sorted(p for p in runs.iterdir() if p.is_dir()):
        stats: dict[str, dict[str, dict[str, list[float]]]] = {}
        support: dict[str, int] = {}
        seeds: dict[str, int] = {}
        macro: dict[str, list[float]] = {}
        for m in methods:
            files = sorted(f.parent / "metrics.json" for f in (ds_dir / m).glob("seed*/done.json"))
            if not files:
                continue
            seeds[m] = len(files)
            stats[m] = defaultdict(lambda: defaultdict(list))
            macro[m] = []
            for f in files:
                test = json.loads(f.read_text())["test"]
                macro[m].append(100 * test["macro_f1"])
                for c, v in _per_class(test).items():
                    support[c] = int(v["support"])
                    for k in ("f1", "precision", "recall"):
                        stats[m][c][k].append(100 * v[k])
        if not stats:
            continue
        present = [m for m in methods if m in stats]
        print(f"## {ds_dir.name}\n")
        print("| class | support | " + " | ".join(f"{m} (n={seeds[m]})" for m in present) + " |")
        print("|---|---:|" + "---:|" * len(present))
        for c in sorted(support, key=lambda c: (support[c], c)):
            cells = []
            for m in present:
                s = stats[m][c]
                cells.append(f"{statistics.mean(s['f1']):.1f} ({statistics.mean(s['precision']):.0f} / "
                             f"{statistics.mean(s['recall']):.0f})")
            print(f"| {c} | {support[c]} | " + " | ".join(cells) + " |")
        print("| **macro-F1** | | " + " | ".join(f"**{statistics.mean(macro[m]):.1f}**" for m in present) + " |")
        ref = present[0]
        for m in present[1:]:
            diffs = sorted(((statistics.mean(stats[m][c]["f1"]) - statistics.mean(stats[ref][c]["f1"]), c)
                            for c in support), reverse=True)
            gains = ", ".join(f"{c} {d:+.1f}" for d, c in diffs[:3] if d > 0) or "none"
            losses = ", ".join(f"{c} {d:+.1f}" for d, c in diffs[::-1][:3] if d < 0) or "none"
            print(f"\n{m} vs {ref}, per-class F1: largest gains {gains}; largest losses {losses}.")
        print()


if __name__ == "__main__":
    main()
