"""What ``hamr train`` does after a run: record its configuration and write its HTML report.

A failure to render is logged and printed, never fatal: the run's results are already saved."""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
from pathlib import Path
from typing import Any

from .run_report import RUN_CONFIG_FILE, RunReportOptions, write_run_report

logger = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_run_config(config, output_dir: str | Path) -> Path:
    """``run_config.json``: the RunConfig as JSON, so that a report can rebuild the run's training split."""
    path = Path(output_dir) / RUN_CONFIG_FILE
    path.write_text(json.dumps(_plain(dataclasses.asdict(config)), indent=2, default=str) + "\n", encoding="utf-8")
    return path


def report_after_train(config, output_dir: str | Path, console=None) -> Path | None:
    """Write ``run_config.json`` and ``report.html`` into ``output_dir``; None (logged) when that fails."""
    try:
        write_run_config(config, output_dir)
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
