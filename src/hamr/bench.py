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
                  {"name": "hamr_12ep", "method": "hamr", "settings": {"epochs": 12}}],
      "method_options": {"hamr": {"lookahead_scope": "last_k"}},
      "dataset_method_options": {"sst5": {"hamr": {"hardness_alpha": 0.6}}}
    }

``settings`` are :class:`~hamr.pipeline.RunConfig` fields (``max_train_examples``: a seeded random
sample (the run's seed, without replacement, file order kept) of at most that many training examples;
validation and test stay whole. ``limit`` instead keeps the first N examples of *every* split (smoke runs
only: some files are sorted by label)). Options of a run, later ones winning: ``method_options`` of its
method, then of its entry name; ``dataset_method_options`` of its dataset, likewise; the entry's own
``options``. Settings of a run, likewise: ``settings``, then ``dataset_settings`` of its dataset, then the
entry's own ``settings`` (e.g. more epochs for a cheaper method in an equal-compute comparison). Every option
is a field of :class:`~hamr.training_args.HAMRArguments` (method ``hamr``) or
:class:`~hamr.training_args.ImbalanceArguments` (the others).

The **grid** is seeds × datasets × method entries, in that order (so a complete one-seed table comes first).
Each run is a subprocess (``python -m hamr.bench _one RUN_JSON``) writing into
``<out>/runs/<dataset>/<entry>/seed<seed>/``: ``run.json`` (what it runs), ``run.log`` (its output), the
pipeline's ``metrics.json`` and files, and last, atomically, ``done.json``. A folder with ``done.json`` is
skipped by a re-run; a folder without it is an unfinished run and is restarted from scratch. After every run
``<out>/summary.json`` is rebuilt; ``hamr bench report`` writes ``<out>/report.md`` and ``quartiles.png``;
``hamr bench summary benchmarks/results`` gathers every results folder's runs into one ``summary.json``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as _dt
import functools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import typer
from rich.console import Console
from rich.table import Table

DEFAULT_SEEDS = [42, 43, 44]
#: Run settings of a protocol and their defaults (RunConfig's).
SETTING_DEFAULTS: dict[str, Any] = {
    "model": None,
    "max_length": 64,
    "epochs": 3.0,
    "batch_size": 16,
    "learning_rate": None,
    "limit": None,
    "max_train_examples": None,
    "evaluate_each_epoch": True,
}
PROTOCOL_KEYS = {
    "name", "description", "notes", "seeds", "settings", "datasets", "dataset_settings", "methods",
    "method_options", "dataset_method_options",
}
ENTRY_KEYS = {"name", "method", "options", "settings"}
#: TrainingArguments fields the harness sets from ``settings`` / the grid: not allowed as options.
RESERVED_OPTIONS = {
    "output_dir", "method", "seed", "data_seed", "num_train_epochs", "per_device_train_batch_size",
    "learning_rate", "eval_strategy", "save_strategy",
}
DONE, RUN_FILE, METRICS = "done.json", "run.json", "metrics.json"
ABLATION_LABELS = {
    "full": "HAMR",
    "without_awe": "w/o AWE",
    "without_resampling": "w/o Resampling",
    "without_knn": "w/o kNN",
    "without_all": "w/o All",
}
DATASET_LABELS = {
    "bionlp": "BioNLP",
    "mit_restaurant": "MIT-R",
    "tweetner7": "TweetNER",
    "humaid_irma17": "Irma17",
    "humaid_idai19": "Idai19",
    "sst5": "SST-5",
}
#: method.md §9: the paper's Table 2 (deberta-v3-base), macro-F1 / micro-F1.
PAPER_TABLE2 = {
    "best baseline": {"bionlp": (70.6, 74.9), "mit_restaurant": (80.4, 81.3), "tweetner7": (59.0, 62.7),
                      "humaid_irma17": (72.7, 74.4), "humaid_idai19": (63.8, 81.1), "sst5": (56.3, 56.9)},
    "HAMR": {"bionlp": (72.7, 75.4), "mit_restaurant": (81.1, 82.1), "tweetner7": (60.2, 63.7),
             "humaid_irma17": (73.4, 75.2), "humaid_idai19": (65.7, 81.4), "sst5": (57.0, 57.7)},
    "w/o All (ERM)": {"bionlp": (71.0, 74.3), "mit_restaurant": (79.7, 80.8), "tweetner7": (57.4, 60.2),
                      "humaid_irma17": (70.0, 72.7), "humaid_idai19": (61.3, 79.6), "sst5": (55.6, 56.6)},
}

# ---- the cost model behind --dry-run estimates and the ETA (MiniLM on this 2-core CPU) ------------------
#: Padded tokens per training example (MiniLM tokenizer, random batches of 16, dynamic padding) at
#: max_length 64 and 128, measured on the full training splits.
TOKENS_PER_EXAMPLE = {
    "bionlp": (62.7, 78.9),
    "mit_restaurant": (20.0, 20.0),
    "tweetner7": (63.9, 85.1),
    "humaid_irma17": (41.5, 42.6),
    "humaid_idai19": (63.9, 79.2),
    "sst5": (46.2, 46.2),
}
#: Calibration: plain MiniLM fine-tuning of Idai19 (2,753 × 63.9 tokens) takes ~65 s per epoch (method.md §10).
TRAIN_TOKENS_PER_SECOND = 2753 * 63.9 / 65
#: Forward-only evaluation, about three times the training rate (an estimate).
EVAL_TOKENS_PER_SECOND = 3 * TRAIN_TOKENS_PER_SECOND
#: Process start, imports, data loading, tokenization and model loading of one run (measured: ~10-14 s).
RUN_OVERHEAD_SECONDS = 12.0
#: Training cost relative to plain fine-tuning, used where the results folder has no measured run
#: (benchmarks/README.md). HAMR and its ablations: benchmarks/overhead.py (1.39x with 1.2N draws and a meta step
#: every 3); MetaBalance: the CPU grid (3-5x); LNR and GBC: estimates from what each does per step (LNR: one
#: extra first-stage epoch and a pass over train; GBC: a warm-up, gradient features and an L2RW step per batch).
METHOD_COST = {"lnr": 1.5, "gbc": 2.5, "metabalance": 4.0, "hamr": 1.4}
ABLATION_COST = {"without_awe": 1.2, "without_resampling": 1.16, "without_knn": 1.4, "without_all": 1.0}
MINILM_NAMES = {None, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}

console = Console()


class ProtocolError(ValueError):
    """A protocol file that cannot be run; the message names the file and the field."""


# ======================================================================================================
# Protocol and grid
# ======================================================================================================


@dataclass(frozen=True)
class Entry:
    """One method entry of a protocol: a name (the results folder), a method, its options and the run settings
    it overrides (over the protocol's and the dataset's)."""

    name: str
    method: str
    options: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def ablation(self) -> str | None:
        """The HAMR ablation (``full`` for plain HAMR), None for other methods."""
        if self.method != "hamr":
            return None
        return str(self.options.get("ablation", "full")).lower()


@dataclass
class Protocol:
    name: str
    path: str
    datasets: list[str]
    entries: list[Entry]
    seeds: list[int]
    settings: dict[str, Any]
    dataset_settings: dict[str, dict[str, Any]]
    method_options: dict[str, dict[str, Any]]
    dataset_method_options: dict[str, dict[str, dict[str, Any]]]
    notes: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # file datasets by name (FileDataset.to_dict)

    def entry(self, name: str) -> Entry:
        return next(e for e in self.entries if e.name == name)


@dataclass(frozen=True, eq=False)
class RunSpec:
    """One (dataset, method entry, seed) of the grid with its resolved settings and options."""

    protocol: str
    dataset: str
    entry: str
    method: str
    seed: int
    settings: dict[str, Any]
    options: dict[str, Any]
    data: dict[str, Any] | None = None  # a file dataset (FileDataset.to_dict); None for a benchmark

    @property
    def ablation(self) -> str | None:
        return Entry(self.entry, self.method, self.options).ablation

    def folder(self, out: Path) -> Path:
        return Path(out) / "runs" / self.dataset / self.entry / f"seed{self.seed}"

    def run_config_kwargs(self, output_dir: Path) -> dict[str, Any]:
        """Keyword arguments of :class:`hamr.pipeline.RunConfig` (bench runs never save the model)."""
        s = dict(self.settings)
        kwargs = dict(dataset=self.dataset, method=self.method, seed=self.seed, output_dir=str(output_dir),
                      save_model=False, options=dict(self.options), **s)
        if self.data is not None:
            from .data.filespec import FileDataset

            kwargs.update(FileDataset(**self.data).run_config_kwargs())
        return kwargs

    def describe(self) -> str:
        return f"{self.dataset} {self.entry} seed{self.seed}"


def _fail(path: str, where: str, message: str) -> ProtocolError:
    return ProtocolError(f"{path}: {where}: {message}")


def _check_plain_name(path: str, where: str, name: Any, what: str) -> None:
    """A protocol or entry name becomes a folder name: a plain file name (letters, digits, _ . -), not empty,
    not ``.`` or ``..``, no ``/``, so results can never be written outside the results folder."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or set(name) == {"."}:
        raise _fail(path, where, f"{name!r} is not a valid {what} name: expected a plain file name "
                                 "(letters, digits, _ . -; not empty, not '.' or '..', no '/')")


def _check_setting(path: str, where: str, key: str, value: Any) -> None:
    if key not in SETTING_DEFAULTS:
        raise _fail(path, where, f"unknown setting {key!r} (expected one of: {', '.join(SETTING_DEFAULTS)})")
    ok = True
    if key == "model":
        ok = value is None or isinstance(value, str)
    elif key in ("max_length", "batch_size", "max_train_examples", "limit"):
        ok = (value is None and key in ("max_train_examples", "limit")) or (
            isinstance(value, int) and not isinstance(value, bool) and value > 0
        )
    elif key in ("epochs", "learning_rate"):
        ok = (value is None and key == "learning_rate") or (
            isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
        )
    elif key == "evaluate_each_epoch":
        ok = isinstance(value, bool)
    if not ok:
        raise _fail(path, where, f"invalid value {value!r} for setting {key!r}")


def _argument_fields(method: str) -> tuple[str, dict[str, Any]]:
    """(class name, {field: type}) of the arguments class that takes a method's options."""
    import typing

    from .training_args import HAMRArguments, ImbalanceArguments

    cls = HAMRArguments if method == "hamr" else ImbalanceArguments
    hints = typing.get_type_hints(cls)
    return cls.__name__, {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _check_options(path: str, where: str, method: str, options: Any) -> None:
    import enum
    import types
    import typing

    if not isinstance(options, dict):
        raise _fail(path, where, f"expected an object of options, found {type(options).__name__}")
    cls_name, fields = _argument_fields(method)
    for key, value in options.items():
        if key in RESERVED_OPTIONS:
            raise _fail(path, f"{where}.{key}", "set by the harness (use the protocol's settings, seeds or methods)")
        if key not in fields:
            raise _fail(path, f"{where}.{key}", f"unknown option: not a field of {cls_name} (method {method})")
        typ = fields[key]
        if typing.get_origin(typ) in (typing.Union, types.UnionType):
            typ = next((a for a in typing.get_args(typ) if a is not type(None)), typ)
        if isinstance(typ, type) and issubclass(typ, enum.Enum) and value is not None:
            try:
                typ.parse(value) if hasattr(typ, "parse") else typ(value)
            except ValueError as exc:
                raise _fail(path, f"{where}.{key}", str(exc)) from None


def _parse_entry(path: str, i: int, raw: Any, methods: list[str]) -> Entry:
    where = f"methods[{i}]"
    if isinstance(raw, str):
        raw = {"name": raw, "method": raw}
    if not isinstance(raw, dict):
        raise _fail(path, where, "expected a method name or an object {name, method, options, settings}")
    unknown = sorted(set(raw) - ENTRY_KEYS)
    if unknown:
        raise _fail(path, f"{where}.{unknown[0]}", f"unknown field (expected: {', '.join(sorted(ENTRY_KEYS))})")
    name = raw.get("method") if raw.get("name") is None else raw["name"]
    method = str(raw.get("method") or name).lower()
    _check_plain_name(path, f"{where}.name", name, "entry")
    if method not in methods:
        raise _fail(path, f"{where}.method", f"unknown method {method!r} (expected one of: {', '.join(methods)})")
    options = raw.get("options", {})
    _check_options(path, f"{where}.options", method, options)
    settings = raw.get("settings", {})
    if not isinstance(settings, dict):
        raise _fail(path, f"{where}.settings", "expected an object of settings")
    for key, value in settings.items():
        _check_setting(path, f"{where}.settings.{key}", key, value)
    return Entry(name, method, dict(options), dict(settings))


def parse_protocol(raw: Any, path: str = "<protocol>") -> Protocol:
    """Validate a protocol (the parsed JSON); errors are :class:`ProtocolError` naming ``path`` and the field."""
    from .data import BENCHMARKS
    from .enums import Method

    if not isinstance(raw, dict):
        raise _fail(path, "top level", "expected a JSON object")
    unknown = sorted(set(raw) - PROTOCOL_KEYS)
    if unknown:
        raise _fail(path, unknown[0], f"unknown field (expected: {', '.join(sorted(PROTOCOL_KEYS))})")
    name = Path(path).stem if raw.get("name") is None else raw["name"]
    _check_plain_name(path, "name", name, "protocol")

    seeds = raw.get("seeds", DEFAULT_SEEDS)
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise _fail(path, "seeds", f"expected a non-empty list of integers, found {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise _fail(path, "seeds", "repeated seed")

    settings = dict(SETTING_DEFAULTS)
    given = raw.get("settings", {})
    if not isinstance(given, dict):
        raise _fail(path, "settings", "expected an object")
    for key, value in given.items():
        _check_setting(path, f"settings.{key}", key, value)
    settings.update(given)

    datasets = raw.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        raise _fail(path, "datasets", "expected a non-empty list of benchmark names")
    files: dict[str, dict[str, Any]] = {}
    for i, d in enumerate(datasets):
        if isinstance(d, dict):  # a dataset given by its files
            from .data import DataError
            from .data.filespec import FileDataset

            try:
                fd = FileDataset.from_dict(d, f"datasets[{i}]", base=Path(path).parent)
            except DataError as exc:
                raise ProtocolError(f"{path}: {exc}") from None
            if fd.name in BENCHMARKS:
                raise _fail(path, f"datasets[{i}].name", f"{fd.name!r} is a benchmark's name; choose another")
            files[fd.name] = fd.to_dict()
            datasets = [*datasets[:i], fd.name, *datasets[i + 1:]]
        elif d not in BENCHMARKS:
            raise _fail(path, f"datasets[{i}]", f"unknown dataset {d!r} (expected one of: {', '.join(BENCHMARKS)})")
    if len(set(datasets)) != len(datasets):
        raise _fail(path, "datasets", "repeated dataset")

    dataset_settings = raw.get("dataset_settings", {})
    if not isinstance(dataset_settings, dict):
        raise _fail(path, "dataset_settings", "expected an object keyed by dataset")
    for d, over in dataset_settings.items():
        if d not in datasets:
            raise _fail(path, f"dataset_settings.{d}", "not a dataset of this protocol")
        if not isinstance(over, dict):
            raise _fail(path, f"dataset_settings.{d}", "expected an object of settings")
        for key, value in over.items():
            _check_setting(path, f"dataset_settings.{d}.{key}", key, value)

    methods = [m.value for m in Method]
    raw_entries = raw.get("methods")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise _fail(path, "methods", "expected a non-empty list of methods or entries")
    entries = [_parse_entry(path, i, e, methods) for i, e in enumerate(raw_entries)]
    names = [e.name for e in entries]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise _fail(path, "methods", f"two entries named {dup!r}")

    def check_method_options(where: str, table: Any) -> dict[str, dict[str, Any]]:
        if not isinstance(table, dict):
            raise _fail(path, where, "expected an object keyed by method or entry name")
        for key, opts in table.items():
            targets = [e for e in entries if key in (e.method, e.name)]
            if not targets:
                raise _fail(path, f"{where}.{key}", "neither a method nor an entry of this protocol")
            for method in {e.method for e in targets}:
                _check_options(path, f"{where}.{key}", method, opts)
        return table

    method_options = check_method_options("method_options", raw.get("method_options", {}))
    dmo = raw.get("dataset_method_options", {})
    if not isinstance(dmo, dict):
        raise _fail(path, "dataset_method_options", "expected an object keyed by dataset")
    for d, table in dmo.items():
        if d not in datasets:
            raise _fail(path, f"dataset_method_options.{d}", "not a dataset of this protocol")
        check_method_options(f"dataset_method_options.{d}", table)
    notes = raw.get("notes", "")
    if isinstance(notes, list):
        notes = "\n".join(str(n) for n in notes)
    return Protocol(str(name), path, list(datasets), entries, list(seeds), settings,
                    {k: dict(v) for k, v in dataset_settings.items()}, method_options, dmo, str(notes), raw, files)


def load_protocol(path: str | os.PathLike) -> Protocol:
    """Read and validate a protocol file (see the module docstring)."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProtocolError(f"{p}: no such protocol file") from None
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"{p}: not valid JSON: {exc}") from None
    return parse_protocol(raw, str(p))


def _options_for(protocol: Protocol, dataset: str, entry: Entry) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    for table in (protocol.method_options, protocol.dataset_method_options.get(dataset, {})):
        for key in dict.fromkeys((entry.method, entry.name)):
            opts.update(table.get(key, {}))
    opts.update(entry.options)
    return opts


def _select(kind: str, given: Optional[Sequence], known: Sequence) -> list:
    if not given:
        return list(known)
    unknown = [g for g in given if g not in known]
    if unknown:
        raise ProtocolError(f"--only-{kind}: {', '.join(map(str, unknown))} not in the protocol "
                            f"(it has: {', '.join(map(str, known))})")
    return [k for k in known if k in given]


def expand_grid(
    protocol: Protocol,
    only_datasets: Optional[Sequence[str]] = None,
    only_methods: Optional[Sequence[str]] = None,
    seeds: Optional[Sequence[int]] = None,
) -> list[RunSpec]:
    """The runs of the protocol: seeds × datasets × entries (seed-major), with per-dataset settings and options
    resolved. ``seeds`` may name seeds outside the protocol's list (extra seeds)."""
    datasets = _select("datasets", only_datasets, protocol.datasets)
    names = _select("methods", only_methods, [e.name for e in protocol.entries])
    specs = []
    for seed in (list(seeds) if seeds else protocol.seeds):
        for d in datasets:
            settings = {**protocol.settings, **protocol.dataset_settings.get(d, {})}
            for name in names:
                e = protocol.entry(name)
                specs.append(RunSpec(protocol.name, d, e.name, e.method, int(seed), {**settings, **e.settings},
                                     _options_for(protocol, d, e), protocol.files.get(d)))
    return specs


def _settings_key(settings: dict[str, Any]) -> str:
    return json.dumps(settings, sort_keys=True, default=str)


def machine_seconds(done: dict) -> float:
    """A finished run's machine seconds: its wall seconds divided by the jobs that shared the machine with it
    (``done.json``'s ``concurrent_jobs``), the unit of :func:`estimate_seconds`."""
    return float(done["wall_seconds"]) / max(1, int(done.get("concurrent_jobs") or 1))


def measured_costs(out: Path) -> dict[tuple[str, str, str], float]:
    """Machine seconds of the finished runs in ``out``, averaged per (dataset, method entry, settings).

    A run's machine seconds: :func:`machine_seconds`. Read by the estimates, which
    prefer what was measured here over the cost model: for NER at length 128 the cost model is ~2x low."""
    acc: dict[tuple[str, str, str], list[float]] = {}
    for done in Path(out).glob(f"runs/*/*/seed*/{DONE}"):
        try:
            d = json.loads(done.read_text())
            key = (d["dataset"], d["method"], _settings_key(d["settings"]))
            acc.setdefault(key, []).append(machine_seconds(d))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a run folder written by an older version: the cost model covers it
    return {k: sum(v) / len(v) for k, v in acc.items()}


def estimate_seconds(spec: RunSpec, measured: dict[tuple[str, str, str], float] | None = None) -> float | None:
    """Estimated machine seconds of a run on this 2-core machine with MiniLM (None for other models or
    datasets the cost model does not know); see the constants above.

    With ``measured`` (:func:`measured_costs`): the mean of the finished runs of the same dataset, entry and
    settings; else a finished ERM run of that dataset and settings times the method's cost factor; else the
    cost model."""
    from .data import BENCHMARKS

    factor = ABLATION_COST.get(spec.ablation or "", METHOD_COST.get(spec.method, 1.0))
    if measured:
        key = _settings_key(spec.settings)
        if (spec.dataset, spec.entry, key) in measured:
            return measured[(spec.dataset, spec.entry, key)]
        if (spec.dataset, "erm", key) in measured:
            return factor * measured[(spec.dataset, "erm", key)]

    s = spec.settings
    if s.get("model") not in MINILM_NAMES or (spec.data is None and spec.dataset not in TOKENS_PER_EXAMPLE):
        return None
    length = s["max_length"]
    if spec.data is not None:  # a file dataset: its sizes and padded tokens per example, measured on its files
        from .data.filespec import file_dataset_shape

        (n_train, n_val, n_test), tokens = file_dataset_shape(spec.data, length)
    else:
        lo, hi = TOKENS_PER_EXAMPLE[spec.dataset]
        tokens = lo * min(length, 64) / 64 if length <= 64 else lo + (hi - lo) * (min(length, 128) - 64) / 64
        n_train, n_val, n_test = BENCHMARKS[spec.dataset].sizes
    if s.get("limit"):
        n_train, n_val, n_test = (min(n, s["limit"]) for n in (n_train, n_val, n_test))
    if s.get("max_train_examples"):
        n_train = min(n_train, s["max_train_examples"])
    train = factor * s["epochs"] * n_train * tokens / TRAIN_TOKENS_PER_SECOND
    evals = (s["epochs"] if s.get("evaluate_each_epoch") else 0) + 1
    evaluation = (evals * n_val + n_test) * tokens / EVAL_TOKENS_PER_SECOND
    return RUN_OVERHEAD_SECONDS + train + evaluation


# ======================================================================================================
# Running the grid
# ======================================================================================================


def code_version() -> dict[str, Any]:
    """``hamr.__version__`` and the git commit of the source tree (``+dirty`` when the package folder has
    uncommitted or untracked files)."""
    from . import __version__

    here = Path(__file__).resolve().parent
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


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _hms(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


Runner = Callable[[RunSpec, Path], int]


_LIVE: set[subprocess.Popen] = set()  # the run processes of this bench, terminated when it is interrupted


def _terminate_live_runs() -> None:
    for proc in list(_LIVE):
        if proc.poll() is None:
            proc.terminate()


def subprocess_runner(spec: RunSpec, folder: Path, threads: int | None = None) -> int:
    """Run ``folder/run.json`` in a fresh Python process (``python -m hamr.bench _one``), output to run.log.

    ``threads``: the run's intra-op threads (``OMP_NUM_THREADS``, read by torch at start); None keeps the
    environment's (torch's default: every core)."""
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("TQDM_DISABLE", "1")
    env.setdefault("HAMR_LOG_LEVEL", "INFO")
    if threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(int(threads))
    with open(folder / "run.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "hamr.bench", "_one", str(folder / RUN_FILE)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        _LIVE.add(proc)
        try:
            return proc.wait()
        finally:
            _LIVE.discard(proc)
            if proc.poll() is None:  # interrupted: do not leave the child training
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


class _Log:
    """Progress to the console (rich) and, plain, to ``<out>/bench.log``."""

    def __init__(self, out: Path, out_console: Console | None = None) -> None:
        self.path = out / "bench.log"
        self.console = out_console or console

    def __call__(self, message: str, style: str | None = None) -> None:
        self.console.print(message, style=style, highlight=False, markup=False)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(f"{_dt.datetime.now().strftime('%Y-%m-%d %H:%M:%S')} {message}\n")


def _live_holder(path: Path) -> int | None:
    """The pid written in ``path`` when it is another live process (not this one), else None."""
    try:
        pid = int(path.read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid and pid != os.getpid() and _alive(pid) else None


class _Lock:
    """``<out>/bench.lock`` holding the pid, taken by the Ray scheduler: two benches on one results folder would
    restart each other's runs (local benches share a folder through :class:`_Claims` instead)."""

    def __init__(self, out: Path) -> None:
        self.path = out / "bench.lock"

    def __enter__(self) -> "_Lock":
        pid = _live_holder(self.path)
        if pid is not None:
            raise RuntimeError(f"{self.path}: a bench (pid {pid}) is already running on this folder")
        self.path.write_text(str(os.getpid()))
        return self

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


class _Claims:
    """Per-run claims, so several local benches can share one results folder (each skips the runs another
    live bench is running): ``<out>/claims/<dataset>__<entry>__seed<seed>.pid`` created exclusively, holding
    the claiming bench's pid; a claim whose process is gone is stale and taken over. Liveness is checked by
    pid, so the benches sharing a folder must run on one machine (a cluster: ``--ray``)."""

    def __init__(self, out: Path) -> None:
        self.dir = out / "claims"

    def _path(self, spec: "RunSpec") -> Path:
        return self.dir / f"{spec.dataset}__{spec.entry}__seed{spec.seed}.pid"

    def holder(self, spec: "RunSpec") -> int | None:
        """The pid of another live bench holding ``spec``, else None."""
        return _live_holder(self._path(spec))

    def take(self, spec: "RunSpec") -> bool:
        """Claim ``spec`` for this process; False when another live bench holds it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self._path(spec)
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if self.holder(spec) is not None:
                    return False
                try:
                    if int(path.read_text().strip() or 0) == os.getpid():
                        return True
                except (FileNotFoundError, ValueError):
                    pass
                path.unlink(missing_ok=True)  # stale: its bench is gone
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            return True
        return False

    def release(self, spec: "RunSpec") -> None:
        self._path(spec).unlink(missing_ok=True)


def _refuse_if_ray_bench(out: Path) -> None:
    """A Ray bench holds ``bench.lock`` on its folder; a local bench must not restart its runs."""
    lock = out / "bench.lock"
    pid = _live_holder(lock)
    if pid is not None:
        raise RuntimeError(f"{lock}: a Ray bench (pid {pid}) is already running on this folder")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sigterm_to_exit(signum, frame):  # pragma: no cover - signal handler
    raise SystemExit(128 + signum)


def prepare_run_folder(spec, out: Path, tag: str, log, counts: dict[str, int]) -> Path:
    """A fresh folder for one run: an unfinished one (no done marker) is wiped and counted as restarted;
    the run's ``run.json`` is written into it. Shared by the local and the Ray scheduler."""
    folder = spec.folder(out)
    if folder.exists():
        log(f"{tag} {spec.describe()}: unfinished run found (no {DONE}); restarting it from scratch", style="yellow")
        shutil.rmtree(folder)
        counts["restarted"] += 1
    folder.mkdir(parents=True)
    _write_json_atomic(folder / RUN_FILE, {
        "spec": dataclasses.asdict(spec),
        "config": spec.run_config_kwargs(folder),
        "max_train_examples": spec.settings.get("max_train_examples"),
    })
    return folder


def check_finished_runs(specs: Sequence[RunSpec], out: str | os.PathLike) -> None:
    """Refuse to go on when a finished run in ``out`` was made with other settings or options than its spec
    (the protocol was edited after it ran), or when a library default its method reads has changed since
    (``method_settings`` in its metrics.json): it would be skipped, and the report would mix two protocols.
    Raises :class:`ProtocolError` naming the ``done.json`` files and what differs."""
    stale = []
    current: dict[str, dict[str, str]] = {}
    for spec in specs:
        path = spec.folder(Path(out)) / DONE
        if not path.exists():
            continue
        try:
            done = json.loads(path.read_text())
        except ValueError as exc:
            raise ProtocolError(f"{path}: not valid JSON ({exc}); delete the run folder to re-run it") from exc
        diff = [f"{k} {done.get('settings', {}).get(k)!r} -> {v!r}" for k, v in spec.settings.items()
                if done.get("settings", {}).get(k) != v]
        if done.get("options", {}) != spec.options:
            diff.append(f"options {done.get('options')!r} -> {spec.options!r}")
        else:  # same protocol entry: did the library's defaults for this method change since the run?
            diff += _changed_defaults(spec, path.parent / METRICS, current)
        if diff:
            stale.append(f"{path}: {'; '.join(diff)}")
    if stale:
        more = f" (and {len(stale) - 5} more)" if len(stale) > 5 else ""
        raise ProtocolError(
            f"{len(stale)} finished run(s) in {out} were made with other settings than the protocol (or the "
            "library's defaults) now give; delete those run folders to re-run them, or use another --out:\n  " + "\n  ".join(stale[:5]) + more)


def _changed_defaults(spec: RunSpec, metrics_path: Path, cache: dict[str, dict[str, str]]) -> list[str]:
    """The settings of ``spec``'s method that the finished run recorded (``method_settings`` in its
    metrics.json) with another value than this code version gives it: a changed library default. HAMR's
    task-dependent defaults are compared through ``resolved_method_settings`` (the values it ran with on its
    dataset's task), for runs that recorded them. Fields the run did not record (added since) are not
    compared; a run without metrics.json is not checked."""
    try:
        metrics = json.loads(metrics_path.read_text())
    except (OSError, ValueError):
        return []
    recorded = metrics.get("method_settings")
    if not isinstance(recorded, dict):
        return []
    from . import pipeline

    key = json.dumps([spec.method, spec.options], sort_keys=True, default=str)
    if key not in cache:
        cache[key] = pipeline.current_method_settings(spec.method, spec.options)
    old = pipeline.relevant_method_settings(spec.method, recorded)
    diff = [f"default {k} {old[k]!r} -> {v!r}" for k, v in cache[key].items() if k in old and old[k] != v]
    resolved, task = metrics.get("resolved_method_settings"), metrics.get("task")
    if isinstance(resolved, dict) and resolved and task:  # task-dependent defaults (runs since session 13)
        rkey = json.dumps([spec.method, spec.options, task], sort_keys=True, default=str)
        if rkey not in cache:
            cache[rkey] = pipeline.current_resolved_settings(spec.method, spec.options, task)
        diff += [f"{task} default {k} {resolved[k]!r} -> {v!r}" for k, v in cache[rkey].items()
                 if k in resolved and resolved[k] != v]
    return diff


def run_grid(
    protocol: Protocol,
    out: str | os.PathLike,
    specs: Sequence[RunSpec],
    runner: Runner = subprocess_runner,
    out_console: Console | None = None,
    jobs: int = 1,
    threads: int | None = None,
    budget_seconds: float | None = None,
    show_test: bool = True,
) -> dict[str, int]:
    """Run every spec that has no ``done.json`` yet, ``jobs`` at a time, saving each as soon as it finishes.

    Returns counts ``{"total", "skipped", "finished", "failed", "restarted"}``. ``runner(spec, folder)``
    runs one run and returns its exit code (0 = success, with ``folder/metrics.json`` written); tests inject
    a fake one. A failed run keeps its folder without ``done.json`` (and its run.log) and the grid goes on.
    ``jobs`` > 1 runs that many runs side by side, each in its own process with ``threads`` intra-op threads
    (default: the cores divided by ``jobs``): on a small machine two one-thread runs finish a grid sooner
    than one two-thread run after another, at the price of per-run timings that share the machine (the
    report flags them by the load average recorded in ``done.json``).

    ``budget_seconds`` (one run at a time): before each run, its cost is estimated (:func:`estimate_seconds`
    with the runs measured so far); once the machine seconds spent plus that estimate exceed the budget, no
    further run is started (counted in ``counts["over_budget"]`` and logged by name). ``show_test=False``
    keeps test scores out of the progress lines (``hamr compare`` shows them only after its choice).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = _Log(out, out_console)
    if runner is subprocess_runner and (jobs > 1 or threads is not None):
        runner = functools.partial(subprocess_runner, threads=threads or max(1, (os.cpu_count() or 1) // jobs))
    counts = {"total": len(specs), "skipped": 0, "finished": 0, "failed": 0, "restarted": 0}
    if budget_seconds is not None:
        if jobs != 1:
            raise ValueError("a time budget needs jobs=1 (runs one after another)")
        counts["over_budget"] = 0
    check_finished_runs(specs, out)
    pending = [(i, s) for i, s in enumerate(specs, 1) if not (s.folder(out) / DONE).exists()]
    counts["skipped"] = len(specs) - len(pending)
    guard = threading.Lock()  # counts, the log and summary.json are shared by the worker threads
    stopping = threading.Event()
    claims = _Claims(out)
    _refuse_if_ray_bench(out)
    _write_json_atomic(out / "protocol.json", {"path": protocol.path, "name": protocol.name,
                                               "seeds": protocol.seeds, "protocol": protocol.raw})
    measured = measured_costs(out)
    est = [estimate_seconds(s, measured) for _, s in pending]
    known = [v for v in est if v is not None]
    log(f"bench {protocol.name} ({protocol.path}) -> {out}: {len(specs)} runs, {counts['skipped']} finished "
        f"(skipped), {len(pending)} to run" + (f", {jobs} at a time" if jobs > 1 else "")
        + (f", estimated {_hms(sum(known))}" if known else ""))  # machine seconds: the jobs share the machine
    progress = {"spent": 0.0, "spent_est": 0.0, "started": 0, "over_budget": False, "used": 0.0}

    def one(k: int, i: int, spec: RunSpec) -> None:
        if stopping.is_set():
            return
        tag = f"[{i}/{len(specs)}]"
        with guard:
            if (spec.folder(out) / DONE).exists():  # finished by another bench on this folder meanwhile
                counts["skipped"] += 1
                return
            if budget_seconds is not None:
                cost = estimate_seconds(spec, measured_costs(out))
                if not progress["over_budget"] and cost is not None and progress["used"] + cost > budget_seconds:
                    progress["over_budget"] = True
                if progress["over_budget"]:
                    counts["over_budget"] += 1
                    log(f"{tag} {spec.describe()}: not started, over the budget ({_hms(progress['used'])} spent, "
                        f"estimated {_hms(cost)}, budget {_hms(budget_seconds)})", style="yellow")
                    return
            if not claims.take(spec):
                log(f"{tag} {spec.describe()}: running in another bench (pid {claims.holder(spec)}); skipped",
                    style="dim")
                counts["skipped"] += 1
                return
            folder = prepare_run_folder(spec, out, tag, log, counts)
            log(f"{tag} {spec.describe()}: started" + (f" (estimated {_hms(est[k] * jobs)})" if est[k] else ""),
                style="dim")
            progress["started"] += 1
        version = code_version()
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        try:
            code = runner(spec, folder)
        finally:
            claims.release(spec)
        wall = time.perf_counter() - t0
        with guard:
            progress["used"] += wall
            if stopping.is_set():
                log(f"{tag} {spec.describe()}: interrupted; it restarts from scratch next time", style="yellow")
                return
            metrics_path = folder / METRICS
            if code != 0 or not metrics_path.exists():
                counts["failed"] += 1
                tail = ""
                if (folder / "run.log").exists():
                    lines = (folder / "run.log").read_text(errors="replace").strip().splitlines()
                    tail = " | ".join(lines[-3:])
                log(f"{tag} {spec.describe()}: FAILED (exit {code}) after {_hms(wall)}; "
                    f"see {folder / 'run.log'}: {tail}", style="red")
                return
            _write_json_atomic(folder / DONE, {
                "protocol": protocol.name, "dataset": spec.dataset, "method": spec.entry,
                "base_method": spec.method, "ablation": spec.ablation, "seed": spec.seed,
                "settings": spec.settings, "options": spec.options, "code_version": version,
                "finished_at": _now(), "wall_seconds": wall, "concurrent_jobs": jobs,
                "load_average": {"start": load_before, "end": os.getloadavg()[0], "cpus": os.cpu_count()},
            })
            counts["finished"] += 1
            write_summary(out)
            m = json.loads(metrics_path.read_text())
            test = m.get("test") or {}
            progress["spent"] += wall
            progress["spent_est"] += est[k] or 0.0
            rest = est[progress["started"]:]
            eta = None
            if rest and all(r is not None for r in rest) and progress["spent_est"] > 0:
                # the estimates, rescaled by how they have fared so far
                eta = sum(rest) * progress["spent"] / progress["spent_est"] / jobs
            elif rest:
                eta = progress["spent"] / counts["finished"] * len(rest) / jobs
            val = m.get("validation") or {}
            test_part = f" · test {_pct(test.get('macro_f1'))} / {_pct(test.get('micro_f1'))}" if show_test else ""
            held = m.get("validation_heldout")
            # with the hold-out (issue 22) the line shows the half HAMR's meta set never saw, and no test figure
            scores = (f"validation held-out half macro/micro-F1 {_pct(held.get('macro_f1'))} / "
                      f"{_pct(held.get('micro_f1'))}" if held else
                      f"validation macro/micro-F1 {_pct(val.get('macro_f1'))} / {_pct(val.get('micro_f1'))}{test_part}")
            log(f"{tag} {spec.describe()} · {scores} · "
                f"{m.get('seconds_per_epoch', float('nan')):.0f} s/epoch · "
                f"{_hms(wall)} · ETA {_hms(eta) if rest else 'done'}", style="green")

    try:
        if jobs == 1:
            for k, (i, spec) in enumerate(pending):
                one(k, i, spec)
        else:
            with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(one, k, i, spec) for k, (i, spec) in enumerate(pending)]
                try:
                    for future in concurrent.futures.as_completed(futures):
                        future.result()
                except BaseException:
                    stopping.set()
                    for future in futures:
                        future.cancel()
                    _terminate_live_runs()
                    raise
    except BaseException:
        stopping.set()
        log("bench interrupted: unfinished runs restart from scratch next time", style="yellow")
        raise
    write_summary(out)
    log(f"bench {protocol.name}: {counts['finished']} finished, {counts['failed']} failed, "
        f"{counts['skipped']} skipped, {counts['restarted']} restarted; summary {out / 'summary.json'}")
    return counts


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.1f}"


# ======================================================================================================
# One run (the subprocess)
# ======================================================================================================


def run_one(run_file: str | os.PathLike) -> dict[str, Any]:
    """Run the RunConfig of a ``run.json`` written by :func:`run_grid` (in this process)."""
    from . import pipeline

    payload = json.loads(Path(run_file).read_text())
    config = pipeline.RunConfig(**payload["config"])
    result = pipeline.run(config)
    test = result.get("test") or {}
    held = result.get("validation_heldout")
    score = (f"held-out validation macro-F1 {_pct(held.get('macro_f1'))}" if held
             else f"macro-F1 {_pct(test.get('macro_f1'))}")
    print(f"done: {config.dataset} {config.method} seed {config.seed} · {score} · "
          f"{result.get('train_seconds', 0):.0f} s", flush=True)
    return result


# ======================================================================================================
# Summary
# ======================================================================================================


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
    _write_json_atomic(path, collect_records(out))
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
    _write_json_atomic(path, records)
    return path


# ======================================================================================================
# Report
# ======================================================================================================


@dataclass
class _Agg:
    n: int
    values: dict[str, list[float]]

    def mean(self, key: str) -> float | None:
        v = self.values.get(key) or []
        return sum(v) / len(v) if v else None

    def sd(self, key: str) -> float | None:
        """Sample standard deviation (n − 1); None below two values."""
        v = self.values.get(key) or []
        if len(v) < 2:
            return None
        mu = sum(v) / len(v)
        return math.sqrt(sum((x - mu) ** 2 for x in v) / (len(v) - 1))


def aggregate(records: Iterable[dict]) -> dict[tuple[str, str], _Agg]:
    """(dataset, entry) -> the seeds' values of every numeric field."""
    keys = ("macro_f1", "micro_f1", "val_macro_f1", "train_seconds", "seconds_per_epoch", "wall_seconds",
            "peak_memory_mb")
    out: dict[tuple[str, str], _Agg] = {}
    for r in records:
        a = out.setdefault((r["dataset"], r["method"]), _Agg(0, {k: [] for k in keys}))
        a.n += 1
        for k in keys:
            if r.get(k) is not None:
                a.values[k].append(float(r[k]))
    return out


def _cell(a: _Agg | None, key: str, expected: int, bold: bool = False) -> str:
    if a is None or a.mean(key) is None:
        return "–"
    sd = a.sd(key)
    text = f"{100 * a.mean(key):.1f}" + (f" ± {100 * sd:.1f}" if sd is not None else "")
    if bold:
        text = f"**{text}**"
    return text + (f" (n={a.n})" if a.n < expected else "")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _metric_block(title: str, entries: list[str], datasets: list[str], agg, key: str, expected: int,
                  bold_best: bool, labels: dict[str, str] | None = None) -> list[str]:
    best: dict[str, float] = {}
    if bold_best:
        for d in datasets:
            means = [agg[(d, e)].mean(key) for e in entries if (d, e) in agg and agg[(d, e)].mean(key) is not None]
            if means:
                best[d] = max(means)
    rows = []
    for e in entries:
        row = [(labels or {}).get(e, e)]
        for d in datasets:
            a = agg.get((d, e))
            is_best = a is not None and d in best and a.mean(key) is not None and a.mean(key) >= best[d] - 1e-12
            row.append(_cell(a, key, expected, bold=is_best))
        rows.append(row)
    return [f"**{title}**", "", *_md_table(["method", *[DATASET_LABELS.get(d, d) for d in datasets]], rows), ""]


def _ordered(values: Iterable[str], order: Sequence[str]) -> list[str]:
    values = list(dict.fromkeys(values))
    rank = {v: i for i, v in enumerate(order)}
    return sorted(values, key=lambda v: (rank.get(v, len(rank)), v))


def _hamr_entry(entry_info: dict[str, dict]) -> str | None:
    full = [e for e, info in entry_info.items() if info["base_method"] == "hamr" and info["ablation"] in (None, "full")]
    return "hamr" if "hamr" in full else (full[0] if full else None)


def _gain_sentence(agg, datasets: list[str], table2: list[str], hamr: str | None) -> str:
    if hamr is None or "erm" not in table2:
        return "HAMR vs ERM: not computable (needs finished `hamr` and `erm` runs)."
    best_on, gains, micro_gains = [], [], []
    for d in datasets:
        means = {e: agg[(d, e)].mean("macro_f1") for e in table2 if (d, e) in agg}
        means = {e: v for e, v in means.items() if v is not None}
        if hamr in means and means[hamr] >= max(means.values()) - 1e-12:
            best_on.append(DATASET_LABELS.get(d, d))
        if hamr in means and "erm" in means:
            gains.append((d, 100 * (means[hamr] - means["erm"])))
            micro_gains.append(100 * (agg[(d, hamr)].mean("micro_f1") - agg[(d, "erm")].mean("micro_f1")))
    with_runs = [d for d in datasets if (d, hamr) in agg]
    text = (f"HAMR (`{hamr}`) has the best mean macro-F1 on {len(best_on)} of the {len(with_runs)} datasets with "
            f"HAMR runs" + (f" ({', '.join(best_on)})" if best_on else "") + ". ")
    if gains:
        mean_gain = sum(g for _, g in gains) / len(gains)
        per = ", ".join(f"{DATASET_LABELS.get(d, d)} {g:+.1f}" for d, g in gains)
        text += (f"Its mean gain over ERM is {mean_gain:+.1f} macro-F1 points ({per}) and "
                 f"{sum(micro_gains) / len(micro_gains):+.1f} micro-F1 points, over {len(gains)} datasets.")
    else:
        text += "No dataset has both HAMR and ERM runs yet."
    return text


def _quartile_section(out: Path, records: list[dict], entries: list[str], table2: list[str]) -> list[str]:
    """Figure 2: per-quartile test F1, mean over seeds then over datasets, per entry; plot + table."""
    names = ("Q1", "Q2", "Q3", "Q4")
    per: dict[tuple[str, str, str], list[float]] = {}
    for r in records:
        for q in names:
            v = (r.get("quartiles") or {}).get(q)
            if v is not None:
                per.setdefault((r["method"], r["dataset"], q), []).append(float(v))
    table: dict[str, dict[str, float]] = {}
    ndata: dict[str, int] = {}
    for e in entries:
        for q in names:
            ds = [sum(v) / len(v) for (m, d, qq), v in per.items() if m == e and qq == q]
            if ds:
                table.setdefault(e, {})[q] = sum(ds) / len(ds)
        ndata[e] = len({d for (m, d, _) in per if m == e})
    lines = ["## Figure 2: F1 per training-frequency quartile", "",
             "Test F1 per label, averaged within each quartile of labels sorted by training frequency (Q1 = rarest "
             "25%), then over seeds and over datasets (each dataset weighs the same).", ""]
    if not table:
        return lines + ["not available: no finished run has quartiles.", ""]
    rows = [[e, *[f"{100 * table[e][q]:.1f}" if q in table[e] else "–" for q in names], str(ndata[e])]
            for e in entries if e in table]
    lines += _md_table(["method", *names, "datasets"], rows) + [""]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plotted = [e for e in table2 if e in table] or [e for e in entries if e in table]
        width = 0.8 / max(len(plotted), 1)
        fig, ax = plt.subplots(figsize=(9, 4))
        for j, e in enumerate(plotted):
            xs = [i + (j - (len(plotted) - 1) / 2) * width for i in range(4)]
            ax.bar(xs, [100 * table[e].get(q, float("nan")) for q in names], width, label=e)
        ax.set_xticks(range(4), [f"{q}{' (rarest)' if q == 'Q1' else ''}" for q in names])
        ax.set_ylabel("test F1 (%)")
        ax.set_title("F1 per training-frequency quartile (mean over datasets and seeds)")
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        fig.savefig(out / "quartiles.png", dpi=120)
        plt.close(fig)
        lines += ["![quartiles](quartiles.png)", ""]
    except Exception as exc:  # pragma: no cover - plotting is a convenience
        lines += [f"(quartiles.png not written: {exc})", ""]
    return lines


def _read_examples_tsv(path: Path) -> tuple[list[str], list[float]]:
    """(group label, final hardness m) per training index, from a HAMR run's ``hamr_examples.tsv``."""
    labels, hardness = [], []
    with open(path, encoding="utf-8") as fh:
        col = {name: i for i, name in enumerate(fh.readline().rstrip("\n").split("\t"))}
        for expected, line in enumerate(fh):
            parts = line.rstrip("\n").split("\t")
            if int(parts[col["index"]]) != expected:
                raise ValueError(f"{path}: row {expected} holds index {parts[col['index']]}")
            labels.append(parts[col["label"]])
            hardness.append(float(parts[col["hardness_m"]]))
    return labels, hardness


def training_split_of_run(run_dir: Path):
    """The training split a bench run trained on, in index order, rebuilt from its ``run.json`` (same data,
    seed, limit and training-example cap; for a HAMR run that strips its meta set from train, the stripped
    split). The hamr_examples.tsv has no texts (some corpora's terms forbid publishing them)."""
    from . import pipeline
    from .metaset import build_meta_set

    payload = json.loads((run_dir / RUN_FILE).read_text())
    config = pipeline.RunConfig(**payload["config"])
    bundle = pipeline.load_data(config)
    options = config.options
    if config.method == "hamr" and (options.get("meta_strip_from_train") or options.get("faithful")):
        meta = build_meta_set(bundle.train, bundle.validation, seed=config.seed, strip_from_train=True)
        return meta.train if meta.train is not None else bundle.train, options
    return bundle.train, options


def _hardness_of_run(run_dir: Path, train) -> "np.ndarray":
    """The final hardness m of a HAMR run, in index order, checked against its rebuilt training split:
    from the label-free ``hamr_hardness.json`` (committed with the run) when there is one, else from the
    local ``hamr_examples.tsv`` (each row's label checked against the split), which is then converted to
    ``hamr_hardness.json`` so that the run's Table 4 row survives the machine."""
    import numpy as np

    from .data import entity_types_of
    from .resampling import read_hardness_file, write_hardness_file
    from .trainer import HARDNESS_FILE_NAME

    texts = train.all_texts()
    hardness_file = run_dir / HARDNESS_FILE_NAME
    if hardness_file.exists():
        return read_hardness_file(hardness_file, texts)
    groups, m = _read_examples_tsv(run_dir / "hamr_examples.tsv")
    if len(train) != len(groups):
        raise ValueError(f"the rebuilt training split has {len(train)} examples, hamr_examples.tsv {len(groups)}")
    if train.texts is not None:
        bad = next((i for i, (a, b) in enumerate(zip(train.labels, groups)) if a != b), None)
    else:
        types = [set(entity_types_of(t)) or {"O"} for t in train.labels]
        bad = next((i for i, (ts, g) in enumerate(zip(types, groups)) if re.sub(r"^[BIES]-", "", g) not in ts), None)
    if bad is not None:
        raise ValueError(f"example {bad}: hamr_examples.tsv says {groups[bad]!r}, the rebuilt split disagrees")
    write_hardness_file(hardness_file, m, texts)
    return np.asarray(m, dtype=np.float64)


def consistency_for_run(run_dir: Path, record: dict, k: int = 10) -> dict[str, float]:
    """Table 4 for one HAMR run: local label consistency of Random / Full Set / Hard Samples / Hard
    Neighbours. The hard set is the top ``knn_ratio`` of the run's final hardness m (``hamr_hardness.json``,
    else ``hamr_examples.tsv``: :func:`_hardness_of_run`); texts and labels come from
    :func:`training_split_of_run` (checked against the hardness file), embeddings from
    :func:`hamr.embeddings.embed_texts` (the run's embedder; cached). NER sentences are labelled with
    :func:`hamr.resampling.ner_sentence_labels` (their most frequent entity type)."""
    from .embeddings import embed_texts
    from .resampling import consistency_table, hard_indices, ner_sentence_labels
    from .training_args import HAMRArguments

    train, options = training_split_of_run(run_dir)
    m = _hardness_of_run(run_dir, train)
    labels = list(train.labels) if train.texts is not None else ner_sentence_labels(train.labels)
    defaults = {f.name: f.default for f in dataclasses.fields(HAMRArguments)}
    ratio = float(options.get("knn_ratio", defaults["knn_ratio"]))
    emb = embed_texts(train.all_texts(), options.get("embedding_model") or defaults["embedding_model"],
                      cache_dir=options.get("embedding_cache_dir"))
    return consistency_table(emb, labels, hard_indices(m, ratio), k=k, seed=int(record["seed"]))


def _has_hardness(run_dir: Path) -> bool:
    return (run_dir / "hamr_hardness.json").exists() or (run_dir / "hamr_examples.tsv").exists()


def _consistency_section(out: Path, records: list[dict], datasets: list[str], hamr: str | None,
                         compute: bool) -> list[str]:
    lines = ["## Table 4: local label consistency", "",
             "Share of training examples whose 10 nearest training neighbours (sentence embeddings) mostly share "
             "their label, for a random set of the hard set's size, all examples, the hard set (top `knn_ratio` by "
             "the final hardness m of a HAMR run) and the hard set with its neighbours; mean over seeds.", ""]
    if not compute:
        return lines + ["not available: skipped (--no-consistency).", ""]
    runs = [r for r in records if r["method"] == hamr and _has_hardness(out / r["run_dir"])]
    if not runs:
        why = "no HAMR runs" if not any(r["method"] == hamr for r in records) else \
            "no HAMR run has its hardness (hamr_hardness.json or hamr_examples.tsv)"
        return lines + [f"not available: {why}.", ""]
    per: dict[str, list[dict[str, float]]] = {}
    problems = []
    for r in runs:
        try:
            table = consistency_for_run(out / r["run_dir"], r)
            per.setdefault(r["dataset"], []).append(table)
        except Exception as exc:
            problems.append(f"{r['run_dir']}: {exc}")
    sets = [("random", "Random"), ("full_set", "Full Set"), ("hard_samples", "Hard Samples"),
            ("hard_neighbours", "Hard Neighbours")]
    ds = [d for d in datasets if d in per]
    rows = [[label, *[f"{100 * sum(t[key] for t in per[d]) / len(per[d]):.1f}" for d in ds]] for key, label in sets]
    rows.append(["runs (seeds)", *[str(len(per[d])) for d in ds]])
    if ds:
        lines += _md_table(["set", *[DATASET_LABELS.get(d, d) for d in ds]], rows) + [""]
    lines += [f"not available for {p}" for p in problems]
    lines += _rerun_notes(out, runs)
    return lines + [""]


def _rerun_notes(out: Path, runs: list[dict]) -> list[str]:
    """Which Table 4 hard sets come from a re-run (``hardness_rerun.json``, benchmarks/runs/rerun_hardness.py)
    and whether the re-run reproduced the committed test scores."""
    reruns = []
    for r in runs:
        path = out / r["run_dir"] / "hardness_rerun.json"
        if path.exists():
            reruns.append((r["run_dir"], json.loads(path.read_text())))
    if not reruns:
        return []
    differ = [(d, x) for d, x in reruns if not x.get("reproduced")]
    line = (f"{len(reruns)} of {len(runs)} hard sets come from a re-run of the run (same configuration and seed; "
            "its hardness table had not been kept)")
    if not differ:
        return ["", line + "; every re-run reproduced the committed test macro- and micro-F1 (to 1e-9)."]
    lines = ["", line + f"; {len(differ)} re-run(s) did not reproduce the committed test scores (test macro-F1 "
             "committed → re-run):"]
    for d, x in differ:
        c, n = (x.get("committed_test") or {}).get("macro_f1"), (x.get("rerun_test") or {}).get("macro_f1")
        lines.append(f"- {d}: {_pct(c)} → {_pct(n)}")
    return lines


def _overhead_section(agg, datasets: list[str], entries: list[str], records: list[dict]) -> list[str]:
    lines = ["## Overhead (Appendix F)", "",
             "Means over seeds: training wall time (`train s`: the Trainer's training, with any method's extra "
             "stages and per-epoch evaluation), seconds per epoch, the whole run's wall time (`run s`: process "
             "start, data, training, final evaluation) and the peak resident memory of the run's process; "
             "ratios to ERM on the same dataset and machine.", ""]
    rows = []
    for d in datasets:
        erm = agg.get((d, "erm"))
        for e in entries:
            a = agg.get((d, e))
            if a is None:
                continue
            t, mem = a.mean("train_seconds"), a.mean("peak_memory_mb")
            rt = f"{t / erm.mean('train_seconds'):.2f}×" if erm and t and erm.mean("train_seconds") else "–"
            rm = f"{mem / erm.mean('peak_memory_mb'):.2f}×" if erm and mem and erm.mean("peak_memory_mb") else "–"
            wall = a.mean("wall_seconds")
            rows.append([DATASET_LABELS.get(d, d), e, str(a.n), f"{t:.0f}" if t else "–",
                         f"{a.mean('seconds_per_epoch'):.0f}" if a.mean("seconds_per_epoch") else "–",
                         f"{wall:.0f}" if wall else "–", f"{mem:.0f}" if mem else "–", rt, rm])
    if not rows:
        return lines + ["not available: no finished runs.", ""]
    lines += _md_table(["dataset", "method", "n", "train s", "s/epoch", "run s", "peak MB", "time × ERM",
                        "memory × ERM"], rows)
    lines += ["", "Paper (H100, Idai19): HAMR 686 s, LNR 566 s, GBC 849 s of training.", ""]
    busy = [r for r in records if _busy(r.get("load_average"))]
    if busy:
        lines += [f"Caution: {len(busy)} of {len(records)} runs started or ended with a 1-minute load average above "
                  "the machine's core count (other processes were running): their timings are inflated.", ""]
    return lines


def _busy(load: dict | None) -> bool:
    """Did a run share the machine? (1-minute load average at its start or end above the cores, +0.5.)"""
    if not load or not load.get("cpus"):
        return False
    return max(load.get("start") or 0, load.get("end") or 0) > load["cpus"] + 0.5


def write_report(results_dir: str | os.PathLike, consistency: bool = True) -> Path:
    """Write ``<results_dir>/report.md`` (and ``quartiles.png``) from the finished runs; see the module."""
    out = Path(results_dir)
    if not out.is_dir():
        raise FileNotFoundError(f"{out}: no such results folder")
    records = collect_records(out)
    _write_json_atomic(out / "summary.json", records)
    meta = json.loads((out / "protocol.json").read_text()) if (out / "protocol.json").exists() else {}
    raw = meta.get("protocol") or {}
    agg = aggregate(records)
    expected = len(meta.get("seeds") or []) or max((a.n for a in agg.values()), default=0)

    order_entries = [e if isinstance(e, str) else (e.get("name") or e.get("method")) for e in raw.get("methods", [])]
    datasets = _ordered((r["dataset"] for r in records), raw.get("datasets") or list(DATASET_LABELS))
    entries = _ordered((r["method"] for r in records), order_entries)
    info = {r["method"]: {"base_method": r["base_method"], "ablation": r["ablation"]} for r in records}
    hamr = _hamr_entry(info)
    ablations = [e for e in entries if info[e]["base_method"] == "hamr" and info[e]["ablation"] not in (None, "full")]
    table2 = [e for e in entries if e not in ablations]

    protocol_name = meta.get("name") or (records[0]["protocol"] if records else out.name)
    n_expected = None
    if raw:
        try:
            n_expected = len(expand_grid(parse_protocol(raw, meta.get("path", "protocol.json"))))
        except ProtocolError:
            n_expected = None
    versions = sorted({(r.get("code_version") or {}).get("git") or "?" for r in records})
    lines = [f"# Benchmark report: {protocol_name}", "",
             f"{len(records)} finished runs" + (f" of {n_expected}" if n_expected else "") +
             f" in `{out}`; seeds per cell expected: {expected or '?'} (cells with fewer show n=…). "
             f"Code versions: {', '.join(versions) or '–'}. Scores are test-set percentages, mean ± sample "
             "standard deviation over seeds.", ""]
    if raw.get("settings"):
        lines += [f"Settings: `{json.dumps(raw.get('settings'))}`" +
                  (f"; per dataset: `{json.dumps(raw.get('dataset_settings'))}`" if raw.get("dataset_settings") else ""),
                  ""]
    if raw.get("notes"):
        notes = raw["notes"] if isinstance(raw["notes"], str) else " ".join(raw["notes"])
        lines += [f"Protocol notes: {notes}", ""]

    lines += ["## Table 2: macro-F1 and micro-F1", ""]
    if not records:
        lines += ["not available: no finished runs.", ""]
    else:
        lines += _metric_block("Macro-F1 (best per dataset in bold)", table2, datasets, agg, "macro_f1", expected, True)
        lines += _metric_block("Micro-F1 (best per dataset in bold)", table2, datasets, agg, "micro_f1", expected, True)
        lines += [_gain_sentence(agg, datasets, table2, hamr), ""]
    paper_ds = [d for d in (datasets or raw.get("datasets") or []) if d in PAPER_TABLE2["HAMR"]]
    if paper_ds:
        rows = [[name, *[f"{vals[d][0]:.1f} / {vals[d][1]:.1f}" for d in paper_ds]] for name, vals in PAPER_TABLE2.items()]
        lines += ["**The paper's figures (deberta-v3-base, macro-F1 / micro-F1; method.md §9), not comparable run "
                  "for run with a different backbone and budget**", "",
                  *_md_table(["paper", *[DATASET_LABELS.get(d, d) for d in paper_ds]], rows), ""]
        if "humaid_idai19" in datasets:
            lines += ["Measured earlier on this machine (method.md §10; Idai19, MiniLM, length 64, batch 16, 3 epochs, "
                      "seed 42): plain fine-tuning 38.5 / 78.2, inverse class frequency 58.6 / 74.2.", ""]

    lines += ["## Table 3: ablations", ""]
    if hamr is None:
        lines += ["not available: no finished full-HAMR runs.", ""]
    else:
        by_ablation = {info[e]["ablation"]: e for e in reversed(ablations)}
        rows_e, labels = [hamr], {hamr: f"HAMR ({hamr})"}
        for abl in ("without_awe", "without_resampling", "without_knn", "without_all"):
            if abl in by_ablation:
                rows_e.append(by_ablation[abl])
                labels[by_ablation[abl]] = f"{ABLATION_LABELS[abl]} ({by_ablation[abl]})"
        if "erm" in entries:
            rows_e.append("erm")
            labels["erm"] = "w/o All = ERM (erm)" if "without_all" not in by_ablation else "ERM (erm), reference"
        lines += _metric_block("Macro-F1", rows_e, datasets, agg, "macro_f1", expected, False, labels)
        lines += _metric_block("Micro-F1", rows_e, datasets, agg, "micro_f1", expected, False, labels)

    lines += _quartile_section(out, records, entries, table2)
    lines += _consistency_section(out, records, datasets, hamr, consistency)
    lines += _overhead_section(agg, datasets, entries, records)
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ======================================================================================================
# CLI
# ======================================================================================================

bench_app = typer.Typer(no_args_is_help=True, help="Run a benchmark protocol and report on it.")


def _split_list(values: Optional[list[str]]) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


@bench_app.command("run")
def bench_run(
    config: Path = typer.Argument(..., help="Protocol file (e.g. benchmarks/configs/cpu.json)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Results folder (default benchmarks/results/<protocol>)."),
    only_datasets: Optional[list[str]] = typer.Option(None, "--only-datasets", help="Datasets to run (comma-separated or repeated)."),
    only_methods: Optional[list[str]] = typer.Option(None, "--only-methods", help="Method entries to run (comma-separated or repeated)."),
    seeds: Optional[list[str]] = typer.Option(None, "--seeds", help="Seeds to run instead of the protocol's."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the grid, what is done and the estimated time; run nothing."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Runs side by side (each its own process)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Intra-op threads per run (default: cores / jobs when --jobs > 1, else torch's default)."),
    ray_address: Optional[str] = typer.Option(None, "--ray", help="Dispatch every run as a Ray task on this cluster ('auto', 'ray://HEAD:10001', 'local'); needs `pip install hamr[ray]`."),
    ray_cpus: float = typer.Option(1.0, "--ray-cpus", help="CPUs reserved per Ray task (with --ray)."),
    ray_gpus: float = typer.Option(0.0, "--ray-gpus", help="GPUs reserved per Ray task (with --ray)."),
) -> None:
    """Run every (dataset, method entry, seed) of a protocol, each in its own process; finished runs are skipped."""
    try:
        protocol = load_protocol(config)
        seed_list = [int(s) for s in _split_list(seeds)] if seeds else None
        specs = expand_grid(protocol, _split_list(only_datasets) or None, _split_list(only_methods) or None, seed_list)
    except (ProtocolError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    out = out or Path("benchmarks") / "results" / protocol.name
    if dry_run:
        try:
            check_finished_runs(specs, out)  # a real run checks in run_grid / run_bench_on_ray
        except ProtocolError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2)
        _print_plan(protocol, specs, out)
        return
    signal.signal(signal.SIGTERM, _sigterm_to_exit)  # `kill PID` stops the current run's process too
    try:
        if ray_address is not None:
            from .distributed import run_bench_on_ray

            counts = run_bench_on_ray(protocol, out, specs, None if ray_address == "local" else ray_address,
                                      num_cpus=ray_cpus, num_gpus=ray_gpus)
        else:
            counts = run_grid(protocol, out, specs, jobs=jobs, threads=threads)
    except ProtocolError as exc:  # finished runs made with other settings (check_finished_runs)
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    except (RuntimeError, ImportError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)
    if counts["failed"]:
        raise typer.Exit(1)


def _print_plan(protocol: Protocol, specs: list[RunSpec], out: Path) -> None:
    table = Table(title=f"{protocol.name}: {len(specs)} runs -> {out}")
    for col in ("dataset", "settings", "entries × seeds", "done", "unfinished", "est. per seed", "est. to run"):
        table.add_column(col, justify="left" if col in ("dataset", "settings") else "right")
    total_all, total_todo, unknown = 0.0, 0.0, False
    measured = measured_costs(out)
    for d in dict.fromkeys(s.dataset for s in specs):
        ds = [s for s in specs if s.dataset == d]
        done = sum((s.folder(out) / DONE).exists() for s in ds)
        unfinished = sum(s.folder(out).exists() and not (s.folder(out) / DONE).exists() for s in ds)
        est = [estimate_seconds(s, measured) for s in ds]
        todo = [e for s, e in zip(ds, est) if not (s.folder(out) / DONE).exists()]
        unknown |= any(e is None for e in est)
        n_seeds = len({s.seed for s in ds})
        all_known = sum(e for e in est if e is not None)
        total_all += all_known
        total_todo += sum(e for e in todo if e is not None)
        s0 = ds[0].settings
        brief = f"len {s0['max_length']}, {s0['epochs']:g} ep, bs {s0['batch_size']}" + (
            f", train ≤ {s0['max_train_examples']}" if s0.get("max_train_examples") else "") + (
            f", limit {s0['limit']}" if s0.get("limit") else "")
        table.add_row(d, brief, f"{len({s.entry for s in ds})} × {n_seeds}", str(done), str(unfinished),
                      _hms(all_known / max(n_seeds, 1)), _hms(sum(e for e in todo if e is not None)))
    console.print(table)
    if unknown and not total_all:
        console.print("no time estimate: the cost model knows MiniLM on the six benchmarks only")
        return
    note = " (some runs have no estimate: the cost model knows MiniLM on the six benchmarks only)" if unknown else ""
    console.print(f"estimated machine time (this 2-core CPU): {_hms(total_all)} for the whole selection, "
                  f"{_hms(total_todo)} still to run{note}")


@bench_app.command("summary")
def bench_summary(
    root: Path = typer.Argument(Path("benchmarks/results"), help="A folder holding bench results folders."),
) -> None:
    """Write <root>/summary.json: one record per finished run of every results folder beneath root (the CPU
    grid, the screens, ...), with its protocol and results folder."""
    try:
        path = write_combined_summary(root)
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    n = len(json.loads(path.read_text()))
    console.print(f"[green]wrote[/green] {path} ({n} runs)")


@bench_app.command("report")
def bench_report(
    results_dir: Path = typer.Argument(Path("benchmarks/results/cpu"), help="A results folder of `hamr bench run`."),
    no_consistency: bool = typer.Option(False, "--no-consistency", help="Skip Table 4 (it embeds the training texts)."),
    html: bool = typer.Option(True, "--html/--no-html", help="Also write report.html (report.md as a page, with a "
                              "Pareto figure of macro-F1 against training time)."),
) -> None:
    """Write <results_dir>/report.md (Tables 2-4, Figure 2 as quartiles.png, overhead), summary.json and
    report.html."""
    try:
        path = write_report(results_dir, consistency=not no_consistency)
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    console.print(f"[green]wrote[/green] {path}")
    if html:
        from .report import write_bench_html

        console.print(f"[green]wrote[/green] {write_bench_html(results_dir)}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hamr.bench _one RUN_JSON``: one run, in this process (what the grid's subprocesses do)."""
    import logging

    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2 or argv[0] != "_one":
        print("usage: python -m hamr.bench _one RUN_JSON   (use `hamr bench run` for a protocol)", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=os.environ.get("HAMR_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_one(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
