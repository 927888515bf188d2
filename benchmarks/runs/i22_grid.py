"""Issue 22's must-show table from the CPU grid: per dataset, HAMR's mean test macro-F1 against the best other
method's, its micro-F1 against ERM's, and against "today's HAMR" (the grid's HAMR rows before the session-22
defaults, kept in ``benchmarks/results/cpu_s21_hamr``); the learned β / δ against their start; the rarest three
classes' test precision / recall against today's HAMR; training time against ERM's. Reads finished runs only
(``done.json``); every figure comes from the committed ``metrics.json`` / ``hamr_diagnostics.jsonl``.

    python benchmarks/runs/i22_grid.py [--grid benchmarks/results/cpu] [--today benchmarks/results/cpu_s21_hamr]

The aim the issue sets: HAMR best on >= 5 of 6 datasets, with micro-F1 >= ERM's - 0.5, and never below today's
HAMR by more than a seed's sd (today's sample sd over its seeds). Test figures are read here because this is the
grid's final table (the protocol fixes every setting in advance; nothing is chosen from it).
"""

from __future__ import annotations

import argparse
import json
import statistics as st
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "results"
LABELS = {"bionlp": "BioNLP", "mit_restaurant": "MIT-Restaurant", "tweetner7": "TweetNER7",
          "humaid_irma17": "Irma17", "humaid_idai19": "Idai19", "sst5": "SST-5"}
ABLATION_ENTRIES = ("hamr_wo_", "hamr_with_")


def _runs(folder: Path) -> dict[tuple[str, str], dict[int, dict]]:
    out: dict[tuple[str, str], dict[int, dict]] = defaultdict(dict)
    for done in sorted(folder.glob("runs/*/*/seed*/done.json")):
        m = json.loads((done.parent / "metrics.json").read_text())
        diag = done.parent / "hamr_diagnostics.jsonl"
        m["_diag"] = [json.loads(x) for x in diag.read_text().splitlines() if x.strip()] if diag.exists() else []
        out[(done.parts[-4], done.parts[-3])][int(m["seed"])] = m
    return out


def _vals(runs: dict[int, dict], key: str, split: str = "test") -> list[float]:
    return [100 * runs[s][split][key] for s in sorted(runs)]


def _ms(xs: list[float], digits: int = 1) -> str:
    if not xs:
        return "–"
    return f"{st.mean(xs):.{digits}f} ± {st.stdev(xs):.{digits}f}" if len(xs) > 1 else f"{xs[0]:.{digits}f}"


