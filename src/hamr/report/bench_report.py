"""The HTML version of a benchmark report (``hamr bench report RESULTS_DIR`` writes it beside report.md).

The tables are not computed twice: the page is ``report.md`` (Tables 2-4 with standard deviations, Figure 2,
the ablations, the overhead; written by :func:`hamr.bench.write_report`) rendered to HTML with markdown-it
(its tables made sortable, its figures inlined), plus a Pareto figure built from the same run records
(:func:`hamr.bench.collect_records` / :func:`hamr.bench.aggregate`): per dataset, each method's mean test
macro-F1 against its mean training time, with the Pareto front (no other method both faster and better)
highlighted.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any, Sequence

from ..bench.report import aggregate, pareto_front
from . import html as H

__all__ = ["pareto_front", "pareto_figure", "write_bench_html", "BENCH_HTML_FILE"]

BENCH_HTML_FILE = "report.html"


def pareto_data(records: list[dict]) -> dict[str, list[dict[str, Any]]]:
    """Per dataset: one point per method entry (mean and sd over seeds of train_seconds and macro_f1)."""
    agg = aggregate(records)
    out: dict[str, list[dict[str, Any]]] = {}
    for (dataset, entry), a in agg.items():
        t, f = a.mean("train_seconds"), a.mean("macro_f1")
        if t is None or f is None:
            continue
        out.setdefault(dataset, []).append({"entry": entry, "seconds": t, "seconds_sd": a.sd("train_seconds"),
                                            "macro_f1": f, "macro_f1_sd": a.sd("macro_f1"), "n": a.n})
    for pts in out.values():
        front = set(pareto_front([(p["seconds"], p["macro_f1"]) for p in pts]))
        for i, p in enumerate(pts):
            p["front"] = i in front
    return out


def pareto_figure(data: dict[str, list[dict[str, Any]]], datasets: Sequence[str]) -> str:
    """One panel per dataset: macro-F1 against training time per method, the Pareto front highlighted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    from ..bench.common import DATASET_LABELS

    ds = [d for d in datasets if d in data]
    cols = min(3, max(1, len(ds)))
    rows = (len(ds) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.3 * rows), squeeze=False)
    entries = sorted({p["entry"] for d in ds for p in data[d]})
    colours = {e: plt.cm.tab20(i % 20) for i, e in enumerate(entries)}
    for k, d in enumerate(ds):
        ax = axes[k // cols][k % cols]
        pts = data[d]
        for p in pts:
            ax.errorbar(p["seconds"], 100 * p["macro_f1"],
                        xerr=p["seconds_sd"] or 0, yerr=100 * (p["macro_f1_sd"] or 0), fmt="o",
                        color=colours[p["entry"]], ms=7 if p["front"] else 5, elinewidth=0.7, capsize=2,
                        markeredgecolor="black" if p["front"] else "none", zorder=3)
            ax.annotate(p["entry"], (p["seconds"], 100 * p["macro_f1"]), fontsize=6.5, xytext=(4, 3),
                        textcoords="offset points", fontweight="bold" if p["front"] else "normal")
        front = sorted((p for p in pts if p["front"]), key=lambda p: p["seconds"])
        if front:
            xs = [p["seconds"] for p in front]
            ys = [100 * p["macro_f1"] for p in front]
            # the staircase of the front: from each front point, flat until the next (faster-but-worse) point
            sx, sy = [xs[0]], [ys[0]]
            for x, y in zip(xs[1:], ys[1:]):
                sx += [x, x]
                sy += [sy[-1], y]
            ax.plot(sx, sy, color="#cf222e", lw=1.5, alpha=0.8, zorder=2, label="Pareto front")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(DATASET_LABELS.get(d, d))
        ax.set_xlabel("training time (s, mean over seeds, log)")
        ax.set_ylabel("test macro-F1 %")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="lower right")
    for k in range(len(ds), rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle("Macro-F1 against training time per method (mean ± sd over seeds; Pareto front in red, bold)")
    fig.tight_layout()
    return H.figure_svg(fig)


def _markdown_html(text: str, folder: Path) -> str:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    out = md.render(text)
    out = out.replace("<table>", '<table class="data sortable">')

    def inline(match: re.Match) -> str:
        src = match.group(1)
        path = folder / src
        if not re.fullmatch(r"[\w.-]+\.png", src) or not path.exists():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'<img src="data:image/png;base64,{data}"'

    return re.sub(r'<img src="([^"]+)"', inline, out)


def write_bench_html(results_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``<results_dir>/report.html`` from its ``report.md`` (run :func:`hamr.bench.write_report` first)
    and its run records; return the path. Raises FileNotFoundError without a report.md."""
    from ..bench.common import DATASET_LABELS
    from ..bench.summary import collect_records

    folder = Path(results_dir)
    md_path = folder / "report.md"
    if not md_path.exists():
        raise FileNotFoundError(f"{folder}: no report.md (write it first: hamr bench report {folder})")
    text = md_path.read_text(encoding="utf-8")
    title_match = re.match(r"#\s+(.+)\n", text)
    title = title_match.group(1).strip() if title_match else f"Benchmark report: {folder.name}"
    if title_match:
        text = text[title_match.end():]
    records = collect_records(folder)
    datasets = [d for d in DATASET_LABELS if any(r["dataset"] == d for r in records)]
    datasets += sorted({r["dataset"] for r in records} - set(datasets))
    data = pareto_data(records)
    if data:
        rows = []
        for d in datasets:
            for p in sorted(data.get(d, []), key=lambda p: p["seconds"]):
                rows.append([DATASET_LABELS.get(d, d), p["entry"], H.Cell(f"{p['seconds']:.0f}", p["seconds"]),
                             H.Cell(H.pct(p["macro_f1"]), p["macro_f1"]), p["n"], "yes" if p["front"] else ""])
        pareto = H.section(
            "Pareto: macro-F1 against training time",
            H.note("Per dataset, every method entry's mean test macro-F1 against its mean training time (the "
                   "Trainer's training, with any method's extra stages; seconds on this shared machine, see the "
                   "overhead caution). A method is on the Pareto front when no other entry is both faster and "
                   "better on that dataset."),
            pareto_figure(data, datasets),
            "<details><summary>table</summary>" +
            H.table(["dataset", "method", "train s", "macro-F1 %", "seeds", "Pareto front"], rows, sortable=True,
                    filterable=True, table_id="pareto-table", numeric=[2, 3, 4]) + "</details>",
            anchor="pareto")
    else:
        pareto = H.section("Pareto: macro-F1 against training time",
                           H.note("not available: no finished run with a training time and a test score."),
                           anchor="pareto")
    body = [pareto, f'<section id="report">{_markdown_html(text, folder)}</section>']
    page = H.page(title, body, subtitle=f"{len(records)} finished runs in {folder} (HTML of report.md, plus the "
                  "Pareto figure; hamr bench report).", nav=[("pareto", "Pareto figure"), ("report", "tables")])
    path = Path(out) if out is not None else folder / BENCH_HTML_FILE
    path.write_text(page, encoding="utf-8")
    return path
