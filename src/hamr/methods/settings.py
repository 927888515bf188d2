"""The settings a run of a method used, as recorded in ``metrics.json`` (``method_settings``,
``resolved_method_settings``), and which of them can change what a method does (read from its registry entry):
what the bench's staleness checks, ``hamr options`` and the model card compare."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Any

from ..enums import Method, TaskType
from .arguments import ImbalanceArguments
from .registry import get_method


def _method_settings(args: ImbalanceArguments) -> dict[str, str]:
    """Every field the method's arguments add to TrainingArguments, as run (defaults included)."""
    from transformers import TrainingArguments

    base = {f.name for f in dataclasses.fields(TrainingArguments)}
    return {f.name: str(getattr(args, f.name)) for f in dataclasses.fields(args) if f.name not in base}


def relevant_method_settings(method: Method | str, settings: dict[str, str]) -> dict[str, str]:
    """The part of a run's ``method_settings`` (see :func:`run`) that can change what ``method`` does: the fields
    its arguments class adds (:meth:`~hamr.methods.registry.MethodSpec.own_fields`; HAMR's own fields for HAMR,
    ``dice_smooth`` for Dice, nothing for ERM, ICF and the balanced sampler). Two runs of a method with equal
    relevant settings ran the same method, whatever the other methods' defaults were."""
    names = set(get_method(method).own_fields())
    return {k: v for k, v in settings.items() if k in names}


def current_method_settings(method: Method | str, options: dict[str, Any]) -> dict[str, str]:
    """What :func:`run` would record as ``method_settings`` for ``method`` with ``options`` on this code
    version (the library's current defaults), restricted to :func:`relevant_method_settings`."""
    method = Method.parse(method)
    return relevant_method_settings(method, _method_settings(_probe_arguments(method, options)))


def _probe_arguments(method: Method, options: dict[str, Any]) -> ImbalanceArguments:
    """The method's arguments with ``options`` on this code version's defaults (nothing is trained)."""
    cls = get_method(method).arguments_class
    return cls(output_dir=os.path.join(tempfile.gettempdir(), "hamr_settings_probe"), method=method, report_to=[],
               use_cpu=True, **options)


# resolved values that follow from the protocol's own settings (compared there), not from a library default
_PROTOCOL_RESOLVED = ("meta_batch_size",)


def _resolved_method_settings(args: ImbalanceArguments, task: TaskType) -> dict[str, str]:
    """The task-dependent values a HAMR run actually used (:meth:`HAMRArguments.resolved`: the weight net's lr,
    τ, λ, ... that its fields leave at None), as strings; empty for the other methods."""
    resolved = getattr(args, "resolved", None)  # the method's task-dependent defaults (HAMR's)
    if resolved is None:
        return {}
    return {k: str(v) for k, v in resolved(task).items()}


def current_resolved_settings(method: Method | str, options: dict[str, Any], task: TaskType | str) -> dict[str, str]:
    """What :func:`run` would record as ``resolved_method_settings`` for ``method`` with ``options`` on a
    ``task`` dataset on this code version, without the values the protocol's settings decide (the meta batch
    size follows the batch size)."""
    method = Method.parse(method)
    if not hasattr(get_method(method).arguments_class, "resolved"):
        return {}
    resolved = _resolved_method_settings(_probe_arguments(method, options), TaskType.parse(task))
    return {k: v for k, v in resolved.items() if k not in _PROTOCOL_RESOLVED}


def recorded_resolved_settings(method: Method | str, resolved: dict[str, str],
                               settings: dict[str, str]) -> dict[str, str]:
    """A finished run's ``resolved_method_settings`` completed with the values it ran with but did not record
    (settings recorded only since a later session), derived from what it did record (its arguments class's
    ``unrecorded_resolved``, e.g. HAMR's ``uses_example_residual``), so a default changed since is still seen."""
    fill = getattr(get_method(Method.parse(method)).arguments_class, "unrecorded_resolved", None)
    return {**resolved, **fill(resolved, settings)} if fill is not None else dict(resolved)
