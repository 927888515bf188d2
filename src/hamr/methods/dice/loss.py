"""The soft Dice loss (Li et al. 2020, method.md §6)."""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from ...losses import Reduction, check_reduction, flatten_labelled, reduce_labelled


class DiceLoss(nn.Module):
    """Multi-class soft Dice loss (Li et al. 2020, "Dice Loss for Data-imbalanced NLP Tasks").

    With p the softmax probabilities and y the one-hot labels of the batch's labelled items, for every
    class c: ``dice_c = (2 Σ_i p̃_ic y_ic + smooth) / (Σ_i p̃_ic + Σ_i y_ic + smooth)`` (squares in the
    denominator when ``square_denominator``), and the loss is ``1 − mean_c dice_c`` over **all** C classes;
    a class absent from the batch still counts, its dice being ``smooth / (Σ_i p̃_ic + smooth)``, which
    pushes its probability towards 0. ``p̃ = (1 − p)^alpha · p`` is the self-adjusting variant of Li et
    al.; ``alpha = 0`` (default) is the plain soft Dice.

    ``smooth`` defaults to 1e-4, the default of the Dice authors' own trainers (ShannonAI/dice_loss_for_NLP),
    not 1: with batch 16 a rare class is absent from most batches, and at ``smooth = 1`` its dice
    ``1 / (Σ_i p̃_ic + 1)`` rewards pushing its probability to 0 on every item of all those batches. Measured on
    Cyclone-Idai19 (MiniLM, 3 epochs, batch 16, seed 42): ``smooth = 1`` collapsed to the majority class
    (test macro-F1 6.4, micro 47.5) and 1e-4 trained like cross-entropy (38.3 / 77.2; ERM 37.4 / 76.9). At
    1e-4 an absent class's dice is ~0 whatever the model does, so it contributes no gradient.

    Dice is a batch-level quantity: ``reduction="mean"`` returns the batch Dice loss above (the name keeps
    the interface of the other losses). ``reduction="none"`` returns the Dice loss of every item taken on
    its own (the sums run over that single item); their mean is *not* the batch loss.
    """

    def __init__(
        self,
        smooth: float = 1e-4,
        square_denominator: bool = False,
        alpha: float = 0.0,
        reduction: Reduction = "mean",
    ):
        super().__init__()
        if smooth <= 0:
            raise ValueError(f"smooth must be > 0 (it keeps 0/0 away), got {smooth}")
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.smooth = float(smooth)
        self.square_denominator = square_denominator
        self.alpha = float(alpha)
        self.reduction = check_reduction(reduction)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x, y, mask = flatten_labelled(logits, labels)
        p = F.softmax(x, dim=-1)
        if self.alpha:
            p = (1.0 - p).pow(self.alpha) * p
        onehot = F.one_hot(y, num_classes=x.shape[-1]).to(p.dtype)
        if self.square_denominator:
            p_den, y_den = p * p, onehot  # onehot squared is itself
        else:
            p_den, y_den = p, onehot
        if self.reduction == "mean":
            num = 2.0 * (p * onehot).sum(0) + self.smooth
            den = p_den.sum(0) + y_den.sum(0) + self.smooth
            return 1.0 - (num / den).mean()
        per_item = 1.0 - ((2.0 * p * onehot + self.smooth) / (p_den + y_den + self.smooth)).mean(-1)
        return reduce_labelled(per_item, mask, "none")
