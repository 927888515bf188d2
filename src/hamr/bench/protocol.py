"""Bench protocols: the JSON file (see the :mod:`hamr.bench` docstring), its validation and its grid of runs."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from ..config import SETTING_DEFAULTS
from ..enums import DecisionOffsets
from ..errors import InputError
from ..options import OptionError, validate_options

DEFAULT_SEEDS = [42, 43, 44]


PROTOCOL_KEYS = {
    "name", "description", "notes", "seeds", "settings", "datasets", "dataset_settings", "methods",
    "method_options", "dataset_method_options",
}
ENTRY_KEYS = {"name", "method", "options", "settings", "datasets", "label"}
#: TrainingArguments fields the harness sets from ``settings`` / the grid: not allowed as options.
RESERVED_OPTIONS = {
    "output_dir", "method", "seed", "data_seed", "num_train_epochs", "per_device_train_batch_size",
    "learning_rate", "eval_strategy", "save_strategy",
}


class ProtocolError(InputError):
    """A protocol file that cannot be run; the message names the file and the field."""


@dataclass(frozen=True)
class Entry:
    """One method entry of a protocol: a name (the results folder), a method, its options and the run settings
    it overrides (over the protocol's and the dataset's); ``datasets``: the protocol's datasets it runs on (None:
    all of them; e.g. an ablation of a part only one task's HAMR has); ``label``: its row name in the report (a
    HAMR entry with a label, or with an ablation, is a Table-3 row)."""

    name: str
    method: str
    options: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    datasets: Optional[list[str]] = None
    label: Optional[str] = None

    @property
    def ablation(self) -> str | None:
        """The ablation of a method that has an ``ablation`` field (HAMR: ``full`` when not set), else None."""
        from ..methods import get_method

        if "ablation" not in get_method(self.method).own_fields():
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
        """Keyword arguments of :class:`hamr.config.RunConfig` (bench runs never save the model)."""
        s = dict(self.settings)
        kwargs = dict(dataset=self.dataset, method=self.method, seed=self.seed, output_dir=str(output_dir),
                      save_model=False, options=dict(self.options), **s)
        if self.data is not None:
            from ..data.filespec import FileDataset

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
    elif key == "validation_holdout":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1
    elif key == "decision_offsets":
        ok = isinstance(value, str) and value in {m.value for m in DecisionOffsets}
    if not ok:
        raise _fail(path, where, f"invalid value {value!r} for setting {key!r}")


def _check_options(path: str, where: str, method: str, options: Any) -> None:
    """A protocol's options of ``method``, checked against its arguments class (:func:`hamr.options.validate_options`)."""
    from ..methods import get_method

    try:
        validate_options(options, get_method(method).arguments_class, where, reserved=RESERVED_OPTIONS,
                         reserved_reason="set by the harness (use the protocol's settings, seeds or methods)")
    except OptionError as exc:
        raise ProtocolError(f"{path}: {exc} (method {method})") from None


def _parse_entry(path: str, i: int, raw: Any, methods: list[str]) -> Entry:
    where = f"methods[{i}]"
    if isinstance(raw, str):
        raw = {"name": raw, "method": raw}
    if not isinstance(raw, dict):
        raise _fail(path, where, "expected a method name or an object {name, method, options, settings, datasets, "
                    "label}")
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
    only = raw.get("datasets")
    if only is not None and (not isinstance(only, list) or not only or not all(isinstance(d, str) for d in only)):
        raise _fail(path, f"{where}.datasets", f"expected a non-empty list of the protocol's dataset names, found {only!r}")
    label = raw.get("label")
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise _fail(path, f"{where}.label", f"expected a non-empty string, found {label!r}")
    return Entry(name, method, dict(options), dict(settings), list(only) if only else None, label)


def parse_protocol(raw: Any, path: str = "<protocol>") -> Protocol:
    """Validate a protocol (the parsed JSON); errors are :class:`ProtocolError` naming ``path`` and the field."""
    from ..data import BENCHMARKS
    from ..methods import list_methods

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
            from ..data import DataError
            from ..data.filespec import FileDataset

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

    methods = [m.value for m in list_methods()]
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
    protocol = Protocol(str(name), path, list(datasets), entries, list(seeds), settings,
                        {k: dict(v) for k, v in dataset_settings.items()}, method_options, dmo, str(notes), raw, files)
    for i, e in enumerate(entries):
        for d in e.datasets or []:
            if d not in datasets:
                raise _fail(path, f"methods[{i}].datasets", f"{d!r} is not a dataset of this protocol "
                            f"(it has: {', '.join(datasets)})")
    _check_task_options(protocol)
    return protocol


def dataset_task(protocol: Protocol, dataset: str) -> str:
    """The task (``classification`` / ``ner``) of one of the protocol's datasets."""
    from ..data import BENCHMARKS

    return str(protocol.files[dataset]["task"]) if dataset in protocol.files else str(BENCHMARKS[dataset].task)


def _check_task_options(protocol: Protocol) -> None:
    """Each entry's options resolved on the task of each dataset it runs on (HAMR's defaults depend on the task:
    e.g. ``ablation=without_class_params`` needs the class_residual form, which is NER's default and not
    classification's), so that a protocol that cannot run fails here rather than after hours of other runs."""
    from ..methods.settings import current_resolved_settings

    done: set[str] = set()
    for i, e in enumerate(protocol.entries):
        for d in e.datasets or protocol.datasets:
            opts, task = _options_for(protocol, d, e), dataset_task(protocol, d)
            key = json.dumps([e.method, opts, task], sort_keys=True, default=str)
            if key in done:
                continue
            done.add(key)
            try:
                current_resolved_settings(e.method, opts, task)
            except ValueError as exc:
                raise _fail(protocol.path, f"methods[{i}] ({e.name}) on {d} ({task})",
                            f"{exc}; restrict the entry with \"datasets\"") from None


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
                if e.datasets is not None and d not in e.datasets:
                    continue
                specs.append(RunSpec(protocol.name, d, e.name, e.method, int(seed), {**settings, **e.settings},
                                     _options_for(protocol, d, e), protocol.files.get(d)))
    return specs
