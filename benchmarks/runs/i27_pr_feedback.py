"""Issue 22, session 27: HAMR with ``class_params=pr_feedback`` (class log-weights β set by precision/recall
feedback on the meta batches) against HAMR's default (cpu_offsets' ``hamr`` arm, the same settings and seeds), on
the held-out half of validation only — the screen prints no test figure. Per dataset and seed: held-out macro /
micro-F1 without decision offsets and with the macro_f1 offsets (both from the same run), the class weights
exp(β) relative to their mean at the end of each epoch for the rarest groups, and held-out precision / recall of
the three rarest classes (fewest held-out units).

    python benchmarks/runs/i27_pr_feedback.py [benchmarks/results/screens/i27_pr_feedback] [benchmarks/results/cpu_offsets]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from screen_tables import finished_runs, heldout_form, macro_micro, mean_sd, per_class, rarest


def _weights(run: Path, groups: list[str]) -> list[str]:
    """exp(β) relative to the mean over groups, per epoch, for ``groups`` (and O when present)."""
    diag = run / "hamr_diagnostics.jsonl"
    if not diag.exists():
        return []
    out = []
    for line in diag.read_text().splitlines():
        cw = (json.loads(line).get("class_params") or {}).get("class_weight")
        if cw:
            show = [g for g in [*groups, "O"] if g in cw]
            out.append(" ".join(f"{g} {cw[g]:.2f}" for g in show))
    return out


def main(screen: Path, control: Path) -> None:
    base = finished_runs(control, "hamr")
    print(f"<!-- python benchmarks/runs/i27_pr_feedback.py {screen} {control} -->")
    print("# HAMR's class weights set by precision/recall feedback (`class_params=pr_feedback`): held-out validation\n")
    print("Held-out half of validation (HAMR's meta set never saw it); no test figure. `hamr` is cpu_offsets' arm "
          "(the default: NER class_residual with β, δ learned per class by the hypergradient; classification the "
          "weight net); the screen's entries differ only in their options. Class weights: exp(β) relative to the "
          "mean over groups at the end of epochs 1, 2, 3 (rarest three held-out classes, and O). P / R: held-out "
          "precision / recall (%) of the three rarest classes, no offsets.\n")
    print("| dataset | seed | entry | macro / micro, no offsets | macro / micro, macro_f1 offsets | rarest P / R | "
          "class weights per epoch |")
    print("|---|---|---|---|---|---|---|")
    summary: dict[tuple[str, str], dict[str, list[float]]] = {}
    entries = sorted({p.name for p in screen.glob("runs/*/*")})
    found = {e: finished_runs(screen, e) for e in entries}
    keys = sorted({key for runs in found.values() for key in runs})
    for ds, seed in keys:
        rows = [("hamr", base.get((ds, seed)))] + [(e, found[e].get((ds, seed))) for e in entries]
        rare: list[str] | None = None
        for name, r in rows:
            if r is None:
                continue
            m = json.loads((r / "metrics.json").read_text())
            none, off = heldout_form(m, "none"), heldout_form(m, "macro_f1")
            if rare is None and none:
                rare = rarest(none)
            per = per_class(none or {})
            pr = ", ".join(f"{c} {100 * per[c]['precision']:.0f}/{100 * per[c]['recall']:.0f}"
                           for c in rare or [] if c in per)
            weights = "; ".join(_weights(r, rare or [])) or "–"
            print(f"| {ds} | {seed} | {name} | {macro_micro(none)} | {macro_micro(off)} | {pr or '–'} | {weights} |")
            acc = summary.setdefault((ds, name), {"none": [], "off": [], "micro": [], "off_micro": []})
            if none:
                acc["none"].append(100 * none["macro_f1"])
                acc["micro"].append(100 * none["micro_f1"])
            if off:
                acc["off"].append(100 * off["macro_f1"])
                acc["off_micro"].append(100 * off["micro_f1"])
    print("\n## Mean held-out figures over the paired seeds\n")
    print("| dataset | entry | n | macro, no offsets | micro, no offsets | macro, macro_f1 offsets | micro, macro_f1 offsets |")
    print("|---|---|---|---|---|---|---|")
    for (ds, name), acc in sorted(summary.items()):
        print(f"| {ds} | {name} | {len(acc['none'])} | {mean_sd(acc['none'])} | {mean_sd(acc['micro'])} | "
              f"{mean_sd(acc['off'])} | {mean_sd(acc['off_micro'])} |")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0] if args else "benchmarks/results/screens/i27_pr_feedback"),
         Path(args[1] if len(args) > 1 else "benchmarks/results/cpu_offsets"))
