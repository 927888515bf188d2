"""``hamr bench report``: ``report.md`` from a results folder: Table 2 (with the paper's figures beside it),
Table 3 (ablations), Figure 2 (quartiles), Table 4 (:mod:`.consistency`) and the overhead table."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .common import DATASET_LABELS, md_table, write_json_atomic
from .consistency import consistency_section
from .protocol import ProtocolError, expand_grid, parse_protocol
from .summary import collect_records

ABLATION_LABELS = {
    "full": "HAMR",
    "without_awe": "w/o AWE",
    "without_resampling": "w/o Resampling",
    "without_knn": "w/o kNN",
    "without_class_params": "w/o learned class parameters",
    "without_residual": "w/o per-example residual",
    "without_all": "w/o All",
}


#: method.md §9: the paper's Table 2 (deberta-v3-base), macro-F1 / micro-F1.
PAPER_TABLE2 = {
    "best baseline": {"bionlp": (70.6, 74.9), "mit_restaurant": (80.4, 81.3), "tweetner7": (59.0, 62.7),
                      "humaid_irma17": (72.7, 74.4), "humaid_idai19": (63.8, 81.1), "sst5": (56.3, 56.9)},
    "HAMR": {"bionlp": (72.7, 75.4), "mit_restaurant": (81.1, 82.1), "tweetner7": (60.2, 63.7),
             "humaid_irma17": (73.4, 75.2), "humaid_idai19": (65.7, 81.4), "sst5": (57.0, 57.7)},
    "w/o All (ERM)": {"bionlp": (71.0, 74.3), "mit_restaurant": (79.7, 80.8), "tweetner7": (57.4, 60.2),
                      "humaid_irma17": (70.0, 72.7), "humaid_idai19": (61.3, 79.6), "sst5": (55.6, 56.6)},
}


@dataclass
class _Agg:
    n: int
    values: dict[str, list[float]]

    def mean(self, key: str) -> float | None:
        v = self.values.get(key) or []
        return sum(v) / len(v) if v else None

    def sd(self, key: str) -> float | None:
        """Sample standard deviation (n − 1); None below two values."""
        v = self.values.get(key) or []
        if len(v) < 2:
            return None
        mu = sum(v) / len(v)
        return math.sqrt(sum((x - mu) ** 2 for x in v) / (len(v) - 1))


def aggregate(records: Iterable[dict]) -> dict[tuple[str, str], _Agg]:
    """(dataset, entry) -> the seeds' values of every numeric field."""
    keys = ("macro_f1", "micro_f1", "val_macro_f1", "train_seconds", "seconds_per_epoch", "wall_seconds",
            "peak_memory_mb")
    out: dict[tuple[str, str], _Agg] = {}
    for r in records:
        a = out.setdefault((r["dataset"], r["method"]), _Agg(0, {k: [] for k in keys}))
        a.n += 1
        for k in keys:
            if r.get(k) is not None:
                a.values[k].append(float(r[k]))
    return out


def _cell(a: _Agg | None, key: str, expected: int, bold: bool = False) -> str:
    if a is None or a.mean(key) is None:
        return "–"
    sd = a.sd(key)
    text = f"{100 * a.mean(key):.1f}" + (f" ± {100 * sd:.1f}" if sd is not None else "")
    if bold:
        text = f"**{text}**"
    return text + (f" (n={a.n})" if a.n < expected else "")


def _metric_block(title: str, entries: list[str], datasets: list[str], agg, key: str, expected: int,
                  bold_best: bool, labels: dict[str, str] | None = None) -> list[str]:
    best: dict[str, float] = {}
    if bold_best:
        for d in datasets:
            means = [agg[(d, e)].mean(key) for e in entries if (d, e) in agg and agg[(d, e)].mean(key) is not None]
            if means:
                best[d] = max(means)
    rows = []
    for e in entries:
        row = [(labels or {}).get(e, e)]
        for d in datasets:
            a = agg.get((d, e))
            is_best = a is not None and d in best and a.mean(key) is not None and a.mean(key) >= best[d] - 1e-12
            row.append(_cell(a, key, expected, bold=is_best))
        rows.append(row)
    return [f"**{title}**", "", *md_table(["method", *[DATASET_LABELS.get(d, d) for d in datasets]], rows), ""]


