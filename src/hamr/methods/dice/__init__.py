"""Soft Dice loss (Li et al. 2020), method.md §6."""

from ...enums import Method
from ..base import train_plain
from ..registry import register_method
from .arguments import DiceArguments
from .loss import DiceLoss


def build_dice_loss(args: DiceArguments, class_counts) -> DiceLoss:
    """:class:`DiceLoss` with ``smooth = dice_smooth`` (the class counts are not read)."""
    return DiceLoss(smooth=args.dice_smooth)


register_method(Method.DICE, DiceArguments, train_plain, cost_factor=1.0, build_loss=build_dice_loss,
                description="soft Dice loss")

__all__ = ["DiceArguments", "DiceLoss", "build_dice_loss"]
