"""Decision offsets screen (session 24, issue 22): per dataset, method and offsets form, the mean ± sd over seeds of
the held-out validation macro / micro-F1 (the half of validation neither HAMR's meta set nor the offsets fit saw),
the paired difference to the same method without offsets, and HAMR against ERM with the same form. Also the
rarest three classes' held-out P/R (by training count). Prints no test figure.

    python benchmarks/runs/i24_offsets.py benchmarks/results/screens/i24_offsets [> decision.md]
"""

from __future__ import annotations

import argparse
import json
import statistics as st
from collections import defaultdict
from pathlib import Path

FORMS = ("none", "balanced", "half", "macro_f1")


def _ms(xs: list[float]) -> str:
    return f"{st.mean(xs):.1f} ± {st.stdev(xs):.1f}" if len(xs) > 1 else f"{xs[0]:.1f}"


def _paired(a: dict[int, float], b: dict[int, float]) -> tuple[str, int]:
    both = sorted(set(a) & set(b))
    if not both:
        return "–", 0
    diffs = [a[s] - b[s] for s in both]
    return f"{st.mean(diffs):+.1f}", len(both)


def load(folder: Path) -> dict[tuple[str, str], dict[int, dict]]:
    runs: dict[tuple[str, str], dict[int, dict]] = defaultdict(dict)
    for path in sorted(folder.glob("runs/*/*/seed*/metrics.json")):
        m = json.loads(path.read_text())
        rec = m.get("decision_offsets")
        if not rec:
            continue
        forms = {}
        for f in FORMS:
            held = rec["forms"][f]["validation_heldout"]
            per = held.get("per_class") or held.get("per_type") or {}
            forms[f] = {"macro": 100 * held["macro_f1"], "micro": 100 * held["micro_f1"],
                        "pr": {c: (100 * per[c]["precision"], 100 * per[c]["recall"]) for c in per},
                        "offsets": rec["forms"][f]["offsets"]}
        groups = ((m.get("validation_heldout") or {}).get("quartiles") or {}).get("groups") or {}
        rarest = [c for q in ("Q1", "Q2", "Q3", "Q4") for c in groups.get(q, [])][:3]
        runs[(path.parts[-4], path.parts[-3])][int(m["seed"])] = {"forms": forms, "rarest": rarest}
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    a = ap.parse_args()
    runs = load(a.folder)
    datasets = sorted({d for d, _ in runs})
    methods = sorted({m for _, m in runs}, key=lambda m: (m != "erm", m))
    print("Held-out validation macro / micro-F1 (%), mean ± sd over seeds. Δ none: paired difference to the same "
          "method without offsets; Δ erm: paired difference to ERM with the same offsets form.\n")
    print("| dataset | method | form | seeds | macro | micro | Δ none macro / micro | Δ erm macro / micro |")
    print("|---|---|---|---|---|---|---|---|")
    gains: dict[tuple[str, str], list[float]] = defaultdict(list)
    for d in datasets:
        for meth in methods:
            r = runs.get((d, meth))
            if not r:
                continue
            for f in FORMS:
                mac = {s: v["forms"][f]["macro"] for s, v in r.items()}
                mic = {s: v["forms"][f]["micro"] for s, v in r.items()}
                base_mac = {s: v["forms"]["none"]["macro"] for s, v in r.items()}
                base_mic = {s: v["forms"]["none"]["micro"] for s, v in r.items()}
                dn = "–" if f == "none" else f"{_paired(mac, base_mac)[0]} / {_paired(mic, base_mic)[0]}"
                de = "–"
                erm = runs.get((d, "erm"))
                if meth != "erm" and erm:
                    e_mac = {s: v["forms"][f]["macro"] for s, v in erm.items()}
                    e_mic = {s: v["forms"][f]["micro"] for s, v in erm.items()}
                    (pm, n), (pi, _) = _paired(mac, e_mac), _paired(mic, e_mic)
                    de = f"{pm} / {pi} (n={n})"
                if f != "none":
                    gains[(meth, f)].append(st.mean(mac[s] - base_mac[s] for s in mac))
                print(f"| {d} | {meth} | {f} | {len(r)} | {_ms(list(mac.values()))} | {_ms(list(mic.values()))} | "
                      f"{dn} | {de} |")
    print("\nMean macro gain over the datasets (mean over seeds per dataset, then over datasets) and the number of "
          "datasets where it is ≥ 1:\n")
    print("| method | form | mean gain | datasets ≥ +1 |")
    print("|---|---|---|---|")
    for (meth, f), gs in sorted(gains.items()):
        print(f"| {meth} | {f} | {st.mean(gs):+.1f} | {sum(g >= 1 for g in gs)} of {len(gs)} |")
    print("\nThe methods ranked per dataset by held-out macro-F1 (micro in brackets), without offsets and with each "
          "form, like for like: mean over the seeds that every ranked method of that dataset has (listed):\n")
    print("| dataset | seeds | " + " | ".join(FORMS) + " |")
    print("|---|---|" + "---|" * len(FORMS))
    for d in datasets:
        present = {meth: runs[(d, meth)] for meth in methods if runs.get((d, meth))}
        common = sorted(set.intersection(*(set(r) for r in present.values())))
        if not common:
            print(f"| {d} | none shared | " + " | ".join("–" for _ in FORMS) + " |")
            continue
        cells = []
        for f in FORMS:
            scored = sorted(((st.mean(r[s]["forms"][f]["macro"] for s in common),
                              st.mean(r[s]["forms"][f]["micro"] for s in common), meth) for meth, r in present.items()),
                            reverse=True)
            cells.append(", ".join(f"{m} {a:.1f} ({b:.1f})" for a, b, m in scored))
        print(f"| {d} | {', '.join(map(str, common))} | " + " | ".join(cells) + " |")
    print("\nRarest three classes (by training count), held-out precision / recall (%), mean over seeds:\n")
    print("| dataset | method | class | " + " | ".join(FORMS) + " |")
    print("|---|---|---|" + "---|" * len(FORMS))
    for d in datasets:
        for meth in methods:
            r = runs.get((d, meth))
            if not r:
                continue
            rarest = next(iter(r.values()))["rarest"]
            for c in rarest:
                cells = []
                for f in FORMS:
                    prs = [v["forms"][f]["pr"][c] for v in r.values() if c in v["forms"][f]["pr"]]
                    cells.append(f"{st.mean(p for p, _ in prs):.0f} / {st.mean(q for _, q in prs):.0f}" if prs else "–")
                print(f"| {d} | {meth} | {c} | " + " | ".join(cells) + " |")
    print("\nOffsets fitted (macro_f1 form, mean over seeds; classes with |mean| ≥ 0.5):\n")
    for d in datasets:
        for meth in methods:
            r = runs.get((d, meth))
            if not r:
                continue
            offs: dict[str, list[float]] = defaultdict(list)
            for v in r.values():
                for c, x in v["forms"]["macro_f1"]["offsets"].items():
                    offs[c].append(x)
            big = {c: st.mean(xs) for c, xs in offs.items() if abs(st.mean(xs)) >= 0.5}
            print(f"- {d} {meth}: " + (", ".join(f"{c} {x:+.2f}" for c, x in big.items()) or "all below 0.5"))


if __name__ == "__main__":
    main()