def _ordered(values: Iterable[str], order: Sequence[str]) -> list[str]:
    values = list(dict.fromkeys(values))
    rank = {v: i for i, v in enumerate(order)}
    return sorted(values, key=lambda v: (rank.get(v, len(rank)), v))


def _hamr_entry(entry_info: dict[str, dict]) -> str | None:
    full = [e for e, info in entry_info.items() if info["base_method"] == "hamr" and info["ablation"] in (None, "full")]
    return "hamr" if "hamr" in full else (full[0] if full else None)


def _in_table3(entry: str, base_method: str, ablation: str | None, hamr_entry: str | None,
               labelled: dict[str, str]) -> bool:
    """Is an entry a Table-3 row? A HAMR entry other than the main one that is an ablation or carries a label."""
    return base_method == "hamr" and entry != hamr_entry and (ablation not in (None, "full") or entry in labelled)


def _gain_sentence(agg, datasets: list[str], table2: list[str], hamr: str | None) -> str:
    if hamr is None or "erm" not in table2:
        return "HAMR vs ERM: not computable (needs finished `hamr` and `erm` runs)."
    best_on, gains, micro_gains = [], [], []
    for d in datasets:
        means = {e: agg[(d, e)].mean("macro_f1") for e in table2 if (d, e) in agg}
        means = {e: v for e, v in means.items() if v is not None}
        if hamr in means and means[hamr] >= max(means.values()) - 1e-12:
            best_on.append(DATASET_LABELS.get(d, d))
        if hamr in means and "erm" in means:
            gains.append((d, 100 * (means[hamr] - means["erm"])))
            micro_gains.append(100 * (agg[(d, hamr)].mean("micro_f1") - agg[(d, "erm")].mean("micro_f1")))
    with_runs = [d for d in datasets if (d, hamr) in agg]
    text = (f"HAMR (`{hamr}`) has the best mean macro-F1 on {len(best_on)} of the {len(with_runs)} datasets with "
            f"HAMR runs" + (f" ({', '.join(best_on)})" if best_on else "") + ". ")
    if gains:
        mean_gain = sum(g for _, g in gains) / len(gains)
        per = ", ".join(f"{DATASET_LABELS.get(d, d)} {g:+.1f}" for d, g in gains)
        text += (f"Its mean gain over ERM is {mean_gain:+.1f} macro-F1 points ({per}) and "
                 f"{sum(micro_gains) / len(micro_gains):+.1f} micro-F1 points, over {len(gains)} datasets.")
    else:
        text += "No dataset has both HAMR and ERM runs yet."
    return text


def _quartile_section(out: Path, records: list[dict], entries: list[str], table2: list[str]) -> list[str]:
    """Figure 2: per-quartile test F1, mean over seeds then over datasets, per entry; plot + table."""
    names = ("Q1", "Q2", "Q3", "Q4")
    per: dict[tuple[str, str, str], list[float]] = {}
    for r in records:
        for q in names:
            v = (r.get("quartiles") or {}).get(q)
            if v is not None:
                per.setdefault((r["method"], r["dataset"], q), []).append(float(v))
    table: dict[str, dict[str, float]] = {}
    ndata: dict[str, int] = {}
    for e in entries:
        for q in names:
            ds = [sum(v) / len(v) for (m, d, qq), v in per.items() if m == e and qq == q]
            if ds:
                table.setdefault(e, {})[q] = sum(ds) / len(ds)
        ndata[e] = len({d for (m, d, _) in per if m == e})
    lines = ["## Figure 2: F1 per training-frequency quartile", "",
             "Test F1 per label, averaged within each quartile of labels sorted by training frequency (Q1 = rarest "
             "25%), then over seeds and over datasets (each dataset weighs the same).", ""]
    if not table:
        return lines + ["not available: no finished run has quartiles.", ""]
    rows = [[e, *[f"{100 * table[e][q]:.1f}" if q in table[e] else "–" for q in names], str(ndata[e])]
            for e in entries if e in table]
    lines += md_table(["method", *names, "datasets"], rows) + [""]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plotted = [e for e in table2 if e in table] or [e for e in entries if e in table]
        width = 0.8 / max(len(plotted), 1)
        fig, ax = plt.subplots(figsize=(9, 4))
        for j, e in enumerate(plotted):
            xs = [i + (j - (len(plotted) - 1) / 2) * width for i in range(4)]
            ax.bar(xs, [100 * table[e].get(q, float("nan")) for q in names], width, label=e)
        ax.set_xticks(range(4), [f"{q}{' (rarest)' if q == 'Q1' else ''}" for q in names])
        ax.set_ylabel("test F1 (%)")
        ax.set_title("F1 per training-frequency quartile (mean over datasets and seeds)")
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        fig.savefig(out / "quartiles.png", dpi=120)
        plt.close(fig)
        lines += ["![quartiles](quartiles.png)", ""]
    except Exception as exc:  # pragma: no cover - plotting is a convenience
        lines += [f"(quartiles.png not written: {exc})", ""]
    return lines


