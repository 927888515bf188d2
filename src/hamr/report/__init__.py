"""Self-contained HTML reports: one run (:func:`write_run_report`, ``hamr report``) and a benchmark's results
(:func:`write_bench_html`, ``hamr bench report``). Pages load nothing from the network (inline SVG figures,
inline style and script) and open from disk.

The names below load their module on first use, so that the modules of this package can import their
siblings (``from . import html``) without an import cycle through this file."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "RunReportOptions": "run_report",
    "load_run": "run_report",
    "write_run_report": "run_report",
    "write_bench_html": "bench_report",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_LAZY)
