"""Focal loss with class-balanced α (Lin et al. 2017; Cui et al. 2019), method.md §6."""

from ...enums import Method
from ..base import train_plain
from ..registry import register_method
from .arguments import FocalArguments
from .loss import FocalLoss


def build_focal_loss(args: FocalArguments, class_counts) -> FocalLoss:
    """:meth:`FocalLoss.class_balanced` with γ = ``focal_gamma``, α from ``effective_number_beta``."""
    return FocalLoss.class_balanced(class_counts, gamma=args.focal_gamma, beta=args.effective_number_beta)


register_method(Method.FOCAL, FocalArguments, train_plain, cost_factor=1.0, build_loss=build_focal_loss,
                description="focal loss, class-balanced alpha")

__all__ = ["FocalArguments", "FocalLoss", "build_focal_loss"]
