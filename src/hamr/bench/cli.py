"""``hamr bench``: run a protocol, summarise results folders, write the report; and ``python -m hamr.bench _one``,
the one run a grid's subprocess executes."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Optional, Sequence

import typer
from rich.table import Table

from ..errors import InputError, print_error
from .common import DONE, console, hms
from .costs import estimate_seconds, measured_costs
from .grid import check_finished_runs, run_grid, run_one, sigterm_to_exit
from .protocol import Protocol, ProtocolError, RunSpec, expand_grid, load_protocol
from .report import write_report
from .summary import write_combined_summary

bench_app = typer.Typer(no_args_is_help=True, help="Run a benchmark protocol and report on it.")


def _split_list(values: Optional[list[str]]) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def _parse_seeds(values: Optional[list[str]]) -> list[int] | None:
    """``--seeds 42,43`` (or repeated) -> [42, 43]; None when not given."""
    seeds = _split_list(values)
    bad = [s for s in seeds if not s.lstrip("-").isdigit()]
    if bad:
        raise InputError(f"--seeds: expected whole numbers, got {', '.join(map(repr, bad))}")
    return [int(s) for s in seeds] or None


@bench_app.command("run")
def bench_run(
    config: Path = typer.Argument(..., help="A protocol file (JSON: name, seeds, settings, datasets, methods, options)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Results folder (default: benchmarks/results/<protocol name>, under the current folder)."),
    only_datasets: Optional[list[str]] = typer.Option(None, "--only-datasets", help="Datasets to run (comma-separated or repeated)."),
    only_methods: Optional[list[str]] = typer.Option(None, "--only-methods", help="Method entries to run (comma-separated or repeated)."),
    seeds: Optional[list[str]] = typer.Option(None, "--seeds", help="Seeds to run instead of the protocol's."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the grid, what is done and the estimated time; run nothing."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Runs side by side (each its own process)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Intra-op threads per run (default: cores / jobs when --jobs > 1, else torch's default)."),
    ray_address: Optional[str] = typer.Option(None, "--ray", help="Dispatch every run as a Ray task on this cluster ('auto', 'ray://HEAD:10001', 'local'); needs `pip install hamr[ray]`."),
    ray_cpus: float = typer.Option(1.0, "--ray-cpus", help="CPUs reserved per Ray task (with --ray)."),
    ray_gpus: float = typer.Option(0.0, "--ray-gpus", help="GPUs reserved per Ray task (with --ray)."),
) -> None:
    """Run every (dataset, method entry, seed) of a protocol, each in its own process; finished runs are skipped."""
    try:
        protocol = load_protocol(config)
        seed_list = _parse_seeds(seeds)
        specs = expand_grid(protocol, _split_list(only_datasets) or None, _split_list(only_methods) or None, seed_list)
    except InputError as exc:
        print_error(console, exc)
        raise typer.Exit(2)
    out = out or Path("benchmarks") / "results" / protocol.name
    if dry_run:
        try:
            check_finished_runs(specs, out)  # a real run checks in run_grid / run_bench_on_ray
        except ProtocolError as exc:
            print_error(console, exc)
            raise typer.Exit(2)
        _print_plan(protocol, specs, out)
        return
    signal.signal(signal.SIGTERM, sigterm_to_exit)  # `kill PID` stops the current run's process too
    try:
        if ray_address is not None:
            from .ray import run_bench_on_ray

            counts = run_bench_on_ray(protocol, out, specs, None if ray_address == "local" else ray_address,
                                      num_cpus=ray_cpus, num_gpus=ray_gpus)
        else:
            counts = run_grid(protocol, out, specs, jobs=jobs, threads=threads)
    except ProtocolError as exc:  # finished runs made with other settings (check_finished_runs)
        print_error(console, exc)
        raise typer.Exit(2)
    except (RuntimeError, ImportError) as exc:
        print_error(console, exc)
        raise typer.Exit(1)
    if counts["failed"]:
        raise typer.Exit(1)


def _print_plan(protocol: Protocol, specs: list[RunSpec], out: Path) -> None:
    table = Table(title=f"{protocol.name}: {len(specs)} runs -> {out}")
    for col in ("dataset", "settings", "entries × seeds", "done", "unfinished", "est. per seed", "est. to run"):
        table.add_column(col, justify="left" if col in ("dataset", "settings") else "right")
    total_all, total_todo, unknown = 0.0, 0.0, False
    measured = measured_costs(out)
    for d in dict.fromkeys(s.dataset for s in specs):
        ds = [s for s in specs if s.dataset == d]
        done = sum((s.folder(out) / DONE).exists() for s in ds)
        unfinished = sum(s.folder(out).exists() and not (s.folder(out) / DONE).exists() for s in ds)
        est = [estimate_seconds(s, measured) for s in ds]
        todo = [e for s, e in zip(ds, est) if not (s.folder(out) / DONE).exists()]
        unknown |= any(e is None for e in est)
        n_seeds = len({s.seed for s in ds})
        all_known = sum(e for e in est if e is not None)
        total_all += all_known
        total_todo += sum(e for e in todo if e is not None)
        s0 = ds[0].settings
        brief = f"len {s0['max_length']}, {s0['epochs']:g} ep, bs {s0['batch_size']}" + (
            f", train ≤ {s0['max_train_examples']}" if s0.get("max_train_examples") else "") + (
            f", limit {s0['limit']}" if s0.get("limit") else "")
        table.add_row(d, brief, f"{len({s.entry for s in ds})} × {n_seeds}", str(done), str(unfinished),
                      hms(all_known / max(n_seeds, 1)), hms(sum(e for e in todo if e is not None)))
    console.print(table)
    if unknown and not total_all:
        console.print("no time estimate: the cost model knows MiniLM on the six benchmarks only")
        return
    note = " (some runs have no estimate: the cost model knows MiniLM on the six benchmarks only)" if unknown else ""
    console.print(f"estimated machine time (this 2-core CPU): {hms(total_all)} for the whole selection, "
                  f"{hms(total_todo)} still to run{note}")


@bench_app.command("summary")
def bench_summary(
    root: Path = typer.Argument(Path("benchmarks/results"), help="A folder holding bench results folders."),
) -> None:
    """Write <root>/summary.json: one record per finished run of every results folder beneath root (the CPU
    grid, the screens, ...), with its protocol and results folder."""
    try:
        path = write_combined_summary(root)
    except FileNotFoundError as exc:
        print_error(console, exc)
        raise typer.Exit(2)
    n = len(json.loads(path.read_text()))
    console.print(f"[green]wrote[/green] {path} ({n} runs)")


@bench_app.command("report")
def bench_report(
    results_dir: Path = typer.Argument(Path("benchmarks/results/cpu"), help="A results folder of `hamr bench run`."),
    no_consistency: bool = typer.Option(False, "--no-consistency", help="Skip Table 4 (it embeds the training texts)."),
    html: bool = typer.Option(True, "--html/--no-html", help="Also write report.html (report.md as a page, with a "
                              "Pareto figure of macro-F1 against training time)."),
) -> None:
    """Write <results_dir>/report.md (Tables 2-4, Figure 2 as quartiles.png, overhead), summary.json and
    report.html."""
    try:
        path = write_report(results_dir, consistency=not no_consistency)
    except FileNotFoundError as exc:
        print_error(console, exc)
        raise typer.Exit(2)
    console.print(f"[green]wrote[/green] {path}")
    if html:
        from ..report import write_bench_html

        console.print(f"[green]wrote[/green] {write_bench_html(results_dir)}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hamr.bench _one RUN_JSON``: one run, in this process (what the grid's subprocesses do)."""
    import logging

    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2 or argv[0] != "_one":
        print("usage: python -m hamr.bench _one RUN_JSON   (use `hamr bench run` for a protocol)", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=os.environ.get("HAMR_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_one(argv[1])
    return 0