def _sd(xs: list[float]) -> float:
    return st.stdev(xs) if len(xs) > 1 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", default=str(HERE / "cpu"))
    ap.add_argument("--today", default=str(HERE / "cpu_s21_hamr"))
    ap.add_argument("--hamr", default="hamr")
    a = ap.parse_args()
    grid, today = _runs(Path(a.grid)), _runs(Path(a.today))
    datasets = [d for d in LABELS if any(dd == d for dd, _ in grid)]
    others = sorted({e for _, e in grid if e != a.hamr and not e.startswith(ABLATION_ENTRIES)})

    print("## HAMR against the best other method, ERM's micro-F1 and today's HAMR (test, mean ± sd over seeds)\n")
    print(f"Command: `python benchmarks/runs/i22_grid.py --grid {a.grid} --today {a.today}`. Other methods: "
          f"{', '.join(others)}. n = seeds finished (HAMR / best other / today's HAMR).\n")
    print("| dataset | HAMR macro / micro | best other (macro) | Δ macro | ERM micro | Δ micro vs ERM | "
          "today's HAMR macro / micro | Δ macro vs today (today's sd) | n |")
    print("|---|---|---|---|---|---|---|---|---|")
    verdict = {"best": [], "micro_ok": [], "not_worse": []}
    for d in datasets:
        h = grid.get((d, a.hamr), {})
        if not h:
            print(f"| {LABELS[d]} | not run | | | | | | | |")
            continue
        means = {e: st.mean(_vals(grid[(d, e)], "macro_f1")) for e in others if grid.get((d, e))}
        best = max(means, key=means.get)
        hm, hu = _vals(h, "macro_f1"), _vals(h, "micro_f1")
        erm_u = _vals(grid.get((d, "erm"), {}), "micro_f1")
        t = today.get((d, "hamr"), {})
        tm, tu = _vals(t, "macro_f1"), _vals(t, "micro_f1")
        dm = st.mean(hm) - means[best]
        du = st.mean(hu) - st.mean(erm_u) if erm_u else float("-inf")
        dt = st.mean(hm) - st.mean(tm) if tm else float("nan")
        verdict["best"].append(dm >= 0)
        verdict["micro_ok"].append(du >= -0.5)
        verdict["not_worse"].append(dt >= -_sd(tm))
        print(f"| {LABELS[d]} | {_ms(hm)} / {_ms(hu)} | {best} {_ms(_vals(grid[(d, best)], 'macro_f1'))} | "
              f"{dm:+.1f} | {_ms(erm_u)} | {du:+.1f} | {_ms(tm)} / {_ms(tu)} | {dt:+.1f} ({_sd(tm):.1f}) | "
              f"{len(hm)} / {len(grid[(d, best)])} / {len(tm)} |")
    n = len(verdict["best"])
    print(f"\nHAMR best on {sum(verdict['best'])} of {n} datasets; micro-F1 ≥ ERM − 0.5 on {sum(verdict['micro_ok'])} "
          f"of {n}; not below today's HAMR by more than today's sd on {sum(verdict['not_worse'])} of {n}.\n")

    print("## Learned class parameters at the last epoch against their start (class_residual runs)\n")
    print("| dataset | seeds | largest abs(β − β_start) | largest abs(δ) | group with the largest weight change "
          "(exp β relative to the mean, start → end, first seed) |")
    print("|---|---|---|---|---|")
    for d in datasets:
        h = grid.get((d, a.hamr), {})
        cps = [(s, next((r["class_params"] for r in reversed(h[s]["_diag"]) if r.get("class_params")), None))
               for s in sorted(h)]
        cps = [(s, c) for s, c in cps if c]
        if not cps:
            print(f"| {LABELS[d]} | {len(h)} | – (weight-net form) | – | – |")
            continue
        bm = [max(abs(c["beta"][g] - c["beta_start"][g]) for g in c["beta"]) for _, c in cps]
        dm = [max(abs(v) for v in c["delta"].values()) for _, c in cps]
        c0 = cps[0][1]
        rel, rel0 = c0.get("class_weight") or {}, c0.get("class_weight_start") or {}
        change = ""
        if rel and rel0:
            g = max(rel, key=lambda k: abs(rel[k] - rel0.get(k, rel[k])))
            change = f"{g}: {rel0[g]:.2f} → {rel[g]:.2f}"
        print(f"| {LABELS[d]} | {len(cps)} | {_ms(bm, 2)} | {_ms(dm, 2)} | {change} |")

    print("\n## Rarest three classes (by training count), test precision / recall (%), mean over seeds\n")
    print("| dataset | class | HAMR P / R | today's HAMR P / R | ERM P / R |")
    print("|---|---|---|---|---|")
    for d in datasets:
        h = grid.get((d, a.hamr), {})
        if not h:
            continue
        first = h[min(h)]["test"]
        groups = (first.get("quartiles") or {}).get("groups") or {}
        rare = [c for q in ("Q1", "Q2", "Q3", "Q4") for c in groups.get(q, [])][:3]
        for c in rare:
            cells = []
            for runs in (h, today.get((d, "hamr"), {}), grid.get((d, "erm"), {})):
                pr = [((runs[s]["test"].get("per_class") or runs[s]["test"].get("per_type") or {}).get(c)) for s in runs]
                pr = [x for x in pr if x]
                cells.append(f"{100 * st.mean(x['precision'] for x in pr):.0f} / "
                             f"{100 * st.mean(x['recall'] for x in pr):.0f}" if pr else "–")
            print(f"| {LABELS[d]} | {c} | " + " | ".join(cells) + " |")

    print("\n## Training time against ERM (grid runs, median over seeds; the grid shared the machine, so rough)\n")
    print("| dataset | ERM s | HAMR s (×ERM) | today's HAMR s (×ERM) | per-epoch ×ERM (HAMR) | peak memory MB (HAMR / ERM) |")
    print("|---|---|---|---|---|---|")
    for d in datasets:
        h, e, t = grid.get((d, a.hamr), {}), grid.get((d, "erm"), {}), today.get((d, "hamr"), {})
        if not (h and e):
            continue
        med = lambda runs, k: st.median(runs[s][k] for s in runs)  # noqa: E731
        es, hs = med(e, "train_seconds"), med(h, "train_seconds")
        ts = f"{med(t, 'train_seconds'):.0f} ({med(t, 'train_seconds') / es:.2f})" if t else "–"
        pe = med(h, "seconds_per_epoch") / med(e, "seconds_per_epoch")
        mem = f"{med(h, 'peak_memory_mb'):.0f} / {med(e, 'peak_memory_mb'):.0f}"
        print(f"| {LABELS[d]} | {es:.0f} | {hs:.0f} ({hs / es:.2f}) | {ts} | {pe:.2f} | {mem} |")


if __name__ == "__main__":
    main()
