"""Learned class-level parameters in HAMR's bi-level step (issue 22, ``weighting_form=class_residual``).

Per class group c (classification: a class; NER: an entity type, its B- and I- tags sharing, and ``O`` as
its own group) a log-weight β_c and a logit offset δ_c, and (``example_residual=True``; off by default since
session 34) a per-example residual u_φ (the weight net, its output layer initialised to zero so u ≡ 0 at the
start). For the units of a batch (classification: the examples; NER: the labelled tokens)

    w_i = n · softmax_i(β_{g(y_i)} + u_φ(z_i))          (n = number of units in the batch)
    inner loss = mean_i w_i · CE(f(x_i) + δ_{g(·)}, y_i)   (δ added to every class's logit)

so the weights have mean 1 over the batch by construction, and no direction of (β, φ) raises every weight
together (the flaw of the detached-mean form, README session 16). β, δ and φ are learned by the same
hypergradient: one virtual step θ' = θ_S − η ∇_{θ_S} inner(β, δ, φ), meta loss L_meta(f_{θ'}) on the *plain*
logits of the look-ahead model, gradient of L_meta w.r.t. (β, δ, φ) through the virtual step.

δ at evaluation: not used. As in loss-based logit adjustment (Menon et al., ICLR 2021) and Balanced Softmax
(Ren et al., NeurIPS 2020) the offset is a training-time device: training on CE(f + δ) makes the model's own
logits f absorb −δ (a class with δ_c < 0 is pushed to larger f_c), and the prediction is argmax f. The meta
objective measures exactly that predictor (plain logits at θ'), so the hypergradient learns the δ whose
training-time effect helps the plain predictor — the bilevel learning of additive logit adjustments of
AutoBalance (Li et al., NeurIPS 2021). The saved model therefore needs no extra parameters.

Start: β_c = log n_c^(−τ) (τ = ``class_prior_power``; NER: τ is 1 by default since session 29, so β = −log n_c;
before it 0, β = 0), δ = 0: at the start
the weights equal today's class-level prior n_y^(−τ) / mean_B(n_y^(−τ)) (tested).

``class_params=strength`` (session 26) learns two scalars instead of 2·C free values: with the basis
b_c = −(log n_c − mean_c log n_c) (positive for the rare groups),

    β_c = β_start,c + a · b_c        δ_c = −k · b_c

so a is the extra class-weight strength (a = 1 adds the weight n_c^-1; on top of the start's n_c^-τ) and k the
strength of the training-time logit adjustment (k = 1: Balanced Softmax's log π offsets, up to a constant). Both
start at 0, so the start is the per-class form's start. The hypergradient of (a, k) pools every group's
signal along the direction of the class prior (∂/∂a = Σ_c b_c ∂/∂β_c), where the per-class form's 2·C values
each see one group's few meta units. Meant to learn the push's strength per dataset; screened in session 26
(README, ``i26_strength``) it did not: the one-step hypergradient pushes the same way on datasets that want
opposite pushes (``class_hypergradient`` in the diagnostics shows it). Off by default.

``class_params=pr_feedback`` (session 27) sets β by feedback instead of the hypergradient, and keeps δ at 0. The
model over-predicts a class when its precision is below its recall and under-predicts it when its precision is
above (the rare classes' symptom in the CPU grid: Idai19 requests P/R 38/23). After every meta step the meta
batch's argmax predictions (at the look-ahead parameters, the logits the meta loss was computed on) add to a
decayed confusion matrix K[g, ĝ] of true group g and predicted group ĝ (``pr_feedback_decay``: each count's
weight falls by that factor per meta step). Its rows give P(ĝ | g), estimated on the class-balanced meta batches,
and the training prior π_g turns them into natural-distribution counts N[g, ĝ] = π_g P(ĝ | g) — a balanced meta
batch would overstate a rare class's precision. Per group, with t_g = Σ_ĝ N[g,ĝ] (how often g occurs) and
p_g = Σ_h N[h,g] (how often it is predicted), P_g / R_g = t_g / p_g, and

    β_g ← β_g + η · log((1 + ε) / (p_g / t_g + ε))        (η = ``class_param_lr``, ε = 0.05)

for the groups the counts have seen (the step is at most η·log 21 ≈ 3η, for a class never predicted). It is an
integral controller towards p_g = t_g, i.e. P_g = R_g: the class weight rises while a class is predicted too
seldom and falls while too often, whatever the dataset, so the push's strength is set by the data (the one-step
hypergradient gives the same sign on datasets that want opposite pushes). The count ratio is written without
TP so that a class never predicted correctly still gets its push (a first version stepped by
log((P_g + ε) / (R_g + ε)), which is 0 when P = R = 0: TweetNER7's corporation, BioNLP's RNA got none). It
balances how often a class is predicted, not how well: a class the model confuses with another (predicted as
often as it occurs, mostly wrongly) gets no push. The per-example residual u_φ still learns by the hypergradient.
Screened in session 27 (docs/issue22_log.md, ``i27_pr_feedback``): it balances the classes as designed and costs TweetNER7 4-5
held-out points as fixed class weights do; an unlearnable class winds up (BioNLP's RNA), classification's many
feedback steps swing; with decision offsets it is never above the default. Off by default.
NER counts tokens (a B- or I- prediction counts for its type), a proxy for span F1; the meta set's training
copies that top up rare classes are fitted, so those classes' recall is overstated and the push on them is
milder than the held-out data would ask.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ...enums import ClassParams
from ...errors import SettingError
from ...weighting import MetaStepResult, Params, WeightNet

logger = logging.getLogger(__name__)

__all__ = ["ClassGroups", "ClassResidualReweighter", "class_groups"]

PR_EPSILON = 0.05  # pr_feedback: the smoothing ε of log((1 + ε) / (p / t + ε))


@dataclass
class ClassGroups:
    """Which group every label id belongs to (``group_of_label[c]``) and the groups' names."""

    group_of_label: torch.Tensor  # long [C]
    names: list[str]

    def __len__(self) -> int:
        return len(self.names)


