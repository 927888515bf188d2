"""Re-runs against the committed CPU grid: validation and test macro/micro-F1 of every re-run, to the last digit.

    python benchmarks/runs/compare_reruns.py benchmarks/results/reruns_i21/branch_i21_runs benchmarks/results/reruns_i21/landed_runs

Each argument is a ``runs/`` folder of ``hamr bench run benchmarks/configs/cpu.json --out <folder> ...``; every
``<dataset>/<method>/seed<s>/metrics.json`` in it is compared with the same run in ``benchmarks/results/cpu/runs``.
Also says whether the logged training losses (means over 50 steps) are equal, and their largest difference.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REF = Path(__file__).resolve().parents[1] / "results" / "cpu" / "runs"


def main(folders: list[str]) -> int:
    unequal = 0
    for folder in folders:
        print(f"== {folder}")
        for m in sorted(Path(folder).glob("*/*/seed*/metrics.json")):
            d, meth, seed = m.parts[-4], m.parts[-3], m.parts[-2]
            a, b = json.loads(m.read_text()), json.loads((REF / d / meth / seed / "metrics.json").read_text())
            cells = []
            for split in ("validation", "test"):
                for k in ("macro_f1", "micro_f1"):
                    x, y = a[split][k], b[split][k]
                    unequal += x != y
                    cells.append(f"{split} {k} {x!r} {'EQUAL' if x == y else f'DIFF {x - y:+.3g} (committed {y!r})'}")
            la, lb = a["train_losses"], b["train_losses"]
            gap = max((abs(p - q) for p, q in zip(la, lb)), default=0.0)
            cells.append(f"train_losses {'EQUAL' if la == lb else f'differ by at most {gap:.2g}'} ({len(la)} values)")
            print(f"{d} {meth} {seed}:\n  " + "\n  ".join(cells))
    return 1 if unequal else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
