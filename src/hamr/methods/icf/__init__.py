"""ICF: cross-entropy weighted by inverse class frequency (method.md §6)."""

from ...enums import Method
from ...losses import WeightedCrossEntropy, inverse_frequency_weights
from ..arguments import ImbalanceArguments
from ..base import train_plain
from ..registry import register_method


def build_icf_loss(args: ImbalanceArguments, class_counts) -> WeightedCrossEntropy:
    """CE with :func:`~hamr.losses.inverse_frequency_weights` of the training counts."""
    return WeightedCrossEntropy(inverse_frequency_weights(class_counts))


register_method(Method.ICF, ImbalanceArguments, train_plain, cost_factor=1.0, build_loss=build_icf_loss,
                description="inverse class frequency weighted cross-entropy")
