"""Class-balanced resampling: every class drawn equally often, with replacement, plain cross-entropy."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import WeightedRandomSampler

from ...enums import Method
from ..arguments import ImbalanceArguments
from ..base import ImbalanceTrainer, train_plain
from ..registry import register_method


def balanced_sampler(trainer: ImbalanceTrainer) -> WeightedRandomSampler:
    """N draws with replacement, each example with probability ∝ 1 / (its class's count) (NER: a sentence's
    class is its rarest tag, :func:`hamr.methods.base.example_groups`), seeded by the run's seed."""
    groups = trainer.example_groups()
    counts = np.bincount(groups[groups >= 0], minlength=max(trainer.num_labels, 1))
    weights = np.where(groups >= 0, 1.0 / np.maximum(counts[np.maximum(groups, 0)], 1), 0.0)
    gen = trainer.sampler_generator = torch.Generator().manual_seed(trainer.args.seed)  # saved in checkpoints
    return WeightedRandomSampler(torch.as_tensor(weights), len(weights), replacement=True, generator=gen)


register_method(Method.BALANCED_SAMPLER, ImbalanceArguments, train_plain, cost_factor=1.0,
                train_sampler=balanced_sampler, description="class-balanced resampling")
