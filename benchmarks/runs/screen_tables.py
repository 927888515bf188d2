"""Helpers the screen-table scripts of benchmarks/runs share (``i26_strength.py``, ``i27_pr_feedback.py``,
``offsets_grid.py``, ``offsets_cv.py``)."""

from __future__ import annotations

import json
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


def is_table3_run(run: Path) -> bool:
    """Whether a run is a Table-3 row (an ablation or another variant of HAMR, e.g. ``hamr_wo_resampling``,
    ``hamr_with_knn``) rather than one of the grid's compared methods: its entry runs the ``hamr`` method under
    another name. Grid tables must not pool such runs with the methods (nor count one as HAMR's rival)."""
    spec = json.loads((run / "run.json").read_text())["spec"]
    return spec["method"] == "hamr" and spec["entry"] != "hamr"


def heldout_form(metrics: dict, form: str) -> dict | None:
    """A run's held-out validation scores under one decision-offsets form (``none``, ``macro_f1``, ...), as its
    metrics.json records them (None when the run did not fit offsets)."""
    rec = ((metrics.get("decision_offsets") or {}).get("forms") or {}).get(form) or {}
    return rec.get("validation_heldout") or None


def per_class(scores: dict) -> dict[str, dict]:
    """Per-class (NER: per-type) precision / recall / F1 / support of a score record."""
    return scores.get("per_type") or scores.get("per_class") or {}


def rarest(scores: dict, k: int = 3) -> list[str]:
    """The ``k`` classes with the fewest units in a score record (ties by name)."""
    per = per_class(scores)
    return sorted(per, key=lambda c: (per[c].get("support", 0), c))[:k]


def macro_micro(scores: dict | None) -> str:
    """``macro / micro`` in % to one decimal (``–`` for none)."""
    return "–" if scores is None else f"{100 * scores['macro_f1']:.1f} / {100 * scores['micro_f1']:.1f}"
