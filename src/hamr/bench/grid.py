"""Running a protocol's grid locally (``hamr bench run``): one subprocess per run, resumable, several benches per
results folder (per-run claims), staleness checks of finished runs; and the one run a subprocess executes."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from rich.console import Console

from ..config import RunConfig
from ..errors import SettingError
from .common import DONE, METRICS, RUN_FILE, Log, code_version, hms, pct, write_done, write_json_atomic
from .costs import estimate_seconds, measured_costs
from .protocol import Protocol, ProtocolError, RunSpec
from .summary import write_summary

Runner = Callable[[RunSpec, Path], int]
_LIVE: set[subprocess.Popen] = set()  # the run processes of this bench, terminated when it is interrupted


def _terminate_live_runs() -> None:
    for proc in list(_LIVE):
        if proc.poll() is None:
            proc.terminate()


def subprocess_runner(spec: RunSpec, folder: Path, threads: int | None = None) -> int:
    """Run ``folder/run.json`` in a fresh Python process (``python -m hamr.bench _one``), output to run.log.

    ``threads``: the run's intra-op threads (``OMP_NUM_THREADS``, read by torch at start); None keeps the
    environment's (torch's default: every core)."""
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("TQDM_DISABLE", "1")
    env.setdefault("HAMR_LOG_LEVEL", "INFO")
    if threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(int(threads))
    with open(folder / "run.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "hamr.bench", "_one", str(folder / RUN_FILE)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        _LIVE.add(proc)
        try:
            return proc.wait()
        finally:
            _LIVE.discard(proc)
            if proc.poll() is None:  # interrupted: do not leave the child training
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _live_holder(path: Path) -> int | None:
    """The pid written in ``path`` when it is another live process (not this one), else None."""
    try:
        pid = int(path.read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid and pid != os.getpid() and _alive(pid) else None


class BenchLock:
    """``<out>/bench.lock`` holding the pid, taken by the Ray scheduler: two benches on one results folder would
    restart each other's runs (local benches share a folder through :class:`_Claims` instead)."""

    def __init__(self, out: Path) -> None:
        self.path = out / "bench.lock"

    def __enter__(self) -> "BenchLock":
        pid = _live_holder(self.path)
        if pid is not None:
            raise RuntimeError(f"{self.path}: a bench (pid {pid}) is already running on this folder")
        self.path.write_text(str(os.getpid()))
        return self

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


class _Claims:
    """Per-run claims, so several local benches can share one results folder (each skips the runs another
    live bench is running): ``<out>/claims/<dataset>__<entry>__seed<seed>.pid`` created exclusively, holding
    the claiming bench's pid; a claim whose process is gone is stale and taken over. Liveness is checked by
    pid, so the benches sharing a folder must run on one machine (a cluster: ``--ray``)."""

    def __init__(self, out: Path) -> None:
        self.dir = out / "claims"

    def _path(self, spec: "RunSpec") -> Path:
        return self.dir / f"{spec.dataset}__{spec.entry}__seed{spec.seed}.pid"

    def holder(self, spec: "RunSpec") -> int | None:
        """The pid of another live bench holding ``spec``, else None."""
        return _live_holder(self._path(spec))

    def take(self, spec: "RunSpec") -> bool:
        """Claim ``spec`` for this process; False when another live bench holds it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self._path(spec)
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if self.holder(spec) is not None:
                    return False
                try:
                    if int(path.read_text().strip() or 0) == os.getpid():
                        return True
                except (FileNotFoundError, ValueError):
                    pass
                path.unlink(missing_ok=True)  # stale: its bench is gone
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            return True
        return False

    def release(self, spec: "RunSpec") -> None:
        self._path(spec).unlink(missing_ok=True)


def _refuse_if_ray_bench(out: Path) -> None:
    """A Ray bench holds ``bench.lock`` on its folder; a local bench must not restart its runs."""
    lock = out / "bench.lock"
    pid = _live_holder(lock)
    if pid is not None:
        raise RuntimeError(f"{lock}: a Ray bench (pid {pid}) is already running on this folder")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sigterm_to_exit(signum, frame):  # pragma: no cover - signal handler
    raise SystemExit(128 + signum)


def prepare_run_folder(spec, out: Path, tag: str, log, counts: dict[str, int]) -> Path:
    """A fresh folder for one run: an unfinished one (no done marker) is wiped and counted as restarted;
    the run's ``run.json`` is written into it. Shared by the local and the Ray scheduler."""
    folder = spec.folder(out)
    if folder.exists():
        log(f"{tag} {spec.describe()}: unfinished run found (no {DONE}); restarting it from scratch", style="yellow")
        shutil.rmtree(folder)
        counts["restarted"] += 1
    folder.mkdir(parents=True)
    write_json_atomic(folder / RUN_FILE, {
        "spec": dataclasses.asdict(spec),
        "config": spec.run_config_kwargs(folder),
        "max_train_examples": spec.settings.get("max_train_examples"),
    })
    return folder


