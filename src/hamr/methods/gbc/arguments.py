"""The arguments of GBC (gradient-based clustering of a meta set, then L2RW re-weighting)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ...enums import LookaheadScope, Method
from ...errors import SettingError
from ..arguments import ImbalanceArguments, at_least_one, non_negative, positive


@dataclass
class GBCArguments(ImbalanceArguments):
    """GBC's settings (method.md §6)."""

    size_rules: ClassVar[dict] = {
        "gbc_layers": at_least_one, "gbc_max_coordinates": at_least_one, "gbc_warmup_epochs": non_negative,
        "gbc_meta_size": at_least_one, "gbc_score_examples": at_least_one, "gbc_inner_lr": positive,
        "gbc_meta_batch_size": at_least_one, "gbc_lookahead_layers": at_least_one,
    }

    method: Method = field(default=Method.GBC, metadata={"help": "Training method (see hamr.Method)."})
    gbc_layers: int = field(default=3, metadata={"help": "GBC: layers drawn for the gradient features."})
    gbc_max_coordinates: int = field(default=5000, metadata={"help": "GBC: random coordinates kept per layer."})
    gbc_warmup_epochs: float = field(default=1.0, metadata={"help": "GBC: plain warm-up before selecting the meta set."})
    gbc_meta_size: int | None = field(
        default=None, metadata={"help": "GBC: meta-set size K (None: the size of HAMR's balanced meta set)."}
    )
    gbc_weight_lr: float | None = field(
        default=None,
        metadata={"help": "GBC: step size η_w on example weights (None: 1/η_in; see docs/defaults_history.md)."},
    )
    gbc_score_examples: int = field(
        default=64, metadata={"help": "GBC: training examples (seeded sample) whose gradients score the layers."}
    )
    gbc_inner_lr: float | None = field(
        default=None, metadata={"help": "GBC: step of the virtual SGD step (None: the optimiser's current lr)."}
    )
    gbc_meta_batch_size: int | None = field(
        default=None, metadata={"help": "GBC: meta batch size of the L2RW step (None: the train batch size)."}
    )
    gbc_lookahead_scope: LookaheadScope = field(
        default=LookaheadScope.LAST_K, metadata={"help": "GBC: parameters moved by the virtual step: all|head|last_k|lora."}
    )
    gbc_lookahead_layers: int = field(default=1, metadata={"help": "GBC: k for gbc_lookahead_scope=last_k."})

    def __post_init__(self) -> None:
        self.gbc_lookahead_scope = LookaheadScope.parse(self.gbc_lookahead_scope)
        if self.gbc_weight_lr is not None and not self.gbc_weight_lr > 0:
            raise SettingError(f"GBCArguments.gbc_weight_lr must be > 0 (or None: 1/η_in), got {self.gbc_weight_lr}")
        super().__post_init__()
