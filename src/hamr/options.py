"""The one ``key=value`` parser and validator of the library: ``hamr train -o/--option`` and ``--data-option``,
protocol files' ``options`` and :class:`~hamr.config.RunConfig`'s ``options`` all go through here.

Typed fields are those of a dataclass (a method's arguments class, :class:`~hamr.config.RunConfig`); an error
names where the value came from (``--option``, a protocol file and its field) and what was expected.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from typing import Any, Iterable, Mapping

from .errors import InputError


class OptionError(InputError):
    """A ``key=value`` option that cannot be used; the message names where it came from and what was expected."""


def field_types(cls: type) -> dict[str, Any]:
    """``{field name: type}`` of a dataclass (string annotations resolved)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _optional(typ: Any) -> tuple[Any, bool]:
    """(the non-None type, whether None is allowed) of an annotation, for the strict readers (``-o`` strings and
    protocol JSON): a union of several types is read as its *first* member, so ``SchedulerType | str`` accepts only
    a scheduler's name. :func:`base_type` is the lenient twin for config files, which keeps such a union whole."""
    if typing.get_origin(typ) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        return (args[0] if args else str), len(args) < len(typing.get_args(typ))
    return typ, False


def split_pair(pair: str, where: str) -> tuple[str, str]:
    """``"key=value"`` -> (key with ``-`` read as ``_``, value), both stripped."""
    if "=" not in pair:
        raise OptionError(f"{where} {pair!r}: expected key=value")
    key, raw = pair.split("=", 1)
    return key.strip().replace("-", "_"), raw.strip()


def convert(name: str, raw: str, typ: Any, where: str = "--option") -> Any:
    """A ``key=value`` string converted to the field's type (None, bool, int, float, str, enum)."""
    typ, nullable = _optional(typ)
    if nullable and raw.lower() in ("none", "null"):
        return None
    if typ is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise OptionError(f"{where} {name}: expected true/false, got {raw!r}")
    try:
        if isinstance(typ, type) and issubclass(typ, enum.Enum):
            return typ.parse(raw) if hasattr(typ, "parse") else typ(raw)
        if typ in (int, float, str):
            return typ(raw)
    except ValueError as exc:
        raise OptionError(f"{where} {name}: {exc}") from None
    return raw


def check(name: str, value: Any, typ: Any, where: str) -> Any:
    """A typed value (e.g. from JSON) checked against the field's type; enum words are checked, not converted."""
    typ, nullable = _optional(typ)
    if value is None:
        if nullable:
            return None
        raise OptionError(f"{where}: null is not allowed for {name}")
    if isinstance(typ, type) and issubclass(typ, enum.Enum):
        try:
            typ.parse(value) if hasattr(typ, "parse") else typ(value)
        except ValueError as exc:
            raise OptionError(f"{where}: {exc}") from None
        return value
    ok = True
    if typ is bool:
        ok = isinstance(value, bool)
    elif typ is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif typ is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif typ is str:
        ok = isinstance(value, str)
    if not ok:
        raise OptionError(f"{where}: expected {getattr(typ, '__name__', typ)} for {name}, got {value!r}")
    return value


def parse_options(pairs: Iterable[str], cls: type, where: str = "--option") -> dict[str, Any]:
    """``["lookahead_scope=head", "meta_interval=2"]`` -> a typed dict of fields of ``cls``."""
    types_ = field_types(cls)
    out: dict[str, Any] = {}
    for pair in pairs:
        key, raw = split_pair(pair, where)
        if key not in types_:
            raise OptionError(f"{where} {key}: not a field of {cls.__name__}")
        out[key] = convert(key, raw, types_[key], where)
    return out


def validate_options(options: Any, cls: type, where: str, reserved: Iterable[str] = (),
                     reserved_reason: str = "") -> dict[str, Any]:
    """Check a mapping of typed options (a protocol file's, :class:`RunConfig`'s) against the fields of ``cls``;
    ``reserved`` names fields that may not be set this way."""
    if not isinstance(options, Mapping):
        raise OptionError(f"{where}: expected an object of options, found {type(options).__name__}")
    types_ = field_types(cls)
    reserved = set(reserved)
    for key, value in options.items():
        if key in reserved:
            raise OptionError(f"{where}.{key}: {reserved_reason or 'not allowed here'}")
        if key not in types_:
            raise OptionError(f"{where}.{key}: unknown option: not a field of {cls.__name__}")
        check(key, value, types_[key], f"{where}.{key}")
    return dict(options)


_DECIMAL = re.compile(r"-?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?|-?\d+[eE][-+]?\d+")


def parse_data_options(pairs: Iterable[str], where: str = "--data-option") -> dict[str, Any]:
    """Loader options ``key=value`` (e.g. ``tag_column=0``, ``validation_size=0.2``): integers become ``int``,
    decimal numbers ``float``, anything else stays a string (the loaders' keyword arguments; an unknown one is
    reported by the loader)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, raw = split_pair(pair, where)
        if not key:
            raise OptionError(f"{where} {pair!r}: empty key")
        if raw.lstrip("-").isdigit():
            out[key] = int(raw)
        elif _DECIMAL.fullmatch(raw):
            out[key] = float(raw)
        else:
            out[key] = raw
    return out


def base_type(typ: Any) -> tuple[Any, bool]:
    """(the type without Optional, whether None is allowed), for :func:`coerce` (config files): a union of several
    types stays whole (``report_to: str | list[str]`` takes either), unlike the strict :func:`_optional`."""
    if typing.get_origin(typ) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        return (args[0] if len(args) == 1 else typ), type(None) in typing.get_args(typ)
    return typ, False


def coerce(value: Any, typ: Any, where: str) -> Any:
    """``value`` (from YAML/JSON, or a string) as the field's type, converting where the meaning is plain (``"3"``
    or ``3.0`` for an int field, ``"yes"`` for a bool); an :class:`OptionError` naming ``where``. Config files
    (:mod:`hamr.config_file`) read their values through it."""
    base, nullable = base_type(typ)
    single = typing.get_origin(base) not in (typing.Union, types.UnionType)  # report_to: str | list, "none" is a word
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null") and nullable and single):
        if nullable or base is Any:
            return None
        raise OptionError(f"{where}: may not be null")
    try:
        if isinstance(base, type) and issubclass(base, enum.Enum):
            return base.parse(value) if hasattr(base, "parse") else base(value)
        if base is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                return value.lower() in ("1", "true", "yes", "on")
            raise ValueError(f"expected true/false, found {value!r}")
        if base is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(f"expected an integer, found {value!r}")
            return int(value)
        if base is float:
            if isinstance(value, bool):
                raise ValueError(f"expected a number, found {value!r}")
            return float(value)
        if base is str:
            if isinstance(value, (dict, list)):
                raise ValueError(f"expected a string, found {type(value).__name__}")
            return str(value)
    except ValueError as exc:
        raise OptionError(f"{where}: {exc}") from None
    return value
