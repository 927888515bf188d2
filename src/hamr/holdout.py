"""Honest validation (issue 22): a fixed, seeded half of the validation split that HAMR's meta set never sees.

HAMR's balanced meta set is built from the validation split, so HAMR's own validation scores are optimistic
and choices made on them favour HAMR. :func:`split_validation` cuts the validation split into a *meta half*
(the only part the meta set may use) and a *held-out half* (scored apart as ``validation_heldout`` in
``metrics.json`` for every method, so methods are compared on data no method trained or meta-trained on).

The cut is stratified: examples are grouped by class (NER: a sentence's rarest entity type by validation
mention count, ``O`` for a sentence without entities), each group is shuffled with
``numpy.random.default_rng(seed)`` (groups visited in sorted order) and ``round(fraction · n_g)`` of it is
held out; for an odd group the extra example alternates between the halves from one odd group to the next, so
neither half is systematically larger in the rare classes. The seed is fixed (``RunConfig.validation_holdout_seed``,
default 0), not the run's seed: every method and every seed of a protocol is scored on the same half.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data.types import Split, strata
from .errors import InputError

__all__ = ["ValidationHoldout", "split_validation", "validation_groups"]


@dataclass
class ValidationHoldout:
    """Row indices (into the validation split, ascending) of the meta half and of the held-out half."""

    meta_indices: list[int]
    heldout_indices: list[int]
    fraction: float
    seed: int


def validation_groups(split: Split) -> list[str]:
    """One stratum per example: its class, or (NER) its rarest entity type by the split's mention counts."""
    return strata(split)


def split_validation(split: Split, fraction: float = 0.5, seed: int = 0) -> ValidationHoldout:
    """Stratified, seeded cut of ``split`` into a meta half and a held-out ``fraction`` (see the module doc)."""
    if not 0.0 < fraction < 1.0:
        raise InputError(f"validation_holdout must be in (0, 1) (or 0 to switch the hold-out off), got {fraction}")
    if len(split) < 2:
        raise InputError(f"split {split.name!r}: {len(split)} example(s), too few to hold a part out")
    groups = validation_groups(split)
    rng = np.random.default_rng(seed)
    held: list[int] = []
    odd_turn = 0
    for g in sorted(set(groups)):
        members = np.asarray([i for i, x in enumerate(groups) if x == g], dtype=np.int64)
        members = members[rng.permutation(len(members))]
        exact = fraction * len(members)
        k = int(np.floor(exact))
        if exact - k > 1e-9:  # a fractional share: alternate who gets the extra example
            k += odd_turn % 2
            odd_turn += 1
        held.extend(members[:k].tolist())
    held_set = set(held)
    meta = [i for i in range(len(split)) if i not in held_set]
    if not meta or not held:
        raise InputError(f"split {split.name!r}: holding out {fraction} of {len(split)} examples leaves a half empty")
    return ValidationHoldout(meta, sorted(held), fraction, seed)


def validation_holdout(config, bundle) -> "ValidationHoldout | None":
    """The run's :class:`ValidationHoldout` for a :class:`~hamr.config.RunConfig` and its data (None without a
    validation split or with the hold-out off)."""
    if bundle.validation is None or not config.validation_holdout:
        return None
    return split_validation(bundle.validation, config.validation_holdout, config.validation_holdout_seed)
