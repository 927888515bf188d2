"""The focal loss (Lin et al. 2017) with class-balanced α (method.md §6)."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...losses import Reduction, check_reduction, class_tensor, effective_number_weights, flatten_labelled, pick_class_weights, reduce_labelled


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017), multi-class: ``α_{y} · (1 − p_t)^γ · CE`` with p_t = softmax(x)_y.

    ``alpha`` is one weight per class (``None`` = all 1); the baseline uses class-balanced α, built by
    :meth:`class_balanced`. With γ = 0 and no α it equals cross-entropy.
    """

    alpha: torch.Tensor | None

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: Iterable[float] | torch.Tensor | None = None,
        reduction: Reduction = "mean",
    ):
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        self.gamma = float(gamma)
        self.reduction = check_reduction(reduction)
        self.register_buffer("alpha", class_tensor(alpha))

    @classmethod
    def class_balanced(
        cls, counts: Iterable[int] | np.ndarray | torch.Tensor, gamma: float = 2.0, beta: float = 0.9999
    ) -> "FocalLoss":
        """Focal loss with α = :func:`effective_number_weights` ``(counts, beta)`` (the §6 baseline)."""
        return cls(gamma=gamma, alpha=effective_number_weights(counts, beta))

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x, y, mask = flatten_labelled(logits, labels)
        log_pt = F.log_softmax(x, dim=-1).gather(-1, y.unsqueeze(-1)).squeeze(-1)
        # 1 - p_t via expm1 keeps precision when p_t is close to 1.
        loss = (-torch.expm1(log_pt)).clamp_min(0.0).pow(self.gamma) * -log_pt
        a = pick_class_weights(self.alpha, y, x, loss)
        return reduce_labelled(loss if a is None else a * loss, mask, self.reduction)