def check_finished_runs(specs: Sequence[RunSpec], out: str | os.PathLike) -> None:
    """Refuse to go on when a finished run in ``out`` was made with other settings or options than its spec
    (the protocol was edited after it ran), or when a library default its method reads has changed since
    (``method_settings`` in its metrics.json): it would be skipped, and the report would mix two protocols.
    Raises :class:`ProtocolError` naming the ``done.json`` files and what differs."""
    stale = []
    current: dict[str, dict[str, str]] = {}
    for spec in specs:
        path = spec.folder(Path(out)) / DONE
        if not path.exists():
            continue
        try:
            done = json.loads(path.read_text())
        except ValueError as exc:
            raise ProtocolError(f"{path}: not valid JSON ({exc}); delete the run folder to re-run it") from exc
        metrics = _read_metrics(path.parent / METRICS)
        recorded = dict(done.get("settings", {}))
        if "validation_holdout" not in recorded:  # a run from before the setting was a protocol setting
            # its hold-out from metrics.json: without a validation_holdout block it held nothing out (pre-issue 22)
            recorded["validation_holdout"] = float((metrics.get("validation_holdout") or {}).get("fraction", 0.0))
        if "decision_offsets" not in recorded:  # a run from before session 24: none, unless its metrics say so
            recorded["decision_offsets"] = (metrics.get("decision_offsets") or {}).get("form", "none")
        diff = [f"{k} {recorded.get(k)!r} -> {v!r}" for k, v in spec.settings.items() if recorded.get(k) != v]
        if done.get("options", {}) != spec.options:
            diff.append(f"options {done.get('options')!r} -> {spec.options!r}")
        else:  # same protocol entry: did the library's defaults for this method change since the run?
            diff += _changed_defaults(spec, metrics, current)
        if diff:
            stale.append(f"{path}: {'; '.join(diff)}")
    if stale:
        more = f" (and {len(stale) - 5} more)" if len(stale) > 5 else ""
        raise ProtocolError(
            f"{len(stale)} finished run(s) in {out} were made with other settings than the protocol (or the "
            "library's defaults) now give; delete those run folders to re-run them, or use another --out:\n  " + "\n  ".join(stale[:5]) + more)


def _read_metrics(path: Path) -> dict:
    """A finished run's metrics.json, or {} when it is missing or unreadable (the run is then not compared on
    what only its metrics record)."""
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


def _changed_defaults(spec: RunSpec, metrics: dict, cache: dict[str, dict[str, str]]) -> list[str]:
    """The settings of ``spec``'s method that the finished run recorded (``method_settings`` in its
    metrics.json) with another value than this code version gives it: a changed library default. HAMR's
    task-dependent defaults are compared through ``resolved_method_settings`` (the values it ran with on its
    dataset's task), for runs that recorded them. Fields the run did not record (added since) are not
    compared; a run without metrics.json is not checked."""
    recorded = metrics.get("method_settings")
    if not isinstance(recorded, dict):
        return []
    from ..methods.settings import (current_method_settings, current_resolved_settings, recorded_resolved_settings,
                                    relevant_method_settings)

    key = json.dumps([spec.method, spec.options], sort_keys=True, default=str)
    if key not in cache:
        cache[key] = current_method_settings(spec.method, spec.options)
    old = relevant_method_settings(spec.method, recorded)
    diff = [f"default {k} {old[k]!r} -> {v!r}" for k, v in cache[key].items() if k in old and old[k] != v]
    resolved, task = metrics.get("resolved_method_settings"), metrics.get("task")
    if isinstance(resolved, dict) and resolved and task:  # task-dependent defaults (runs since session 13)
        resolved = recorded_resolved_settings(spec.method, resolved, recorded)  # + what it ran with unrecorded
        rkey = json.dumps([spec.method, spec.options, task], sort_keys=True, default=str)
        if rkey not in cache:
            cache[rkey] = current_resolved_settings(spec.method, spec.options, task)
        diff += [f"{task} default {k} {resolved[k]!r} -> {v!r}" for k, v in cache[rkey].items()
                 if k in resolved and resolved[k] != v]
    return diff


