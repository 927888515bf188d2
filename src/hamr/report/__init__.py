"""Self-contained HTML reports: one run (:func:`write_run_report`, ``hamr report``) and a benchmark's results
(:func:`write_bench_html`, ``hamr bench report``). Pages load nothing from the network (inline SVG figures,
inline style and script) and open from disk."""

from .bench_report import write_bench_html
from .run_report import RunReportOptions, load_run, write_run_report

__all__ = ["RunReportOptions", "load_run", "write_bench_html", "write_run_report"]
