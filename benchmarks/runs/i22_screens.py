"""Issue 22 screens: held-out validation macro/micro-F1 (the half of validation HAMR's meta set never saw) per
run, for class_residual runs the learned β, δ against their start, and per run the held-out precision / recall of
the dataset's three rarest classes (by training count; NER: entity types). Prints no test figure.

    python benchmarks/runs/i22_screens.py benchmarks/results/screens/i22_baselines benchmarks/results/screens/i22_form ...
writes nothing; paste the output into the screen's notes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(folders: list[str]) -> None:
    print("| screen | dataset | entry | held-out val macro | held-out val micro | s/epoch | meta half macro / micro |")
    print("|---|---|---|---|---|---|---|")
    params = []
    rare_rows = []
    for folder in folders:
        for metrics in sorted(Path(folder).glob("runs/*/*/seed*/metrics.json")):
            m = json.loads(metrics.read_text())
            held, half = m.get("validation_heldout") or {}, m.get("validation_meta_half") or {}
            if not held:
                continue
            ds, entry = metrics.parts[-4], metrics.parts[-3]
            print(f"| {Path(folder).name} | {ds} | {entry} | {100 * held['macro_f1']:.1f} | {100 * held['micro_f1']:.1f} "
                  f"| {m.get('seconds_per_epoch', float('nan')):.0f} | {100 * half.get('macro_f1', float('nan')):.1f} / "
                  f"{100 * half.get('micro_f1', float('nan')):.1f} |")
            per = held.get("per_class") or held.get("per_type") or {}
            groups = (held.get("quartiles") or {}).get("groups") or {}
            ordered = [c for q in ("Q1", "Q2", "Q3", "Q4") for c in groups.get(q, [])]  # rarest first (training)
            rare_rows.append((Path(folder).name, ds, entry,
                              [(c, per[c]["precision"], per[c]["recall"]) for c in ordered[:3] if c in per]))
            diag = metrics.parent / "hamr_diagnostics.jsonl"
            if diag.exists():
                last = json.loads(diag.read_text().splitlines()[-1])
                if "class_params" in last:
                    params.append((ds, entry, last["epoch"], last["class_params"]))
    if rare_rows:
        print("\nheld-out precision / recall (%) of the three rarest classes by training count, rarest first")
        for screen, ds, entry, rows in rare_rows:
            print(f"  {screen} {ds} {entry}: " + "; ".join(f"{c} {100 * p:.0f}/{100 * r:.0f}" for c, p, r in rows))
    for ds, entry, epoch, cp in params:
        print(f"\n{ds} {entry}, epoch {epoch}: group: beta start -> end (exp-beta relative weight start -> end), delta")
        for g in cp["beta"]:
            print(f"  {g}: {cp['beta_start'][g]:+.2f} -> {cp['beta'][g]:+.2f} "
                  f"({cp['class_weight_start'][g]:.2f} -> {cp['class_weight'][g]:.2f}), delta {cp['delta'][g]:+.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
