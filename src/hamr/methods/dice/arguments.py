"""The arguments of the Dice loss baseline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ...enums import Method
from ..arguments import ImbalanceArguments, positive


@dataclass
class DiceArguments(ImbalanceArguments):
    """Soft Dice loss (Li et al. 2020)."""

    size_rules: ClassVar[dict] = {"dice_smooth": positive}

    method: Method = field(default=Method.DICE, metadata={"help": "Training method (see hamr.Method)."})
    dice_smooth: float = field(
        default=1e-4, metadata={"help": "Smoothing of the soft Dice loss (see docs/defaults_history.md)."}
    )

