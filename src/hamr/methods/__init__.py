"""Training methods: one folder per method, each registering itself (:mod:`hamr.methods.registry`).

Every folder holds the method's arguments class, its loss or Trainer and its ``register_method(...)`` call;
shared pieces are :mod:`.arguments` (:class:`ImbalanceArguments`), :mod:`.base` (:class:`ImbalanceTrainer`
and the plumbing the meta-learning trainers share) and :mod:`.context` (what a ``train_fn`` receives).
Importing this package registers every method; :func:`get_method` and :func:`list_methods` read the registry.

Adding a method ``foo``: a ``Method.FOO`` member in :mod:`hamr.enums`; a folder ``methods/foo/`` with its
arguments class, its loss or Trainer and ``register_method(Method.FOO, FooArguments, train_foo, ...)``; one
import line below. The pipeline, the CLI's options, the bench (cost model, options, staleness checks) and the
contract suite (tests/test_methods_contract.py) pick it up from the registry.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

from .arguments import ImbalanceArguments
from .registry import MethodSpec, all_output_files, get_method, list_methods, register_method

# one import per method folder: each registers its method (in hamr.enums.Method order)
from . import erm, dice, focal, icf, effective_number, balanced_sampler, lnr, gbc, metabalance  # noqa: E402,F401,I001
from . import logit_adjustment, balanced_softmax, hamr  # noqa: E402,F401,I001


def build_loss(method: Any, class_counts: Any, **options: Any):
    """The training loss of ``method`` for ``class_counts`` (per label id; NER: per tag over labelled tokens),
    as :class:`~hamr.methods.base.ImbalanceTrainer` builds it. ``options``: fields of the method's arguments
    class (e.g. ``focal_gamma``), the others at their defaults. Methods that do not change the loss get plain
    cross-entropy."""
    from ..losses import WeightedCrossEntropy

    spec = get_method(method)
    fields = {f.name: f for f in dataclasses.fields(spec.arguments_class)}
    unknown = sorted(set(options) - set(spec.own_fields()))
    if unknown:
        raise TypeError(f"build_loss({spec.name.value!r}): unknown option(s) {', '.join(unknown)} (fields of "
                        f"{spec.arguments_class.__name__}: {', '.join(spec.own_fields()) or 'none'})")
    if spec.build_loss is None:
        return WeightedCrossEntropy()
    values = {name: fields[name].default for name in spec.own_fields()}
    values.update(options)
    return spec.build_loss(SimpleNamespace(method=spec.name, **values), class_counts)


__all__ = ["ImbalanceArguments", "MethodSpec", "all_output_files", "build_loss", "get_method", "list_methods",
           "register_method"]
