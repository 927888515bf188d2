"""Beyond one process: global-batch statistics under DDP, and a Ray dispatcher for grids of runs.

DDP (``torchrun --nproc_per_node N -m hamr.cli train ...``): :class:`~hamr.trainer.HAMRTrainer` keeps the
weight net, the hardness memory m and the sampler identical on every rank (indices and weights are gathered,
hypergradients all-reduced, the Eq. 4 draw is the same global draw on every rank and accelerate shards its
batches). The helpers below make the *per-batch statistics* of method.md §1 -- the z-score of the hardness
and the mean of s in the weight normalisation -- those of the global batch (all ranks together), so that the
weights of a DDP run do not depend on how the batch is split across processes. Outside an initialised
process group of more than one rank they are the plain single-process statistics.

Ray (``run_grid_on_ray``): one ``ray.remote`` task per run of a grid; see docs/scaling.md.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Sequence

import torch

logger = logging.getLogger(__name__)


def is_distributed() -> bool:
    """True inside an initialised ``torch.distributed`` process group of more than one rank."""
    return (
        torch.distributed.is_available()
        and torch.distributed.is_initialized()
        and torch.distributed.get_world_size() > 1
    )


def _all_reduce_sum(values: Sequence[torch.Tensor], device: torch.device) -> torch.Tensor:
    buf = torch.stack([v.to(device=device, dtype=torch.float64) for v in values])
    torch.distributed.all_reduce(buf, op=torch.distributed.ReduceOp.SUM)
    return buf


def global_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` (detached) over the elements of every rank's ``x`` (a collective: every rank must call
    it); ``x.mean()`` outside a process group. Ranks may hold different numbers of elements."""
    x = x.detach()
    if not is_distributed():
        return x.mean()
    buf = _all_reduce_sum([x.double().sum(), torch.tensor(float(x.numel()), dtype=torch.float64)], x.device)
    return (buf[0] / buf[1].clamp_min(1.0)).to(x.dtype if x.is_floating_point() else torch.float32)


def global_zscore(hardness: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """:func:`hamr.weighting.batch_zscore` over the global batch: z_i = (ℓ_i − mean ℓ) / max(std ℓ, eps), with
    the mean and the population std of the detached ℓ of *all* ranks (float64 sums, all-reduced). A
    collective; the plain per-batch z-score outside a process group."""
    from .weighting import batch_zscore

    if not is_distributed():
        return batch_zscore(hardness, eps)
    h = hardness.detach()
    h = h if h.is_floating_point() else h.float()
    hd = h.double()
    buf = _all_reduce_sum(
        [hd.sum(), (hd * hd).sum(), torch.tensor(float(h.numel()), dtype=torch.float64)], h.device
    )
    n = buf[2]
    if n <= 1:
        return torch.zeros_like(h)
    mean = buf[0] / n
    std = (buf[1] / n - mean * mean).clamp_min(0.0).sqrt()
    return ((hd - mean) / std.clamp_min(eps)).to(h.dtype)


# ----------------------------------------------------------------------------------------------------------
# Ray
# ----------------------------------------------------------------------------------------------------------

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
    :func:`hamr.bench.subprocess_runner` (``python -m hamr.bench _one run.json`` on the worker node). On a
    multi-node cluster ``out`` must be on a filesystem every node sees, with hamr installed on every node.
    Returns the counts of :func:`~hamr.bench.run_grid`.
    """
    import json
    from pathlib import Path

    from . import bench

    _import_ray()  # fail before touching the results folder
    runner = runner or bench.subprocess_runner
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = bench._Log(out)
    counts = {"total": len(specs), "skipped": 0, "finished": 0, "failed": 0, "restarted": 0}
    bench.check_finished_runs(specs, out)
    pending = [(i, s) for i, s in enumerate(specs, 1) if not (s.folder(out) / bench.DONE).exists()]
    counts["skipped"] = len(specs) - len(pending)
    with bench._Lock(out):
        bench._write_json_atomic(out / "protocol.json", {"path": protocol.path, "name": protocol.name,
                                                         "seeds": protocol.seeds, "protocol": protocol.raw})
        log(f"bench {protocol.name} ({protocol.path}) -> {out} on Ray: {len(specs)} runs, {counts['skipped']} "
            f"finished (skipped), {len(pending)} to run as Ray tasks ({num_cpus:g} CPU, {num_gpus:g} GPU each)")
        for i, spec in pending:
            bench.prepare_run_folder(spec, out, f"[{i}/{len(specs)}]", log, counts)
        version = bench.code_version()
        order = {id(spec): i for i, spec in pending}

        def finished(_k: int, job: tuple, result: dict[str, Any]) -> None:
            spec, folder = job[1], Path(job[2])
            i = order[id(spec)]
            metrics_path = folder / bench.METRICS
            if result["code"] != 0 or not metrics_path.exists():
                counts["failed"] += 1
                log(f"[{i}/{len(specs)}] {spec.describe()}: FAILED (exit {result['code']}) on {result['node']}; "
                    f"see {folder / 'run.log'}", style="red")
                return
            bench._write_json_atomic(folder / bench.DONE, {
                "protocol": protocol.name, "dataset": spec.dataset, "method": spec.entry,
                "base_method": spec.method, "ablation": spec.ablation, "seed": spec.seed,
                "settings": spec.settings, "options": spec.options, "code_version": version,
                "finished_at": bench._now(), "wall_seconds": result["wall"],
                # as locally, the runs that could share the machine with this one: Ray schedules up to
                # cpus / num_cpus such tasks side by side on a node (read by bench.measured_costs)
                "concurrent_jobs": _tasks_per_node(result["load_average"].get("cpus"), num_cpus),
                "load_average": result["load_average"], "node": result["node"],
            })
            counts["finished"] += 1
            bench.write_summary(out)
            test = json.loads(metrics_path.read_text()).get("test") or {}
            log(f"[{i}/{len(specs)}] {spec.describe()} on {result['node']} · macro-F1 "
                f"{bench._pct(test.get('macro_f1'))} · {bench._hms(result['wall'])}", style="green")

        jobs = [(runner, spec, str(spec.folder(out))) for _, spec in pending]
        try:
            run_grid_on_ray(jobs, _ray_run_one, address, num_cpus=num_cpus, num_gpus=num_gpus,
                            init_kwargs=init_kwargs, on_result=finished)
        except Exception as exc:  # noqa: BLE001 - a task that raised (not a failed run): counted, logged
            log(f"a Ray task raised: {exc}", style="red")
            counts["failed"] = counts["total"] - counts["skipped"] - counts["finished"]
        bench.write_summary(out)
        log(f"bench {protocol.name} on Ray: {counts['finished']} finished, {counts['failed']} failed, "
            f"{counts['skipped']} skipped, {counts['restarted']} restarted; summary {out / 'summary.json'}")
    return counts
