"""The arguments of Label-Noise Rebalancing (LNR)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ...enums import Method
from ..arguments import ImbalanceArguments, non_negative, positive


@dataclass
class LNRArguments(ImbalanceArguments):
    """LNR (Hu et al. 2025): a first-stage model's probabilities flip labels towards rarer classes."""

    size_rules: ClassVar[dict] = {"lnr_t_flip": non_negative, "lnr_first_stage_epochs": positive}

    method: Method = field(default=Method.LNR, metadata={"help": "Training method (see hamr.Method)."})
    lnr_t_flip: float = field(default=7.5, metadata={"help": "LNR flip threshold t_flip (authors: 7.5 for 10 classes)."})
    lnr_first_stage_epochs: float = field(
        default=1.0, metadata={"help": "Epochs of the plain first-stage model whose probabilities drive LNR."}
    )
