"""The arguments every method shares: :class:`ImbalanceArguments` (setfit's ``training_args`` style).

``ImbalanceArguments`` is ``transformers.TrainingArguments`` plus the choice of method; a method with settings
of its own subclasses it in its folder (``hamr.methods.<name>.arguments``) and registers the subclass
(:func:`hamr.methods.registry.register_method`). Arguments classes document, normalise and validate; what a
value does is the method's business. Why each default is what it is: ``docs/defaults_history.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments

from ..enums import Method

#: β of the Effective Number class weights (Cui et al. 2019), shared by Effective Number, Focal (its α) and
#: HAMR's NER token class weights.
EFFECTIVE_NUMBER_BETA = 0.9999


def effective_number_beta_field():
    """The ``effective_number_beta`` field of the arguments classes that weigh classes by effective number."""
    return field(
        default=EFFECTIVE_NUMBER_BETA,
        metadata={"help": "β of the Effective Number class weights (Cui et al. 2019)."},
    )


@dataclass
class ImbalanceArguments(TrainingArguments):
    """``TrainingArguments`` plus the training method; the arguments of ERM, ICF and the balanced sampler."""

    method: Method = field(default=Method.ERM, metadata={"help": "Training method (see hamr.Method)."})

    def __post_init__(self) -> None:
        self.method = Method.parse(self.method)
        super().__post_init__()
