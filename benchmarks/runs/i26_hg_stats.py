"""Issue 22, session 26: is the meta objective's push on HAMR's class terms a direction or noise?

Reads ``class_hypergradient`` from each run's ``hamr_diagnostics.jsonl`` (per epoch, per class term: the mean and
sd of its hypergradient over the epoch's meta steps and drift t = −mean / (sd / √n), positive when the steps push
the term up) and prints, per run and epoch, the number of meta steps, the per-step signal-to-noise |mean| / sd and
the drift t of every term, with the term's value at the end of the epoch. |t| > 2 is a direction that single meta
batches' noise does not explain. No score is printed.

    python benchmarks/runs/i26_hg_stats.py [benchmarks/results/screens/i26_hg_stats]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _rows(stats: dict, params: dict):
    if "weight" in stats:  # strength form: two scalars
        s = params.get("strength", {})
        yield "a (class weight)", stats["weight"], s.get("weight")
        yield "k (logit offset)", stats["offset"], s.get("offset")
        return
    start = params.get("beta_start", {})
    for g, rec in (stats.get("beta") or {}).items():
        yield f"β {g}", rec, params["beta"][g] - start.get(g, 0.0)
    for g, rec in (stats.get("delta") or {}).items():
        yield f"δ {g}", rec, params["delta"][g]


def main(folder: Path) -> None:
    print(f"<!-- python benchmarks/runs/i26_hg_stats.py {folder} -->")
    print("| dataset | entry | epoch | meta steps | term | moved from start | per-step SNR | drift t |")
    print("|---|---|---|---|---|---|---|---|")
    for diag in sorted(folder.glob("runs/*/*/seed*/hamr_diagnostics.jsonl")):
        ds, entry = diag.parts[-4], diag.parts[-3]
        for line in diag.read_text().splitlines():
            rec = json.loads(line)
            stats, params = rec.get("class_hypergradient"), rec.get("class_params")
            if not stats or not params or stats.get("steps", 0) < 2:
                continue
            for term, s, moved in _rows(stats, params):
                mv = "–" if moved is None else f"{moved:+.3f}"
                print(f"| {ds} | {entry} | {rec['epoch']} | {stats['steps']} | {term} | {mv} | {s['snr']:.3f} "
                      f"| {s['drift_t']:+.1f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/screens/i26_hg_stats"))
