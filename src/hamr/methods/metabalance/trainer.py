"""MetaBalance (Bansal et al. 2021) as a baseline, from method.md §6: first-order MAML with a balanced outer loop.

:class:`MetaBalanceTrainer` overrides ``training_step``. Every Trainer step takes:

- one **inner** batch B_in from the Trainer's normal dataloader (the data as it is);
- ``args.metabalance_outer_batches`` (M) **outer** batches B_out,1..M from a re-balanced sampler over the
  training set: per-example sampling weight 1 / n_group, with replacement, i.e. every class padded by
  duplicates to the size of the largest one (classification: group = the label; NER: group = the sentence's
  rarest entity tag, :func:`hamr.methods.base.example_groups`, sentences without entity form the ``O`` group),
  batch size ``per_device_train_batch_size``, seeded by ``seed`` (and the rank, under DDP).

and computes (α = ``metabalance_inner_lr``, λ = ``metabalance_lambda``)

    θ' = θ − α ∇L(θ; B_in)                                    (plain SGD, detached: first order)
    loss = (1/M) Σ_m L(θ'; B_out,m) + λ L(θ; B_in)
    step direction = (1/M) Σ_m ∇L(θ'; B_out,m) + λ ∇L(θ; B_in)

The model is run at θ' with ``torch.func.functional_call`` (no copy of the model); the outer gradients are
taken w.r.t. the θ' tensors and added to the parameters' ``.grad`` (divided by the gradient-accumulation
steps, as the Trainer does with a loss), then the Trainer clips and steps its optimiser as usual.

Accumulating M outer losses per optimiser step is done inside one Trainer step (the M outer batches share
the inner batch and so θ'); the number of optimiser steps and the learning-rate schedule are those of
plain fine-tuning on the same epochs, at a cost of about 1 + M forward/backward passes per step.
Gradient accumulation (``gradient_accumulation_steps``) still works on top. L is plain cross-entropy (NER: mean
over labelled tokens). The outer sampler's position is not checkpointed (a resumed run draws new outer
batches). fp16 with a gradient scaler is not supported (the gradients bypass ``accelerator.backward``). Under
DDP the gradients are all-reduced by hand (the model is run unwrapped); this path is not covered by the tests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.func import functional_call
from torch.utils.data import DataLoader, WeightedRandomSampler

from ...constants import INDEX_KEY
from ...errors import SettingError
from ...losses import WeightedCrossEntropy
from ..base import ImbalanceTrainer

logger = logging.getLogger(__name__)

Params = dict[str, torch.Tensor]


def balanced_sampling_weights(groups: Sequence[int] | np.ndarray) -> np.ndarray:
    """Per-example weight 1 / (size of its group); examples with a negative group get 0."""
    groups = np.asarray(groups, dtype=np.int64)
    valid = groups >= 0
    counts = np.bincount(groups[valid], minlength=int(groups.max(initial=0)) + 1)
    return np.where(valid, 1.0 / np.maximum(counts[np.maximum(groups, 0)], 1), 0.0)


@dataclass
class FirstOrderStep:
    grads: dict[str, torch.Tensor]  # the step direction per parameter name (None-free: zeros if unused)
    inner_loss: float
    outer_loss: float  # mean over the outer batches, at θ'


def first_order_meta_gradients(
    params: Params,
    inner_loss: torch.Tensor,
    outer_loss_at: Sequence[Callable[[Params], torch.Tensor]],
    *,
    inner_lr: float,
    lam: float,
) -> FirstOrderStep:
    """The first-order MetaBalance direction (see the module docstring).

    ``params``: the parameters θ by name (leaves with ``requires_grad``); ``inner_loss``: L(θ; B_in) with
    its graph to them; ``outer_loss_at``: one function per outer batch, mapping parameters by name to
    L(·; B_out). Returns (1/M) Σ_m ∇L(θ'; B_out,m) + λ ∇L(θ; B_in) with θ' = θ − α ∇L(θ; B_in), θ' detached.
    """
    names = list(params)
    tensors = [params[n] for n in names]
    g_in = torch.autograd.grad(inner_loss, tensors, allow_unused=True)
    g_in = [torch.zeros_like(p) if g is None else g.detach() for p, g in zip(tensors, g_in)]
    adapted = {n: (p.detach() - inner_lr * g).requires_grad_(True) for n, p, g in zip(names, tensors, g_in)}
    leaves = [adapted[n] for n in names]
    total = [lam * g for g in g_in]
    m = len(outer_loss_at)
    if m < 1:
        raise ValueError("MetaBalance needs at least one outer batch")
    outer_sum = 0.0
    for fn in outer_loss_at:
        loss = fn(adapted)
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        for j, g in enumerate(grads):
            if g is not None:
                total[j] = total[j] + g.detach() / m
        outer_sum += float(loss.detach())
    return FirstOrderStep(dict(zip(names, total)), float(inner_loss.detach()), outer_sum / m)


class MetaBalanceTrainer(ImbalanceTrainer):
    """MetaBalance as a ``transformers.Trainer`` (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        a = self.args
        if a.metabalance_outer_batches < 1:
            raise SettingError(f"metabalance_outer_batches must be >= 1, got {a.metabalance_outer_batches}")
        if a.metabalance_inner_lr < 0 or a.metabalance_lambda < 0:
            raise SettingError("metabalance_inner_lr and metabalance_lambda must be >= 0")
        if a.fp16:
            raise SettingError("MetaBalance writes gradients directly: fp16 with a gradient scaler is not supported "
                             "(use bf16 or fp32)")
        self._outer_iter = None
        # seeded from the run seed, and by rank so that DDP processes draw different outer batches
        self._outer_generator = torch.Generator().manual_seed(
            (int(a.seed) * 1000003 + 1) * 1009 + int(self.accelerator.process_index)
        )

    # -- the balanced outer stream -------------------------------------------------------------------
    def outer_sampling_weights(self) -> np.ndarray:
        return balanced_sampling_weights(self.example_groups())

    def _outer_loader(self) -> DataLoader:
        weights = torch.as_tensor(self.outer_sampling_weights(), dtype=torch.double)
        sampler = WeightedRandomSampler(weights, len(weights), replacement=True, generator=self._outer_generator)
        return DataLoader(self.train_dataset, batch_size=self.args.per_device_train_batch_size, sampler=sampler,
                          collate_fn=self.data_collator)

    def next_outer_batch(self) -> dict[str, torch.Tensor]:
        """The next balanced batch (an endless stream), on the training device, without indices."""
        if self._outer_iter is None:
            self._outer_iter = iter(self._outer_loader())
        try:
            batch = next(self._outer_iter)
        except StopIteration:
            self._outer_iter = iter(self._outer_loader())
            batch = next(self._outer_iter)
        batch = dict(batch)
        batch.pop(INDEX_KEY, None)
        return {k: v.to(self.args.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

    # -- the step ------------------------------------------------------------------------------------
    def training_step(self, model, inputs, num_items_in_batch=None) -> torch.Tensor:
        args = self.args
        model.train()
        if hasattr(self.optimizer, "train") and callable(self.optimizer.train):
            self.optimizer.train()
        inputs = self._prepare_inputs(inputs)
        self._pop_index(inputs, required=False)
        labels = inputs.pop("labels")
        net = self.accelerator.unwrap_model(model)  # gradients are reduced by hand below, not by DDP
        params = {n: p for n, p in net.named_parameters() if p.requires_grad}
        ce = self.loss_fn  # plain CE unless a loss_fn was passed

        outer_fns = []
        for _ in range(int(args.metabalance_outer_batches)):
            batch = self.next_outer_batch()
            out_labels = batch.pop("labels")

            def outer_at(p, batch=batch, out_labels=out_labels):
                with self.compute_loss_context_manager():
                    return ce(functional_call(net, p, args=(), kwargs=batch).logits, out_labels)

            outer_fns.append(outer_at)
        with self.compute_loss_context_manager():
            inner_loss = ce(net(**inputs).logits, labels)
        step = first_order_meta_gradients(
            params, inner_loss, outer_fns, inner_lr=float(args.metabalance_inner_lr), lam=float(args.metabalance_lambda)
        )
        accumulation = getattr(self, "current_gradient_accumulation_steps", None) or args.gradient_accumulation_steps
        grads = [step.grads[n] / accumulation for n in params]
        self.all_reduce_mean_(grads)
        with torch.no_grad():
            for p, g in zip(params.values(), grads):
                g = g.to(p.dtype)
                if p.grad is None:
                    p.grad = g.clone()
                else:
                    p.grad.add_(g)
        total = step.outer_loss + float(args.metabalance_lambda) * step.inner_loss
        self.log_value("metabalance_inner_loss", step.inner_loss)
        self.log_value("metabalance_outer_loss", step.outer_loss)
        return torch.tensor(total / accumulation, device=args.device)


def train_metabalance(ctx):
    """MetaBalance on ``ctx`` (see the module docstring); returns the trained :class:`MetaBalanceTrainer`."""
    trainer = MetaBalanceTrainer(**ctx.trainer_kwargs(loss_fn=WeightedCrossEntropy()))
    trainer.train()
    return trainer
