"""Logit adjustment (Menon et al., ICLR 2021): post-hoc (the default) or as a training loss; token-aware."""

from __future__ import annotations

import logging

from ...enums import LogitAdjustmentForm, Method
from ...errors import InputError
from ...losses import WeightedCrossEntropy, log_prior
from ..base import ImbalanceTrainer, train_plain
from ..registry import register_method
from .arguments import LogitAdjustmentArguments
from .loss import BalancedSoftmaxLoss, LogitAdjustedLoss
from .posthoc import apply_posthoc_adjustment, output_layer

logger = logging.getLogger(__name__)


def build_logit_adjustment_loss(args: LogitAdjustmentArguments, class_counts):
    """The loss form: :class:`LogitAdjustedLoss` with τ = ``logit_adjustment_tau``; the post-hoc form trains on
    plain cross-entropy (the offset acts at prediction, :func:`posthoc_adjust`)."""
    if LogitAdjustmentForm.parse(args.logit_adjustment_form) == LogitAdjustmentForm.LOSS:
        return LogitAdjustedLoss(log_prior(class_counts), tau=args.logit_adjustment_tau)
    return WeightedCrossEntropy()


def posthoc_adjust(trainer: ImbalanceTrainer) -> None:
    """After training, in the post-hoc form: fold −τ·log π into the output layer's bias (the saved model then
    predicts with the adjusted logits wherever it is loaded)."""
    args = trainer.args
    if args.logit_adjustment_form != LogitAdjustmentForm.POST_HOC:
        return
    if trainer.class_counts is None:
        raise InputError("post-hoc logit adjustment needs labelled training data for the class priors")
    offset = trainer.posthoc_offset = apply_posthoc_adjustment(
        trainer.accelerator.unwrap_model(trainer.model), log_prior(trainer.class_counts), args.logit_adjustment_tau)
    logger.info("post-hoc logit adjustment: subtracted τ·log π (%s) from the output bias",
                ", ".join(f"{v:.2f}" for v in offset.tolist()))


register_method(Method.LOGIT_ADJUSTMENT, LogitAdjustmentArguments, train_plain, cost_factor=1.0,
                build_loss=build_logit_adjustment_loss, after_train=posthoc_adjust,
                description="logit adjustment (post-hoc by default, or the loss form)")

__all__ = ["BalancedSoftmaxLoss", "LogitAdjustedLoss", "LogitAdjustmentArguments", "apply_posthoc_adjustment",
           "output_layer", "posthoc_adjust"]
