"""``summary.json``: one record per finished run of a results folder (or of every results folder beneath one)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .common import DONE, METRICS, write_json_atomic


def _quartiles(m: dict | None) -> dict[str, Any] | None:
    q = (m or {}).get("quartiles")
    return None if not q else {k: q.get(k) for k in ("Q1", "Q2", "Q3", "Q4")}


def collect_records(out: str | os.PathLike) -> list[dict[str, Any]]:
    """One record per finished run (a folder with ``done.json`` and ``metrics.json``) under ``<out>/runs``."""
    records = []
    for done in sorted(Path(out).glob(f"runs/*/*/seed*/{DONE}")):
        metrics_path = done.parent / METRICS
        if not metrics_path.exists():
            continue
        d = json.loads(done.read_text())
        m = json.loads(metrics_path.read_text())
        test, val = m.get("test") or {}, m.get("validation") or {}
        records.append({
            "dataset": d["dataset"],
            "method": d["method"],
            "base_method": d.get("base_method", m.get("method")),
            "ablation": d.get("ablation"),
            "seed": d["seed"],
            "protocol": d.get("protocol"),
            "macro_f1": test.get("macro_f1"),
            "micro_f1": test.get("micro_f1"),
            "val_macro_f1": val.get("macro_f1"),
            "val_micro_f1": val.get("micro_f1"),
            "train_seconds": m.get("train_seconds"),
            "seconds_per_epoch": m.get("seconds_per_epoch"),
            "peak_memory_mb": m.get("peak_memory_mb"),
            "wall_seconds": d.get("wall_seconds"),
            "quartiles": _quartiles(test),
            "epochs": m.get("epochs"),
            "train_examples": m.get("train_examples"),
            "code_version": d.get("code_version"),
            "finished_at": d.get("finished_at"),
            "load_average": d.get("load_average"),
            "run_dir": str(done.parent.relative_to(out)),
        })
    return records


def write_summary(out: str | os.PathLike) -> Path:
    """Rebuild ``<out>/summary.json`` from the runs folder."""
    path = Path(out) / "summary.json"
    write_json_atomic(path, collect_records(out))
    return path


def write_combined_summary(root: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Gather every bench results folder under ``root`` (a folder with ``runs/`` and a protocol) into one
    ``summary.json`` (default ``<root>/summary.json``): a record per finished run, rebuilt from the run
    folders, each with its ``protocol`` and ``results_dir`` (relative to ``root``). Raises
    :class:`FileNotFoundError` when ``root`` holds no results folder."""
    root = Path(root)
    folders = sorted(p.parent for p in root.glob("**/runs") if p.is_dir() and (p.parent / "protocol.json").exists())
    if not folders:
        raise FileNotFoundError(f"{root}: no bench results folder (one with runs/ and protocol.json) beneath it")
    records = []
    for folder in folders:
        rel = str(folder.relative_to(root))
        records += [{**r, "results_dir": rel} for r in collect_records(folder)]
    path = Path(out) if out is not None else root / "summary.json"
    write_json_atomic(path, records)
    return path
