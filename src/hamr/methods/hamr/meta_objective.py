"""Meta objectives of HAMR's bi-level step (issue 22, ``meta_objective``): what the look-ahead model is scored on.

For the units of a meta batch (classification: examples; NER: labelled tokens) let m_c be the mean CE of the
units labelled c (over the classes present in the batch):

- ``balanced``: mean_c m_c. NER: ½ m_O + ½ mean over the entity tags present of m_tag (O in its own half; if
  the batch has only O tokens or only entity tokens, that half alone);
- ``natural``: Σ_c π_c m_c / Σ_c π_c with π the training prior (NER: per tag over labelled training tokens),
  the sum over the classes present: an estimate of the natural-distribution risk, the one micro-F1 follows;
- ``half``: ½ balanced + ½ natural, to protect micro-F1 while still pulling towards the rare classes;
- ``soft_f1`` (session 23): 1 − the soft macro-F1 of the recent meta batches. With p the softmax, per class c
  the soft counts of a batch are TP_c = Σ_i v_i p_ic [y_i = c], FP_c = Σ_i v_i p_ic [y_i ≠ c], FN_c = Σ_i v_i
  (1 − p_ic) [y_i = c]; the unit weights v_i = π_{y_i} / q_{y_i} (π the training prior, q the batch's own class
  frequencies, normalised to mean 1) make them estimates under the natural distribution (a class-balanced meta
  batch would otherwise overstate the rare classes' precision; balanced CE, i.e. balanced accuracy, is what
  over-predicts them: session 21, Idai19 micro-F1 −19). F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c) is taken on
  the counts of this batch *added to* a decayed running total of the earlier batches' counts (detached;
  ``f1_decay`` 0.9, about the last ten meta batches; :meth:`MetaObjectiveLoss.commit` adds a batch once its
  meta step is done): F1 is a ratio, and on one batch of 16 (one or two units of a rare class) its value and
  gradient are dominated by the small counts; against the running totals the batch's gradient is the plug-in
  one, the derivative of macro-F1 at the recent counts (a cost-sensitive loss, the form F-measure-optimal
  classifiers take). Averaged over the classes present in the batch (NER: the entity tags present, O left out,
  as span macro-F1 leaves it out). Under DDP each process keeps its own running counts. Screened with
  class_residual on Irma17 (session 23, 3 seeds, held-out validation): 16 macro-F1 points *below* the weight net,
  the learned δ running away from the rare classes: soft counts charge a class for all the probability it puts
  on the many majority examples, which an argmax decision does not (docs/defaults_history.md). Not a default.

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
                 ner: bool = False, f1_decay: float = 0.9) -> None:
        super().__init__()
        if not 0.0 <= f1_decay < 1.0:
            raise ValueError(f"MetaObjectiveLoss: f1_decay must be in [0, 1), got {f1_decay}")
        self.f1_decay = f1_decay
        self.kind = MetaObjective.parse(kind)
        if self.kind == MetaObjective.PLAIN:
            raise ValueError("MetaObjectiveLoss: 'plain' is the unweighted CE (hamr.losses.WeightedCrossEntropy)")
        counts = torch.as_tensor(list(train_counts), dtype=torch.float64)
        if counts.dim() != 1 or not (counts > 0).any():
            raise ValueError("MetaObjectiveLoss: train_counts must be a 1-d sequence with a positive count")
        self.register_buffer("prior", (counts / counts.sum()).float())
        # soft_f1: decayed running soft counts (TP, FP, FN per class) of the committed meta batches
        self.register_buffer("running", torch.zeros(3, counts.numel(), dtype=torch.float64))
        self._pending: torch.Tensor | None = None
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
        """1 − soft macro-F1 of the labelled units, reweighted to the training prior, on this batch's soft counts
        plus the decayed running totals (see the module)."""
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
        batch = torch.stack([(v * p * onehot).sum(0), (v * p * (1 - onehot)).sum(0), (v * (1 - p) * onehot).sum(0)])
        self._pending = batch.detach().double()
        tp, fp, fn = (self.f1_decay * self.running).to(batch.dtype) + batch
        f1 = 2 * tp / (2 * tp + fp + fn).clamp_min(1e-12)
        keep = present.clone()
        if self.ner and self.outside_id is not None:
            keep[self.outside_id] = False
        if not keep.any():  # only O tokens (NER): nothing to score but their CE
            return F.cross_entropy(x, y)
        return 1.0 - f1[keep].mean()

    @torch.no_grad()
    def commit(self) -> None:
        """soft_f1: add the last scored meta batch's soft counts to the running totals (once per meta step, after
        it: the look-ahead and any re-evaluation of the same batch score against the same totals)."""
        if self._pending is not None:
            self.running.mul_(self.f1_decay).add_(self._pending.to(self.running.device))
            self._pending = None

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
