"""Balanced Softmax (Ren et al., NeurIPS 2020): cross-entropy on f(x) + log π, the plain logits predict.

Its loss is logit adjustment's loss form at τ = 1 (:class:`~hamr.methods.logit_adjustment.BalancedSoftmaxLoss`)."""

from ...enums import Method
from ...losses import log_prior
from ..arguments import ImbalanceArguments
from ..base import train_plain
from ..logit_adjustment.loss import BalancedSoftmaxLoss
from ..registry import register_method


def build_balanced_softmax_loss(args: ImbalanceArguments, class_counts) -> BalancedSoftmaxLoss:
    """:class:`BalancedSoftmaxLoss` with the training log priors (NER: per tag over labelled tokens)."""
    return BalancedSoftmaxLoss(log_prior(class_counts))


register_method(Method.BALANCED_SOFTMAX, ImbalanceArguments, train_plain, cost_factor=1.0,
                build_loss=build_balanced_softmax_loss, description="Balanced Softmax (loss on f(x) + log prior)")
