"""Adaptive Weight Estimation (method.md §1-§2): the weight net and the bi-level meta step.

The weight net g_φ reads an example's batch-standardised hardness z_i and returns s_i = sigmoid(g_φ(z_i));
weights are w_i = clip(s_i / mean_B(s), w_min, w_max) with the mean detached. φ is learned so that one
virtual SGD step of the task model on the *weighted* training loss lowers the loss on a balanced meta
batch (Eq. 1-3). The virtual step runs through ``torch.func.functional_call``: the model is called with
θ' = θ_S − η ∇_{θ_S} mean(w·ℓ) substituted for its look-ahead parameters θ_S, without copying it.

Two hypergradient backends agree on small models (tested):
- ``exact``: second order, the virtual step is built with ``create_graph=True``;
- ``finite_difference``: first order (as in DARTS): the Hessian-vector product is replaced by a central
  difference of the weighted training loss at θ ± ε v, with v the meta gradient at θ'.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import torch
from torch import nn

from .enums import HypergradBackend, LookaheadScope
from .errors import SettingError

logger = logging.getLogger(__name__)

Params = dict[str, torch.Tensor]


class WeightNet(nn.Module):
    """g_φ: Linear(in, hidden) → ReLU → Linear(hidden, 1); the last bias starts at ``init_bias``."""

    def __init__(self, in_features: int = 1, hidden: int = 100, init_bias: float = 0.1) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, 1)
        nn.init.constant_(self.fc2.bias, init_bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() == 1:
            features = features.unsqueeze(-1)
        return self.fc2(torch.relu(self.fc1(features))).squeeze(-1)


def batch_zscore(hardness: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """z_i = (ℓ_i − mean_B ℓ) / max(std_B ℓ, eps) on the detached signal (population std)."""
    h = hardness.detach()
    h = h if h.is_floating_point() else h.float()
    return (h - h.mean()) / h.std(unbiased=False).clamp_min(eps) if h.numel() > 1 else torch.zeros_like(h)


def normalise_weights(
    s: torch.Tensor, w_min: float = 0.1, w_max: float = 8.0, mean: torch.Tensor | None = None,
    detach_mean: bool = True,
) -> torch.Tensor:
    """w_i = clip(s_i / (mean_B s + 1e-6), w_min, w_max), the mean detached (method.md §1). ``mean``: mean_B s
    computed by the caller (under DDP: over the global batch of all ranks, see
    :func:`hamr.ddp.global_mean`). ``detach_mean=False`` lets the gradient flow through the batch mean
    of this ``s``, so a rise of every s by the same factor leaves the weights and their gradient unchanged."""
    if not detach_mean and mean is not None:
        raise ValueError("normalise_weights: a caller's mean is detached; detach_mean=False needs mean=None")
    mean = s.mean() if mean is None else mean
    return (s / ((mean.detach() if detach_mean else mean) + 1e-6)).clamp(w_min, w_max)


def select_lookahead(model: nn.Module, scope: LookaheadScope, last_k: int = 1) -> Params:
    """The trainable parameters the virtual step moves, by name.

    - ``all``: every trainable parameter;
    - ``head``: parameters outside ``model.base_model`` (a Hugging Face head; for a peft model, outside the
      wrapped model's ``base_model``: the trained head of ``modules_to_save``), else the last Linear;
    - ``last_k``: everything registered from the first parameter of the k-th last block of the model's
      largest ``nn.ModuleList`` (its transformer layers) onward: those blocks, a pooler, a final norm, the head;
    - ``lora``: parameters whose name contains ``lora_``.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("the model has no trainable parameters")
    scope = LookaheadScope.parse(scope)
    if scope == LookaheadScope.ALL:
        chosen = named
    elif scope == LookaheadScope.LORA:
        chosen = [(n, p) for n, p in named if "lora_" in n]
        if not chosen:
            raise SettingError("lookahead_scope=lora but the model has no LoRA parameters (wrap it with peft first)")
    elif scope == LookaheadScope.HEAD:
        # a peft model's own ``base_model`` is its LoRA wrapper (everything); the head sits outside the wrapped
        # Hugging Face model's ``base_model``
        inner = model.get_base_model() if callable(getattr(model, "get_base_model", None)) else model
        base = getattr(inner, "base_model", None)
        if isinstance(base, nn.Module) and base is not inner:
            base_ids = {id(p) for p in base.parameters()}
            chosen = [(n, p) for n, p in named if id(p) not in base_ids]
        else:
            last_linear = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
            ids = {id(p) for p in last_linear.parameters()}
            chosen = [(n, p) for n, p in named if id(p) in ids]
    else:
        lists = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
        if not lists:
            raise SettingError("lookahead_scope=last_k needs a model with a ModuleList of layers")
        layers = max(lists, key=len)
        k = max(1, min(last_k, len(layers)))
        first = next(iter(layers[len(layers) - k].parameters()))
        start = next(i for i, (_, p) in enumerate(named) if p is first)
        chosen = named[start:]
    if not chosen:
        raise SettingError(f"lookahead_scope={scope} selected no trainable parameter")
    return dict(chosen)


@contextlib.contextmanager
def frozen_except(model: nn.Module, keep: Iterable[torch.Tensor]):
    """Temporarily stop autograd from recording through parameters outside ``keep`` (saves the meta
    forward the graph of layers the virtual step does not move)."""
    keep_ids = {id(p) for p in keep}
    changed = [p for p in model.parameters() if p.requires_grad and id(p) not in keep_ids]
    for p in changed:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in changed:
            p.requires_grad_(True)


def math_attention():
    """SDPA restricted to the math kernel, which supports double backward on every device."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel

        return sdpa_kernel([SDPBackend.MATH])
    except ImportError:  # pragma: no cover - older torch
        return contextlib.nullcontext()


@dataclass
class MetaStepResult:
    """What one bi-level step did."""

    meta_loss: float
    skipped: bool  # a non-finite weight-net output or gradient: φ kept as it was
    grad_norm: float


class MetaReweighter:
    """The weight net, its Adam optimiser, and the bi-level step.

    ``train_loss_at(params)`` must return the per-example training losses of the current batch with the
    look-ahead parameters replaced by ``params`` (``None``: the model's own); ``meta_loss_at(params)`` the
    mean loss of a meta batch at ``params``. The caller owns batching, the model and its forward passes.

    ``batch_mean`` (optional) maps the detached s of this process's batch to mean_B s; under DDP the trainer
    sets it to the mean over the global batch of all ranks. ``loss_scale`` (fp16, method.md §2): the inner
    (virtual-step) loss and the meta loss are multiplied by it before ``autograd.grad`` and the gradients
    divided by it after, so fp16 activation gradients neither underflow nor lose precision; a power of two
    leaves fp32/bf16 results unchanged. With ``dynamic_loss_scale`` a non-finite step halves the scale (the
    step is skipped by the non-finite guard) and ``loss_scale_growth_interval`` finite steps in a row double it.
    The weight net itself always runs in fp32 (autocast is switched off around it).
    """

    def __init__(
        self,
        in_features: int = 1,
        *,
        hidden: int = 100,
        init_bias: float = 0.1,
        lr: float = 1e-4,
        weight_decay: float = 1e-4,
        w_min: float = 0.1,
        w_max: float = 8.0,
        backend: HypergradBackend = HypergradBackend.EXACT,
        fd_epsilon: float = 0.01,
        device: torch.device | str = "cpu",
        batch_mean: Callable[[torch.Tensor], torch.Tensor] | None = None,
        loss_scale: float | None = None,
        dynamic_loss_scale: bool = True,
        loss_scale_growth_interval: int = 2000,
        detach_mean: bool = True,
    ) -> None:
        self.net = WeightNet(in_features, hidden, init_bias).to(device)
        self.detach_mean = detach_mean
        self.batch_mean = batch_mean
        self.loss_scale = None if loss_scale is None else float(loss_scale)
        self.dynamic_loss_scale = dynamic_loss_scale
        self.loss_scale_growth_interval = int(loss_scale_growth_interval)
        self._finite_in_a_row = 0
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr, weight_decay=weight_decay)
        self.w_min, self.w_max = w_min, w_max
        self.backend = HypergradBackend.parse(backend)
        self.fd_epsilon = fd_epsilon
        self.num_skipped = 0
        self.num_steps = 0

    # -- weights -------------------------------------------------------------------------------------
    def weights(self, features: torch.Tensor, prior: torch.Tensor | None = None) -> torch.Tensor:
        """w(features; φ), differentiable in φ. ``prior`` (per example, positive) multiplies s before the
        normalisation: a class-level starting point that the weight net refines per example."""
        dtype = self.net.fc1.weight.dtype
        with torch.autocast(device_type=features.device.type, enabled=False):  # the weight net stays in fp32
            s = torch.sigmoid(self.net(features.to(dtype)))
            if prior is not None:
                s = s * prior.to(dtype)
            if not self.detach_mean:
                if self.batch_mean is not None:
                    raise ValueError("the mean of the weights' normalisation can only be differentiated on one "
                                     "process (set normalise_through_mean=False under DDP)")
                return normalise_weights(s, self.w_min, self.w_max, detach_mean=False)
            mean = None if self.batch_mean is None else self.batch_mean(s.detach())
            return normalise_weights(s, self.w_min, self.w_max, mean=mean)

    @torch.no_grad()
    def weights_no_grad(self, features: torch.Tensor, prior: torch.Tensor | None = None) -> torch.Tensor:
        return self.weights(features, prior)

    # -- hypergradient -------------------------------------------------------------------------------
    def hypergradient(
        self,
        features: torch.Tensor,
        losses: torch.Tensor,
        params: Params,
        meta_loss_at: Callable[[Params], torch.Tensor],
        inner_lr: float,
        train_loss_at: Callable[[Params], torch.Tensor] | None = None,
        prior: torch.Tensor | None = None,
    ) -> tuple[list[torch.Tensor], float]:
        """∂ L_meta(θ'(φ)) / ∂φ for θ' = θ_S − η ∇_{θ_S} mean(w(φ)·ℓ(θ)). ``losses`` has the graph to θ."""
        names = list(params)
        tensors = [params[n] for n in names]
        phi = list(self.net.parameters())
        scale = self.loss_scale or 1.0
        if self.backend in (HypergradBackend.EXACT, HypergradBackend.HEAD_CACHED):  # the same maths; head_cached
            w = self.weights(features, prior)  # differs in what ``losses`` and ``meta_loss_at`` run (the trainer's)
            inner = (w * losses).mean()
            if self.loss_scale is None:
                grads = torch.autograd.grad(inner, tensors, create_graph=True, retain_graph=True, allow_unused=True)
                virtual = {
                    n: (p - inner_lr * g) if g is not None else p for n, p, g in zip(names, tensors, grads)
                }
                meta_loss = meta_loss_at(virtual)
                hyper = torch.autograd.grad(meta_loss, phi, allow_unused=True)
                hyper = [torch.zeros_like(p) if h is None else h for p, h in zip(phi, hyper)]
                return hyper, float(meta_loss.detach())
            return self._scaled_exact_hypergradient(names, tensors, phi, inner, meta_loss_at, inner_lr, scale)
        if train_loss_at is None:
            raise ValueError("the finite-difference backend needs train_loss_at")
        w = self.weights(features, prior)  # one call (under DDP its batch mean is a collective), reused below
        grads = torch.autograd.grad(
            (w.detach() * losses).mean() * scale, tensors, retain_graph=True, allow_unused=True
        )
        virtual = {
            n: ((p - (inner_lr / scale) * g) if g is not None else p).detach().requires_grad_(True)
            for n, p, g in zip(names, tensors, grads)
        }
        meta_loss = meta_loss_at(virtual)
        v = torch.autograd.grad(meta_loss * scale, [virtual[n] for n in names], allow_unused=True)
        v = [torch.zeros_like(p) if g is None else g / scale for p, g in zip(tensors, v)]
        norm = torch.sqrt(sum((g.double() ** 2).sum() for g in v)).item()
        if norm == 0.0 or not math.isfinite(norm):
            return [torch.zeros_like(p) for p in phi], float(meta_loss.detach())
        eps = self.fd_epsilon / norm
        seed = int(torch.randint(0, 2**31 - 1, (1,)).item())  # same dropout masks at θ+εv and θ−εv
        with torch.no_grad():
            plus = {n: p.detach() + eps * g for n, p, g in zip(names, tensors, v)}
            minus = {n: p.detach() - eps * g for n, p, g in zip(names, tensors, v)}
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                l_plus = train_loss_at(plus)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                l_minus = train_loss_at(minus)
            dloss = (l_plus - l_minus) / (2 * eps)
        # d/dφ of −η · mean(w(φ) · ∂ℓ/∂θ·v)
        surrogate = -inner_lr * (w * dloss).mean()
        hyper = torch.autograd.grad(surrogate * scale, phi, allow_unused=True)
        hyper = [torch.zeros_like(p) if h is None else h / scale for p, h in zip(phi, hyper)]
        return hyper, float(meta_loss.detach())

    def _scaled_exact_hypergradient(self, names, tensors, phi, inner, meta_loss_at, inner_lr, scale):
        """The exact hypergradient with loss scale S, in three backward passes, each at a scale that keeps fp16
        activation gradients in range: (1) g_S = ∇_θ(S·inner) with graph, θ' = θ − (η/S)·g_S; (2) the
        first-order meta gradient v_S = ∇_θ'(S·L_meta); (3) (∂θ'/∂φ)ᵀ applied to S·v_S, so the second-order
        pass carries η·S·∇L_meta (one pass from S·L_meta would carry η·∇L_meta, which underflows fp16 for a
        small η), and the result is divided by S². Powers of two leave fp32 results unchanged."""
        grads = torch.autograd.grad(inner * scale, tensors, create_graph=True, retain_graph=True, allow_unused=True)
        virtual = {n: (p - (inner_lr / scale) * g) if g is not None else p for n, p, g in zip(names, tensors, grads)}
        meta_loss = meta_loss_at(virtual)
        moved = [n for n, g in zip(names, grads) if g is not None]
        v = torch.autograd.grad(meta_loss * scale, [virtual[n] for n in moved], allow_unused=True)
        pairs = [(virtual[n], g) for n, g in zip(moved, v) if g is not None]
        if not pairs:
            return [torch.zeros_like(p) for p in phi], float(meta_loss.detach())
        hyper = torch.autograd.grad(
            [t for t, _ in pairs], phi, grad_outputs=[g * scale for _, g in pairs], allow_unused=True
        )
        hyper = [torch.zeros_like(p) if h is None else h / (scale * scale) for p, h in zip(phi, hyper)]
        return hyper, float(meta_loss.detach())

    def step(
        self,
        features: torch.Tensor,
        losses: torch.Tensor,
        params: Params,
        meta_loss_at: Callable[[Params], torch.Tensor],
        inner_lr: float,
        train_loss_at: Callable[[Params], torch.Tensor] | None = None,
        grad_hook: Callable[[list[torch.Tensor]], None] | None = None,
        prior: torch.Tensor | None = None,
    ) -> MetaStepResult:
        """One bi-level step: hypergradient, non-finite guard, Adam step on φ.

        ``grad_hook`` may transform the hypergradients in place before the step (e.g. an all-reduce)."""
        self.num_steps += 1
        hyper, meta_loss = self.hypergradient(features, losses, params, meta_loss_at, inner_lr, train_loss_at, prior)
        if not math.isfinite(meta_loss):  # poison the gradients so an all-reducing grad_hook skips on every rank
            hyper = [torch.full_like(h, float("nan")) for h in hyper]
        if grad_hook is not None:
            grad_hook(hyper)
        finite = all(torch.isfinite(h).all() for h in hyper)
        norm = float(torch.sqrt(sum((h.double() ** 2).sum() for h in hyper))) if finite else float("nan")
        self._update_loss_scale(finite)
        if not finite:
            self.num_skipped += 1
            logger.warning(
                "meta step %d skipped: non-finite weight-net gradient or meta loss%s", self.num_steps,
                f" (loss scale now {self.loss_scale:g})" if self.loss_scale is not None else "",
            )
            return MetaStepResult(meta_loss, True, norm)
        backup = [p.detach().clone() for p in self.net.parameters()]
        for p, h in zip(self.net.parameters(), hyper):
            p.grad = h.detach().clone()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if not all(torch.isfinite(p).all() for p in self.net.parameters()):
            with torch.no_grad():
                for p, b in zip(self.net.parameters(), backup):
                    p.copy_(b)
            self.num_skipped += 1
            logger.warning("meta step %d undone: the weight net became non-finite", self.num_steps)
            return MetaStepResult(meta_loss, True, norm)
        return MetaStepResult(meta_loss, False, norm)

    def _update_loss_scale(self, finite: bool) -> None:
        """Dynamic loss scaling (GradScaler's rule): halve on a non-finite step, double after
        ``loss_scale_growth_interval`` finite steps in a row."""
        if self.loss_scale is None or not self.dynamic_loss_scale:
            return
        if not finite:
            self.loss_scale = max(self.loss_scale * 0.5, 2.0**-24)
            self._finite_in_a_row = 0
            return
        self._finite_in_a_row += 1
        if self._finite_in_a_row >= self.loss_scale_growth_interval:
            self.loss_scale *= 2.0
            self._finite_in_a_row = 0

    # -- checkpointing -------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "num_skipped": self.num_skipped,
            "num_steps": self.num_steps,
            "loss_scale": self.loss_scale,
            "finite_in_a_row": self._finite_in_a_row,
        }

    def load_state_dict(self, state: Mapping) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.num_skipped = int(state["num_skipped"])
        self.num_steps = int(state["num_steps"])
        if state.get("loss_scale") is not None:  # states written before loss scaling existed have none
            self.loss_scale = float(state["loss_scale"])
        self._finite_in_a_row = int(state.get("finite_in_a_row", 0))
