"""The arguments of logit adjustment (Menon et al., ICLR 2021)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ...enums import LogitAdjustmentForm, Method
from ..arguments import ImbalanceArguments, non_negative


@dataclass
class LogitAdjustmentArguments(ImbalanceArguments):
    """Logit adjustment: post-hoc (train with CE, predict with f(x) − τ·log π) or loss form (train on
    CE(f(x) + τ·log π), predict with f(x))."""

    size_rules: ClassVar[dict] = {"logit_adjustment_tau": non_negative}

    method: Method = field(default=Method.LOGIT_ADJUSTMENT, metadata={"help": "Training method (see hamr.Method)."})
    logit_adjustment_tau: float = field(
        default=1.0, metadata={"help": "Logit adjustment (Menon et al. 2021): τ of the offset τ·log π (1: the paper's)."}
    )
    logit_adjustment_form: LogitAdjustmentForm = field(
        default=LogitAdjustmentForm.POST_HOC,
        metadata={
            "help": "post_hoc (train with CE, predict with f(x) − τ·log π, folded into the output bias after "
            "training) | loss (train on CE(f(x) + τ·log π), predict with f(x)). post_hoc is the default because the "
            "loss form at τ = 1 is Balanced Softmax exactly (method balanced_softmax)."
        },
    )

    def __post_init__(self) -> None:
        self.logit_adjustment_form = LogitAdjustmentForm.parse(self.logit_adjustment_form)
        super().__post_init__()
