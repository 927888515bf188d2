"""Global-batch statistics under DDP, for the trainers.

DDP (``torchrun --nproc_per_node N -m hamr.cli train ...``): :class:`~hamr.methods.hamr.HAMRTrainer` keeps the
weight net, the hardness memory m and the sampler identical on every rank (indices and weights are gathered,
hypergradients all-reduced, the Eq. 4 draw is the same global draw on every rank and accelerate shards its
batches). The helpers below make the *per-batch statistics* of method.md §1 -- the z-score of the hardness
and the mean of s in the weight normalisation -- those of the global batch (all ranks together), so that the
weights of a DDP run do not depend on how the batch is split across processes. Outside an initialised
process group of more than one rank they are the plain single-process statistics.
"""

from __future__ import annotations

from typing import Sequence

import torch


def is_distributed() -> bool:
    """True inside an initialised ``torch.distributed`` process group of more than one rank."""
    return (
        torch.distributed.is_available()
        and torch.distributed.is_initialized()
        and torch.distributed.get_world_size() > 1
    )


def _all_reduce_sum(values: Sequence[torch.Tensor], device: torch.device) -> torch.Tensor:
    buf = torch.stack([v.to(device=device, dtype=torch.float64) for v in values])
    torch.distributed.all_reduce(buf, op=torch.distributed.ReduceOp.SUM)
    return buf


def global_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` (detached) over the elements of every rank's ``x`` (a collective: every rank must call
    it); ``x.mean()`` outside a process group. Ranks may hold different numbers of elements."""
    x = x.detach()
    if not is_distributed():
        return x.mean()
    buf = _all_reduce_sum([x.double().sum(), torch.tensor(float(x.numel()), dtype=torch.float64)], x.device)
    return (buf[0] / buf[1].clamp_min(1.0)).to(x.dtype if x.is_floating_point() else torch.float32)


def global_zscore(hardness: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """:func:`hamr.weighting.batch_zscore` over the global batch: z_i = (ℓ_i − mean ℓ) / max(std ℓ, eps), with
    the mean and the population std of the detached ℓ of *all* ranks (float64 sums, all-reduced). A
    collective; the plain per-batch z-score outside a process group."""
    from .weighting import batch_zscore

    if not is_distributed():
        return batch_zscore(hardness, eps)
    h = hardness.detach()
    h = h if h.is_floating_point() else h.float()
    hd = h.double()
    buf = _all_reduce_sum(
        [hd.sum(), (hd * hd).sum(), torch.tensor(float(h.numel()), dtype=torch.float64)], h.device
    )
    n = buf[2]
    if n <= 1:
        return torch.zeros_like(h)
    mean = buf[0] / n
    std = (buf[1] / n - mean * mean).clamp_min(0.0).sqrt()
    return ((hd - mean) / std.clamp_min(eps)).to(h.dtype)
