"""Effective Number: cross-entropy weighted by the effective number of examples per class (Cui et al. 2019)."""

from ...enums import Method
from ...losses import WeightedCrossEntropy, effective_number_weights
from ..base import train_plain
from ..registry import register_method
from .arguments import EffectiveNumberArguments


def build_effective_number_loss(args: EffectiveNumberArguments, class_counts) -> WeightedCrossEntropy:
    """CE with :func:`~hamr.losses.effective_number_weights` ``(counts, effective_number_beta)``."""
    return WeightedCrossEntropy(effective_number_weights(class_counts, args.effective_number_beta))


register_method(Method.EFFECTIVE_NUMBER, EffectiveNumberArguments, train_plain, cost_factor=1.0,
                build_loss=build_effective_number_loss, description="effective-number weighted cross-entropy")

__all__ = ["EffectiveNumberArguments", "build_effective_number_loss"]
