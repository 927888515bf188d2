"""The arguments of the Effective Number baseline."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...enums import Method
from ..arguments import ImbalanceArguments, effective_number_beta_field


@dataclass
class EffectiveNumberArguments(ImbalanceArguments):
    """Cross-entropy weighted by the effective number of examples per class (Cui et al. 2019)."""

    method: Method = field(default=Method.EFFECTIVE_NUMBER, metadata={"help": "Training method (see hamr.Method)."})
    effective_number_beta: float = effective_number_beta_field()
