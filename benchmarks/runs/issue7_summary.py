"""Issue 7's comparison from a bench results folder: per dataset and method, mean ± sd over seeds of test
macro/micro-F1, validation macro/micro-F1, s/epoch and its ratio to ERM, and the issue's three checks for
HAMR (macro above the best of ERM / ICF / Effective Number / Focal, micro no more than 0.5 below ERM, at
most 1.5x ERM's time per epoch).

    python benchmarks/runs/issue7_summary.py benchmarks/results/cpu [--methods erm,icf,effective_number,focal,hamr]

Time per epoch here is each run's own wall figure; runs that shared the machine with another job (see
``concurrent_jobs`` / the load average in done.json) are comparable only with runs that shared it alike:
the interleaved per-step ratios of benchmarks/overhead.py are the cost evidence.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

BASELINES = ["erm", "icf", "effective_number", "focal"]


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    m = 100 * statistics.mean(values)
    return f"{m:.1f} ± {100 * statistics.stdev(values):.1f}" if len(values) > 1 else f"{m:.1f}"


def _quartiles(rs: list[dict]) -> str:
    qs = [r.get("quartiles") or {} for r in rs]
    return " / ".join(f"{100 * statistics.mean(q[k] for q in qs if q.get(k) is not None):.1f}"
                      if any(q.get(k) is not None for q in qs) else "-" for k in ("Q1", "Q2", "Q3", "Q4"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results", type=Path)
    ap.add_argument("--methods", default=",".join(BASELINES + ["hamr"]))
    ap.add_argument("--hamr", default="hamr", help="the HAMR entry to check against the bar")
    a = ap.parse_args()
    records = json.loads((a.results / "summary.json").read_text())
    methods = a.methods.split(",")
    by = defaultdict(list)
    for r in records:
        by[(r["dataset"], r["method"])].append(r)
    datasets = sorted({r["dataset"] for r in records})
    for ds in datasets:
        print(f"\n## {ds}\n")
        print("| method | seeds | test macro | test micro | val macro | val micro | test Q1 / Q2 / Q3 / Q4 | s/epoch | × ERM | peak MB |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        erm_spe = [r["seconds_per_epoch"] for r in by[(ds, "erm")] if r.get("seconds_per_epoch")]
        base = statistics.mean(erm_spe) if erm_spe else None
        for m in methods:
            rs = sorted(by[(ds, m)], key=lambda r: r["seed"])
            if not rs:
                continue
            spe = [r["seconds_per_epoch"] for r in rs if r.get("seconds_per_epoch")]
            ratio = f"{statistics.mean(spe) / base:.2f}" if spe and base else "-"
            print(f"| {m} | {','.join(str(r['seed']) for r in rs)} | {_ms([r['macro_f1'] for r in rs])} | "
                  f"{_ms([r['micro_f1'] for r in rs])} | {_ms([r['val_macro_f1'] for r in rs])} | "
                  f"{_ms([r['val_micro_f1'] for r in rs])} | {_quartiles(rs)} | {statistics.mean(spe):.0f} | {ratio} | "
                  f"{max(r['peak_memory_mb'] or 0 for r in rs):.0f} |")
        hamr = by[(ds, a.hamr)]
        if hamr and all(by[(ds, b)] for b in BASELINES):
            mean = lambda rs, k: statistics.mean(r[k] for r in rs)  # noqa: E731
            best = max(BASELINES, key=lambda b: mean(by[(ds, b)], "macro_f1"))
            d_macro = 100 * (mean(hamr, "macro_f1") - mean(by[(ds, best)], "macro_f1"))
            d_micro = 100 * (mean(hamr, "micro_f1") - mean(by[(ds, "erm")], "micro_f1"))
            print(f"\n{a.hamr} vs the best baseline on test macro-F1 ({best}): {d_macro:+.1f}; "
                  f"micro-F1 vs ERM: {d_micro:+.1f} (bar: > 0 and >= -0.5); seeds {len(hamr)}")


if __name__ == "__main__":
    main()
