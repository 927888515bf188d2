"""Run settings from a file (``hamr train --config run.yaml|run.json``) and the list of every settable field
(``hamr options``), both read off the dataclasses themselves: :class:`hamr.RunConfig` (the run settings) and
the method's arguments class (:class:`hamr.ImbalanceArguments`, :class:`hamr.HAMRArguments`, which extend
``transformers.TrainingArguments``). A field added to either is settable and listed without touching this file.

A config file is a mapping; its keys are run settings or fields of the method's arguments class, flat or
under ``options``::

    # run.yaml
    dataset: humaid_idai19          # or train: my.csv, validation: ..., test: ..., task: classification
    method: hamr
    epochs: 3
    max_length: 96
    data_options: {text_column: body, label_column: topic}
    lookahead_scope: last_k         # a HAMRArguments field, flat ...
    options: {meta_interval: 1}     # ... or under options
    report_to: tensorboard          # a TrainingArguments field

The CLI's spellings are accepted too (``train``, ``validation``, ``test``, ``format``, ``lr``, ``data_option``,
``option``, dashes for underscores). An unknown key is a :class:`ConfigError` naming the key and the file.
Explicit CLI flags override the file, and ``-o key=value`` overrides both.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import RunConfig, run_config_help
from .errors import InputError
from .methods import get_method, list_methods
from .methods.settings import relevant_method_settings
from .options import OptionError, base_type, field_types
from .options import coerce as _coerce

#: CLI spellings of run settings -> RunConfig field names.
ALIASES = {
    "train": "train_file",
    "validation": "validation_file",
    "test": "test_file",
    "format": "data_format",
    "lr": "learning_rate",
    "data_option": "data_options",
    "option": "options",
}


#: Help of RunConfig fields that have no `hamr train` flag of the same meaning (used when the field has no
#: ``help`` metadata of its own).
RUN_HELP = {
    "seed": "Seed of the model's initialisation, the sampling, the training cap and a carved validation split.",
    "save_model": "Save the model and tokenizer into output_dir/model (`hamr train --no-save-model` turns it off).",
    "evaluate_each_epoch": "Evaluate on validation after every epoch (epoch_metrics.jsonl).",
}
#: TrainingArguments fields listed by `hamr options` even without --transformers (documented hamr features).
HIGHLIGHTED_TRAINING_ARGUMENTS = ("report_to",)


class ConfigError(InputError):
    """A config file that cannot be used; the message names the file and the key."""


def run_config_class():
    return RunConfig


def arguments_class(method: Any):
    """The arguments dataclass whose fields a method's options are (its registry entry)."""
    return get_method(method).arguments_class


def coerce(value: Any, typ: Any, where: str) -> Any:
    """:func:`hamr.options.coerce`, its error as a :class:`ConfigError`."""
    try:
        return _coerce(value, typ, where)
    except OptionError as exc:
        raise ConfigError(str(exc)) from None



def read_file(path: str | Path) -> dict[str, Any]:
    """The mapping in a ``.yaml`` / ``.yml`` / ``.json`` file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    suffix = p.suffix.lower()
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    elif suffix == ".json":
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p}: not valid JSON: {exc}") from None
    else:
        raise ConfigError(f"{p}: expected a .yaml, .yml or .json file")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping of settings at the top level, found {type(raw).__name__}")
    return raw


def resolve(raw: dict[str, Any], path: str, method: Any | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a config mapping into (RunConfig fields, method options), typed and checked. ``method`` (an explicit
    CLI ``--method``) decides the arguments class over the file's ``method``."""
    run_types = field_types(run_config_class())
    norm = {ALIASES.get(str(k).replace("-", "_"), str(k).replace("-", "_")): (k, v) for k, v in raw.items()}
    chosen = method if method is not None else norm.get("method", (None, None))[1]
    if chosen is None:  # RunConfig's default method
        chosen = next(f.default for f in dataclasses.fields(run_config_class()) if f.name == "method")
    try:
        cls = arguments_class(chosen)
    except ValueError as exc:
        raise ConfigError(f"{path}: method: {exc}") from None
    arg_types = field_types(cls)
    run: dict[str, Any] = {}
    options: dict[str, Any] = {}

    def option(key: str, value: Any, where: str) -> None:
        if key not in arg_types:
            raise ConfigError(f"{path}: {where}: unknown option: not a field of {cls.__name__} (method {chosen}); "
                              "`hamr options --method ...` lists them")
        options[key] = coerce(value, arg_types[key], f"{path}: {where}")

    for key, (orig, value) in norm.items():
        if key == "options":
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: {orig}: expected a mapping of method options")
            for k, v in value.items():
                option(str(k).replace("-", "_"), v, f"{orig}.{k}")
        elif key == "data_options":
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: {orig}: expected a mapping of loader options")
            run[key] = dict(value)
        elif key in run_types:
            run[key] = coerce(value, run_types[key], f"{path}: {orig}")
        elif key in arg_types:
            option(key, value, str(orig))
        else:
            raise ConfigError(f"{path}: {orig}: unknown key: neither a run setting nor a field of {cls.__name__} "
                              f"(method {chosen}); `hamr options` lists every key")
    return run, options


