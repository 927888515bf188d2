"""What the bench's modules share: the results folder's file names, atomic JSON writes, the progress log,
the code version a run was made with, and the small formatters of the console and the report."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import subprocess
from pathlib import Path
from typing import Any

from rich.console import Console

DONE, RUN_FILE, METRICS = "done.json", "run.json", "metrics.json"
#: Short dataset names of the tables and the console.
DATASET_LABELS = {
    "bionlp": "BioNLP",
    "mit_restaurant": "MIT-R",
    "tweetner7": "TweetNER",
    "humaid_irma17": "Irma17",
    "humaid_idai19": "Idai19",
    "sst5": "SST-5",
}

console = Console()


def code_version() -> dict[str, Any]:
    """``hamr.__version__`` and the git commit of the source tree (``+dirty`` when the package folder has
    uncommitted or untracked files)."""
    from ..version import __version__

    here = Path(__file__).resolve().parent.parent  # the hamr package folder
    git = None
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True,
                              timeout=10)
        if head.returncode == 0:
            git = head.stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "."], cwd=here,
                                   capture_output=True, text=True, timeout=10)
            if dirty.returncode == 0 and dirty.stdout.strip():
                git += "+dirty"
    except (OSError, subprocess.SubprocessError):
        pass
    return {"git": git, "hamr": __version__}


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def write_done(folder: Path, protocol_name: str, spec: Any, version: dict[str, Any], wall: float,
               concurrent_jobs: int, load_average: dict[str, Any], **extra: Any) -> None:
    """Mark a finished run: ``done.json`` (written last, atomically) with what ran, on which code, how long it
    took and how many runs could share the machine with it (read by :func:`hamr.bench.costs.measured_costs`)."""
    write_json_atomic(folder / DONE, {
        "protocol": protocol_name, "dataset": spec.dataset, "method": spec.entry,
        "base_method": spec.method, "ablation": spec.ablation, "seed": spec.seed,
        "settings": spec.settings, "options": spec.options, "code_version": version,
        "finished_at": now(), "wall_seconds": wall, "concurrent_jobs": concurrent_jobs,
        "load_average": load_average, **extra,
    })


def write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def hms(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def pct(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.1f}"


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


class Log:
    """Progress to the console (rich) and, plain, to ``<out>/bench.log``."""

    def __init__(self, out: Path, out_console: Console | None = None) -> None:
        self.path = out / "bench.log"
        self.console = out_console or console

    def __call__(self, message: str, style: str | None = None) -> None:
        self.console.print(message, style=style, highlight=False, markup=False)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(f"{_dt.datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {message}\n")
