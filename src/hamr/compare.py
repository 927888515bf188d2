"""``hamr compare``: run several methods on the user's own data and recommend one, chosen on validation only.

The runs go through the benchmark harness (:mod:`hamr.bench`): a protocol with one file dataset
(:class:`hamr.data.filespec.FileDataset`) is written to ``<out>/compare_protocol.json`` and run with
:func:`hamr.bench.run_grid`, so every run has its own folder (``<out>/runs/<name>/<method>/seed<s>/``), a
finished run (``done.json``) is skipped when the command is repeated, and progress lines show the ETA.

The choice reads **validation only**: the highest mean validation macro-F1 over the seeds; ties (equal to 0.1
point) go to the higher mean micro-F1, then to the shorter training time. The validation figure is the
**held-out half** (``validation_heldout``, :mod:`hamr.holdout`) when the runs have one (the default): HAMR's and
MetaBalance's meta sets and the decision offsets' fit (``decision_offsets``) saw the other half, so the whole
split would favour them (session 24; before, the choice read the whole split). Test figures, when a test file is
given, are printed afterwards in a separate table and never enter the choice.

``budget_minutes``: runs go in order (ERM first, then the methods as listed; seed-major), each estimated with
the bench's cost model (:func:`hamr.bench.estimate_seconds`: the measured ERM time times the method's cost
factor once ERM has run); once a run would take the time spent past the budget, no further run starts, and
the skipped runs are named.
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from rich.console import Console
from rich.table import Table

from .data.filespec import FileDataset
from .errors import InputError

#: Ties on validation macro-F1 closer than this (as a fraction: 0.1 point) go to micro-F1, then time.
TIE = 0.001
RAREST = 3


class CompareError(InputError):
    """Bad input to ``hamr compare`` (unknown method, no methods, bad seeds)."""


def known_methods() -> list[str]:
    from .enums import Method

    return [m.value for m in Method]


def parse_methods(methods: str | Sequence[str]) -> list[str]:
    """``"erm,icf,hamr"`` (or a list) -> the methods in run order: ERM first, then as given, no repeats.
    An unknown name is a :class:`CompareError` listing the known methods."""
    items = methods.split(",") if isinstance(methods, str) else [m for part in methods for m in part.split(",")]
    names = [m.strip().lower() for m in items if m.strip()]
    if not names:
        raise CompareError(f"--methods: give at least one method; known methods: {', '.join(known_methods())}")
    unknown = [m for m in names if m not in known_methods()]
    if unknown:
        raise CompareError(f"--methods: unknown method(s) {', '.join(unknown)}; known methods: "
                           f"{', '.join(known_methods())}")
    ordered = list(dict.fromkeys(names))
    return (["erm"] if "erm" in ordered else []) + [m for m in ordered if m != "erm"]


def build_protocol(data: FileDataset, methods: Sequence[str], seeds: Sequence[int],
                   settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The bench protocol of a comparison (what ``<out>/compare_protocol.json`` holds)."""
    return {
        "name": f"compare_{data.name}",
        "notes": "written by `hamr compare`: the choice is made on validation only",
        "seeds": list(seeds),
        "settings": dict(settings or {}),
        "datasets": [data.to_dict()],
        "methods": list(methods),
    }


@dataclass
class MethodResult:
    """One method's runs on one split: means over the seeds that finished."""

    method: str
    seeds: list[int]
    macro: list[float]
    micro: list[float]
    train_seconds: list[float]
    rare_recall: dict[str, list[float]] = field(default_factory=dict)

    @staticmethod
    def _mean(v: list[float]) -> float | None:
        return statistics.fmean(v) if v else None

    @property
    def macro_mean(self) -> float | None:
        return self._mean(self.macro)

    @property
    def micro_mean(self) -> float | None:
        return self._mean(self.micro)

    @property
    def seconds_mean(self) -> float | None:
        return self._mean(self.train_seconds)


