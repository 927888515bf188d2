"""LNR, Label-Noise Rebalancing (Hu et al., ICML 2025), method.md §6: the flip rule (:mod:`.flips`) and the two
training stages (:mod:`.trainer`)."""

from ...enums import Method
from ..registry import register_method
from .arguments import LNRArguments
from .flips import FLIPS_FILE, flip_dataset, lnr_flip, lnr_flip_rates, lnr_max_eligible_z
from .trainer import train_lnr

register_method(Method.LNR, LNRArguments, train_lnr, output_files=(FLIPS_FILE,), cost_factor=1.5, resumable=False,
                description="label-noise rebalancing, two stages")

__all__ = ["LNRArguments", "FLIPS_FILE", "flip_dataset", "lnr_flip", "lnr_flip_rates", "lnr_max_eligible_z",
           "train_lnr"]