def run_grid(
    protocol: Protocol,
    out: str | os.PathLike,
    specs: Sequence[RunSpec],
    runner: Runner = subprocess_runner,
    out_console: Console | None = None,
    jobs: int = 1,
    threads: int | None = None,
    budget_seconds: float | None = None,
    show_test: bool = True,
) -> dict[str, int]:
    """Run every spec that has no ``done.json`` yet, ``jobs`` at a time, saving each as soon as it finishes.

    Returns counts ``{"total", "skipped", "finished", "failed", "restarted"}``. ``runner(spec, folder)``
    runs one run and returns its exit code (0 = success, with ``folder/metrics.json`` written); tests inject
    a fake one. A failed run keeps its folder without ``done.json`` (and its run.log) and the grid goes on.
    ``jobs`` > 1 runs that many runs side by side, each in its own process with ``threads`` intra-op threads
    (default: the cores divided by ``jobs``): on a small machine two one-thread runs finish a grid sooner
    than one two-thread run after another, at the price of per-run timings that share the machine (the
    report flags them by the load average recorded in ``done.json``).

    ``budget_seconds`` (one run at a time): before each run, its cost is estimated (:func:`estimate_seconds`
    with the runs measured so far); once the machine seconds spent plus that estimate exceed the budget, no
    further run is started (counted in ``counts["over_budget"]`` and logged by name). ``show_test=False``
    keeps test scores out of the progress lines (``hamr compare`` shows them only after its choice).
    """
    if jobs < 1:
        raise SettingError(f"jobs must be >= 1, got {jobs}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = Log(out, out_console)
    if runner is subprocess_runner and (jobs > 1 or threads is not None):
        runner = functools.partial(subprocess_runner, threads=threads or max(1, (os.cpu_count() or 1) // jobs))
    counts = {"total": len(specs), "skipped": 0, "finished": 0, "failed": 0, "restarted": 0}
    if budget_seconds is not None:
        if jobs != 1:
            raise SettingError("a time budget needs jobs=1 (runs one after another)")
        counts["over_budget"] = 0
    check_finished_runs(specs, out)
    pending = [(i, s) for i, s in enumerate(specs, 1) if not (s.folder(out) / DONE).exists()]
    counts["skipped"] = len(specs) - len(pending)
    guard = threading.Lock()  # counts, the log and summary.json are shared by the worker threads
    stopping = threading.Event()
    claims = _Claims(out)
    _refuse_if_ray_bench(out)
    write_json_atomic(out / "protocol.json", {"path": protocol.path, "name": protocol.name,
                                               "seeds": protocol.seeds, "protocol": protocol.raw})
    measured = measured_costs(out)
    est = [estimate_seconds(s, measured) for _, s in pending]
    known = [v for v in est if v is not None]
    log(f"bench {protocol.name} ({protocol.path}) -> {out}: {len(specs)} runs, {counts['skipped']} finished "
        f"(skipped), {len(pending)} to run" + (f", {jobs} at a time" if jobs > 1 else "")
        + (f", estimated {hms(sum(known))}" if known else ""))  # machine seconds: the jobs share the machine
    progress = {"spent": 0.0, "spent_est": 0.0, "started": 0, "over_budget": False, "used": 0.0}

    def one(k: int, i: int, spec: RunSpec) -> None:
        if stopping.is_set():
            return
        tag = f"[{i}/{len(specs)}]"
        with guard:
            if (spec.folder(out) / DONE).exists():  # finished by another bench on this folder meanwhile
                counts["skipped"] += 1
                return
            if budget_seconds is not None:
                cost = estimate_seconds(spec, measured_costs(out))
                if not progress["over_budget"] and cost is not None and progress["used"] + cost > budget_seconds:
                    progress["over_budget"] = True
                if progress["over_budget"]:
                    counts["over_budget"] += 1
                    log(f"{tag} {spec.describe()}: not started, over the budget ({hms(progress['used'])} spent, "
                        f"estimated {hms(cost)}, budget {hms(budget_seconds)})", style="yellow")
                    return
            if not claims.take(spec):
                log(f"{tag} {spec.describe()}: running in another bench (pid {claims.holder(spec)}); skipped",
                    style="dim")
                counts["skipped"] += 1
                return
            folder = prepare_run_folder(spec, out, tag, log, counts)
            log(f"{tag} {spec.describe()}: started" + (f" (estimated {hms(est[k] * jobs)})" if est[k] else ""),
                style="dim")
            progress["started"] += 1
        version = code_version()
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        try:
            code = runner(spec, folder)
        finally:
            claims.release(spec)
        wall = time.perf_counter() - t0
        with guard:
            progress["used"] += wall
            if stopping.is_set():
                log(f"{tag} {spec.describe()}: interrupted; it restarts from scratch next time", style="yellow")
                return
            metrics_path = folder / METRICS
            if code != 0 or not metrics_path.exists():
                counts["failed"] += 1
                tail = ""
                if (folder / "run.log").exists():
                    lines = (folder / "run.log").read_text(errors="replace").strip().splitlines()
                    tail = " | ".join(lines[-3:])
                log(f"{tag} {spec.describe()}: FAILED (exit {code}) after {hms(wall)}; "
                    f"see {folder / 'run.log'}: {tail}", style="red")
                return
            write_done(folder, protocol.name, spec, version, wall, jobs,
                       {"start": load_before, "end": os.getloadavg()[0], "cpus": os.cpu_count()})
            counts["finished"] += 1
            write_summary(out)
            m = json.loads(metrics_path.read_text())
            test = m.get("test") or {}
            progress["spent"] += wall
            progress["spent_est"] += est[k] or 0.0
            rest = est[progress["started"]:]
            eta = None
            if rest and all(r is not None for r in rest) and progress["spent_est"] > 0:
                # the estimates, rescaled by how they have fared so far
                eta = sum(rest) * progress["spent"] / progress["spent_est"] / jobs
            elif rest:
                eta = progress["spent"] / counts["finished"] * len(rest) / jobs
            val = m.get("validation") or {}
            test_part = f" · test {pct(test.get('macro_f1'))} / {pct(test.get('micro_f1'))}" if show_test else ""
            held = m.get("validation_heldout")
            # with the hold-out (issue 22) the line shows the half HAMR's meta set never saw, and no test figure
            scores = (f"validation held-out half macro/micro-F1 {pct(held.get('macro_f1'))} / "
                      f"{pct(held.get('micro_f1'))}" if held else
                      f"validation macro/micro-F1 {pct(val.get('macro_f1'))} / {pct(val.get('micro_f1'))}{test_part}")
            log(f"{tag} {spec.describe()} · {scores} · "
                f"{m.get('seconds_per_epoch', float('nan')):.0f} s/epoch · "
                f"{hms(wall)} · ETA {hms(eta) if rest else 'done'}", style="green")

    try:
        if jobs == 1:
            for k, (i, spec) in enumerate(pending):
                one(k, i, spec)
        else:
            with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(one, k, i, spec) for k, (i, spec) in enumerate(pending)]
                try:
                    for future in concurrent.futures.as_completed(futures):
                        future.result()
                except BaseException:
                    stopping.set()
                    for future in futures:
                        future.cancel()
                    _terminate_live_runs()
                    raise
    except BaseException:
        stopping.set()
        log("bench interrupted: unfinished runs restart from scratch next time", style="yellow")
        raise
    write_summary(out)
    log(f"bench {protocol.name}: {counts['finished']} finished, {counts['failed']} failed, "
        f"{counts['skipped']} skipped, {counts['restarted']} restarted; summary {out / 'summary.json'}")
    return counts


def run_one(run_file: str | os.PathLike) -> dict[str, Any]:
    """Run the RunConfig of a ``run.json`` written by :func:`run_grid` (in this process)."""
    from ..pipeline import run

    payload = json.loads(Path(run_file).read_text())
    config = RunConfig(**payload["config"])
    result = run(config)
    test = result.get("test") or {}
    held = result.get("validation_heldout")
    score = (f"held-out validation macro-F1 {pct(held.get('macro_f1'))}" if held
             else f"macro-F1 {pct(test.get('macro_f1'))}")
    print(f"done: {config.dataset} {config.method} seed {config.seed} · {score} · "
          f"{result.get('train_seconds', 0):.0f} s", flush=True)
    return result
