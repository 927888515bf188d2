"""The arguments of the focal loss baseline."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...enums import Method
from ..arguments import ImbalanceArguments, effective_number_beta_field


@dataclass
class FocalArguments(ImbalanceArguments):
    """Focal loss with class-balanced α (Lin et al. 2017; Cui et al. 2019)."""

    method: Method = field(default=Method.FOCAL, metadata={"help": "Training method (see hamr.Method)."})
    focal_gamma: float = field(default=2.0, metadata={"help": "Focal loss focusing parameter γ."})
    effective_number_beta: float = effective_number_beta_field()

    def __post_init__(self) -> None:
        if self.focal_gamma < 0:
            raise ValueError(f"FocalArguments.focal_gamma must be >= 0, got {self.focal_gamma}")
        super().__post_init__()
