"""What the CPU grid costs, from its finished runs: machine hours spent, and the whole grid extrapolated from
measured times (the ``--dry-run`` estimate uses the cost model's factors for entries with no finished run).

Usage: python benchmarks/runs/grid_cost.py benchmarks/results/cpu [benchmarks/configs/cpu.json]

Machine seconds of a run: ``hamr.bench.machine_seconds`` (its wall seconds / the jobs that shared the machine),
as the bench's own estimates use. An entry with no finished run on a dataset is extrapolated from that dataset's
measured runs: an ablation from HAMR's time (w/o All from ERM's), a baseline from ERM's times the median ratio
of that baseline to ERM over the datasets where both ran.
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime
import sys
from collections import defaultdict
from pathlib import Path

from hamr.bench import machine_seconds


def main(out: str, config: str = "benchmarks/configs/cpu.json") -> None:
    cfg = json.loads(Path(config).read_text())
    entries = [m if isinstance(m, str) else m["name"] for m in cfg["methods"]]
    seeds, datasets = cfg["seeds"], cfg["datasets"]
    machine: dict[tuple[str, str], list[float]] = defaultdict(list)
    done = set()
    intervals = []
    for f in Path(out, "runs").glob("*/*/seed*/done.json"):
        d = json.loads(f.read_text())
        dataset, entry, seed = f.parts[-4], f.parts[-3], f.parts[-2]
        machine[(dataset, entry)].append(machine_seconds(d))
        done.add((dataset, entry, seed))
        end = datetime.fromisoformat(d["finished_at"]).timestamp()
        intervals.append((end - d["wall_seconds"], end))
    mean = {k: statistics.mean(v) for k, v in machine.items()}
    ratio = {}
    for e in entries:
        r = [mean[(d, e)] / mean[(d, "erm")] for d in datasets if (d, e) in mean and (d, "erm") in mean]
        ratio[e] = statistics.median(r) if r else None
    spent = sum(sum(v) for v in machine.values())
    total = remaining = 0.0
    per_dataset = {}
    for d in datasets:
        sub = 0.0
        for e in entries:
            if (d, e) in mean:
                est = mean[(d, e)]
            elif e == "hamr_wo_all":
                est = mean[(d, "erm")]
            elif e.startswith("hamr_"):
                est = mean[(d, "hamr")]
            else:
                est = mean[(d, "erm")] * (ratio[e] or 1.0)
            for s in seeds:
                sub += est
                if (d, e, f"seed{s}") not in done:
                    remaining += est
        per_dataset[d] = sub
        total += sub
    busy = _union_seconds(intervals)
    print(f"finished runs: {len(done)} of {len(datasets) * len(entries) * len(seeds)}, "
          f"{spent / 3600:.1f} machine hours (wall / the bench's own concurrent jobs); the clock time during which "
          f"at least one of them ran: {busy / 3600:.1f} h (lower where other benches or screens shared the machine)")
    scale = busy / spent if spent else 1.0
    print(f"whole grid, extrapolated from measured times: {total / 3600:.1f} machine h ({total * scale / 3600:.1f} h "
          f"on the clock-time scale); still to run: {remaining / 3600:.1f} h ({remaining * scale / 3600:.1f} h)")
    for d, sub in per_dataset.items():
        print(f"  {d}: {sub / 3600:.1f} h")
    print("measured cost ratios to ERM (median over datasets): "
          + ", ".join(f"{e} {r:.2f}" for e, r in ratio.items() if r is not None))


def _union_seconds(intervals: list[tuple[float, float]]) -> float:
    total, cur = 0.0, None
    for a, b in sorted(intervals):
        if cur is None or a > cur[1]:
            total += (cur[1] - cur[0]) if cur else 0.0
            cur = [a, b]
        else:
            cur[1] = max(cur[1], b)
    return total + ((cur[1] - cur[0]) if cur else 0.0)


if __name__ == "__main__":
    main(*sys.argv[1:])
