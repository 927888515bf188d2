"""Shared loss building blocks: class counts and weights, the weighted cross-entropy, the per-example CE that
HAMR and GBC read. The methods' own losses live in their folders (:mod:`hamr.methods.focal`, :mod:`hamr.methods.dice`).

Shapes. Every loss takes either classification input (logits ``[B, C]``, labels ``[B]``) or token
classification input (logits ``[B, T, C]``, labels ``[B, T]``); a label of ``-100`` marks an item to
ignore (padding, special tokens, non-first sub-words) in both cases. Ignored items take no part in the
value nor in the gradient: changing their logits changes nothing.

Reduction. ``reduction="mean"`` (default) returns the mean over the *labelled items* (examples, or tokens
with label != -100 over the whole batch) of the per-item loss, and 0 (still attached to the graph) when the
batch has no labelled item. ``reduction="none"`` returns the per-item loss, ``[B]`` or ``[B, T]``, with 0 at
ignored positions.

Class weights. A class weight multiplies the loss of every item labelled with that class; for NER the
classes are the tags (``O``, ``B-X``, ``I-X``) and counts are over tokens with label != -100. The weighted
cross-entropy (ICF, Effective Number) is the *weighted mean* ``Σ_i w_{y_i} ℓ_i / Σ_i w_{y_i}``, exactly
``torch.nn.functional.cross_entropy(weight=...)``, the one line of class weighting users compare with. (The
unnormalised ``mean_i w_{y_i} ℓ_i`` was measured too: on Cyclone-Idai19 the batch's mean weight is about
0.23, which shrinks the effective learning rate and cost 10 points of micro-F1; see the issue notes.) Focal
loss keeps Cui et al.'s ``mean_i α_{y_i} FL_i``. Both formulas are the same for classification and NER.
"""

from __future__ import annotations

from typing import Iterable, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .constants import IGNORE_INDEX
from .errors import InputError

__all__ = [
    "IGNORE_INDEX",
    "WeightedCrossEntropy",
    "log_prior",
    "class_counts_from_labels",
    "effective_number_weights",
    "inverse_frequency_weights",
    "per_example_ce",
    "token_mean_weights",
]

Reduction = Literal["mean", "none"]
_REDUCTIONS = ("mean", "none")


# --------------------------------------------------------------------------------------------- counts


def class_counts_from_labels(label_ids: Iterable[int | Iterable[int]], num_labels: int) -> np.ndarray:
    """Items per label id: examples (classification, ints) or tokens (NER, one list of tag ids per
    sentence); ``-100`` is not counted. Returns an int64 array of length ``num_labels``."""
    counts = np.zeros(num_labels, dtype=np.int64)
    for i, row in enumerate(label_ids):
        ids = np.asarray(row, dtype=np.int64).ravel()
        ids = ids[ids != IGNORE_INDEX]
        bad = ids[(ids < 0) | (ids >= num_labels)]
        if bad.size:
            raise InputError(f"example {i}: label id {int(bad[0])} is not in [0, {num_labels})")
        counts += np.bincount(ids, minlength=num_labels)
    return counts


