"""The benchmark harness (``hamr bench``): a protocol file, its grid of runs, the results folder, the report.

A **protocol** is a JSON file (see ``benchmarks/configs/`` and ``benchmarks/README.md``)::

    {
      "name": "cpu",                      # the results go to benchmarks/results/<name> by default
      "notes": "why the protocol is fair", # free text, copied into the report
      "seeds": [42, 43, 44],              # default [42, 43, 44]
      "settings": {"model": null, "max_length": 64, "epochs": 3, "batch_size": 16,
                   "learning_rate": null, "limit": null, "max_train_examples": null,
                   "evaluate_each_epoch": true},
      "datasets": ["humaid_idai19", "sst5",   # a benchmark name, or a dataset given by its files:
                   {"name": "mydata", "task": "classification", "train": "my/train.csv", "test": "my/test.csv",
                    "data_options": {"text_column": "body"}}],     # (hamr.data.filespec.FileDataset)
      "dataset_settings": {"sst5": {"max_train_examples": 1500}},
      "methods": ["erm", "icf", "hamr",
                  {"name": "hamr_wo_awe", "method": "hamr", "options": {"ablation": "without_awe"}},
                  {"name": "hamr_12ep", "method": "hamr", "settings": {"epochs": 12}},
                  {"name": "hamr_with_residual", "method": "hamr", "options": {"example_residual": True},
                   "datasets": ["bionlp"], "label": "+ residual"}],   # only on these; its report row
      "method_options": {"hamr": {"lookahead_scope": "last_k"}},
      "dataset_method_options": {"sst5": {"hamr": {"hardness_alpha": 0.6}}}
    }

``settings`` are :class:`~hamr.config.RunConfig` fields (``max_train_examples``: a seeded random
sample (the run's seed, without replacement, file order kept) of at most that many training examples;
validation and test stay whole. ``limit`` instead keeps the first N examples of *every* split (smoke runs
only: some files are sorted by label)). Options of a run, later ones winning: ``method_options`` of its
method, then of its entry name; ``dataset_method_options`` of its dataset, likewise; the entry's own
``options``. Settings of a run, likewise: ``settings``, then ``dataset_settings`` of its dataset, then the
entry's own ``settings`` (e.g. more epochs for a cheaper method in an equal-compute comparison). Every option
is a field of the method's arguments class (``hamr.methods.get_method(method).arguments_class``, e.g.
:class:`~hamr.HAMRArguments` for ``hamr``), checked by :func:`hamr.options.validate_options`.

The **grid** is seeds × datasets × method entries, in that order (so a complete one-seed table comes first).
Each run is a subprocess (``python -m hamr.bench _one RUN_JSON``) writing into
``<out>/runs/<dataset>/<entry>/seed<seed>/``: ``run.json`` (what it runs), ``run.log`` (its output), the
pipeline's ``metrics.json`` and files, and last, atomically, ``done.json``. A folder with ``done.json`` is
skipped by a re-run; a folder without it is an unfinished run and is restarted from scratch. After every run
``<out>/summary.json`` is rebuilt; ``hamr bench report`` writes ``<out>/report.md`` and ``quartiles.png``;
``hamr bench summary benchmarks/results`` gathers every results folder's runs into one ``summary.json``.

Modules: :mod:`.protocol` (the file and its grid), :mod:`.costs` (estimates), :mod:`.grid` (running it locally:
claims, locks, staleness checks), :mod:`.ray` (running it on Ray), :mod:`.summary`, :mod:`.report` (with the
paper's tables), :mod:`.consistency` (Table 4), :mod:`.cli` (``hamr bench``).
"""

from __future__ import annotations

from .common import DATASET_LABELS, DONE, METRICS, RUN_FILE, code_version
from .costs import ABLATION_COST, estimate_seconds, machine_seconds, measured_costs
from .grid import check_finished_runs, prepare_run_folder, run_grid, run_one, subprocess_runner
from .protocol import (
    DEFAULT_SEEDS,
    SETTING_DEFAULTS,
    Entry,
    Protocol,
    ProtocolError,
    RunSpec,
    expand_grid,
    load_protocol,
    parse_protocol,
)
from .report import PAPER_TABLE2, aggregate, write_report
from .summary import collect_records, write_combined_summary, write_summary

__all__ = [
    "ABLATION_COST", "DATASET_LABELS", "DEFAULT_SEEDS", "DONE", "METRICS", "PAPER_TABLE2", "RUN_FILE",
    "SETTING_DEFAULTS", "Entry", "Protocol", "ProtocolError", "RunSpec", "aggregate", "check_finished_runs",
    "code_version", "collect_records", "estimate_seconds", "expand_grid", "load_protocol", "machine_seconds",
    "measured_costs", "parse_protocol", "prepare_run_folder", "run_grid", "run_one", "subprocess_runner",
    "write_combined_summary", "write_report", "write_summary",
]