@dataclass
class Comparison:
    out: Path
    dataset: str
    methods: list[str]
    seeds: list[int]
    rarest: list[str]
    validation: dict[str, MethodResult]
    test: dict[str, MethodResult]
    skipped: list[str]  # "method seed<s>" not run (over the budget) or failed
    best: str | None
    reason: str
    counts: dict[str, int] = field(default_factory=dict)
    choice_split: str = "validation"  # validation_heldout when the runs scored a held-out half


def _per_class(split_metrics: dict) -> dict[str, dict]:
    return split_metrics.get("per_class") or split_metrics.get("per_type") or {}


def rarest_classes(metrics: dict, k: int = RAREST) -> list[str]:
    """The ``k`` rarest training classes of a run (its quartile groups list the labels rarest first)."""
    for split in ("validation", "test"):
        groups = ((metrics.get(split) or {}).get("quartiles") or {}).get("groups")
        if groups:
            ordered = [lab for q in ("Q1", "Q2", "Q3", "Q4") for lab in groups.get(q, [])]
            return ordered[:k]
    return []


def collect(out: Path, specs: Sequence, split: str, rarest: list[str]) -> dict[str, MethodResult]:
    """Per method, the finished runs' figures on ``split`` (``validation`` or ``test``)."""
    from .bench import DONE, METRICS

    results: dict[str, MethodResult] = {}
    for spec in specs:
        folder = spec.folder(out)
        if not (folder / DONE).exists() or not (folder / METRICS).exists():
            continue
        m = json.loads((folder / METRICS).read_text())
        sm = m.get(split)
        if not sm:
            continue
        r = results.setdefault(spec.entry, MethodResult(spec.entry, [], [], [], []))
        r.seeds.append(spec.seed)
        r.macro.append(float(sm["macro_f1"]))
        r.micro.append(float(sm["micro_f1"]))
        r.train_seconds.append(float(m.get("train_seconds") or 0.0))
        per = _per_class(sm)
        for lab in rarest:
            if lab in per:
                r.rare_recall.setdefault(lab, []).append(float(per[lab]["recall"]))
    return results


def choose(results: dict[str, MethodResult]) -> tuple[str | None, str]:
    """The recommended method and why: highest mean validation macro-F1, ties (within :data:`TIE`) broken by
    micro-F1, then by training time."""
    ranked = sorted((r for r in results.values() if r.macro), key=lambda r: -r.macro_mean)
    if not ranked:
        return None, "no run finished"
    top = ranked[0]
    tied = [r for r in ranked if top.macro_mean - r.macro_mean < TIE]
    n = len(top.macro)
    over = f"over {n} seed{'s' if n > 1 else ''}"
    if len(tied) == 1:
        best = top
        second = ranked[1] if len(ranked) > 1 else None
        reason = f"highest mean validation macro-F1 {over} ({100 * best.macro_mean:.1f}" + (
            f"; next {second.method} {100 * second.macro_mean:.1f}, +{100 * (best.macro_mean - second.macro_mean):.1f})"
            if second else ")")
    else:
        tied.sort(key=lambda r: (-round(r.micro_mean, 3), r.seconds_mean or 0.0))
        best = tied[0]
        names = ", ".join(r.method for r in tied)
        if round(tied[0].micro_mean, 3) != round(tied[1].micro_mean, 3):
            reason = (f"validation macro-F1 tied within 0.1 point ({names}, {100 * top.macro_mean:.1f}); higher "
                      f"micro-F1 ({100 * best.micro_mean:.1f} vs {100 * tied[1].micro_mean:.1f})")
        else:
            reason = (f"validation macro- and micro-F1 tied ({names}); shorter training time "
                      f"({best.seconds_mean:.0f} s vs {tied[1].seconds_mean:.0f} s)")
    if n == 1:
        reason += "; one seed: differences of a few points can be seed noise (use --seeds 3)"
    return best.method, reason


