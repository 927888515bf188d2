"""GBC: a meta set chosen by gradient-based clustering, then L2RW example re-weighting (method.md §6)."""

from ...enums import Method
from ..registry import register_method
from .arguments import GBCArguments
from .trainer import SELECTION_FILE, GBCTrainer, train_gbc

register_method(Method.GBC, GBCArguments, train_gbc, output_files=(SELECTION_FILE,), cost_factor=2.5, resumable=False,
                description="gradient-based clustering meta set + L2RW")

__all__ = ["GBCArguments", "GBCTrainer", "SELECTION_FILE", "train_gbc"]
