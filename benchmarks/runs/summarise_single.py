"""Table of the single runs under benchmarks/results/single (test and validation F1, options, timing).

    python benchmarks/runs/summarise_single.py   # writes benchmarks/results/single/README.md
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "results" / "single"


def main() -> None:
    lines = ["# Single runs (seed 42)", "",
             "Made by `benchmarks/runs/issue_runs.sh`, `issue7_runs.sh` and `queue_c.sh` (each run's command is in",
             "`runs.log`); this table by `python benchmarks/runs/summarise_single.py`. s/epoch was measured while",
             "two or three runs shared the 2 cores: compare costs with `benchmarks/results/overhead_*.md` instead.",
             "Validation figures are the ones to choose by; the test split is reported, not selected on.", ""]
    for ds_dir in sorted(p for p in ROOT.iterdir() if p.is_dir()):
        lines += [f"## {ds_dir.name}", "",
                  "| run | options | val macro | val micro | test macro | test micro | Q1 | Q2 | Q3 | Q4 | s/epoch | peak MB |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for run in sorted(ds_dir.iterdir()):
            f = run / "metrics.json"
            if not f.exists():
                continue
            m = json.loads(f.read_text())
            t, v = m["test"], m.get("validation", {})
            q = t.get("quartiles") or {}
            pct = lambda x: "-" if x is None else f"{100 * x:.1f}"  # noqa: E731
            opts = ", ".join(f"{k}={val}" for k, val in m.get("options", {}).items()) or "defaults"
            if m.get("note"):
                opts += f" ({m['note']})"
            lines.append(
                f"| {run.name} ({m['method']}) | {opts} | {pct(v.get('macro_f1'))} | {pct(v.get('micro_f1'))} | "
                f"{pct(t['macro_f1'])} | {pct(t['micro_f1'])} | {pct(q.get('Q1'))} | {pct(q.get('Q2'))} | "
                f"{pct(q.get('Q3'))} | {pct(q.get('Q4'))} | {m['seconds_per_epoch']:.0f} | {m['peak_memory_mb']:.0f} |")
        lines.append("")
    (ROOT / "README.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
