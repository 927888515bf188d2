"""Ray dispatch of benchmark grids (hamr.bench.ray): one Ray task per run, on a local 1-CPU Ray instance,
with fake runs (no model is trained). Skipped where Ray is not installed (it is an optional dependency)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from hamr import bench
from hamr.bench.ray import run_bench_on_ray, run_grid_on_ray

try:
    import ray
except ImportError:  # an optional dependency: only the missing-Ray test runs
    ray = None
else:  # the fake runners below live in this test module, which Ray workers cannot import: ship them by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def double_with_pid(x: int) -> tuple[int, int]:
    return 2 * x, os.getpid()


def fake_runner(spec, folder: Path) -> int:
    """What a bench run leaves behind, without training: metrics.json (seed 2 of 'icf' crashes)."""
    assert (folder / "run.json").exists()
    if spec.entry == "icf" and spec.seed == 2:
        (folder / "run.log").write_text("Traceback ...\nRuntimeError: boom\n")
        return 1
    macro = 0.1 * spec.seed + (0.05 if spec.entry == "icf" else 0.0)
    metrics = {
        "train_seconds": 1.0, "seconds_per_epoch": 0.5, "peak_memory_mb": 100.0, "epochs": 2,
        "train_examples": 10, "options": {}, "worker_pid": os.getpid(),
        "test": {"macro_f1": macro, "micro_f1": macro, "quartiles": {"Q1": 0.1, "Q2": 0.2, "Q3": 0.3, "Q4": 0.4}},
        "validation": {"macro_f1": macro, "micro_f1": macro},
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return 0


@pytest.fixture(scope="module")
def local_ray():
    if ray is None:
        pytest.skip("ray is not installed (pip install ray)")
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # a throwaway local instance: no token needed
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    if saved is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = saved


@pytest.fixture
def quiet(monkeypatch):
    from rich.console import Console

    from hamr.bench import common

    monkeypatch.setattr(common, "console", Console(file=open(os.devnull, "w")))


def _protocol(tmp_path: Path):
    raw = {"name": "raytest", "seeds": [1, 2], "settings": {"epochs": 2, "limit": 20},
           "datasets": ["humaid_idai19"], "methods": ["erm", "icf"]}
    path = tmp_path / "raytest.json"
    path.write_text(json.dumps(raw))
    return bench.load_protocol(path)


def test_run_grid_on_ray_runs_one_task_per_spec_in_order(local_ray):
    finished = []
    results = run_grid_on_ray([3, 4], double_with_pid, on_result=lambda i, spec, r: finished.append((i, spec)))
    assert [r[0] for r in results] == [6, 8]
    assert all(pid != os.getpid() for _, pid in results)  # ran in Ray workers, not here
    assert sorted(finished) == [(0, 3), (1, 4)]
    assert ray.is_initialized()  # an instance the caller started is left running


def test_bench_grid_on_ray_writes_what_a_local_grid_writes(local_ray, tmp_path, quiet):
    protocol = _protocol(tmp_path)
    specs = bench.expand_grid(protocol, only_methods=["erm"])  # 2 fake runs: seeds 1 and 2
    assert len(specs) == 2
    local = bench.run_grid(protocol, tmp_path / "local", specs, runner=fake_runner)
    counts = run_bench_on_ray(protocol, tmp_path / "ray", specs, runner=fake_runner)
    assert counts == local == {"total": 2, "skipped": 0, "finished": 2, "failed": 0, "restarted": 0}

    def files(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")}

    assert files(tmp_path / "ray") == files(tmp_path / "local")
    for spec in specs:
        a = json.loads((spec.folder(tmp_path / "local") / "done.json").read_text())
        b = json.loads((spec.folder(tmp_path / "ray") / "done.json").read_text())
        assert set(b) == set(a) | {"node"}  # same record, plus the node the run ran on
        assert b["concurrent_jobs"] == max(1, os.cpu_count())  # 1-CPU tasks: as many side by side as CPUs
        for key in ("protocol", "dataset", "method", "seed", "settings", "options", "code_version"):
            assert a[key] == b[key]
        run_json = json.loads((spec.folder(tmp_path / "ray") / "run.json").read_text())
        assert run_json["config"]["output_dir"] == str(spec.folder((tmp_path / "ray").resolve()))
        m = json.loads((spec.folder(tmp_path / "ray") / "metrics.json").read_text())
        assert m["worker_pid"] != os.getpid()
    summary = lambda root: sorted(  # noqa: E731
        (r["dataset"], r["method"], r["seed"], r["macro_f1"], r["run_dir"])
        for r in json.loads((root / "summary.json").read_text())
    )
    assert summary(tmp_path / "ray") == summary(tmp_path / "local")


def test_bench_grid_on_ray_skips_finished_and_reports_failures(local_ray, tmp_path, quiet):
    protocol = _protocol(tmp_path)
    specs = bench.expand_grid(protocol)  # erm and icf × seeds 1, 2; icf seed 2 fails
    out = tmp_path / "ray"
    first = run_bench_on_ray(protocol, out, specs[:2], runner=fake_runner)
    assert first["finished"] == 2
    counts = run_bench_on_ray(protocol, out, specs, runner=fake_runner)
    assert counts == {"total": 4, "skipped": 2, "finished": 1, "failed": 1, "restarted": 0}
    failed = next(s for s in specs if s.entry == "icf" and s.seed == 2)
    assert not (failed.folder(out) / "done.json").exists() and (failed.folder(out) / "run.log").exists()
    assert len(json.loads((out / "summary.json").read_text())) == 3
    again = run_bench_on_ray(protocol, out, specs, runner=fake_runner)  # the failed run is restarted
    assert again["skipped"] == 3 and again["restarted"] == 1 and again["failed"] == 1


def test_without_ray_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(ImportError, match="pip install ray"):
        run_grid_on_ray([1], double_with_pid)
    protocol = _protocol(tmp_path)
    with pytest.raises(ImportError, match="pip install ray"):
        run_bench_on_ray(protocol, tmp_path / "out", bench.expand_grid(protocol))
    assert not (tmp_path / "out").exists()  # nothing prepared for runs that cannot start
