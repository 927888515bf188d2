"""What ``hamr train`` does after a run: write its HTML report.

A failure to render is logged and printed, never fatal: the run's results are already saved."""

from __future__ import annotations

import logging
from pathlib import Path

from .run_report import RunReportOptions, write_run_report

logger = logging.getLogger(__name__)


def report_after_train(config, output_dir: str | Path, console=None) -> Path | None:
    """Write ``report.html`` into ``output_dir`` (from the run's files and the ``run_config.json`` the pipeline
    wrote); None (logged) when that fails."""
    try:
        path = write_run_report(output_dir, options=RunReportOptions(data_root=config.data_root))
    except Exception as exc:  # noqa: BLE001 - a report is not worth a finished run
        logger.warning("report of %s not written (%s: %s); the run's results are saved", output_dir,
                       type(exc).__name__, exc)
        if console is not None:
            console.print(f"[yellow]report not written[/yellow] ({type(exc).__name__}: {exc})")
        return None
    if console is not None:
        console.print(f"[green]report[/green] {path}")
    return path
