"""Issue 22, session 28: HAMR's sampler with a class-balance factor (``sampler_class_power`` ρ) against HAMR's
default, the balanced sampler and MetaBalance (cpu_offsets' arms: the same settings and seeds), on the held-out
half of validation only — the screen prints no test figure. Per dataset and seed: held-out macro / micro-F1 without
decision offsets and with the macro_f1 offsets (both from the same run), held-out precision / recall of the three
rarest classes (no offsets), and the sampling mass HAMR's draws put on those classes at the end of each epoch. Then
the means over the seeds every row has, and the decision rule of the screen's config, applied.

    python benchmarks/runs/i28_class_sampler.py [benchmarks/results/screens/i28_class_sampler] [benchmarks/results/cpu_offsets]
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from screen_tables import finished_runs, heldout_form, macro_micro, mean_sd, per_class, rarest

CONTROLS = ("hamr", "balanced_sampler", "metabalance")
FORMS = {"none": "no offsets", "macro_f1": "macro_f1 offsets"}


def _mass(run: Path, classes: list[str]) -> str:
    """The sampling mass of ``classes`` at the end of each epoch (HAMR runs), e.g. ``0.05 0.11 0.12``."""
    diag = run / "hamr_diagnostics.jsonl"
    if not diag.exists():
        return "–"
    epochs = [json.loads(line).get("sampling_mass_per_class") or {} for line in diag.read_text().splitlines()]

    def share(e: dict, c: str) -> float:  # NER groups are tags (a sentence's rarest): B- and I- of a type add up
        return sum(v for k, v in e.items() if k == c or k.split("-", 1)[-1] == c and k[:2] in ("B-", "I-"))

    return "; ".join(" ".join(f"{share(e, c):.2f}" for e in epochs) for c in classes) or "–"


def _scores(run: Path) -> dict[str, dict | None]:
    m = json.loads((run / "metrics.json").read_text())
    return {form: heldout_form(m, form) for form in FORMS}


TITLE = "HAMR's draws with a class-balance factor (`sampler_class_power` ρ)"


def main(screen: Path, control: Path, title: str = TITLE, script: str = "i28_class_sampler.py") -> None:
    print(f"<!-- python benchmarks/runs/{script} {screen} {control} -->")
    print(f"# {title}: held-out validation\n")
    print("Held-out half of validation (HAMR's and MetaBalance's meta sets never saw it); no test figure. Controls from "
          "cpu_offsets (same settings and seeds): `hamr` (the default: ρ 0, weight prior τ 0.5), `balanced_sampler` "
          "(ERM with class-balanced draws), `metabalance`. P / R: held-out precision / recall (%) of the three "
          "rarest held-out classes, no offsets. Mass: the share of HAMR's draws on each of those classes (NER: on sentences whose rarest tag is of that type) at the end "
          "of epochs 1, 2, 3 (the draws of epochs 2, 3 and of a next epoch).\n")
    entries = sorted({p.name for p in screen.glob("runs/*/*")})
    found = {e: finished_runs(screen, e) for e in entries}
    found.update({c: finished_runs(control, c) for c in CONTROLS})
    names = [*CONTROLS, *entries]
    keys = sorted({key for e in entries for key in found[e]})
    print("| dataset | seed | entry | macro / micro, no offsets | macro / micro, macro_f1 offsets | rarest P / R | "
          "mass per epoch (rarest) |")
    print("|---|---|---|---|---|---|---|")
    table: dict[tuple[str, str], dict[int, dict[str, dict | None]]] = {}
    for ds, seed in keys:
        rare: list[str] | None = None
        for name in names:
            run = found[name].get((ds, seed))
            if run is None:
                continue
            sc = _scores(run)
            table.setdefault((ds, name), {})[seed] = sc
            if rare is None and sc["none"]:
                rare = rarest(sc["none"])
            per = per_class(sc["none"] or {})
            pr = ", ".join(f"{c} {100 * per[c]['precision']:.0f}/{100 * per[c]['recall']:.0f}"
                           for c in rare or [] if c in per)
            print(f"| {ds} | {seed} | {name} | {macro_micro(sc['none'])} | {macro_micro(sc['macro_f1'])} | "
                  f"{pr or '–'} | {_mass(run, rare or [])} |")

    print("\n## Means over the seeds the screen's entries have (each row: the seeds it shares with them)\n")
    print("| dataset | entry | seeds | macro, no offsets | micro, no offsets | macro, macro_f1 offsets | "
          "micro, macro_f1 offsets |")
    print("|---|---|---|---|---|---|---|")
    datasets = sorted({ds for ds, _ in keys})
    for ds in datasets:
        seeds = sorted({s for e in entries for (d, s) in found[e] if d == ds})
        for name in names:
            runs = {s: v for s, v in table.get((ds, name), {}).items() if s in seeds}
            if not runs:
                continue
            cols = [mean_sd([100 * v[f][k] for v in runs.values() if v[f]]) for f in FORMS
                    for k in ("macro_f1", "micro_f1")]
            print(f"| {ds} | {name} | {', '.join(map(str, sorted(runs)))} | " + " | ".join(cols) + " |")

    print("\n## The decision rule (the config's notes), per arm and offsets setting\n")
    print("Δ: the arm's mean held-out macro-F1 minus `hamr`'s over the seeds both have; sd: `hamr`'s seed sd there. "
          "Passes when Δ >= 1 on at least two of the three sets and Δ >= −sd on the third, and the mean micro-F1 "
          "over the sets drops by no more than 2.\n")
    print("| arm | offsets | " + " | ".join(f"{ds} Δ (sd; seeds)" for ds in datasets) +
          " | mean Δ micro | passes |")
    print("|---|---|" + "---|" * len(datasets) + "---|---|")
    for arm in entries:
        for form, label in FORMS.items():
            deltas, cells, micro = [], [], []
            complete = True
            for ds in datasets:
                a, h = table.get((ds, arm), {}), table.get((ds, "hamr"), {})
                seeds = sorted(s for s in a if s in h and a[s][form] and h[s][form])
                if not a:  # the arm does not run on this dataset (the classification or the NER arms)
                    cells.append("–")
                    continue
                complete &= len(seeds) == 3
                if not seeds:
                    cells.append("–")
                    continue
                am = [100 * a[s][form]["macro_f1"] for s in seeds]
                hm = [100 * h[s][form]["macro_f1"] for s in seeds]
                sd = statistics.stdev(hm) if len(hm) > 1 else float("nan")
                d = statistics.mean(am) - statistics.mean(hm)
                deltas.append((d, sd))
                micro.append(statistics.mean(100 * (a[s][form]["micro_f1"] - h[s][form]["micro_f1"]) for s in seeds))
                cells.append(f"{d:+.1f} ({sd:.1f}; {len(seeds)})")
            if not micro:
                print(f"| {arm} | {label} | " + " | ".join(cells) + " | – | – |")
                continue
            ok = (sum(d >= 1 for d, _ in deltas) >= 2 and all(d >= 1 or d >= -sd for d, sd in deltas)
                  and statistics.mean(micro) >= -2)
            verdict = ("yes" if ok else "no") + ("" if complete and len(deltas) == 3 else " (incomplete)")
            print(f"| {arm} | {label} | " + " | ".join(cells) + f" | {statistics.mean(micro):+.1f} | {verdict} |")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0] if args else "benchmarks/results/screens/i28_class_sampler"),
         Path(args[1] if len(args) > 1 else "benchmarks/results/cpu_offsets"))
