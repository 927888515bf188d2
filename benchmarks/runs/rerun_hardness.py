"""Recover a HAMR run's final hardness m per training example (which Table 4 reads) for finished HAMR runs
that have neither ``hamr_hardness.json`` nor ``hamr_examples.tsv``, by running them again from their
``run.json``.

Runs since session 16 write the label-free ``hamr_hardness.json`` (index order, m and a digest of the training
texts), which is committed with the run; this script is for the older runs, whose only hardness table was
``hamr_examples.tsv``: it stays on the machine that ran the run (the results folders' .gitignore: it carries
each training example's label) and was lost with it; the run's metrics are committed. The hardness m is only known by training,
so this runs the run again, same configuration, seed and thread count (the number of jobs the original ran
beside), in a scratch folder, and then:

- copies the new ``hamr_hardness.json`` (committed) and ``hamr_examples.tsv`` (local) into the run folder,
- writes ``hardness_rerun.json`` beside it: the re-run's test macro/micro-F1 next to the committed ones, and
  whether it reproduced them (equal to 1e-9: the same training, up to the last bit of a mean over classes;
  the bench report lists the Table 4 hard sets whose re-run did not).

Measured on 2026-12-02 (CPU grid, HAMR seed 42): re-runs reproduced their runs' test scores, to the last bit of
micro-F1 and 1e-16 of macro-F1, with the original 2 threads (MIT-Restaurant) and with 1 thread (Irma17,
SST-5, ...: ``hardness_rerun.json`` of each). Beside other jobs a 2-thread re-run is slow (its OpenMP threads
wait on each other: 934 s instead of the run's 135 s), so ``--threads 1`` is the better choice on a busy machine.

The committed metrics, done.json and everything else of the run stay as they are. Resumable: a run folder
that has its ``hamr_hardness.json`` or ``hamr_examples.tsv`` is skipped (``hamr bench report`` converts a
local tsv into the json).

    python benchmarks/runs/rerun_hardness.py benchmarks/results/cpu --seeds 42 [--datasets tweetner7,...]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def pending(results: Path, entry: str, seeds: list[int] | None, datasets: list[str] | None) -> list[Path]:
    out = []
    for done in sorted(results.glob(f"runs/*/{entry}/seed*/done.json")):
        run = done.parent
        seed = int(run.name.removeprefix("seed"))
        if (seeds and seed not in seeds) or (datasets and run.parent.parent.name not in datasets):
            continue
        if not (run / "hamr_hardness.json").exists() and not (run / "hamr_examples.tsv").exists():
            out.append(run)
    return out


def rerun(run: Path, threads: int | None) -> dict:
    payload = json.loads((run / "run.json").read_text())
    done = json.loads((run / "done.json").read_text())
    committed = json.loads((run / "metrics.json").read_text()).get("test") or {}
    jobs = int(done.get("concurrent_jobs") or 1)
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    with tempfile.TemporaryDirectory(prefix="hamr-rerun-") as tmp:
        payload["config"]["output_dir"] = str(Path(tmp) / "run")
        run_file = Path(tmp) / "run.json"
        run_file.write_text(json.dumps(payload))
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), HF_HUB_OFFLINE="1")
        start = time.time()
        with open(run / "hardness_rerun.log", "w") as log:
            code = subprocess.run([sys.executable, "-m", "hamr.bench", "_one", str(run_file)], stdout=log,
                                  stderr=subprocess.STDOUT, env=env).returncode
        if code != 0:
            raise RuntimeError(f"{run}: the re-run failed (exit {code}); see {run / 'hardness_rerun.log'}")
        new = Path(tmp) / "run"
        again = json.loads((new / "metrics.json").read_text()).get("test") or {}
        shutil.copy(new / "hamr_examples.tsv", run / "hamr_examples.tsv")
        if (new / "hamr_hardness.json").exists():
            shutil.copy(new / "hamr_hardness.json", run / "hamr_hardness.json")
    record = {
        "why": "the original run's hardness table (hamr_examples.tsv) was not committed; this one comes from a re-run",
        "threads": threads,
        "seconds": round(time.time() - start, 1),
        "committed_test": {k: committed.get(k) for k in ("macro_f1", "micro_f1")},
        "rerun_test": {k: again.get(k) for k in ("macro_f1", "micro_f1")},
        "reproduced": all(_same(committed.get(k), again.get(k)) for k in ("macro_f1", "micro_f1")),
        "code_version": _code_version(env),
    }
    (run / "hardness_rerun.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def _same(a, b, tol: float = 1e-9) -> bool:
    """Equal scores up to float summation order (a mean over classes can differ in its last bit)."""
    return a is not None and b is not None and abs(float(a) - float(b)) <= tol


def _code_version(env: dict) -> dict | None:
    """hamr.bench.code_version() of the hamr the re-run imported (the same interpreter and environment)."""
    code = "import json, hamr.bench; print(json.dumps(hamr.bench.code_version()))"
    try:
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        return json.loads(res.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path, help="a bench results folder (with runs/)")
    p.add_argument("--entry", default="hamr", help="method entry whose runs to recover (default hamr)")
    p.add_argument("--seeds", default="", help="comma-separated seeds (default: all)")
    p.add_argument("--datasets", default="", help="comma-separated datasets (default: all)")
    p.add_argument("--threads", type=int, default=None,
                   help="intra-op threads (default: cores / the original run's concurrent jobs)")
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",") if s]
    datasets = [d for d in a.datasets.split(",") if d]
    todo = pending(a.results, a.entry, seeds, datasets)
    print(f"{len(todo)} run(s) without hamr_hardness.json or hamr_examples.tsv", flush=True)
    for i, run in enumerate(todo, 1):
        r = rerun(run, a.threads)
        print(f"[{i}/{len(todo)}] {run}: {r['seconds']:.0f} s; test macro-F1 committed "
              f"{r['committed_test']['macro_f1']} re-run {r['rerun_test']['macro_f1']}"
              f" ({'reproduced' if r['reproduced'] else 'DIFFERENT'})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
