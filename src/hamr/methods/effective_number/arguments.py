"""The arguments of the Effective Number baseline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ...enums import Method
from ..arguments import ImbalanceArguments, unit_interval_open_right, effective_number_beta_field


@dataclass
class EffectiveNumberArguments(ImbalanceArguments):
    """Cross-entropy weighted by the effective number of examples per class (Cui et al. 2019)."""

    size_rules: ClassVar[dict] = {"effective_number_beta": unit_interval_open_right}

    method: Method = field(default=Method.EFFECTIVE_NUMBER, metadata={"help": "Training method (see hamr.Method)."})
    effective_number_beta: float = effective_number_beta_field()
