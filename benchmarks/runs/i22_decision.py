"""Issue 22's form decision over seeds: per dataset and entry, the mean ± sd over seeds of the held-out
validation macro/micro-F1 (the half of validation HAMR's meta set never saw), the paired difference to a
reference entry (today's HAMR) over the seeds both have, and for class_residual runs how far the learned β and δ
moved from their start (largest |β − β_start| and |δ| at the last epoch, mean over seeds). Prints no test figure.

    python benchmarks/runs/i22_decision.py [--reference hamr] benchmarks/results/screens/i22_seeds benchmarks/results/screens/i22_cap
"""

from __future__ import annotations

import argparse
import json
import statistics as st
from collections import defaultdict
from pathlib import Path


def _ms(xs: list[float]) -> str:
    return f"{st.mean(xs):.1f} ± {st.stdev(xs):.1f}" if len(xs) > 1 else f"{xs[0]:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--reference", default="hamr")
    a = ap.parse_args()
    runs: dict[tuple[str, str], dict[int, dict]] = defaultdict(dict)
    for folder in a.folders:
        for path in sorted(Path(folder).glob("runs/*/*/seed*/metrics.json")):
            m = json.loads(path.read_text())
            held = m.get("validation_heldout") or {}
            if not held:
                continue
            rec = {"macro": 100 * held["macro_f1"], "micro": 100 * held["micro_f1"]}
            per = held.get("per_class") or held.get("per_type") or {}
            groups = (held.get("quartiles") or {}).get("groups") or {}
            rec["per_class"] = {c: (100 * per[c]["precision"], 100 * per[c]["recall"]) for c in per}
            rec["rarest"] = [c for q in ("Q1", "Q2", "Q3", "Q4") for c in groups.get(q, [])][:3]  # by training count
            diag = path.parent / "hamr_diagnostics.jsonl"
            if diag.exists():
                last = json.loads(diag.read_text().splitlines()[-1]).get("class_params")
                if last:
                    rec["beta_move"] = max(abs(last["beta"][g] - last["beta_start"][g]) for g in last["beta"])
                    rec["delta_move"] = max(abs(v) for v in last["delta"].values())
            runs[(path.parts[-4], path.parts[-3])][int(m["seed"])] = rec
    datasets = sorted({d for d, _ in runs})
    entries = sorted({e for _, e in runs}, key=lambda e: (e != a.reference, e))
    print(f"Held-out validation macro / micro-F1, mean ± sd over seeds; Δ = paired difference to `{a.reference}` "
          "(macro / micro) over the seeds both have; largest abs(β−β0) / abs(δ) at the last epoch (mean over seeds).\n")
    print("| dataset | entry | seeds | macro | micro | Δ macro / micro | max abs β−β0 / δ |")
    print("|---|---|---|---|---|---|---|")
    overall: dict[str, list[float]] = defaultdict(list)
    for d in datasets:
        ref = runs.get((d, a.reference), {})
        for e in entries:
            r = runs.get((d, e))
            if not r:
                continue
            seeds = sorted(r)
            both = [s for s in seeds if s in ref]
            delta = "–"
            if both and e != a.reference:
                dm = st.mean(r[s]["macro"] - ref[s]["macro"] for s in both)
                du = st.mean(r[s]["micro"] - ref[s]["micro"] for s in both)
                delta = f"{dm:+.1f} / {du:+.1f} (n={len(both)})"
            moves = [r[s] for s in seeds if "beta_move" in r[s]]
            mv = (f"{st.mean(x['beta_move'] for x in moves):.2f} / {st.mean(x['delta_move'] for x in moves):.2f}"
                  if moves else "–")
            print(f"| {d} | {e} | {','.join(map(str, seeds))} | {_ms([r[s]['macro'] for s in seeds])} | "
                  f"{_ms([r[s]['micro'] for s in seeds])} | {delta} | {mv} |")
            if len(seeds) == 3:
                overall[e].append(st.mean(r[s]["macro"] for s in seeds))
    print("\nHeld-out precision / recall (%) of the three rarest classes by training count (of the first seed's "
          "sample), mean over seeds:")
    for d in datasets:
        ref = runs.get((d, a.reference)) or next(r for (dd, _), r in runs.items() if dd == d)
        rare = ref[min(ref)]["rarest"]
        for e in entries:
            r = runs.get((d, e))
            if not r:
                continue
            cells = []
            for c in rare:
                pr = [r[s]["per_class"][c] for s in r if c in r[s]["per_class"]]
                if pr:
                    cells.append(f"{c} {st.mean(p for p, _ in pr):.0f}/{st.mean(q for _, q in pr):.0f}")
            print(f"  {d} {e} (n={len(r)}): " + "; ".join(cells))
    print("\nMean over the datasets with 3 seeds (macro): " + "; ".join(
        f"{e} {st.mean(v):.1f} ({len(v)} datasets)" for e, v in overall.items()))


if __name__ == "__main__":
    main()
