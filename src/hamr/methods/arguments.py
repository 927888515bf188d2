"""The arguments every method shares: :class:`ImbalanceArguments` (setfit's ``training_args`` style).

``ImbalanceArguments`` is ``transformers.TrainingArguments`` plus the choice of method; a method with settings
of its own subclasses it in its folder (``hamr.methods.<name>.arguments``) and registers the subclass
(:func:`hamr.methods.registry.register_method`). Arguments classes document, normalise and validate; what a
value does is the method's business. Why each default is what it is: ``docs/defaults_history.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from transformers import TrainingArguments

from ..enums import Method
from ..errors import SettingError

#: β of the Effective Number class weights (Cui et al. 2019), shared by Effective Number, Focal (its α) and
#: HAMR's NER token class weights.
EFFECTIVE_NUMBER_BETA = 0.9999


def effective_number_beta_field():
    """The ``effective_number_beta`` field of the arguments classes that weigh classes by effective number."""
    return field(
        default=EFFECTIVE_NUMBER_BETA,
        metadata={"help": "β of the Effective Number class weights (Cui et al. 2019)."},
    )


def positive(v: Any) -> bool:
    return v > 0


def non_negative(v: Any) -> bool:
    return v >= 0


def at_least_one(v: Any) -> bool:
    return v >= 1


def unit_interval_open_right(v: Any) -> bool:
    return 0 <= v < 1


_RULE_TEXT: dict[Callable[[Any], bool], str] = {positive: "> 0", non_negative: ">= 0", at_least_one: ">= 1",
                                               unit_interval_open_right: "in [0, 1)"}


def check_sizes(args: Any, cls_name: str, rules: dict[str, Callable[[Any], bool]]) -> None:
    """Every numeric field in ``rules`` obeys its rule (a ``None`` optional field takes its default); the message
    names the field, what was expected and what was given."""
    for name, rule in rules.items():
        v = getattr(args, name)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not rule(v):
            raise SettingError(f"{cls_name}.{name} must be {_RULE_TEXT[rule]}, got {v!r}")


@dataclass
class ImbalanceArguments(TrainingArguments):
    """``TrainingArguments`` plus the training method; the arguments of ERM, ICF and the balanced sampler.

    A subclass states the rules of its own numeric fields in ``size_rules`` (field -> one of :func:`positive`,
    :func:`non_negative`, :func:`at_least_one`, :func:`unit_interval_open_right`); :meth:`__post_init__` checks
    the rules of every class in the hierarchy."""

    size_rules: ClassVar[dict[str, Callable[[Any], bool]]] = {
        "num_train_epochs": positive, "per_device_train_batch_size": at_least_one,
        "per_device_eval_batch_size": at_least_one, "learning_rate": non_negative,
        "gradient_accumulation_steps": at_least_one,
    }

    method: Method = field(default=Method.ERM, metadata={"help": "Training method (see hamr.Method)."})

    def __post_init__(self) -> None:
        self.method = Method.parse(self.method)
        for klass in reversed(type(self).__mro__):
            rules = klass.__dict__.get("size_rules")
            if rules:
                check_sizes(self, type(self).__name__, rules)
        super().__post_init__()
