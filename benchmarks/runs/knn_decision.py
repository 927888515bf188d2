"""Issue 22's default rule applied to the CPU grid's HAMR ablations: a component that does not raise mean
macro-F1 by >= 1 on at least two datasets over 3 seeds is off by default. Reads validation figures only
(metrics.json ``validation``) of ``hamr`` and its ablation entries in a grid results folder and prints, per
dataset, the mean (sd) over seeds and HAMR's gain over each ablation, i.e. what the removed part adds.

    python benchmarks/runs/knn_decision.py [benchmarks/results/cpu] > benchmarks/results/knn_decision.md
"""

from __future__ import annotations

import json
import statistics as st
import sys
from pathlib import Path

PARTS = {"hamr_wo_knn": "kNN boost", "hamr_wo_resampling": "resampling", "hamr_wo_awe": "AWE (learned weights)"}


def scores(folder: Path, dataset: str, entry: str) -> dict[int, float]:
    out = {}
    for path in sorted((folder / "runs" / dataset / entry).glob("seed*/metrics.json")):
        m = json.loads(path.read_text())
        out[int(m["seed"])] = 100 * m["validation"]["macro_f1"]
    return out


def main(folder: Path) -> None:
    datasets = sorted(p.name for p in (folder / "runs").iterdir() if (p / "hamr").is_dir())
    print(f"Validation macro-F1 (mean ± sd over seeds) of `hamr` and its ablations in `{folder}`; gain = hamr − "
          "ablation, over the seeds both have.\n")
    print("| dataset | hamr | " + " | ".join(f"{e} | gain of the {p}" for e, p in PARTS.items()) + " |")
    print("|---|---|" + "---|---|" * len(PARTS))
    wins = {e: [] for e in PARTS}
    for d in datasets:
        h = scores(folder, d, "hamr")
        cells = [f"{st.mean(h.values()):.1f} ± {st.stdev(h.values()):.1f} (n={len(h)})"]
        for e in PARTS:
            a = scores(folder, d, e)
            seeds = sorted(set(h) & set(a))
            if len(seeds) < 2:
                cells += ["–", "–"]
                continue
            gain = st.mean(h[s] for s in seeds) - st.mean(a[s] for s in seeds)
            cells += [f"{st.mean(a[s] for s in seeds):.1f} ± {st.stdev([a[s] for s in seeds]):.1f}", f"{gain:+.2f}"]
            if gain >= 1 and len(seeds) >= 3:
                wins[e].append(d)
        print(f"| {d} | " + " | ".join(cells) + " |")
    print()
    for e, part in PARTS.items():
        verdict = "on by default" if len(wins[e]) >= 2 else "OFF by default"
        print(f"- {part}: gain >= 1 on {len(wins[e])} dataset(s) {wins[e]} -> {verdict} by the rule")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/cpu"))
