"""Issue 22, session 26: HAMR with ``class_params=strength`` (two learned class strengths) against HAMR's default
(cpu_offsets' ``hamr`` arm, the same settings and seeds), on the held-out half of validation only — the screen
prints no test figure. Per dataset and seed: held-out macro / micro-F1 without decision offsets and with the
macro_f1 offsets (both from the same run, ``decision_offsets.forms``), and the learned strengths (a: class weight,
k: logit offset) at the end of each epoch.

    python benchmarks/runs/i26_strength.py [benchmarks/results/screens/i26_strength] [benchmarks/results/cpu_offsets]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from screen_tables import finished_runs, mean_sd


def _held(m: dict, form: str) -> tuple[float, float] | None:
    rec = ((m.get("decision_offsets") or {}).get("forms") or {}).get(form) or {}
    held = rec.get("validation_heldout")
    if not held:
        return None
    return 100 * held["macro_f1"], 100 * held["micro_f1"]



def _strengths(run: Path) -> list[str]:
    diag = run / "hamr_diagnostics.jsonl"
    if not diag.exists():
        return []
    out = []
    for line in diag.read_text().splitlines():
        rec = json.loads(line)
        s = (rec.get("class_params") or {}).get("strength")
        if s:
            out.append(f"{s['weight']:+.2f} / {s['offset']:+.2f}")
    return out


def _cell(v: tuple[float, float] | None) -> str:
    return "–" if v is None else f"{v[0]:.1f} / {v[1]:.1f}"


def main(screen: Path, control: Path) -> None:
    base = finished_runs(control, "hamr")
    print(f"<!-- python benchmarks/runs/i26_strength.py {screen} {control} -->")
    print("# HAMR's class terms as two learned strengths (`class_params=strength`): held-out validation\n")
    print("Held-out half of validation (HAMR's meta set never saw it); no test figure. `hamr` is cpu_offsets' arm "
          "(the default: NER class_residual per class, classification the weight net); the screen's entry differs "
          "only in its options. a / k: the learned class-weight and logit-offset strengths at the end of epochs "
          "1, 2, 3.\n")
    print("| dataset | seed | entry | macro / micro, no offsets | macro / micro, macro_f1 offsets | a / k per epoch |")
    print("|---|---|---|---|---|---|")
    summary: dict[tuple[str, str], dict[str, list[float]]] = {}
    entries = sorted({p.name for p in screen.glob("runs/*/*")})  # every entry the screen has run
    found = {e: finished_runs(screen, e) for e in entries}
    keys = sorted({key for runs in found.values() for key in runs})
    for ds, seed in keys:
        # the control once per dataset and seed, then every screened entry of that dataset and seed
        rows = [("hamr", base.get((ds, seed)))] + [(e, found[e].get((ds, seed))) for e in entries]
        for name, r in rows:
            if r is None:
                continue
            m = json.loads((r / "metrics.json").read_text())
            none, off = _held(m, "none"), _held(m, "macro_f1")
            print(f"| {ds} | {seed} | {name} | {_cell(none)} | {_cell(off)} | {', '.join(_strengths(r)) or '–'} |")
            acc = summary.setdefault((ds, name), {"none": [], "off": []})
            if none:
                acc["none"].append(none[0])
            if off:
                acc["off"].append(off[0])
    print("\n## Mean held-out macro-F1 over the paired seeds\n")
    print("| dataset | entry | n | no offsets | macro_f1 offsets |")
    print("|---|---|---|---|---|")
    for (ds, name), acc in sorted(summary.items()):
        print(f"| {ds} | {name} | {len(acc['none'])} | {mean_sd(acc['none'])} | {mean_sd(acc['off'])} |")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0] if args else "benchmarks/results/screens/i26_strength"),
         Path(args[1] if len(args) > 1 else "benchmarks/results/cpu_offsets"))
