"""The arguments of the focal loss baseline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ...enums import Method
from ..arguments import ImbalanceArguments, non_negative, unit_interval_open_right, effective_number_beta_field


@dataclass
class FocalArguments(ImbalanceArguments):
    """Focal loss with class-balanced α (Lin et al. 2017; Cui et al. 2019)."""

    size_rules: ClassVar[dict] = {"focal_gamma": non_negative, "effective_number_beta": unit_interval_open_right}

    method: Method = field(default=Method.FOCAL, metadata={"help": "Training method (see hamr.Method)."})
    focal_gamma: float = field(default=2.0, metadata={"help": "Focal loss focusing parameter γ."})
    effective_number_beta: float = effective_number_beta_field()