def run_compare(
    data: FileDataset,
    methods: Sequence[str],
    *,
    seeds: int | Sequence[int] = 1,
    out: str | os.PathLike | None = None,
    settings: dict[str, Any] | None = None,
    budget_minutes: float | None = None,
    runner: Callable | None = None,
    out_console: Console | None = None,
) -> Comparison:
    """Run ``methods`` on ``data`` through the bench (resumable) and choose on validation."""
    from .bench import DONE, METRICS, expand_grid, load_protocol, run_grid

    methods = parse_methods(methods)
    seed_list = list(range(42, 42 + seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise CompareError("--seeds: at least one seed")
    if budget_minutes is not None and budget_minutes <= 0:
        raise CompareError("--budget-minutes: expected a positive number of minutes")
    out = Path(out) if out is not None else Path("runs") / "compare" / data.name
    out.mkdir(parents=True, exist_ok=True)
    raw = build_protocol(data, methods, seed_list, settings)
    proto_path = out / "compare_protocol.json"
    proto_path.write_text(json.dumps(raw, indent=2))
    protocol = load_protocol(proto_path)
    specs = expand_grid(protocol)
    kwargs: dict[str, Any] = {"out_console": out_console, "show_test": False}  # test only after the choice
    if runner is not None:
        kwargs["runner"] = runner
    if budget_minutes is not None:
        kwargs["budget_seconds"] = 60.0 * budget_minutes
    counts = run_grid(protocol, out, specs, **kwargs)

    rarest: list[str] = []
    for spec in specs:
        mp = spec.folder(out) / METRICS
        if (spec.folder(out) / DONE).exists() and mp.exists():
            rarest = rarest_classes(json.loads(mp.read_text()))
            break
    choice_split = "validation_heldout"
    validation = collect(out, specs, choice_split, rarest)
    if not validation:  # the hold-out was off (settings validation_holdout 0): the whole split
        choice_split = "validation"
        validation = collect(out, specs, choice_split, rarest)
    test = collect(out, specs, "test", rarest)
    skipped = [f"{s.entry} seed{s.seed}" for s in specs if not (s.folder(out) / DONE).exists()]
    best, reason = choose(validation)
    return Comparison(out, data.name, methods, seed_list, rarest, validation, test, skipped, best, reason, counts,
                      choice_split)


def _table(title: str, comp: Comparison, results: dict[str, MethodResult], best: str | None) -> Table:
    table = Table(title=title)
    for col in ("method", "macro-F1", "micro-F1", *[f"recall {c}" for c in comp.rarest], "train s", "seeds"):
        table.add_column(col, justify="left" if col == "method" else "right")

    def fmt(v: list[float]) -> str:
        if not v:
            return "-"
        m = 100 * statistics.fmean(v)
        return f"{m:.1f} ± {100 * statistics.stdev(v):.1f}" if len(v) > 1 else f"{m:.1f}"

    for method in comp.methods:
        r = results.get(method)
        if r is None:
            table.add_row(method, "not run", "", *[""] * len(comp.rarest), "", "0")
            continue
        mark = " ←" if method == best else ""
        table.add_row(method + mark, fmt(r.macro), fmt(r.micro), *[fmt(r.rare_recall.get(c, [])) for c in comp.rarest],
                      f"{r.seconds_mean:.0f}", str(len(r.seeds)))
    return table


def print_comparison(comp: Comparison, console: Console) -> None:
    """The validation table with the recommendation, then (apart, after the choice) the test table."""
    where = "validation, held-out half" if comp.choice_split == "validation_heldout" else "validation"
    console.print(_table(f"{comp.dataset}: {where} (the choice is made here; rarest training classes: "
                         f"{', '.join(comp.rarest) or '-'})", comp, comp.validation, comp.best))
    if comp.best:
        console.print(f"[bold]recommended: {comp.best}[/bold] — {comp.reason}")
    else:
        console.print(f"[red]no recommendation[/red]: {comp.reason}")
    if comp.skipped:
        console.print(f"[yellow]not run[/yellow] (over the budget, or failed: see {comp.out}/bench.log): "
                      + ", ".join(comp.skipped))
    if comp.test:
        console.print(_table(f"{comp.dataset}: test (reported after the choice; not used for it)", comp, comp.test,
                             None))
    console.print(f"runs: {comp.out}/runs/{comp.dataset}/<method>/seed<s>/ (metrics.json, run.log); "
                  "repeat the command to resume")
