"""The arguments of MetaBalance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ...enums import Method
from ..arguments import ImbalanceArguments, at_least_one, non_negative, positive


@dataclass
class MetaBalanceArguments(ImbalanceArguments):
    """MetaBalance: a first-order meta step against class-balanced outer batches."""

    size_rules: ClassVar[dict] = {"metabalance_inner_lr": positive, "metabalance_lambda": non_negative, "metabalance_outer_batches": at_least_one}

    method: Method = field(default=Method.METABALANCE, metadata={"help": "Training method (see hamr.Method)."})
    metabalance_inner_lr: float = field(
        default=1e-4, metadata={"help": "MetaBalance: inner SGD step α (far below the from-scratch 0.01)."}
    )
    metabalance_lambda: float = field(default=0.01, metadata={"help": "MetaBalance: weight λ of the inner loss."})
    metabalance_outer_batches: int = field(
        default=4, metadata={"help": "MetaBalance: outer losses accumulated per optimiser step."}
    )
