"""Meta objectives of HAMR's bi-level step (issue 22, ``meta_objective``): what the look-ahead model is scored on.

For the units of a meta batch (classification: examples; NER: labelled tokens) let m_c be the mean CE of the
units labelled c (over the classes present in the batch):

- ``balanced``: mean_c m_c. NER: ½ m_O + ½ mean over the entity tags present of m_tag (O in its own half; if
  the batch has only O tokens or only entity tokens, that half alone);
- ``natural``: Σ_c π_c m_c / Σ_c π_c with π the training prior (NER: per tag over labelled training tokens),
  the sum over the classes present: an estimate of the natural-distribution risk, the one micro-F1 follows;
- ``half``: ½ balanced + ½ natural, to protect micro-F1 while still pulling towards the rare classes;
- ``soft_f1`` (session 23): 1 − the soft macro-F1 of the batch, the score the runs are judged by. With p the
  softmax, per class c: TP_c = Σ_i v_i p_ic [y_i = c], FP_c = Σ_i v_i p_ic [y_i ≠ c], FN_c = Σ_i v_i (1 − p_ic)
  [y_i = c], F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c), averaged over the classes present in the batch (NER: the
  entity tags present, O left out, as span macro-F1 leaves it out). The unit weights v_i = π_{y_i} / q_{y_i}
  (π the training prior, q the batch's own class frequencies, normalised to mean 1) make the counts estimates
  under the natural distribution: a class-balanced meta batch would otherwise overstate the precision of the
  rare classes, and balanced CE (balanced accuracy) is what over-predicts them (session 21: Idai19's micro-F1
  fell 19 points). F1 trades a class's precision against its recall as macro-F1 does.

(``plain``, the default, is the unweighted mean CE of the batch: hamr.losses.WeightedCrossEntropy.) Units
with label -100 are ignored. Each objective is differentiable in the logits.
"""

from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ...enums import MetaObjective

__all__ = ["MetaObjectiveLoss"]


class MetaObjectiveLoss(nn.Module):
    prior: torch.Tensor

    def __init__(self, kind: MetaObjective | str, train_counts: Iterable[int], outside_id: int | None = None,
                 ner: bool = False) -> None:
        super().__init__()
        self.kind = MetaObjective.parse(kind)
        if self.kind == MetaObjective.PLAIN:
            raise ValueError("MetaObjectiveLoss: 'plain' is the unweighted CE (hamr.losses.WeightedCrossEntropy)")
        counts = torch.as_tensor(list(train_counts), dtype=torch.float64)
        if counts.dim() != 1 or not (counts > 0).any():
            raise ValueError("MetaObjectiveLoss: train_counts must be a 1-d sequence with a positive count")
        self.register_buffer("prior", (counts / counts.sum()).float())
        self.ner = ner
        self.outside_id = outside_id
        if ner and outside_id is None:
            raise ValueError("MetaObjectiveLoss: the NER balanced objective needs the id of the O tag")

    def class_means(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean CE per class, present mask), over the labelled units."""
        c = logits.shape[-1]
        mask = labels != -100
        x, y = logits[mask], labels[mask]
        ce = F.cross_entropy(x.float(), y, reduction="none")
        sums = torch.zeros(c, dtype=ce.dtype, device=ce.device).index_add(0, y, ce)
        n = torch.bincount(y, minlength=c).to(ce.dtype)
        present = n > 0
        return sums / n.clamp_min(1), present

    def balanced(self, means: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        if not self.ner:
            return means[present].mean()
        is_o = torch.zeros_like(present)
        is_o[self.outside_id] = True
        ent = present & ~is_o
        parts = []
        if present[self.outside_id]:
            parts.append(means[self.outside_id])
        if ent.any():
            parts.append(means[ent].mean())
        return torch.stack(parts).mean()

    def natural(self, means: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        p = self.prior.to(means.device, means.dtype) * present
        if p.sum() <= 0:  # only classes never seen in training: fall back to the balanced mean
            return means[present].mean()
        return (p * means).sum() / p.sum()

    def soft_f1(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """1 − soft macro-F1 of the labelled units, reweighted to the training prior (see the module)."""
        c = logits.shape[-1]
        mask = labels != -100
        x, y = logits[mask].float(), labels[mask]
        p = x.softmax(-1)
        onehot = F.one_hot(y, c).to(p.dtype)
        n = onehot.sum(0)
        present = n > 0
        prior = self.prior.to(p.device, p.dtype)
        v = prior[y] / (n[y] / y.numel())
        v = torch.where(v > 0, v, torch.ones_like(v))  # a class unseen in training: weight 1
        v = (v / v.mean()).unsqueeze(1)
        tp = (v * p * onehot).sum(0)
        fp = (v * p * (1 - onehot)).sum(0)
        fn = (v * (1 - p) * onehot).sum(0)
        f1 = 2 * tp / (2 * tp + fp + fn).clamp_min(1e-12)
        keep = present.clone()
        if self.ner and self.outside_id is not None:
            keep[self.outside_id] = False
        if not keep.any():  # only O tokens (NER): nothing to score but their CE
            return F.cross_entropy(x, y)
        return 1.0 - f1[keep].mean()

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.kind == MetaObjective.SOFT_F1:
            if not (labels != -100).any():
                return logits.sum() * 0.0
            return self.soft_f1(logits, labels)
        means, present = self.class_means(logits, labels)
        if not present.any():
            return logits.sum() * 0.0
        if self.kind == MetaObjective.BALANCED:
            return self.balanced(means, present)
        if self.kind == MetaObjective.NATURAL:
            return self.natural(means, present)
        return 0.5 * (self.balanced(means, present) + self.natural(means, present))
