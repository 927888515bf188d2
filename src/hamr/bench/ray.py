"""Runs of a grid as Ray tasks (``hamr bench run --ray ADDRESS``): one ``ray.remote`` task per run, the results
folder written exactly as a local bench writes it; see docs/scaling.md."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .common import DONE, METRICS, Log, code_version, hms, pct, write_done, write_json_atomic
from .grid import BenchLock, check_finished_runs, prepare_run_folder, subprocess_runner
from .summary import write_summary

logger = logging.getLogger(__name__)


RAY_MISSING = (
    "Ray is not installed: `pip install ray` (tested with ray 2.60.0) on the driver and on every node of the "
    "cluster, then pass address='auto' (a running cluster, `ray start --head` / `ray start --address=...`) "
    "or leave it None for a local instance"
)


def _import_ray():
    try:
        import ray  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(RAY_MISSING) from exc
    return ray


def run_grid_on_ray(
    run_specs: Iterable[Any],
    runner: Callable[[Any], Any],
    address: str | None = None,
    *,
    num_cpus: float = 1,
    num_gpus: float = 0,
    init_kwargs: dict[str, Any] | None = None,
    on_result: Callable[[int, Any, Any], None] | None = None,
) -> list[Any]:
    """Run ``runner(spec)`` for every spec as one ``ray.remote`` task each; return the results in spec order.

    ``runner`` must be picklable (a module-level function, e.g. :func:`bench_ray_runner`); it runs on a Ray
    worker, so whatever files it writes land on *that* node's filesystem: use a shared results folder (NFS
    etc.) on a multi-node cluster. ``address``: None starts (or reuses) a local Ray instance, ``"auto"`` or
    ``"ray://host:10001"`` joins a cluster; ``init_kwargs`` go to ``ray.init`` when this call starts Ray.
    Each task reserves ``num_cpus`` CPUs and ``num_gpus`` GPUs, which is how Ray packs runs onto nodes.
    ``on_result(i, spec, result)`` is called on the driver as each task finishes (in completion order). A task
    that raises re-raises here (``ray.exceptions.RayTaskError``) once every task has finished, so finished
    runs are never lost to one failure.
    """
    ray = _import_ray()
    specs = list(run_specs)
    started = False
    if not ray.is_initialized():
        kwargs = {"include_dashboard": False, "log_to_driver": False}
        kwargs.update(init_kwargs or {})
        ray.init(address=address, **kwargs)
        started = True
    try:
        remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=0)(runner)
        refs = [remote.remote(spec) for spec in specs]
        position = {ref.hex(): i for i, ref in enumerate(refs)}
        results: list[Any] = [None] * len(refs)
        errors: list[tuple[int, BaseException]] = []
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            i = position[done[0].hex()]
            try:
                results[i] = ray.get(done[0])
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the other runs finished
                errors.append((i, exc))
                logger.error("ray: run %d (%s) failed: %s", i, specs[i], exc)
                continue
            if on_result is not None:
                on_result(i, specs[i], results[i])
        if errors:
            raise errors[0][1]
        return results
    finally:
        if started:
            ray.shutdown()


def _ray_run_one(job: tuple[Callable[[Any, Any], int], Any, str]) -> dict[str, Any]:
    """The Ray task of :func:`run_bench_on_ray`: ``runner(spec, folder)`` on a worker node, timed there."""
    import os
    import socket
    import time
    from pathlib import Path

    runner, spec, folder = job
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    code = runner(spec, Path(folder))
    return {
        "code": int(code),
        "wall": time.perf_counter() - t0,
        "load_average": {"start": load_before, "end": os.getloadavg()[0], "cpus": os.cpu_count()},
        "node": socket.gethostname(),
    }


def _tasks_per_node(cpus: int | None, num_cpus: float) -> int:
    """How many tasks of ``num_cpus`` CPUs Ray runs side by side on a node of ``cpus`` CPUs (at least 1)."""
    if not cpus or num_cpus <= 0:
        return 1
    return max(1, int(cpus // num_cpus))


def run_bench_on_ray(
    protocol: Any,
    out: str | Any,
    specs: Sequence[Any],
    address: str | None = None,
    *,
    runner: Callable[[Any, Any], int] | None = None,
    num_cpus: float = 1,
    num_gpus: float = 0,
    init_kwargs: dict[str, Any] | None = None,
) -> dict[str, int]:
    """:func:`hamr.bench.run_grid` with the runs dispatched as concurrent Ray tasks (one per run).

    The results folder is the one a local ``hamr bench run`` writes, file for file: every run's folder gets
    ``run.json`` before it starts and, once it finished with ``metrics.json``, ``done.json`` (with the node it
    ran on added); ``summary.json`` is rebuilt after every finished run; finished runs are skipped and
    unfinished ones restarted, as locally. ``runner(spec, folder) -> exit code`` defaults to
    :func:`hamr.bench.grid.subprocess_runner` (``python -m hamr.bench _one run.json`` on the worker node). On a
    multi-node cluster ``out`` must be on a filesystem every node sees, with hamr installed on every node.
    Returns the counts of :func:`~hamr.bench.run_grid`.
    """
    _import_ray()  # fail before touching the results folder
    runner = runner or subprocess_runner
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = Log(out)
    counts = {"total": len(specs), "skipped": 0, "finished": 0, "failed": 0, "restarted": 0}
    check_finished_runs(specs, out)
    pending = [(i, s) for i, s in enumerate(specs, 1) if not (s.folder(out) / DONE).exists()]
    counts["skipped"] = len(specs) - len(pending)
    with BenchLock(out):
        write_json_atomic(out / "protocol.json", {"path": protocol.path, "name": protocol.name,
                                                         "seeds": protocol.seeds, "protocol": protocol.raw})
        log(f"bench {protocol.name} ({protocol.path}) -> {out} on Ray: {len(specs)} runs, {counts['skipped']} "
            f"finished (skipped), {len(pending)} to run as Ray tasks ({num_cpus:g} CPU, {num_gpus:g} GPU each)")
        for i, spec in pending:
            prepare_run_folder(spec, out, f"[{i}/{len(specs)}]", log, counts)
        version = code_version()
        order = {id(spec): i for i, spec in pending}

        def finished(_k: int, job: tuple, result: dict[str, Any]) -> None:
            spec, folder = job[1], Path(job[2])
            i = order[id(spec)]
            metrics_path = folder / METRICS
            if result["code"] != 0 or not metrics_path.exists():
                counts["failed"] += 1
                log(f"[{i}/{len(specs)}] {spec.describe()}: FAILED (exit {result['code']}) on {result['node']}; "
                    f"see {folder / 'run.log'}", style="red")
                return
            # as locally, the runs that could share the machine with this one: Ray schedules up to
            # cpus / num_cpus such tasks side by side on a node (read by hamr.bench.costs.measured_costs)
            write_done(folder, protocol.name, spec, version, result["wall"],
                       _tasks_per_node(result["load_average"].get("cpus"), num_cpus), result["load_average"],
                       node=result["node"])
            counts["finished"] += 1
            write_summary(out)
            test = json.loads(metrics_path.read_text()).get("test") or {}
            log(f"[{i}/{len(specs)}] {spec.describe()} on {result['node']} · macro-F1 "
                f"{pct(test.get('macro_f1'))} · {hms(result['wall'])}", style="green")

        jobs = [(runner, spec, str(spec.folder(out))) for _, spec in pending]
        try:
            run_grid_on_ray(jobs, _ray_run_one, address, num_cpus=num_cpus, num_gpus=num_gpus,
                            init_kwargs=init_kwargs, on_result=finished)
        except Exception as exc:  # noqa: BLE001 - a task that raised (not a failed run): counted, logged
            log(f"a Ray task raised: {exc}", style="red")
            counts["failed"] = counts["total"] - counts["skipped"] - counts["finished"]
        write_summary(out)
        log(f"bench {protocol.name} on Ray: {counts['finished']} finished, {counts['failed']} failed, "
            f"{counts['skipped']} skipped, {counts['restarted']} restarted; summary {out / 'summary.json'}")
    return counts