def class_groups(labels: Sequence[str], ner: bool) -> ClassGroups:
    """Classification: one group per label. NER: one group per entity type (``B-X``/``I-X`` → ``X``) and ``O``
    (any tag without a ``B-``/``I-`` prefix is its own group)."""
    names: list[str] = []
    of = []
    for lab in labels:
        g = lab[2:] if ner and len(lab) > 2 and lab[:2] in ("B-", "I-") else lab
        if g not in names:
            names.append(g)
        of.append(names.index(g))
    return ClassGroups(torch.as_tensor(of, dtype=torch.long), names)


class ClassResidualReweighter:
    """β, δ (per group), the residual net u_φ, their Adam optimiser and the bi-level step.

    ``beta_start`` (per group, log scale) is β's starting point; δ starts at 0. ``learn_class=False`` keeps
    β, δ at the start (ablation); ``use_residual=False`` drops u_φ (HAMR's default since session 34, and the
    ablation). A step with nothing to learn is a no-op. ``class_params=strength`` learns the two scalars (a, k) of the module docstring instead of free
    β, δ; ``class_params=pr_feedback`` sets β by the precision/recall feedback of the module docstring (call
    :meth:`feedback` after each meta step; ``class_lr`` is then its gain η). Both need the groups' training
    ``counts``."""

    def __init__(
        self,
        groups: ClassGroups,
        beta_start: torch.Tensor | Sequence[float],
        *,
        hidden: int = 100,
        wnet_lr: float = 1e-3,
        class_lr: float = 1e-2,
        weight_decay: float = 1e-4,
        learn_class: bool = True,
        use_residual: bool = True,
        cap: float | None = None,
        class_params: ClassParams | str = ClassParams.PER_CLASS,
        counts: Sequence[float] | None = None,
        feedback_decay: float = 0.9,
        device: torch.device | str = "cpu",
    ) -> None:
        self.groups = groups
        self.group_of_label = groups.group_of_label.to(device)
        start = torch.as_tensor(beta_start, dtype=torch.float32).flatten()
        if start.numel() != len(groups) or not torch.isfinite(start).all():
            raise ValueError(f"beta_start: expected {len(groups)} finite values, got {start.tolist()}")
        self.beta_start = start.clone()
        self.class_params = ClassParams.parse(class_params)
        n = None
        if self.class_params != ClassParams.PER_CLASS:
            n = torch.as_tensor(np.asarray(counts if counts is not None else [], dtype=np.float64)).flatten()
            if n.numel() != len(groups) or not (n > 0).all():
                raise ValueError(f"class_params={self.class_params.value!r} needs {len(groups)} positive group "
                                 f"counts, got {None if counts is None else n.tolist()}")
        if not 0.0 <= feedback_decay < 1.0:
            raise ValueError(f"feedback_decay: expected a value in [0, 1), got {feedback_decay}")
        self.feedback_decay = feedback_decay
        self.feedback_rate = class_lr
        self.confusion: torch.Tensor | None = None
        if self.class_params == ClassParams.STRENGTH:
            log_n = torch.log(n)
            self.basis = (-(log_n - log_n.mean())).to(torch.float32).to(device)  # b_c > 0 for rare groups
            self._beta_start_dev = start.clone().to(device)  # β's start beside the scalars, read every step
            self.scales = nn.Parameter(torch.zeros(2, device=device))  # (a, k)
            self._class_tensors = [self.scales]
        elif self.class_params == ClassParams.PR_FEEDBACK:  # β moved by feedback(), δ stays 0: no hypergradient
            self._beta = start.clone().to(device)
            self._delta = torch.zeros(len(groups), device=device)
            self._class_tensors = []
            self.prior = n / n.sum()  # float64, CPU: the training prior of the groups
            self.confusion = torch.zeros(len(groups), len(groups), dtype=torch.float64)  # K[true, predicted]
        else:
            self._beta = nn.Parameter(start.clone().to(device))
            self._delta = nn.Parameter(torch.zeros(len(groups), device=device))
            self._class_tensors = [self._beta, self._delta]
        self.net = WeightNet(1, hidden, init_bias=0.0).to(device)
        with torch.no_grad():  # u_φ ≡ 0 at the start
            self.net.fc2.weight.zero_()
            self.net.fc2.bias.zero_()
        self.learn_class = learn_class
        self.use_residual = use_residual
        if cap is not None and not (math.isfinite(cap) and cap >= 0):
            raise ValueError(f"cap: expected a finite value >= 0 or None, got {cap}")
        self.cap = cap
        if not learn_class:
            for t in self._class_tensors:
                t.requires_grad_(False)
        groups_ = []
        if use_residual:
            groups_.append({"params": list(self.net.parameters()), "lr": wnet_lr, "weight_decay": weight_decay})
        if learn_class and self._class_tensors:
            groups_.append({"params": list(self._class_tensors), "lr": class_lr, "weight_decay": 0.0})
        self.optimizer = torch.optim.Adam(groups_) if groups_ else None
        self.num_skipped = 0
        self.num_steps = 0
        self._hg_count = 0  # hypergradient statistics of the class tensors since the last hypergradient_stats()
        # kept on the CPU in float64 (MPS has no float64)
        self._hg_sum = [torch.zeros(t.shape, dtype=torch.float64) for t in self._class_tensors]
        self._hg_sq = [torch.zeros(t.shape, dtype=torch.float64) for t in self._class_tensors]

    # -- parameters ----------------------------------------------------------------------------------
    @property
    def hyper_class(self) -> bool:
        """The hypergradient learns class terms (per_class, strength; not pr_feedback nor the frozen ablation)."""
        return self.learn_class and bool(self._class_tensors)

    @property
    def beta(self) -> torch.Tensor:
        """β per group (per_class: the learned tensor itself; strength: β_start + a·b, differentiable in a)."""
        if self.class_params == ClassParams.STRENGTH:
            return self._beta_start_dev + self.scales[0] * self.basis
        return self._beta

    @property
    def delta(self) -> torch.Tensor:
        """δ per group (per_class: the learned tensor itself; strength: −k·b, differentiable in k)."""
        if self.class_params == ClassParams.STRENGTH:
            return -self.scales[1] * self.basis
        return self._delta

    def learned(self) -> list[torch.Tensor]:
        """The tensors the hypergradient updates, in the optimiser's order."""
        out: list[torch.Tensor] = []
        if self.use_residual:
            out += list(self.net.parameters())
        if self.hyper_class:
            out += list(self._class_tensors)
        return out

    def delta_per_label(self) -> torch.Tensor:
        """δ for every label id (the offset added to the logits in the inner loss), differentiable."""
        return self.delta[self.group_of_label]

    def logit_offsets(self) -> torch.Tensor:
        return self.delta_per_label().detach()

    # -- weights -------------------------------------------------------------------------------------
    def scores(self, z: torch.Tensor, unit_labels: torch.Tensor) -> torch.Tensor:
        """β_{g(y)} + u_φ(z) per unit (fp32), differentiable in β and φ."""
        with torch.autocast(device_type=z.device.type, enabled=False):
            a = self.beta[self.group_of_label.to(unit_labels.device)[unit_labels]]
            if self.use_residual:
                a = a + self.net(z.to(self.net.fc1.weight.dtype))
        return a

    def weights(self, z: torch.Tensor, unit_labels: torch.Tensor) -> torch.Tensor:
        """w = n · softmax(β_y + u(z)) over the n units of the batch (mean 1; under DDP, of this process's share
        of the batch: the hypergradients are averaged over the processes, the softmax is not global)."""
        a = self.scores(z, unit_labels)
        return a.numel() * torch.softmax(a, dim=0)

    @torch.no_grad()
    def weights_no_grad(self, z: torch.Tensor, unit_labels: torch.Tensor) -> torch.Tensor:
        return self.weights(z, unit_labels)

    # -- the bi-level step ---------------------------------------------------------------------------
    def hypergradient(
        self,
        z: torch.Tensor,
        unit_labels: torch.Tensor,
        unit_losses: Callable[[torch.Tensor], torch.Tensor],
        params: Params,
        meta_loss_at: Callable[[Params], torch.Tensor],
        inner_lr: float,
    ) -> tuple[list[torch.Tensor], float]:
        """∂ L_meta(θ') / ∂(φ, β, δ) for θ' = θ_S − η ∇_{θ_S} mean(w · ℓ(θ, δ)), exact (second order).
        ``unit_losses(delta_per_label)`` returns the per-unit CE of f(x) + δ with its graph to ``params``."""
        names = list(params)
        tensors = [params[n] for n in names]
        learned = self.learned()
        w = self.weights(z, unit_labels)
        inner = (w * unit_losses(self.delta_per_label())).mean()
        grads = torch.autograd.grad(inner, tensors, create_graph=True, allow_unused=True)
        virtual = {n: (p - inner_lr * g) if g is not None else p for n, p, g in zip(names, tensors, grads)}
        meta_loss = meta_loss_at(virtual)
        hyper = torch.autograd.grad(meta_loss, learned, allow_unused=True)
        hyper = [torch.zeros_like(p) if h is None else h for p, h in zip(learned, hyper)]
        return hyper, float(meta_loss.detach())

    def step(self, z, unit_labels, unit_losses, params, meta_loss_at, inner_lr, grad_hook=None) -> MetaStepResult:
        """One bi-level step: hypergradient, non-finite guard, Adam step on (φ, β, δ). ``grad_hook`` (DDP:
        the trainer's all-reduce mean) gets the hypergradients in place before anything reads them, so every
        process takes the same step and skips the same steps."""
        if self.optimizer is None:
            return MetaStepResult(float("nan"), True, 0.0)
        self.num_steps += 1
        hyper, meta_loss = self.hypergradient(z, unit_labels, unit_losses, params, meta_loss_at, inner_lr)
        if grad_hook is not None:
            loss_t = torch.tensor([meta_loss], dtype=torch.float32, device=hyper[0].device if hyper else "cpu")
            grad_hook([*hyper, loss_t])
            meta_loss = float(loss_t)
        finite = math.isfinite(meta_loss) and all(torch.isfinite(h).all() for h in hyper)
        norm = float(torch.sqrt(sum((h.double() ** 2).sum() for h in hyper))) if finite else float("nan")
        if not finite:
            self.num_skipped += 1
            logger.warning("meta step %d skipped: non-finite class-level hypergradient or meta loss", self.num_steps)
            return MetaStepResult(meta_loss, True, norm)
        if self.hyper_class:  # the class tensors are the last entries of learned()
            self._hg_count += 1
            for i, h in enumerate(hyper[len(hyper) - len(self._class_tensors):]):
                h64 = h.detach().cpu().double()
                self._hg_sum[i] += h64
                self._hg_sq[i] += h64 ** 2
        learned = self.learned()
        backup = [p.detach().clone() for p in learned]
        for p, h in zip(learned, hyper):
            p.grad = h.detach().clone()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if not all(torch.isfinite(p).all() for p in learned):
            with torch.no_grad():
                for p, b in zip(learned, backup):
                    p.copy_(b)
            self.num_skipped += 1
            logger.warning("meta step %d undone: a class-level parameter became non-finite", self.num_steps)
            return MetaStepResult(meta_loss, True, norm)
        if self.cap is not None and self.hyper_class:  # projection onto the box around the start
            with torch.no_grad():
                if self.class_params == ClassParams.STRENGTH:
                    self.scales.clamp_(-self.cap, self.cap)  # the cap bounds the two strengths
                else:
                    start = self.beta_start.to(self._beta.device)
                    self._beta.copy_(torch.minimum(torch.maximum(self._beta, start - self.cap), start + self.cap))
                    self._delta.clamp_(-self.cap, self.cap)
        return MetaStepResult(meta_loss, False, norm)

    # -- pr_feedback ---------------------------------------------------------------------------------
    @torch.no_grad()
    def feedback(self, logits: torch.Tensor, labels: torch.Tensor,
                 reduce: Callable[[list[torch.Tensor]], None] | None = None) -> None:
        """pr_feedback: add a meta batch's argmax predictions (``logits`` [..., C], ``labels`` [...] with -100
        for unlabelled units) to the decayed confusion counts and move β one feedback step. ``reduce`` (DDP: the
        trainer's all-reduce mean) averages the batch's counts over the processes first, so every process keeps
        the same β. A no-op for the other forms and with ``learn_class=False``."""
        if self.class_params != ClassParams.PR_FEEDBACK or not self.learn_class:
            return
        mask = labels != -100
        true = self.group_of_label.to(labels.device)[labels[mask]]
        pred = self.group_of_label.to(labels.device)[logits[mask].argmax(-1)]
        g = len(self.groups)
        batch = torch.bincount((true * g + pred).cpu(), minlength=g * g).reshape(g, g).double()
        if reduce is not None:
            batch = batch.to(self._beta.device).float()
            reduce([batch])
            batch = batch.cpu().double()
        self.confusion.mul_(self.feedback_decay).add_(batch)
        signal = self.pr_signal()
        self._beta.add_((self.feedback_rate * signal).to(self._beta.device, self._beta.dtype))
        if self.cap is not None:
            start = self.beta_start.to(self._beta.device)
            self._beta.copy_(torch.minimum(torch.maximum(self._beta, start - self.cap), start + self.cap))

    def _natural_counts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, seen): the decayed confusion rows normalised to P(ĝ | g) and scaled by the training prior π_g
        (rows of groups not seen yet are 0, ``seen`` False)."""
        k = self.confusion
        rows = k.sum(1)
        seen = rows > 0
        cond = torch.where(seen[:, None], k / rows.clamp_min(1e-300)[:, None], torch.zeros_like(k))
        return cond * self.prior[:, None], seen

    def precision_recall(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(precision, recall, seen) per group from the decayed confusion counts, as natural-distribution
        estimates (rows normalised to P(ĝ | g), scaled by the training prior of g); precision is 1 for a group
        never predicted, recall 0 for a group not seen (``seen`` False: no signal)."""
        nat, seen = self._natural_counts()
        tp = nat.diagonal()
        predicted = nat.sum(0)
        precision = torch.where(predicted > 0, tp / predicted.clamp_min(1e-300), torch.ones_like(tp))
        recall = torch.where(seen, tp / nat.sum(1).clamp_min(1e-300), torch.zeros_like(tp))
        return precision, recall, seen

    def pr_signal(self) -> torch.Tensor:
        """log((1 + ε) / (p / t + ε)) per group, p / t = R / P its predicted over its true natural mass (0 for
        the groups not seen yet): the feedback step's direction."""
        nat, seen = self._natural_counts()
        ratio = nat.sum(0) / nat.sum(1).clamp_min(1e-300)
        out = torch.log((1.0 + PR_EPSILON) / (ratio + PR_EPSILON))
        return torch.where(seen, out, torch.zeros_like(out))

    # -- diagnostics and checkpoints -----------------------------------------------------------------
    def describe(self) -> dict:
        """β and δ per group, with β's start (for hamr_diagnostics.jsonl)."""
        b = self.beta.detach().cpu().tolist()
        d = self.delta.detach().cpu().tolist()
        s = self.beta_start.tolist()
        strength = {}
        if self.class_params == ClassParams.STRENGTH:
            a, k = self.scales.detach().cpu().tolist()
            strength = {"strength": {"weight": a, "offset": k}}
        if self.class_params == ClassParams.PR_FEEDBACK:  # the estimates the feedback steers by
            precision, recall, seen = self.precision_recall()
            strength = {"pr_feedback": {name: {"precision": float(p), "recall": float(r)}
                                        for name, p, r, s_ in zip(self.groups.names, precision, recall, seen) if s_}}
        return {
            **strength,
            "beta": dict(zip(self.groups.names, b)),
            "beta_start": dict(zip(self.groups.names, s)),
            "delta": dict(zip(self.groups.names, d)),
            # the class-level weight exp(β) relative to the mean over groups, now and at the start
            "class_weight": dict(zip(self.groups.names, _relative(np.exp(b)))),
            "class_weight_start": dict(zip(self.groups.names, _relative(np.exp(s)))),
        }

    def hypergradient_stats(self, reset: bool = True) -> dict:
        """How consistently the meta objective pushes each class term, over the meta steps since the last call:
        ``drift_t`` = −mean / (sd / √n) of its hypergradient (positive: the steps push it up; |t| > 2: a
        direction the noise of single meta batches does not explain), and ``snr`` = |mean| / sd per step.
        per_class: per group for β and δ; strength: for the two scalars (``weight`` = a, ``offset`` = k)."""
        n = self._hg_count
        out: dict = {"steps": n}
        if n >= 2:
            if self.class_params == ClassParams.STRENGTH:
                names = [("weight", None), ("offset", None)]
                sums, sqs = list(self._hg_sum[0]), list(self._hg_sq[0])
            else:
                names = [(kind, g) for kind in ("beta", "delta") for g in self.groups.names]
                sums = [*self._hg_sum[0], *self._hg_sum[1]]
                sqs = [*self._hg_sq[0], *self._hg_sq[1]]
            for (kind, group), s1, s2 in zip(names, sums, sqs):
                mean = float(s1) / n
                sd = math.sqrt(max(float(s2) / n - mean * mean, 0.0) * n / (n - 1))
                rec = {"mean": mean, "sd": sd,
                       "drift_t": -mean / (sd / math.sqrt(n)) if sd > 0 else 0.0,
                       "snr": abs(mean) / sd if sd > 0 else 0.0}
                if group is None:
                    out[kind] = rec
                else:
                    out.setdefault(kind, {})[group] = rec
        if reset:
            self._hg_count = 0
            for t in (*self._hg_sum, *self._hg_sq):
                t.zero_()
        return out

    def state_dict(self) -> dict:
        return {
            "net": self.net.state_dict(),
            "class_params": self.class_params.value,
            "beta": self.beta.detach().clone(),
            "delta": self.delta.detach().clone(),
            **({"scales": self.scales.detach().clone()} if self.class_params == ClassParams.STRENGTH else {}),
            **({"confusion": self.confusion.clone()} if self.confusion is not None else {}),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "num_skipped": self.num_skipped,
            "num_steps": self.num_steps,
            # the epoch's hypergradient statistics so far, so a resumed run's diagnostics cover the whole epoch
            "hypergradient_stats": {"count": self._hg_count, "sum": [t.clone() for t in self._hg_sum],
                                    "sq": [t.clone() for t in self._hg_sq]},
        }

    def load_state_dict(self, state: Mapping) -> None:
        saved = ClassParams.parse(state.get("class_params", ClassParams.PER_CLASS.value))
        if saved != self.class_params:
            raise SettingError(f"HAMR state: saved with class_params={saved.value!r}, this run has "
                             f"class_params={self.class_params.value!r}")
        self.net.load_state_dict(state["net"])
        with torch.no_grad():
            if self.class_params == ClassParams.STRENGTH:
                self.scales.copy_(state["scales"])
            else:
                self._beta.copy_(state["beta"])
                self._delta.copy_(state["delta"])
            if self.confusion is not None:
                self.confusion.copy_(state["confusion"])
        if self.optimizer is not None and state.get("optimizer") is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        self.num_skipped = int(state["num_skipped"])
        self.num_steps = int(state["num_steps"])
        hg = state.get("hypergradient_stats")  # absent in checkpoints from before session 26
        if hg is not None:
            self._hg_count = int(hg["count"])
            for dst, src in zip((*self._hg_sum, *self._hg_sq), (*hg["sum"], *hg["sq"])):
                dst.copy_(src)


def _relative(x: np.ndarray) -> list[float]:
    x = np.asarray(x, dtype=np.float64)
    return (x / x.mean()).tolist()