def load(path: str | Path, method: Any | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read and resolve a config file: (RunConfig fields, method options)."""
    return resolve(read_file(path), str(path), method)


# ------------------------------------------------------------------------------------------ hamr options


@dataclass
class FieldInfo:
    name: str
    type: str
    default: str
    help: str
    group: str  # "run", the method's arguments class, or "TrainingArguments"


def _type_name(typ: Any) -> str:
    base, nullable = base_type(typ)
    if isinstance(base, type) and issubclass(base, enum.Enum):
        name = " | ".join(str(m.value) for m in base)
    else:
        name = getattr(base, "__name__", None) or str(base).replace("typing.", "")
    return f"{name} | None" if nullable else name


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        v = f.default
        return str(v.value) if isinstance(v, enum.Enum) else repr(v)
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return repr(f.default_factory())  # type: ignore[misc]
    return "(required)"


def list_fields(method: Any | None = None, transformers_fields: bool = False) -> list[FieldInfo]:
    """Every settable field: the run settings, then the method's own arguments (all methods' with ``method``
    None), then, with ``transformers_fields``, the inherited ``TrainingArguments`` fields."""
    from transformers import TrainingArguments

    run_help = run_config_help()
    out: list[FieldInfo] = []
    run_cls = run_config_class()
    rtypes = field_types(run_cls)
    for f in dataclasses.fields(run_cls):
        out.append(FieldInfo(f.name, _type_name(rtypes[f.name]), _default(f),
                             f.metadata.get("help") or RUN_HELP.get(f.name) or run_help.get(f.name, ""), "run"))
    base = {f.name for f in dataclasses.fields(TrainingArguments)}
    classes = ([arguments_class(method)] if method is not None else
               list(dict.fromkeys(get_method(m).arguments_class for m in list_methods())))
    seen: set[str] = set(rtypes)
    for cls in classes:
        types_ = field_types(cls)
        own = [f for f in dataclasses.fields(cls) if f.name not in base and f.name not in seen]
        if method is not None:  # only the fields the method reads (HAMR: its own; a baseline: its few)
            keep = set(relevant_method_settings(method, {f.name: "" for f in own}))
            own = [f for f in own if f.name in keep]
        for f in own:
            seen.add(f.name)
            out.append(FieldInfo(f.name, _type_name(types_[f.name]), _default(f), f.metadata.get("help", ""),
                                 cls.__name__))
    types_ = field_types(TrainingArguments)
    for f in dataclasses.fields(TrainingArguments):
        if f.name in HIGHLIGHTED_TRAINING_ARGUMENTS and f.name not in seen:
            seen.add(f.name)
            out.append(FieldInfo(f.name, "none | tensorboard | wandb (a list: several)", "'none'",
                                 "Where the Trainer logs (`hamr train --report-to`); HAMR adds per-class "
                                 "hamr/weight_mean/<class> and hamr/sampling_mass/<class> each epoch.",
                                 "TrainingArguments"))
    if transformers_fields:
        for f in dataclasses.fields(TrainingArguments):
            if f.name not in seen and f.init:
                seen.add(f.name)
                out.append(FieldInfo(f.name, _type_name(types_[f.name]), _default(f),
                                     " ".join(str(f.metadata.get("help", "")).split()), "TrainingArguments"))
    return out
