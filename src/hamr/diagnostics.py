"""Plots of what a run learned, per epoch (issue: make HAMR's learned weights readable).

:func:`plot_run` reads a run folder written by :func:`hamr.pipeline.run` and draws, per class and epoch:
HAMR's learned weights (mean with the 10-90% range), the sampling mass of the Eq. 4 distribution, and the
validation F1. Panels whose files are missing (e.g. a non-HAMR run) are left out.
"""

from __future__ import annotations

import json
from pathlib import Path


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path | None:
    """Write ``diagnostics.png`` in ``run_dir`` (or ``out``); return its path, or None with nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    diag = _read_jsonl(run_dir / "hamr_diagnostics.jsonl")
    epochs_f1 = _read_jsonl(run_dir / "epoch_metrics.jsonl")
    panels = []
    if diag:
        panels += ["weights", "mass"]
    if epochs_f1 and any(k.startswith("f1/") for k in epochs_f1[0]):
        panels.append("f1")
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    classes = sorted({c for rec in diag for c in rec["weights_per_class"]} |
                     {k[3:] for rec in epochs_f1 for k in rec if k.startswith("f1/")})
    colours = {c: plt.cm.tab20(i % 20) for i, c in enumerate(classes)}
    for ax, panel in zip(axes[0], panels):
        if panel == "weights":
            for c in classes:
                pts = [(r["epoch"], r["weights_per_class"][c]) for r in diag if c in r["weights_per_class"]]
                if not pts:
                    continue
                xs = [e for e, _ in pts]
                # the median, not the mean, inside the 10-90% bar: a skewed class (most weights high, a few
                # near weight_min) can have its mean below its 10th percentile, and a bar cannot be negative
                mid = [s["median"] for _, s in pts]
                lo = [max(s["median"] - s["q10"], 0.0) for _, s in pts]
                hi = [max(s["q90"] - s["median"], 0.0) for _, s in pts]
                ax.errorbar(xs, mid, yerr=[lo, hi], marker="o", capsize=3, color=colours[c], label=c)
                ax.plot(xs, [s["mean"] for _, s in pts], marker="x", linestyle="none", color=colours[c])
            ax.set_title("learned weight per class (median, 10-90%; x: mean)")
            ax.set_ylabel("weight")
        elif panel == "mass":
            for c in classes:
                xs = [r["epoch"] for r in diag if c in r["sampling_mass_per_class"]]
                ys = [r["sampling_mass_per_class"][c] for r in diag if c in r["sampling_mass_per_class"]]
                if xs:
                    ax.plot(xs, ys, marker="o", color=colours[c], label=c)
            ax.set_yscale("log")
            ax.set_title("sampling mass per class (next epoch)")
        else:
            for c in classes:
                xs = [r["epoch"] for r in epochs_f1 if f"f1/{c}" in r]
                ys = [r[f"f1/{c}"] for r in epochs_f1 if f"f1/{c}" in r]
                if xs:
                    ax.plot(xs, ys, marker="o", color=colours[c], label=c)
            ax.set_ylim(-0.02, 1.02)
            ax.set_title("validation F1 per class")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    path = Path(out) if out else run_dir / "diagnostics.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