def _as_counts(counts: Iterable[int] | np.ndarray | torch.Tensor) -> np.ndarray:
    arr = np.asarray(counts.tolist() if isinstance(counts, torch.Tensor) else list(counts), dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("class counts must be a non-empty 1-d sequence")
    if (arr < 0).any():
        raise ValueError(f"class counts must be >= 0, got {arr.tolist()}")
    if not (arr > 0).any():
        raise ValueError("every class count is 0: no class to weight")
    return arr


def inverse_frequency_weights(counts: Iterable[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
    """ICF weights: w_c ∝ 1 / n_c, normalised to mean 1 over the classes with n_c > 0.

    A class with count 0 gets weight 0 and is left out of the normalisation: it never occurs as a
    training label, so its weight cannot act, and letting it in would shrink every other weight.
    """
    n = _as_counts(counts)
    present = n > 0
    w = np.zeros_like(n)
    w[present] = 1.0 / n[present]
    w[present] /= w[present].mean()
    return torch.tensor(w, dtype=torch.float32)


def effective_number_weights(
    counts: Iterable[int] | np.ndarray | torch.Tensor, beta: float = 0.9999
) -> torch.Tensor:
    """Class-balanced weights of Cui et al. (2019): w_c = (1 − β) / (1 − β^{n_c}), normalised to sum to
    C', the number of classes with n_c > 0 (i.e. mean 1 over them). Classes with count 0 get weight 0."""
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    n = _as_counts(counts)
    present = n > 0
    w = np.zeros_like(n)
    w[present] = (1.0 - beta) / (1.0 - np.power(beta, n[present]))
    w[present] *= present.sum() / w[present].sum()
    return torch.tensor(w, dtype=torch.float32)


def token_mean_weights(class_weights: Iterable[float] | torch.Tensor, counts: Iterable[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
    """``class_weights`` rescaled so that their mean over the training items is 1: Σ_c n_c w_c = Σ_c n_c.

    Used where a weighted loss is a plain sum over items divided by their number (HAMR's per-sentence NER
    loss, Σ_t w_{y_t} CE_t / n_t), so that re-weighting moves the loss between classes without changing
    its overall scale (torch's weighted mean does this by dividing by Σ w instead).
    """
    w = torch.as_tensor(class_weights, dtype=torch.float64).flatten()
    n = torch.as_tensor(_as_counts(counts), dtype=torch.float64).flatten()
    if w.shape != n.shape:
        raise ValueError(f"class_weights has {w.numel()} entries for {n.numel()} class counts")
    if (w < 0).any():
        raise ValueError("class_weights must be >= 0")
    mass = float((n * w).sum())
    if mass <= 0:
        raise ValueError("no training item has a positive weight: the class counts or weights are all 0")
    return (w * float(n.sum()) / mass).float()


# ------------------------------------------------------------------------------------------- plumbing


def flatten_labelled(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``[..., C]`` logits and ``[...]`` labels -> labelled logits ``[n, C]``, labels ``[n]``, mask ``[...]``."""
    if logits.dim() not in (2, 3) or labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"expected logits [B, C] with labels [B], or [B, T, C] with [B, T]; "
            f"got logits {tuple(logits.shape)} and labels {tuple(labels.shape)}"
        )
    mask = labels != IGNORE_INDEX
    return logits[mask], labels[mask], mask


def reduce_labelled(per_item: torch.Tensor, mask: torch.Tensor, reduction: str) -> torch.Tensor:
    """Mean over the labelled items, or the per-item values scattered back to the mask's shape."""
    if reduction == "mean":
        return per_item.sum() / max(per_item.numel(), 1)
    out = per_item.new_zeros(mask.shape)
    return out.masked_scatter(mask, per_item)


def check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction {reduction!r} is not one of: {', '.join(_REDUCTIONS)}")
    return reduction


def class_tensor(weights: Iterable[float] | torch.Tensor | None) -> torch.Tensor | None:
    if weights is None:
        return None
    w = torch.as_tensor(weights, dtype=torch.float32).detach().clone()
    if w.dim() != 1:
        raise ValueError(f"class weights must be 1-d, got shape {tuple(w.shape)}")
    return w


def pick_class_weights(
    weights: torch.Tensor | None, labels: torch.Tensor, logits: torch.Tensor, like: torch.Tensor
) -> torch.Tensor | None:
    """The class weight of every item (``None`` when unweighted), on ``like``'s device and dtype."""
    if weights is None:
        return None
    if weights.numel() != logits.shape[-1]:
        raise ValueError(f"{weights.numel()} class weights for {logits.shape[-1]} classes")
    return weights.to(device=like.device, dtype=like.dtype)[labels]


# ----------------------------------------------------------------------------------------------- losses


class WeightedCrossEntropy(nn.Module):
    """Cross-entropy, optionally with one weight per class: ``Σ_i w_{y_i} CE_i / Σ_i w_{y_i}`` over labelled
    items (torch's weighted mean; ``reduction="none"`` gives ``w_{y_i} CE_i``).

    ``weights=None`` is plain CE (ERM); with :func:`inverse_frequency_weights` it is ICF, with
    :func:`effective_number_weights` the Effective Number baseline.
    """

    weights: torch.Tensor | None

    def __init__(self, weights: Iterable[float] | torch.Tensor | None = None, reduction: Reduction = "mean"):
        super().__init__()
        self.reduction = check_reduction(reduction)
        self.register_buffer("weights", class_tensor(weights))

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x, y, mask = flatten_labelled(logits, labels)
        loss = F.cross_entropy(x, y, reduction="none")
        w = pick_class_weights(self.weights, y, x, loss)
        if w is None:
            return reduce_labelled(loss, mask, self.reduction)
        if self.reduction == "mean":
            total = w.sum()
            return (w * loss).sum() / total if total > 0 else (w * loss).sum()
        return reduce_labelled(w * loss, mask, self.reduction)


# ------------------------------------------------------------------------- class priors (log π)


def log_prior(counts: Iterable[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
    """log π_c = log(n_c / Σ n) per label id (NER: per tag over labelled tokens). A class never seen in training
    counts as 1 (its log prior is finite, the lowest of all), so its adjusted logit stays defined."""
    n = _as_counts(counts)
    n = np.maximum(n, 1.0)
    return torch.tensor(np.log(n / n.sum()), dtype=torch.float32)


def per_example_ce(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    token_reduction: Literal["mean", "max", "none"] = "mean",
) -> torch.Tensor:
    """Cross-entropy of every example, differentiable (HAMR's hardness signal and training loss).

    Classification (``[B, C]``, ``[B]``): the CE of each example, ``[B]`` (0 for a label of -100).
    Token classification (``[B, T, C]``, ``[B, T]``): per sentence the mean (``"mean"``) or maximum
    (``"max"``) token CE over tokens with label != -100, ``[B]``; ``"none"`` returns the token CE ``[B, T]``
    with 0 at ignored tokens. A sentence without labelled tokens gets 0 (no NaN, no gradient).
    """
    if token_reduction not in ("mean", "max", "none"):
        raise ValueError(f"token_reduction {token_reduction!r} is not one of: mean, max, none")
    x, y, mask = flatten_labelled(logits, labels)
    ce = reduce_labelled(F.cross_entropy(x, y, reduction="none"), mask, "none")
    if ce.dim() == 1 or token_reduction == "none":
        return ce
    if token_reduction == "mean":
        return ce.sum(dim=1) / mask.sum(dim=1).clamp_min(1).to(ce.dtype)
    has_token = mask.any(dim=1)
    row_max = ce.masked_fill(~mask, float("-inf")).amax(dim=1)
    return torch.where(has_token, row_max, torch.zeros_like(row_max))
