"""Session 29: HAMR's NER default τ 1 (class_residual, β from −log n_c) with the ``auto`` decision offsets, as
re-run in the CPU grid, against the screen that chose it and against the τ-0 HAMR it replaced.

    python benchmarks/runs/s29_ner_default.py > benchmarks/results/cpu_offsets/s29_ner_default.md

Three checks, all on the held-out half of validation (no test figure):
1. Reproduction: each re-run ``hamr`` run of ``benchmarks/results/cpu_offsets`` (default options, made after the
   default changed) against the same seed's ``hamr_prior1`` run of ``benchmarks/results/screens/i27_pr_feedback``
   (explicit ``class_prior_power=1``, the same settings): the figures must agree.
2. The learned class parameters against their start (β, δ at the end of training vs the τ-1 start), from the
   runs' ``hamr_diagnostics.jsonl``.
3. Against τ 0: the τ-0 runs were removed from the grid (stale under the new default; at commit 47418a6), but the
   screen recorded their held-out figures as its ``hamr`` control: the rows of
   ``benchmarks/results/screens/i27_pr_feedback/decision.md``, read from that file.
4. Learned against frozen: ``hamr`` against ``hamr_wo_class_params`` (β, δ kept at their start), same seeds.
5. The rarest three classes' held-out precision / recall, τ 0 (from the screen's decision.md) against τ 1.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screen_tables import finished_runs, heldout_form, macro_micro, mean_sd, per_class, rarest  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"
GRID = RESULTS / "cpu_offsets"
SCREEN = RESULTS / "screens" / "i27_pr_feedback"
NER = ["bionlp", "mit_restaurant", "tweetner7"]


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def _last_params(run: Path) -> dict | None:
    path = run / "hamr_diagnostics.jsonl"
    if not path.exists():
        return None
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    recs = [r for r in lines if "class_params" in r]
    return recs[-1]["class_params"] if recs else None


def reproduction() -> list[str]:
    grid, screen = finished_runs(GRID, "hamr"), finished_runs(SCREEN, "hamr_prior1")
    out = ["## 1. Reproduction: the grid's re-run `hamr` against the screen's `hamr_prior1` (held-out macro / micro)",
           "", "| dataset | seed | grid, no offsets | screen, no offsets | grid, macro_f1 | screen, macro_f1 | equal |",
           "|---|---|---|---|---|---|---|"]
    for key in sorted(k for k in grid if k[0] in NER):
        g = _metrics(grid[key])
        s = _metrics(screen[key]) if key in screen else None
        cells = [macro_micro(heldout_form(g, "none")), macro_micro(heldout_form(s, "none")) if s else "–",
                 macro_micro(heldout_form(g, "macro_f1")), macro_micro(heldout_form(s, "macro_f1")) if s else "–"]
        same = s is not None and cells[0] == cells[1] and cells[2] == cells[3]
        out.append(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + f" | {'yes' if same else 'NO'} |")
    return out


def class_params() -> list[str]:
    out = ["", "## 2. Learned class parameters at the end of training against their start (grid runs)", "",
           "β − β_start and δ per group at the last epoch: O and the three groups with the fewest labelled training "
           "tokens (the largest β_start = −τ log n). A common shift of β changes no weight (softmax over the batch); "
           "τ is the run's resolved class_prior_power.", "", "| dataset | seed | τ | β − start | δ |", "|---|---|---|---|---|"]
    for key, run in sorted(finished_runs(GRID, "hamr").items()):
        if key[0] not in NER:
            continue
        m = _metrics(run)
        tau = (m.get("resolved_method_settings") or {}).get("class_prior_power", "?")
        p = _last_params(run)
        if not p:
            out.append(f"| {key[0]} | {key[1]} | {tau} | – | – |")
            continue
        start = p.get("beta_start") or {}
        names = sorted(p["beta"], key=lambda g: -start.get(g, 0))[:3]  # β_start = −log n: largest = rarest
        names = (["O"] if "O" in p["beta"] else []) + [g for g in names if g != "O"]
        moved = ", ".join(f"{g} {p['beta'][g] - start.get(g, 0):+.3f}" for g in names) if start else "no start recorded"
        delta = ", ".join(f"{g} {p['delta'][g]:+.3f}" for g in names)
        out.append(f"| {key[0]} | {key[1]} | {tau} | {moved} | {delta} |")
    return out


def against_tau0() -> list[str]:
    text = (SCREEN / "decision.md").read_text()
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\| (\w+) \| (\d+) \| hamr \| ([\d.]+) / ([\d.]+) \| ([\d.]+) / ([\d.]+) \|", line)
        if m and m.group(1) in NER:
            rows[(m.group(1), int(m.group(2)))] = [float(x) for x in m.groups()[2:]]
    grid = finished_runs(GRID, "hamr")
    out = ["", "## 3. Against τ 0 (the screen's `hamr` rows: the grid's runs before the change)", "",
           "Held-out macro / micro-F1, mean ± sd over the seeds both have.", "",
           "| dataset | n | τ 0, no offsets | τ 1, no offsets | τ 0, macro_f1 | τ 1, macro_f1 |", "|---|---|---|---|---|---|"]
    for d in NER:
        seeds = sorted(s for (dd, s) in grid if dd == d and (d, s) in rows)
        if not seeds:
            continue
        new = {s: _metrics(grid[(d, s)]) for s in seeds}

        def col(vals_macro, vals_micro):
            return f"{mean_sd(vals_macro)} / {mean_sd(vals_micro)}"

        old_none = col([rows[(d, s)][0] for s in seeds], [rows[(d, s)][1] for s in seeds])
        old_off = col([rows[(d, s)][2] for s in seeds], [rows[(d, s)][3] for s in seeds])
        new_none = col([100 * heldout_form(new[s], "none")["macro_f1"] for s in seeds],
                       [100 * heldout_form(new[s], "none")["micro_f1"] for s in seeds])
        new_off = col([100 * heldout_form(new[s], "macro_f1")["macro_f1"] for s in seeds],
                      [100 * heldout_form(new[s], "macro_f1")["micro_f1"] for s in seeds])
        out.append(f"| {d} | {len(seeds)} | {old_none} | {new_none} | {old_off} | {new_off} |")
    return out


def learned_vs_frozen() -> list[str]:
    """``hamr`` against ``hamr_wo_class_params`` (β, δ frozen at their start; the rest as HAMR) on the seeds both
    have: does learning them beat the start they came from?"""
    learned, frozen = finished_runs(GRID, "hamr"), finished_runs(GRID, "hamr_wo_class_params")
    out = ["", "## 4. Learned β, δ against the frozen start (`hamr_wo_class_params`), held-out macro / micro", "",
           "| dataset | seeds | learned, no offsets | frozen, no offsets | learned, macro_f1 | frozen, macro_f1 |"
           " Δ macro (no offsets; macro_f1) |", "|---|---|---|---|---|---|---|"]
    for d in NER:
        seeds = sorted(s for (dd, s) in learned if dd == d and (d, s) in frozen)
        if not seeds:
            continue
        cells, means = [], []
        for form in ("none", "macro_f1"):
            for runs in (learned, frozen):
                h = [heldout_form(_metrics(runs[(d, s)]), form) for s in seeds]
                cells.append(f"{mean_sd([100 * x['macro_f1'] for x in h])} / {mean_sd([100 * x['micro_f1'] for x in h])}")
                means.append(sum(100 * x["macro_f1"] for x in h) / len(h))
        out.append(f"| {d} | {', '.join(map(str, seeds))} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} | "
                   f"{means[0] - means[1]:+.1f}; {means[2] - means[3]:+.1f} |")
    return out


def rarest_pr() -> list[str]:
    """Held-out precision / recall of the three rarest classes (fewest held-out units): τ 0 (the screen's ``hamr``
    rows, no offsets, read from its decision.md) against τ 1 without and with the macro_f1 offsets."""
    old = {}
    for line in (SCREEN / "decision.md").read_text().splitlines():
        m = re.match(r"\| (\w+) \| (\d+) \| hamr \| [^|]+ \| [^|]+ \| ([^|]+) \|", line)
        if m and m.group(1) in NER:
            old[(m.group(1), int(m.group(2)))] = m.group(3).strip()
    out = ["", "## 5. The rarest three classes: held-out precision / recall (%)", "",
           "| dataset | seed | τ 0, no offsets | τ 1, no offsets | τ 1, macro_f1 offsets |", "|---|---|---|---|---|"]
    for key, run in sorted(finished_runs(GRID, "hamr").items()):
        if key[0] not in NER:
            continue
        m = _metrics(run)
        none, off = heldout_form(m, "none"), heldout_form(m, "macro_f1")
        rare = rarest(none)

        def pr(scores):
            per = per_class(scores or {})
            return ", ".join(f"{c} {100 * per[c]['precision']:.0f}/{100 * per[c]['recall']:.0f}" for c in rare if c in per)

        out.append(f"| {key[0]} | {key[1]} | {old.get(key, '–')} | {pr(none)} | {pr(off)} |")
    return out


def main() -> None:
    print("<!-- python benchmarks/runs/s29_ner_default.py > benchmarks/results/cpu_offsets/s29_ner_default.md -->")
    print("# HAMR's NER default τ 1 (session 29): reproduction, class parameters, against τ 0\n")
    print("\n".join(reproduction() + class_params() + against_tau0() + learned_vs_frozen() + rarest_pr()))


if __name__ == "__main__":
    main()
