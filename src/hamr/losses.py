"""Losses of the baselines (method.md §6), the per-example CE that HAMR reads, and LNR label flipping.

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

from .enums import Method

__all__ = [
    "IGNORE_INDEX",
    "DiceLoss",
    "FocalLoss",
    "WeightedCrossEntropy",
    "LogitAdjustedLoss",
    "BalancedSoftmaxLoss",
    "log_prior",
    "build_loss",
    "class_counts_from_labels",
    "effective_number_weights",
    "inverse_frequency_weights",
    "lnr_flip",
    "lnr_flip_rates",
    "per_example_ce",
]

IGNORE_INDEX = -100
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
            raise ValueError(f"example {i}: label id {int(bad[0])} is not in [0, {num_labels})")
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


def _flatten(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``[..., C]`` logits and ``[...]`` labels -> labelled logits ``[n, C]``, labels ``[n]``, mask ``[...]``."""
    if logits.dim() not in (2, 3) or labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"expected logits [B, C] with labels [B], or [B, T, C] with [B, T]; "
            f"got logits {tuple(logits.shape)} and labels {tuple(labels.shape)}"
        )
    mask = labels != IGNORE_INDEX
    return logits[mask], labels[mask], mask


def _reduce(per_item: torch.Tensor, mask: torch.Tensor, reduction: str) -> torch.Tensor:
    """Mean over the labelled items, or the per-item values scattered back to the mask's shape."""
    if reduction == "mean":
        return per_item.sum() / max(per_item.numel(), 1)
    out = per_item.new_zeros(mask.shape)
    return out.masked_scatter(mask, per_item)


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction {reduction!r} is not one of: {', '.join(_REDUCTIONS)}")
    return reduction


def _class_tensor(weights: Iterable[float] | torch.Tensor | None) -> torch.Tensor | None:
    if weights is None:
        return None
    w = torch.as_tensor(weights, dtype=torch.float32).detach().clone()
    if w.dim() != 1:
        raise ValueError(f"class weights must be 1-d, got shape {tuple(w.shape)}")
    return w


