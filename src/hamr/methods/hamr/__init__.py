"""HAMR, Hardness-Aware Meta-Resample (method.md §1-§5): its arguments, its Trainer and its training function."""

from ...enums import Method
from ..registry import register_method
from .arguments import HAMRArguments
from .trainer import HARDNESS_FILE_NAME, OUTPUT_FILES, HAMRTrainer, hamr_sampler, train_hamr

register_method(Method.HAMR, HAMRArguments, train_hamr, output_files=OUTPUT_FILES, cost_factor=1.4,
                train_sampler=hamr_sampler, needs_validation=True,
                description="meta-learned weights + hardness-aware kNN resampling")

__all__ = ["HAMRArguments", "HAMRTrainer", "HARDNESS_FILE_NAME", "OUTPUT_FILES", "train_hamr"]
