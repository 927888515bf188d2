"""Helpers the screen-table scripts of benchmarks/runs share (``i26_strength.py``, ``i27_pr_feedback.py``)."""

from __future__ import annotations

import statistics
from pathlib import Path


def finished_runs(folder: Path, entry: str) -> dict[tuple[str, int], Path]:
    """The finished runs (with ``done.json``) of one method entry of a results folder, by (dataset, seed)."""
    out = {}
    for done in folder.glob(f"runs/*/{entry}/seed*/done.json"):
        run = done.parent
        out[(run.parts[-3], int(run.name[4:]))] = run
    return out


def mean_sd(vals: list[float]) -> str:
    """``mean ± sd`` to one decimal (the mean alone for one value, ``–`` for none)."""
    if not vals:
        return "–"
    return f"{statistics.mean(vals):.1f}" + (f" ± {statistics.stdev(vals):.1f}" if len(vals) > 1 else "")