def _pick_weights(
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
        self.reduction = _check_reduction(reduction)
        self.register_buffer("weights", _class_tensor(weights))

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x, y, mask = _flatten(logits, labels)
        loss = F.cross_entropy(x, y, reduction="none")
        w = _pick_weights(self.weights, y, x, loss)
        if w is None:
            return _reduce(loss, mask, self.reduction)
        if self.reduction == "mean":
            total = w.sum()
            return (w * loss).sum() / total if total > 0 else (w * loss).sum()
        return _reduce(w * loss, mask, self.reduction)


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
        self.reduction = _check_reduction(reduction)
        self.register_buffer("alpha", _class_tensor(alpha))

    @classmethod
    def class_balanced(
        cls, counts: Iterable[int] | np.ndarray | torch.Tensor, gamma: float = 2.0, beta: float = 0.9999
    ) -> "FocalLoss":
        """Focal loss with α = :func:`effective_number_weights` ``(counts, beta)`` (the §6 baseline)."""
        return cls(gamma=gamma, alpha=effective_number_weights(counts, beta))

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x, y, mask = _flatten(logits, labels)
        log_pt = F.log_softmax(x, dim=-1).gather(-1, y.unsqueeze(-1)).squeeze(-1)
        # 1 - p_t via expm1 keeps precision when p_t is close to 1.
        loss = (-torch.expm1(log_pt)).clamp_min(0.0).pow(self.gamma) * -log_pt
        a = _pick_weights(self.alpha, y, x, loss)
        return _reduce(loss if a is None else a * loss, mask, self.reduction)


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
        self.reduction = _check_reduction(reduction)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x, y, mask = _flatten(logits, labels)
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
        return _reduce(per_item, mask, "none")


# ----------------------------------------------------------------------- logit adjustment, Balanced Softmax


def log_prior(counts: Iterable[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
    """log π_c = log(n_c / Σ n) per label id (NER: per tag over labelled tokens). A class never seen in training
    counts as 1 (its log prior is finite, the lowest of all), so its adjusted logit stays defined."""
    n = _as_counts(counts)
    n = np.maximum(n, 1.0)
    return torch.tensor(np.log(n / n.sum()), dtype=torch.float32)


class LogitAdjustedLoss(nn.Module):
    """Logit-adjusted cross-entropy (Menon et al., ICLR 2021, loss form): ``CE(f(x) + τ·log π, y)`` over the
    labelled items (token-aware: -100 ignored; NER priors per tag over labelled tokens). The model is used
    with its plain logits at prediction, so the offset pushes it to raise the logits of rare classes. With
    τ = 1 this is exactly Balanced Softmax (:class:`BalancedSoftmaxLoss`)."""

    offsets: torch.Tensor

    def __init__(self, log_priors: Iterable[float] | torch.Tensor, tau: float = 1.0, reduction: Reduction = "mean"):
        super().__init__()
        if tau < 0:
            raise ValueError(f"tau must be >= 0, got {tau}")
        self.tau = float(tau)
        self.reduction = _check_reduction(reduction)
        lp = _class_tensor(log_priors)
        if lp is None or not torch.isfinite(lp).all():
            raise ValueError("log priors must be finite (see hamr.losses.log_prior)")
        self.register_buffer("offsets", self.tau * lp)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x, y, mask = _flatten(logits, labels)
        if self.offsets.numel() != x.shape[-1]:
            raise ValueError(f"{self.offsets.numel()} log priors for {x.shape[-1]} classes")
        loss = F.cross_entropy(x + self.offsets.to(x.dtype), y, reduction="none")
        return _reduce(loss, mask, self.reduction)


class BalancedSoftmaxLoss(LogitAdjustedLoss):
    """Balanced Softmax (Ren et al., NeurIPS 2020): the softmax of the training distribution is
    ``n_j exp(η_j) / Σ_k n_k exp(η_k)``, i.e. CE on ``η + log n`` (= ``η + log π``, the constant log N cancels);
    the plain logits η are the balanced predictor used at test. Token-aware like every loss here."""

    def __init__(self, log_priors: Iterable[float] | torch.Tensor, reduction: Reduction = "mean"):
        super().__init__(log_priors, tau=1.0, reduction=reduction)


# ------------------------------------------------------------------------------------------ HAMR's CE


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
    x, y, mask = _flatten(logits, labels)
    ce = _reduce(F.cross_entropy(x, y, reduction="none"), mask, "none")
    if ce.dim() == 1 or token_reduction == "none":
        return ce
    if token_reduction == "mean":
        return ce.sum(dim=1) / mask.sum(dim=1).clamp_min(1).to(ce.dtype)
    has_token = mask.any(dim=1)
    row_max = ce.masked_fill(~mask, float("-inf")).amax(dim=1)
    return torch.where(has_token, row_max, torch.zeros_like(row_max))


# --------------------------------------------------------------------------------------------- factory


def build_loss(
    method: Method | str,
    class_counts: Iterable[int] | np.ndarray | torch.Tensor,
    *,
    focal_gamma: float = 2.0,
    beta: float = 0.9999,
    dice_smooth: float = 1e-4,
    logit_adjustment_tau: float = 1.0,
    logit_adjustment_form: str = "post_hoc",
) -> nn.Module:
    """The training loss of a method (mean reduction), per method.md §6.

    - ``erm``: plain CE;
    - ``icf``: CE with :func:`inverse_frequency_weights`;
    - ``effective_number``: CE with :func:`effective_number_weights` ``(beta)``;
    - ``focal``: :class:`FocalLoss` with γ = ``focal_gamma`` and class-balanced α =
      :func:`effective_number_weights` ``(beta)``;
    - ``dice``: :class:`DiceLoss` with ``smooth = dice_smooth``;
    - ``balanced_softmax``: :class:`BalancedSoftmaxLoss` (log priors from ``class_counts``);
    - ``logit_adjustment``: with ``logit_adjustment_form="loss"`` :class:`LogitAdjustedLoss` (τ =
      ``logit_adjustment_tau``); the post-hoc form trains on plain CE (the offset acts at prediction,
      :func:`hamr.logit_adjustment.apply_posthoc_adjustment`);
    - every other method (HAMR, LNR, GBC, MetaBalance, balanced sampler) changes the data or the weighting
      elsewhere and trains on plain CE.

    ``class_counts`` are per label id (for NER: per tag over tokens with label != -100), e.g. from
    :func:`class_counts_from_labels`; they are only read by the weighted methods.
    """
    method = Method.parse(method)
    if method == Method.ICF:
        return WeightedCrossEntropy(inverse_frequency_weights(class_counts))
    if method == Method.EFFECTIVE_NUMBER:
        return WeightedCrossEntropy(effective_number_weights(class_counts, beta))
    if method == Method.FOCAL:
        return FocalLoss.class_balanced(class_counts, gamma=focal_gamma, beta=beta)
    if method == Method.DICE:
        return DiceLoss(smooth=dice_smooth)
    if method == Method.BALANCED_SOFTMAX:
        return BalancedSoftmaxLoss(log_prior(class_counts))
    if method == Method.LOGIT_ADJUSTMENT:
        from .enums import LogitAdjustmentForm

        if LogitAdjustmentForm.parse(logit_adjustment_form) == LogitAdjustmentForm.LOSS:
            return LogitAdjustedLoss(log_prior(class_counts), tau=logit_adjustment_tau)
    return WeightedCrossEntropy()


# ------------------------------------------------------------------------------------------------- LNR


def lnr_flip_rates(
    probs: np.ndarray,
    labels: np.ndarray,
    class_counts: Iterable[int] | np.ndarray,
    *,
    t_flip: float,
) -> np.ndarray:
    """LNR flip rates ``[N, C]`` (method.md §6, Hu et al. 2025), before the random draw.

    For every class k: mean_k and std_k (population std) of P(k|x) over the examples *not* labelled k;
    z_ik = (P(k|x_i) − mean_k) / std_k (z = 0 for a class whose std is 0 or that every example has);
    prior = 1 − minmax(class_counts) (rarest class 1, most frequent 0; all 0 when every count is equal,
    which disables flipping); fliprate_ik = tanh(z_ik − t_flip) · max(prior_k − prior_{y_i}, 0), and 0 for
    k = y_i.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.asarray(list(class_counts), dtype=np.float64)
    if probs.ndim != 2 or labels.shape != (probs.shape[0],) or counts.shape != (probs.shape[1],):
        raise ValueError(
            f"expected probs [N, C], labels [N] and class_counts [C]; got {probs.shape}, "
            f"{labels.shape} and {counts.shape}"
        )
    c = probs.shape[1]
    if not ((labels >= 0) & (labels < c)).all():
        raise ValueError(f"labels must be class ids in [0, {c})")
    z, prior_weight, own = _lnr_z_prior(probs, labels, counts)
    rates = np.tanh(z - t_flip) * prior_weight
    rates[own] = 0.0
    return rates


def lnr_max_eligible_z(probs: np.ndarray, labels: np.ndarray, class_counts: Iterable[int] | np.ndarray) -> float | None:
    """The largest z_ik over the pairs LNR could flip (a rarer class k than y_i: prior weight > 0), or None
    when there is none. Nothing flips with certainty unless it exceeds ``t_flip``: when LNR flips nothing,
    this says how far ``t_flip`` is from doing anything."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    z, prior_weight, _ = _lnr_z_prior(probs, labels, np.asarray(list(class_counts), dtype=np.float64))
    eligible = prior_weight > 0
    return float(z[eligible].max()) if eligible.any() else None


def _lnr_z_prior(probs: np.ndarray, labels: np.ndarray, counts: np.ndarray):
    """z ``[N, C]``, prior weight ``[N, C]`` and the own-label mask of :func:`lnr_flip_rates`."""
    c = probs.shape[1]
    own = labels[:, None] == np.arange(c)[None, :]  # [N, C]: example i is labelled k
    others = ~own
    z = np.zeros_like(probs)
    for k in range(c):
        col = probs[others[:, k], k]
        if col.size == 0:
            continue
        std = col.std()
        if std > 0:
            z[:, k] = (probs[:, k] - col.mean()) / std
    span = counts.max() - counts.min()
    prior = 1.0 - (counts - counts.min()) / span if span > 0 else np.zeros(c)
    prior_weight = np.maximum(prior[None, :] - prior[labels][:, None], 0.0)
    return z, prior_weight, own


def lnr_flip(
    probs: np.ndarray,
    labels: np.ndarray,
    class_counts: Iterable[int] | np.ndarray,
    *,
    t_flip: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[tuple[int, int], int]]:
    """Label-Noise Rebalancing (method.md §6): flip some labels towards rarer classes, before training.

    ``probs`` ``[N, C]`` are a first-stage model's class probabilities on the training set, ``labels``
    ``[N]`` its labels, ``class_counts`` ``[C]`` the training count per class. With the rates of
    :func:`lnr_flip_rates`, example i flips to k* = argmax_k fliprate_ik when fliprate_ik* > u_i, u_i ~
    U(0, 1) drawn once per example (``rng.random(N)``, in example order); otherwise it keeps its label.
    Returns the new labels and the number of flips per ``(from, to)`` class pair.
    """
    rates = lnr_flip_rates(probs, labels, class_counts, t_flip=t_flip)
    labels = np.asarray(labels, dtype=np.int64)
    u = rng.random(labels.shape[0])
    target = rates.argmax(axis=1)
    best = rates[np.arange(labels.shape[0]), target]
    flip = best > u
    new_labels = np.where(flip, target, labels)
    flips: dict[tuple[int, int], int] = {}
    for src, dst in zip(labels[flip].tolist(), target[flip].tolist()):
        flips[(src, dst)] = flips.get((src, dst), 0) + 1
    return new_labels, flips