def _overhead_section(agg, datasets: list[str], entries: list[str], records: list[dict]) -> list[str]:
    lines = ["## Overhead (Appendix F)", "",
             "Means over seeds: training wall time (`train s`: the Trainer's training, with any method's extra "
             "stages and per-epoch evaluation), seconds per epoch, the whole run's wall time (`run s`: process "
             "start, data, training, final evaluation) and the peak resident memory of the run's process; "
             "ratios to ERM on the same dataset and machine.", ""]
    rows = []
    for d in datasets:
        erm = agg.get((d, "erm"))
        for e in entries:
            a = agg.get((d, e))
            if a is None:
                continue
            t, mem = a.mean("train_seconds"), a.mean("peak_memory_mb")
            rt = f"{t / erm.mean('train_seconds'):.2f}×" if erm and t and erm.mean("train_seconds") else "–"
            rm = f"{mem / erm.mean('peak_memory_mb'):.2f}×" if erm and mem and erm.mean("peak_memory_mb") else "–"
            wall = a.mean("wall_seconds")
            rows.append([DATASET_LABELS.get(d, d), e, str(a.n), f"{t:.0f}" if t else "–",
                         f"{a.mean('seconds_per_epoch'):.0f}" if a.mean("seconds_per_epoch") else "–",
                         f"{wall:.0f}" if wall else "–", f"{mem:.0f}" if mem else "–", rt, rm])
    if not rows:
        return lines + ["not available: no finished runs.", ""]
    lines += md_table(["dataset", "method", "n", "train s", "s/epoch", "run s", "peak MB", "time × ERM",
                        "memory × ERM"], rows)
    lines += ["", "Paper (H100, Idai19): HAMR 686 s, LNR 566 s, GBC 849 s of training.", ""]
    busy_runs = [r for r in records if busy(r.get("load_average"))]
    if busy_runs:
        lines += [f"Caution: {len(busy_runs)} of {len(records)} runs started or ended with a 1-minute load average above "
                  "the machine's core count (other processes were running): their timings are inflated.", ""]
    return lines


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points (time, score) that no other point dominates (time <= and score >=, one strictly),
    sorted by time."""
    front = []
    for i, (t, s) in enumerate(points):
        dominated = any((t2 <= t and s2 >= s) and (t2 < t or s2 > s) for j, (t2, s2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (points[i][0], -points[i][1]))


def _equal_time_section(agg, datasets: list[str], table2: list[str], hamr: str | None) -> list[str]:
    """Table 2 at equal training time: per dataset, the Pareto front of mean training seconds against mean test
    macro-F1 over the Table-2 entries (no other entry both faster and better), and the best entry that trains in
    no more time than HAMR (report.html draws the same points)."""
    lines = ["## Equal training time: the Pareto front of Table 2", "",
             "Per dataset, over the Table-2 entries: the entries no other entry beats on both mean training time and "
             "mean test macro-F1 (fastest first), and the best macro-F1 among the entries that train in at most "
             "HAMR's mean time. Times are the grid's wall-clock training seconds (see the overhead table; runs "
             "that shared the machine are slower). report.html draws the points.", ""]
    rows = []
    for d in datasets:
        pts = [(e, agg[(d, e)].mean("train_seconds"), agg[(d, e)].mean("macro_f1")) for e in table2 if (d, e) in agg]
        pts = [p for p in pts if p[1] is not None and p[2] is not None]
        if not pts:
            continue
        front = [pts[i] for i in pareto_front([(t, f) for _, t, f in pts])]
        cell = ", ".join(f"{'**' + e + '**' if e == hamr else e} ({t:.0f} s, {100 * f:.1f})" for e, t, f in front)
        within = "–"
        h = next((p for p in pts if p[0] == hamr), None)
        if h is not None:
            best = max((p for p in pts if p[1] <= h[1] and p[0] != hamr), key=lambda p: p[2], default=None)
            within = (f"{best[0]} {100 * best[2]:.1f} (HAMR {100 * h[2]:.1f}, {h[1]:.0f} s)" if best
                      else f"none faster (HAMR {100 * h[2]:.1f}, {h[1]:.0f} s)")
        rows.append([DATASET_LABELS.get(d, d), cell, within])
    if not rows:
        return lines + ["not available: no finished runs.", ""]
    return lines + md_table(["dataset", "Pareto front: entry (mean train s, macro-F1)",
                             "best other entry in ≤ HAMR's time"], rows) + [""]


def busy(load: dict | None) -> bool:
    """Did a run share the machine? (1-minute load average at its start or end above the cores, +0.5.)"""
    if not load or not load.get("cpus"):
        return False
    return max(load.get("start") or 0, load.get("end") or 0) > load["cpus"] + 0.5


def write_report(results_dir: str | os.PathLike, consistency: bool = True) -> Path:
    """Write ``<results_dir>/report.md`` (and ``quartiles.png``) from the finished runs; see the module."""
    out = Path(results_dir)
    if not out.is_dir():
        raise FileNotFoundError(f"{out}: no such results folder")
    records = collect_records(out)
    write_json_atomic(out / "summary.json", records)
    meta = json.loads((out / "protocol.json").read_text()) if (out / "protocol.json").exists() else {}
    raw = meta.get("protocol") or {}
    agg = aggregate(records)
    expected = len(meta.get("seeds") or []) or max((a.n for a in agg.values()), default=0)

    order_entries = [e if isinstance(e, str) else (e.get("name") or e.get("method")) for e in raw.get("methods", [])]
    datasets = _ordered((r["dataset"] for r in records), raw.get("datasets") or list(DATASET_LABELS))
    entries = _ordered((r["method"] for r in records), order_entries)
    info = {r["method"]: {"base_method": r["base_method"], "ablation": r["ablation"]} for r in records}
    hamr = _hamr_entry(info)
    # an entry's row name (the protocol's "label"); a labelled HAMR variant is a Table-3 row, like an ablation
    entry_labels = {(e.get("name") or e.get("method")): e["label"] for e in raw.get("methods", [])
                    if isinstance(e, dict) and e.get("label")}
    ablations = [e for e in entries if _in_table3(e, info[e]["base_method"], info[e]["ablation"], hamr, entry_labels)]
    table2 = [e for e in entries if e not in ablations]

    protocol_name = meta.get("name") or (records[0]["protocol"] if records else out.name)
    counts = ""
    if raw:
        try:
            specs = expand_grid(parse_protocol(raw, meta.get("path", "protocol.json")))
        except ProtocolError:
            specs = []
        if specs:
            counts = f" of {len(specs)}"
            main = _hamr_entry({s.entry: {"base_method": s.method, "ablation": s.ablation} for s in specs})
            t3 = {(s.dataset, s.entry, s.seed) for s in specs if _in_table3(s.entry, s.method, s.ablation, main, entry_labels)}
            if t3:  # the grid's two parts apart: the Table-3 entries may not be running at all
                keys = {(s.dataset, s.entry, s.seed) for s in specs}  # extra seeds outside the grid count in neither
                done = {(r["dataset"], r["method"], r["seed"]) for r in records} & keys
                # a w/o-All entry with no runs is ERM's row in Table 3 (below): its runs are not owed
                run_entries = {r["method"] for r in records}
                stand_in = {(s.dataset, s.entry, s.seed) for s in specs if s.ablation == "without_all"
                            and "erm" in entries and s.entry not in run_entries}
                keys, t3 = keys - stand_in, t3 - stand_in
                counts = f" of {len(keys)}"
                counts += (f" (Table 2: {len(done - t3)} of {len(keys - t3)}; "
                           f"Table 3: {len(done & t3)} of {len(t3)}"
                           + (", w/o All not run: ERM's row stands for it" if stand_in else "") + ")")
    versions = sorted({(r.get("code_version") or {}).get("git") or "?" for r in records})
    lines = [f"# Benchmark report: {protocol_name}", "",
             f"{len(records)} finished runs{counts}"
             f" in `{out}`; seeds per cell expected: {expected or '?'} (cells with fewer show n=…). "
             f"Code versions: {', '.join(versions) or '–'}. Scores are test-set percentages, mean ± sample "
             "standard deviation over seeds.", ""]
    if raw.get("settings"):
        lines += [f"Settings: `{json.dumps(raw.get('settings'))}`" +
                  (f"; per dataset: `{json.dumps(raw.get('dataset_settings'))}`" if raw.get("dataset_settings") else ""),
                  ""]
    if raw.get("notes"):
        notes = raw["notes"] if isinstance(raw["notes"], str) else " ".join(raw["notes"])
        lines += [f"Protocol notes: {notes}", ""]

    lines += ["## Table 2: macro-F1 and micro-F1", ""]
    if not records:
        lines += ["not available: no finished runs.", ""]
    else:
        lines += _metric_block("Macro-F1 (best per dataset in bold)", table2, datasets, agg, "macro_f1", expected, True)
        lines += _metric_block("Micro-F1 (best per dataset in bold)", table2, datasets, agg, "micro_f1", expected, True)
        lines += [_gain_sentence(agg, datasets, table2, hamr), ""]
    paper_ds = [d for d in (datasets or raw.get("datasets") or []) if d in PAPER_TABLE2["HAMR"]]
    if paper_ds:
        rows = [[name, *[f"{vals[d][0]:.1f} / {vals[d][1]:.1f}" for d in paper_ds]] for name, vals in PAPER_TABLE2.items()]
        lines += ["**The paper's figures (deberta-v3-base, macro-F1 / micro-F1; method.md §9), not comparable run "
                  "for run with a different backbone and budget**", "",
                  *md_table(["paper", *[DATASET_LABELS.get(d, d) for d in paper_ds]], rows), ""]
        if "humaid_idai19" in datasets:
            lines += ["Measured earlier on this machine (method.md §10; Idai19, MiniLM, length 64, batch 16, 3 epochs, "
                      "seed 42): plain fine-tuning 38.5 / 78.2, inverse class frequency 58.6 / 74.2.", ""]

    if records:
        lines += _equal_time_section(agg, datasets, table2, hamr)
    lines += ["## Table 3: ablations", ""]
    if hamr is None:
        lines += ["not available: no finished full-HAMR runs.", ""]
    else:
        by_ablation = {info[e]["ablation"]: e for e in reversed(ablations) if info[e]["ablation"] not in (None, "full")}
        rows_e, labels = [hamr], {hamr: f"HAMR ({hamr})"}
        for abl in ("without_awe", "without_class_params", "without_residual", "without_resampling", "without_knn",
                    "without_all"):
            if abl in by_ablation:
                rows_e.append(by_ablation[abl])
        rows_e += [e for e in ablations if e not in rows_e]  # labelled variants (e.g. "+ kNN boost") and repeats
        for e in rows_e[1:]:
            name = entry_labels.get(e) or ABLATION_LABELS.get(info[e]["ablation"] or "full", e)
            labels[e] = f"{name} ({e})"
        if "erm" in entries:
            rows_e.append("erm")
            labels["erm"] = "w/o All = ERM (erm)" if "without_all" not in by_ablation else "ERM (erm), reference"
        lines += _metric_block("Macro-F1", rows_e, datasets, agg, "macro_f1", expected, False, labels)
        lines += _metric_block("Micro-F1", rows_e, datasets, agg, "micro_f1", expected, False, labels)

    lines += _quartile_section(out, records, entries, table2)
    lines += consistency_section(out, records, datasets, hamr, consistency)
    lines += _overhead_section(agg, datasets, entries, records)
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
