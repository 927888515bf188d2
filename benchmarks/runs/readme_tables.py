"""The README's seed-42 method table, regenerated from the committed CPU-grid runs (no figure typed by hand).

    python benchmarks/runs/readme_tables.py            # prints the Markdown table and the time ratios
    python benchmarks/runs/readme_tables.py --grid     # every method x six datasets, mean ± sd over seeds 42-44
    python benchmarks/runs/readme_tables.py --offsets  # the same from the cpu_offsets grid (today's defaults:
                                                       # validation hold-out 0.5, decision offsets for every method)
    python benchmarks/runs/readme_tables.py --write-readme  # replaces README.md's generated --offsets block
                                                            # (between its two HTML comments) with the macro part

Cells: test macro-F1 / micro-F1 (%, one decimal) of seed 42 from ``benchmarks/results/cpu/runs/<dataset>/<method>/
seed42/metrics.json``; the best value of each column is bold, decided on the unrounded figures (ties at one
decimal are both bold). Time (MetaBalance's row): per dataset, the median training seconds of its 3 seeds over
ERM's, min-max over the grid's 6 datasets, from the same files. The grid's runs often shared the machine with
another job, so these ratios are rough (benchmarks/overhead.py measures overhead interleaved).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "results" / "cpu" / "runs"
OFFSETS_ROOT = Path(__file__).resolve().parents[1] / "results" / "cpu_offsets" / "runs"
METHODS = ["erm", "dice", "focal", "icf", "effective_number", "balanced_sampler", "lnr", "gbc", "metabalance",
           "logit_adjustment", "balanced_softmax", "hamr"]
DATASETS = [("bionlp", "BioNLP"), ("mit_restaurant", "MIT-R"), ("tweetner7", "TweetNER7"),
            ("humaid_irma17", "Irma17"), ("humaid_idai19", "Idai19"), ("sst5", "SST-5")]
COLUMNS = [("humaid_idai19", "Cyclone-Idai19"), ("tweetner7", "TweetNER7 (NER)")]


def metrics(dataset: str, method: str, seed: int, root: Path = ROOT) -> dict | None:
    p = root / dataset / method / f"seed{seed}" / "metrics.json"
    return json.loads(p.read_text()) if p.exists() else None


def time_ratios(method: str) -> list[float]:
    out = []
    for d in sorted(x.name for x in ROOT.iterdir() if x.is_dir()):
        a = [m["train_seconds"] for s in (42, 43, 44) if (m := metrics(d, method, s))]
        e = [m["train_seconds"] for s in (42, 43, 44) if (m := metrics(d, "erm", s))]
        if a and e:
            out.append(statistics.median(a) / statistics.median(e))
    return out


def table(seed: int = 42) -> list[str]:
    vals = {(m, d): (metrics(d, m, seed) or {}).get("test") for m in METHODS for d, _ in COLUMNS}
    best = {}
    for d, _ in COLUMNS:
        for k in ("macro_f1", "micro_f1"):
            xs = [v[k] for (m, dd), v in vals.items() if dd == d and v]
            best[(d, k)] = round(100 * max(xs), 1)
    lines = ["| method | " + " | ".join(label for _, label in COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    for m in METHODS:
        name = f"`{m}`"
        if m == "metabalance":
            r = time_ratios(m)
            name += f" ({min(r):.1f}-{max(r):.1f}x ERM's time)"
        cells = []
        for d, _ in COLUMNS:
            v = vals[(m, d)]
            if not v:
                cells.append("-")
                continue
            parts = []
            for k in ("macro_f1", "micro_f1"):
                x = round(100 * v[k], 1)
                parts.append(f"**{x:.1f}**" if x == best[(d, k)] else f"{x:.1f}")
            cells.append(" / ".join(parts))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def grid_table(key: str = "macro_f1", root: Path = ROOT) -> list[str]:
    """Every method × the six datasets: mean ± sd of the test ``key`` over the seeds finished (n shown when < 3);
    the best mean of each column bold (decided on the unrounded means). ``root``: the grid's runs folder."""
    cells: dict[tuple[str, str], list[float]] = {}
    for m in METHODS:
        for d, _ in DATASETS:
            cells[(m, d)] = [100 * r["test"][key] for s in (42, 43, 44) if (r := metrics(d, m, s, root))]
    best = {d: max((statistics.mean(v) for (m, dd), v in cells.items() if dd == d and v), default=None)
            for d, _ in DATASETS}
    lines = ["| method | " + " | ".join(label for _, label in DATASETS) + " |", "|---|" + "---|" * len(DATASETS)]
    for m in METHODS:
        row = []
        for d, _ in DATASETS:
            v = cells[(m, d)]
            if not v:
                row.append("–")
                continue
            text = f"{statistics.mean(v):.1f}" + (f" ± {statistics.stdev(v):.1f}" if len(v) > 1 else "")
            text = f"**{text}**" if statistics.mean(v) >= best[d] - 1e-9 else text
            row.append(text + (f" (n={len(v)})" if len(v) < 3 else ""))
        lines.append(f"| `{m}` | " + " | ".join(row) + " |")
    return lines


README = Path(__file__).resolve().parents[2] / "README.md"
README_START = "<!-- python benchmarks/runs/readme_tables.py --offsets (macro part) -->"
README_END = "<!-- end of the generated table -->"


def write_readme(path: Path = README) -> bool:
    """Replace the table between ``README_START`` and the next ``README_END`` in ``path`` with the macro part of
    ``--offsets``; True when the file changed. Each marker must occur exactly once."""
    text = path.read_text()
    if text.count(README_START) != 1 or text.count(README_END) != 1:
        raise SystemExit(f"{path}: expected the markers {README_START!r} and {README_END!r} once each")
    head, rest = text.split(README_START)
    _, tail = rest.split(README_END)
    new = head + README_START + "\n" + "\n".join(grid_table("macro_f1", OFFSETS_ROOT)) + "\n" + README_END + tail
    if new == text:
        return False
    path.write_text(new)
    return True


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--write-readme":
        print(f"README.md {'updated' if write_readme() else 'unchanged'}")
    elif len(sys.argv) > 1 and sys.argv[1] in ("--grid", "--offsets"):  # 3 seeds, six datasets (macro, then micro)
        for key in ("macro_f1", "micro_f1"):
            print(f"\n{key}:\n")
            print("\n".join(grid_table(key, OFFSETS_ROOT if sys.argv[1] == "--offsets" else ROOT)))
    else:
        seed = int(sys.argv[1]) if len(sys.argv) > 1 else 42
        print("\n".join(table(seed)))
