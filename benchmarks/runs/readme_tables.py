"""The README's seed-42 method table, regenerated from the committed CPU-grid runs (no figure typed by hand).

    python benchmarks/runs/readme_tables.py            # prints the Markdown table and the time ratios

Cells: test macro-F1 / micro-F1 (%, one decimal) of seed 42 from ``benchmarks/results/cpu/runs/<dataset>/<method>/
seed42/metrics.json``; the best value of each column is bold, decided on the unrounded figures (ties at one
decimal are both bold). Time (MetaBalance's row): per dataset, the median training seconds of its 3 seeds over
ERM's, min-max over the grid's 6 datasets, from the same files. The grid's runs often shared the machine with
another job, so these ratios are rough (benchmarks/overhead.py measures overhead interleaved).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "results" / "cpu" / "runs"
METHODS = ["erm", "dice", "focal", "icf", "effective_number", "balanced_sampler", "lnr", "gbc", "metabalance", "hamr"]
COLUMNS = [("humaid_idai19", "Cyclone-Idai19"), ("tweetner7", "TweetNER7 (NER)")]


def metrics(dataset: str, method: str, seed: int) -> dict | None:
    p = ROOT / dataset / method / f"seed{seed}" / "metrics.json"
    return json.loads(p.read_text()) if p.exists() else None


def time_ratios(method: str) -> list[float]:
    out = []
    for d in sorted(x.name for x in ROOT.iterdir() if x.is_dir()):
        a = [m["train_seconds"] for s in (42, 43, 44) if (m := metrics(d, method, s))]
        e = [m["train_seconds"] for s in (42, 43, 44) if (m := metrics(d, "erm", s))]
        if a and e:
            out.append(statistics.median(a) / statistics.median(e))
    return out


def table(seed: int = 42) -> list[str]:
    vals = {(m, d): (metrics(d, m, seed) or {}).get("test") for m in METHODS for d, _ in COLUMNS}
    best = {}
    for d, _ in COLUMNS:
        for k in ("macro_f1", "micro_f1"):
            xs = [v[k] for (m, dd), v in vals.items() if dd == d and v]
            best[(d, k)] = round(100 * max(xs), 1)
    lines = ["| method | " + " | ".join(label for _, label in COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    for m in METHODS:
        name = f"`{m}`"
        if m == "metabalance":
            r = time_ratios(m)
            name += f" ({min(r):.1f}-{max(r):.1f}x ERM's time)"
        cells = []
        for d, _ in COLUMNS:
            v = vals[(m, d)]
            if not v:
                cells.append("-")
                continue
            parts = []
            for k in ("macro_f1", "micro_f1"):
                x = round(100 * v[k], 1)
                parts.append(f"**{x:.1f}**" if x == best[(d, k)] else f"{x:.1f}")
            cells.append(" / ".join(parts))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 42
    print("\n".join(table(seed)))
