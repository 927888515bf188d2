"""Logit-adjusted cross-entropy (Menon et al., ICLR 2021) and its τ = 1 case, Balanced Softmax (Ren et al.,
NeurIPS 2020); token-aware like every loss of the library (label -100 ignored; NER priors per tag)."""

from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ...losses import Reduction, check_reduction, class_tensor, flatten_labelled, reduce_labelled

__all__ = ["BalancedSoftmaxLoss", "LogitAdjustedLoss"]


class LogitAdjustedLoss(nn.Module):
    """Logit-adjusted cross-entropy (Menon et al., ICLR 2021, loss form): ``CE(f(x) + τ·log π, y)`` over the
    labelled items (token-aware: -100 ignored; NER priors per tag over labelled tokens). The model is used
    with its plain logits at prediction, so the offset pushes it to raise the logits of rare classes. With
    τ = 1 this is exactly Balanced Softmax (:class:`BalancedSoftmaxLoss`, method ``balanced_softmax``)."""

    offsets: torch.Tensor

    def __init__(self, log_priors: Iterable[float] | torch.Tensor, tau: float = 1.0, reduction: Reduction = "mean"):
        super().__init__()
        if tau < 0:
            raise ValueError(f"tau must be >= 0, got {tau}")
        self.tau = float(tau)
        self.reduction = check_reduction(reduction)
        lp = class_tensor(log_priors)
        if lp is None or not torch.isfinite(lp).all():
            raise ValueError("log priors must be finite (see hamr.losses.log_prior)")
        self.register_buffer("offsets", self.tau * lp)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x, y, mask = flatten_labelled(logits, labels)
        if self.offsets.numel() != x.shape[-1]:
            raise ValueError(f"{self.offsets.numel()} log priors for {x.shape[-1]} classes")
        loss = F.cross_entropy(x + self.offsets.to(x.dtype), y, reduction="none")
        return reduce_labelled(loss, mask, self.reduction)


class BalancedSoftmaxLoss(LogitAdjustedLoss):
    """Balanced Softmax (Ren et al., NeurIPS 2020): the softmax of the training distribution is
    ``n_j exp(η_j) / Σ_k n_k exp(η_k)``, i.e. CE on ``η + log n`` (= ``η + log π``, the constant log N cancels);
    the plain logits η are the balanced predictor used at test. Token-aware like every loss here."""

    def __init__(self, log_priors: Iterable[float] | torch.Tensor, reduction: Reduction = "mean"):
        super().__init__(log_priors, tau=1.0, reduction=reduction)


# ------------------------------------------------------------------------------------------ HAMR's CE
