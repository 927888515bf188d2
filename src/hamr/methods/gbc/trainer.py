"""GBC (Wu et al., AAAI 2023) as a baseline, from method.md §6: a meta set chosen by clustering gradients,
then L2RW-style re-weighting with one learned weight per example.

One Trainer, :class:`GBCTrainer`, runs the whole method inside ``train()`` (one optimiser, one learning-rate
schedule, one budget of ``num_train_epochs``; the pipeline's timing covers everything):

1. **Warm-up**: plain cross-entropy until ``args.gbc_warmup_epochs`` epochs are done (checked at the start of
   every training step against the Trainer's fractional epoch). If the warm-up would take the whole budget
   (``gbc_warmup_epochs >= num_train_epochs``) it is cut to half the budget, with a warning.
2. **Layer scores**: every trainable weight/bias tensor is a layer; its score is the mean over a seeded sample
   of ``args.gbc_score_examples`` training examples, and over its coordinates, of the squared per-example
   gradient of the label-free loss below (the same loss as the features: a layer whose features carry no
   signal scores 0 and is never drawn). ``args.gbc_layers`` layers are drawn without replacement with
   probability p_l ∝ score (``numpy.random.default_rng([seed, 4127])``).
3. **Features**: for every training example, the gradient of the label-free loss logsumexp(logits)
   (NER: averaged over the labelled tokens of the sentence) w.r.t. each drawn layer, restricted to at most
   ``args.gbc_max_coordinates`` fixed random coordinates of that layer, divided by √p_l, concatenated.
   Per-example gradients come from ``torch.func.vmap(grad(...))`` over ``functional_call`` on examples of
   equal length (no padding, so no attention mask and no data-dependent branch in the model); if a model
   cannot be vmapped a per-example loop gives the same numbers. Dropout is off (``model.eval()``). One
   checkpoint (the end of the warm-up) is used, not several.
4. **Meta set**: :func:`weighted_kmeans` with distance 1 − |⟨G, c⟩| / ‖G‖, centroids Σ w_j G_j / Σ w_j ‖G_j‖
   (w_j = 1), farthest-first initialisation, ≤ 200 iterations, K = ``args.gbc_meta_size`` or the size of the
   balanced meta set of :func:`hamr.metaset.build_meta_set`. The example nearest each centroid (distinct
   examples, centroids in order) joins the meta set with its own label; it stays in the training set.
5. **L2RW**: a table of per-example weights w (initialised 1, indexed by ``example_index``). Per batch:
   per-example losses ℓ (NER: mean token CE of the sentence) with graph; one differentiable SGD step
   θ'_S = θ_S − η_in ∇_{θ_S} mean(w·ℓ) on the look-ahead parameters (:func:`hamr.weighting.select_lookahead`,
   ``gbc_lookahead_scope``/``gbc_lookahead_layers``, last_k/1 by default; η_in = ``gbc_inner_lr`` or the
   optimiser's current lr); the mean CE of a meta batch at θ' (``functional_call``, math attention, other
   parameters frozen); g = ∂L_meta/∂w; w ← clip(w − η_w g, 1e-7, 1) with η_w = ``gbc_weight_lr`` (default
   1/η_in: g is proportional to η_in, so a fixed η_w would make the weights' pace follow the lr); then the
   real step on mean(w_new·ℓ). The clip keeps every weight ≥ 1e-7, so the mean is never 0 (a guard falls back
   to w = 1 if it were). A non-finite g keeps the old weights (counted in ``num_skipped``).

Not checkpointed: the meta set, the drawn layers and the weight table (a resumed run selects again from the
resumed model and restarts the weights at 1). Under DDP every rank selects the same meta set (same
parameters, same seeds) and the weight updates of all ranks are gathered into every rank's table; this path
is not covered by the tests.

``<output_dir>/gbc_selection.json`` records the drawn layers, their probabilities, K, the k-means iterations
and the chosen meta examples (by training index) with their labels.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.func import functional_call, grad, vmap

from ...constants import IGNORE_INDEX
from ...enums import TaskType
from ...errors import InputError, SettingError
from ...losses import WeightedCrossEntropy, per_example_ce
from ...tasks import EncodedDataset
from ...weighting import frozen_except, math_attention, select_lookahead
from ..base import ImbalanceTrainer

logger = logging.getLogger(__name__)

SELECTION_FILE = "gbc_selection.json"
WEIGHT_MIN, WEIGHT_MAX = 1e-7, 1.0

# ------------------------------------------------------------------------------ per-example gradients


def label_free_loss(logits: torch.Tensor, labelled: torch.Tensor | None = None) -> torch.Tensor:
    """logsumexp(logits) per example, ``[B]``. Token logits ``[B, T, C]``: the mean over the tokens where
    ``labelled`` (``[B, T]`` bool) is true (0 for a sentence without labelled token)."""
    lse = torch.logsumexp(logits, dim=-1)
    if lse.dim() == 1:
        return lse
    if labelled is None:
        raise ValueError("token logits need the mask of labelled tokens")
    mask = labelled.to(lse.dtype)
    return (lse * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)


def _example_tensors(item: dict[str, Any], device) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """input_ids ``[L]``, token_type_ids ``[L]`` or None, labelled-token mask ``[L]`` of one unpadded item."""
    ids = torch.as_tensor(item["input_ids"], dtype=torch.long)
    tt = torch.as_tensor(item["token_type_ids"], dtype=torch.long) if "token_type_ids" in item else None
    labels = torch.as_tensor(item["labels"], dtype=torch.long)
    labelled = labels != IGNORE_INDEX if labels.dim() else torch.ones_like(ids, dtype=torch.bool)
    if "attention_mask" in item:
        keep = torch.as_tensor(item["attention_mask"]).bool()
        if not keep.all():  # a pre-padded item: keep its real tokens (right or left padding)
            ids, labelled = ids[keep], labelled[keep]
            tt = tt[keep] if tt is not None else None
    tt = tt.to(device) if tt is not None else None
    return ids.to(device), tt, labelled.to(device)


def _single_example_loss(model: torch.nn.Module, base: dict[str, torch.Tensor], token_task: bool, with_tt: bool):
    def loss(sub: dict[str, torch.Tensor], ids: torch.Tensor, tt: torch.Tensor, labelled: torch.Tensor):
        kwargs = {"input_ids": ids.unsqueeze(0)}
        if with_tt:
            kwargs["token_type_ids"] = tt.unsqueeze(0)
        logits = functional_call(model, {**base, **sub}, args=(), kwargs=kwargs).logits
        return label_free_loss(logits, labelled.unsqueeze(0) if token_task else None)[0]

    return loss


def per_example_gradients(
    model: torch.nn.Module,
    items: Sequence[dict[str, Any]],
    names: Sequence[str],
    *,
    transform: Callable[[str, torch.Tensor], torch.Tensor] | None = None,
    chunk_size: int = 16,
    use_vmap: bool = True,
) -> dict[str, torch.Tensor]:
    """Gradient of :func:`label_free_loss` of every item w.r.t. the parameters ``names``, at the model's
    current parameters and mode (call ``model.eval()`` first for no dropout).

    Returns, per name, a tensor ``[len(items), ...]`` (row i = item i); ``transform(name, g)`` maps each chunk
    ``[b, *shape]`` to what is kept (e.g. a few coordinates), so that full per-example gradients never
    pile up. Items are unpadded encoded examples (``input_ids``, ``labels``; NER labels mark the labelled
    tokens); equal-length items are vmapped together, the rest is exact per-example work.
    """
    params = dict(model.named_parameters())
    missing = [n for n in names if n not in params]
    if missing:
        raise KeyError(f"no parameter named {missing[0]!r}")
    device = next(iter(params.values())).device
    base = {n: p.detach() for n, p in params.items()}
    sub = {n: base[n] for n in names}
    transform = transform or (lambda name, g: g)
    prepared = [_example_tensors(it, device) for it in items]
    token_task = len(items) > 0 and np.ndim(items[0]["labels"]) > 0
    buckets: dict[tuple[int, bool], list[int]] = defaultdict(list)
    for i, (ids, tt, _) in enumerate(prepared):
        buckets[(int(ids.shape[0]), tt is not None)].append(i)
    out: dict[str, list[tuple[list[int], torch.Tensor]]] = {n: [] for n in names}
    vmap_ok = use_vmap
    with math_attention():
        for (length, with_tt), members in buckets.items():
            fn = grad(_single_example_loss(model, base, token_task, with_tt))
            for start in range(0, len(members), chunk_size):
                chunk = members[start : start + chunk_size]
                ids = torch.stack([prepared[i][0] for i in chunk])
                tt = torch.stack([prepared[i][1] for i in chunk]) if with_tt else torch.zeros_like(ids)
                lab = torch.stack([prepared[i][2] for i in chunk])
                grads = None
                if vmap_ok:
                    try:
                        grads = vmap(fn, in_dims=(None, 0, 0, 0))(sub, ids, tt, lab)
                    except Exception as exc:  # a model with data-dependent control flow: loop instead
                        logger.warning("GBC: vmap over the model failed (%s: %s); per-example loop instead",
                                       type(exc).__name__, exc)
                        vmap_ok = False
                if grads is None:
                    per = [fn(sub, ids[j], tt[j], lab[j]) for j in range(len(chunk))]
                    grads = {n: torch.stack([g[n] for g in per]) for n in names}
                for n in names:
                    out[n].append((chunk, transform(n, grads[n].detach())))
    result: dict[str, torch.Tensor] = {}
    for n in names:
        if not out[n]:
            result[n] = torch.empty(0)
            continue
        first = out[n][0][1]
        full = first.new_zeros((len(items),) + tuple(first.shape[1:]))
        for chunk, values in out[n]:
            full[torch.as_tensor(chunk, device=full.device)] = values
        result[n] = full
    return result


# ---------------------------------------------------------------------------------- layer selection


def layer_scores(model: torch.nn.Module, items: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Per trainable parameter tensor: the mean over ``items`` and over its coordinates of the squared
    per-example gradient of :func:`label_free_loss` (one exact backward per item; dropout as the model's
    mode says)."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not items:
        raise ValueError("layer_scores needs at least one example")
    device = named[0][1].device
    sums = [0.0] * len(named)
    tensors = [p for _, p in named]
    with math_attention():
        for item in items:
            ids, tt, labelled = _example_tensors(item, device)
            kwargs = {"input_ids": ids.unsqueeze(0)}
            if tt is not None:
                kwargs["token_type_ids"] = tt.unsqueeze(0)
            logits = model(**kwargs).logits
            token_task = logits.dim() == 3
            loss = label_free_loss(logits, labelled.unsqueeze(0) if token_task else None)[0]
            grads = torch.autograd.grad(loss, tensors, allow_unused=True)
            for j, g in enumerate(grads):
                if g is not None:
                    sums[j] += float((g.detach().double() ** 2).sum())
    return {n: sums[j] / (len(items) * p.numel()) for j, (n, p) in enumerate(named)}


def draw_layers(scores: dict[str, float], k: int, rng: np.random.Generator) -> list[tuple[str, float]]:
    """Draw ``k`` layers without replacement with probability p_l = score_l / Σ score (fewer when fewer
    layers have a positive score). Returns ``(name, p_l)`` in the order of ``scores`` (model order)."""
    if k < 1:
        raise SettingError(f"gbc_layers must be >= 1, got {k}")
    names = list(scores)
    s = np.array([scores[n] for n in names], dtype=np.float64)
    if not np.isfinite(s).all() or (s < 0).any() or s.sum() <= 0:
        raise ValueError("GBC: layer scores must be finite, >= 0 and not all 0 (is the model trainable?)")
    p = s / s.sum()
    take = min(k, int((p > 0).sum()))
    chosen = rng.choice(len(names), size=take, replace=False, p=p)
    return [(names[i], float(p[i])) for i in sorted(chosen.tolist())]


def choose_coordinates(
    model: torch.nn.Module, layers: Sequence[tuple[str, float]], max_coordinates: int, rng: np.random.Generator
) -> dict[str, torch.Tensor]:
    """At most ``max_coordinates`` fixed random coordinates (flat indices, sorted) of every drawn layer."""
    if max_coordinates < 1:
        raise SettingError(f"gbc_max_coordinates must be >= 1, got {max_coordinates}")
    params = dict(model.named_parameters())
    out = {}
    for name, _ in layers:
        n = params[name].numel()
        idx = np.arange(n) if n <= max_coordinates else np.sort(rng.choice(n, size=max_coordinates, replace=False))
        out[name] = torch.as_tensor(idx, dtype=torch.long)
    return out


def gradient_features(
    model: torch.nn.Module,
    items: Sequence[dict[str, Any]],
    layers: Sequence[tuple[str, float]],
    coordinates: dict[str, torch.Tensor],
    *,
    chunk_size: int = 16,
) -> torch.Tensor:
    """``[N, D]`` GBC features: per item, the label-free-loss gradient of every drawn layer at its chosen
    coordinates, divided by √p_l, concatenated in the order of ``layers``."""
    scale = {n: 1.0 / math.sqrt(p) for n, p in layers}

    def keep(name: str, g: torch.Tensor) -> torch.Tensor:
        return g.flatten(1)[:, coordinates[name].to(g.device)].float().cpu() * scale[name]

    grads = per_example_gradients(model, items, [n for n, _ in layers], transform=keep, chunk_size=chunk_size)
    return torch.cat([grads[n] for n, _ in layers], dim=1)


# ------------------------------------------------------------------------------------ weighted k-means


def gbc_distance(points: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """``[N, K]`` distances 1 − |⟨G, c⟩| / ‖G‖ (a zero point is at distance 1 from everything)."""
    norms = points.norm(dim=1, keepdim=True)
    dots = (points @ centroids.T).abs()
    return 1.0 - torch.where(norms > 0, dots / norms.clamp_min(1e-30), torch.zeros_like(dots))


def gbc_centroids(
    points: torch.Tensor, assignment: torch.Tensor, k: int, weights: torch.Tensor, previous: torch.Tensor | None = None
) -> torch.Tensor:
    """Centroid of every cluster: Σ w_j G_j / Σ w_j ‖G_j‖ over its members; an empty cluster (or one whose
    members all have zero norm) keeps its ``previous`` centroid (zeros without one)."""
    d = points.shape[1]
    num = points.new_zeros((k, d)).index_add_(0, assignment, weights[:, None] * points)
    den = points.new_zeros(k).index_add_(0, assignment, weights * points.norm(dim=1))
    out = num / den.clamp_min(1e-30)[:, None]
    empty = den <= 0
    if empty.any():
        out[empty] = previous[empty] if previous is not None else 0.0
    return out


class _Dots:
    """|⟨Ĝ_i, c⟩| for every point i (Ĝ = G / ‖G‖, 0 for a zero point) against single-point centroids and
    cluster centroids, computed either from the features (``direct``: O(N·D) per centroid) or from the
    Gram matrix Ĝ Gᵀ computed once (``gram``: O(N²·D) once, then O(N) per centroid column), whichever is
    cheaper in memory and time; both give the same numbers."""

    def __init__(self, points: torch.Tensor, weights: torch.Tensor, gram: bool) -> None:
        self.g = points
        self.w = weights
        self.norms = points.norm(dim=1)
        self.unit = points / self.norms.clamp_min(1e-30)[:, None]
        self.gram = points.new_empty(0) if not gram else self.unit @ points.T  # [N, N]: Ĝ_i · G_j

    def single(self, j: int) -> torch.Tensor:
        """Against the centroid of {j}, w_j G_j / (w_j ‖G_j‖) = Ĝ_j."""
        if self.gram.numel():
            return (self.gram[:, j] / self.norms[j].clamp_min(1e-30)).abs()
        return (self.unit @ self.unit[j]).abs()

    def clusters(self, assignment: torch.Tensor, k: int, previous: torch.Tensor | None) -> torch.Tensor:
        """``[N, K]`` against the centroids of the clusters of ``assignment``; an empty cluster keeps its
        column of ``previous``."""
        den = self.g.new_zeros(k).index_add_(0, assignment, self.w * self.norms)
        if self.gram.numel():
            weighted = self.gram if bool((self.w == 1).all()) else self.gram * self.w[None, :]
            num = self.g.new_zeros((self.g.shape[0], k)).index_add_(1, assignment, weighted)
            dots = num / den.clamp_min(1e-30)[None, :]
        else:
            dots = self.unit @ gbc_centroids(self.g, assignment, k, self.w).T
        empty = den <= 0
        if empty.any():
            dots[:, empty] = previous[:, empty] if previous is not None else 0.0
        return dots.abs()


def farthest_first(points: torch.Tensor, k: int, first: int, *, _dots: _Dots | None = None) -> list[int]:
    """Farthest-first seeds: start at ``first``; then repeatedly the point whose distance to its nearest
    seed is largest (ties: lowest index). A seed j stands for the centroid of {j}, i.e. G_j / ‖G_j‖. Points
    with a zero gradient (at distance 1 from everything, and no direction to stand for) are taken last."""
    n = points.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}], got {k}")
    dots = _dots or _Dots(points, torch.ones(n, dtype=points.dtype, device=points.device), gram=False)
    zero = dots.norms <= 0
    chosen = [int(first)]
    nearest = 1.0 - dots.single(first)
    for _ in range(k - 1):
        cand = nearest.clone()
        cand[zero] = -1.0  # below every real candidate (distances are >= 0), above taken points
        cand[chosen] = -math.inf
        j = int(torch.argmax(cand))  # first maximum
        chosen.append(j)
        nearest = torch.minimum(nearest, 1.0 - dots.single(j))
    return chosen


@dataclass
class KMeansResult:
    centroids: torch.Tensor  # [K, D]
    assignment: torch.Tensor  # [N] cluster of every point
    nearest: list[int]  # per centroid, the index of the nearest point (distinct points)
    seeds: list[int]  # the farthest-first initial points
    iterations: int
    converged: bool


def nearest_examples(distances: torch.Tensor) -> list[int]:
    """For every centroid (column of ``distances`` ``[N, K]``) in order, the nearest point among those
    not already taken (ties: lowest index)."""
    taken = torch.zeros(distances.shape[0], dtype=torch.bool, device=distances.device)
    out = []
    for k in range(distances.shape[1]):
        j = int(torch.argmin(distances[:, k].masked_fill(taken, math.inf)))
        taken[j] = True
        out.append(j)
    return out


GRAM_MAX_BYTES = 2 * 1024**3  # the Gram-matrix path is used when its N×N matrix fits in this


def weighted_kmeans(
    points: torch.Tensor | np.ndarray,
    k: int,
    *,
    weights: torch.Tensor | np.ndarray | None = None,
    max_iter: int = 200,
    seed: int = 0,
    first: int | None = None,
    gram: bool | None = None,
) -> KMeansResult:
    """GBC's weighted k-means (distance :func:`gbc_distance`, centroids :func:`gbc_centroids`), from
    farthest-first seeds (the first one drawn with ``numpy.random.default_rng(seed)`` among the non-zero
    points, or ``first``); stops when no assignment changes or after ``max_iter`` iterations. Assignment
    ties go to the lowest cluster. ``gram``: compute the distances through the N×N Gram matrix (default:
    when N ≤ D, or when it takes at most 2 GiB) instead of through explicit centroids; same result."""
    g = torch.as_tensor(points)
    if not g.is_floating_point():
        g = g.float()
    n = g.shape[0]
    k = int(min(k, n))
    w = torch.ones(n, dtype=g.dtype, device=g.device) if weights is None else torch.as_tensor(weights, dtype=g.dtype)
    if (w <= 0).any():
        raise ValueError("k-means weights must be > 0")
    if gram is None:
        gram = n <= g.shape[1] or n * n * g.element_size() <= GRAM_MAX_BYTES
    dots = _Dots(g, w, gram)
    if first is None:
        nonzero = np.flatnonzero(dots.norms.cpu().numpy() > 0)
        pool = nonzero if nonzero.size else np.arange(n)
        first = int(np.random.default_rng(seed).choice(pool))
    seeds = farthest_first(g, k, first, _dots=dots)
    current = torch.stack([dots.single(j) for j in seeds], dim=1)  # [N, K]
    members = [torch.tensor([j]) for j in seeds]  # the last non-empty definition of every centroid
    assignment = torch.argmax(current, dim=1)  # min distance = max |dot|, first on ties
    converged, it = False, 0
    for it in range(1, max_iter + 1):
        for c in torch.unique(assignment).tolist():
            members[c] = torch.nonzero(assignment == c).flatten()
        current = dots.clusters(assignment, k, current)
        new = torch.argmax(current, dim=1)
        if torch.equal(new, assignment):
            converged = True
            break
        assignment = new
    centroids = torch.stack([(w[m, None] * g[m]).sum(0) / (w[m] * dots.norms[m]).sum().clamp_min(1e-30)
                             for m in members])
    return KMeansResult(centroids, assignment, nearest_examples(1.0 - current), seeds, it, converged)


# ------------------------------------------------------------------------------------------- L2RW step


@dataclass
class L2RWStep:
    weights: torch.Tensor  # the new weights of the batch (detached)
    grad: torch.Tensor  # ∂ L_meta / ∂ w
    meta_loss: float
    skipped: bool


def l2rw_weight_step(
    weights: torch.Tensor,
    losses: torch.Tensor,
    params: dict[str, torch.Tensor],
    meta_loss_at: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    inner_lr: float,
    weight_lr: float,
    *,
    w_min: float = WEIGHT_MIN,
    w_max: float = WEIGHT_MAX,
) -> L2RWStep:
    """One L2RW-style update of per-example weights (method.md §6, GBC step 5).

    ``losses`` ``[B]`` carry the graph to ``params`` (the look-ahead tensors, by name). With θ' = θ −
    ``inner_lr`` · ∇_θ mean(w·ℓ) built differentiably, g = ∂ ``meta_loss_at(θ')`` / ∂w and the new weights
    are clip(w − ``weight_lr`` · g, w_min, w_max). ``losses``' graph is kept for the real step. A non-finite
    g keeps the weights (``skipped``)."""
    w = weights.detach().clone().requires_grad_(True)
    names = list(params)
    tensors = [params[n] for n in names]
    inner = (w * losses).mean()
    grads = torch.autograd.grad(inner, tensors, create_graph=True, retain_graph=True, allow_unused=True)
    virtual = {n: (p - inner_lr * g) if g is not None else p for n, p, g in zip(names, tensors, grads)}
    meta = meta_loss_at(virtual)
    (g_w,) = torch.autograd.grad(meta, [w], allow_unused=True)
    g_w = torch.zeros_like(w) if g_w is None else g_w.detach()
    meta_value = float(meta.detach())
    if not (torch.isfinite(g_w).all() and math.isfinite(meta_value)):
        return L2RWStep(weights.detach().clone(), g_w, meta_value, True)
    new = (w.detach() - weight_lr * g_w).clamp(w_min, w_max)
    return L2RWStep(new, g_w, meta_value, False)


# --------------------------------------------------------------------------------------------- Trainer


class GBCTrainer(ImbalanceTrainer):
    """GBC as a ``transformers.Trainer`` (see the module docstring). ``meta_size``: K, the number of meta
    examples to select. After training: ``meta_indices`` (training indices of the meta set),
    ``example_weights`` (the learned weight of every training example), ``selection`` (what was drawn)."""

    log_reducers = {"gbc_weight_min": min}

    def __init__(self, model=None, args=None, train_dataset=None, eval_dataset=None, *, meta_size: int,
                 **kwargs: Any) -> None:
        super().__init__(model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset, **kwargs)
        if meta_size < 1:
            raise SettingError(f"GBC needs a meta-set size >= 1, got {meta_size}")
        if self.train_dataset is None or len(self.train_dataset) == 0:
            raise InputError("GBC needs a non-empty training set")
        self.meta_size = int(meta_size)
        self.example_weights = torch.ones(len(self.train_dataset), dtype=torch.float32)
        self.meta_dataset: EncodedDataset | None = None
        self.meta_indices: list[int] | None = None
        self.selection: dict[str, Any] | None = None
        self.l2rw_steps = 0
        self.num_skipped = 0
        warm = float(args.gbc_warmup_epochs)
        if warm < 0:
            raise SettingError(f"gbc_warmup_epochs must be >= 0, got {warm}")
        if args.max_steps <= 0 and warm >= args.num_train_epochs:
            logger.warning(
                "GBC: gbc_warmup_epochs=%s leaves no re-weighted training in num_train_epochs=%s; warming up for "
                "half the budget instead", warm, args.num_train_epochs,
            )
            warm = args.num_train_epochs / 2
        self.warmup_epochs = warm

    # -- meta-set selection --------------------------------------------------------------------------
    def _warmup_done(self) -> bool:
        return float(self.state.epoch or 0.0) >= self.warmup_epochs - 1e-9

    def select_meta_set(self) -> list[int]:
        """Steps 2-4 of the module docstring at the current parameters; sets ``meta_dataset``."""
        args = self.args
        t0 = time.perf_counter()
        model = self.accelerator.unwrap_model(self.model)
        ds = self.train_dataset
        n = len(ds)
        items = [ds[i] for i in range(n)]
        rng = np.random.default_rng([int(args.seed), 4127])
        sample = np.sort(rng.choice(n, size=min(int(args.gbc_score_examples), n), replace=False))
        was_training = model.training
        model.eval()
        try:
            scores = layer_scores(model, [items[i] for i in sample])
            layers = draw_layers(scores, int(args.gbc_layers), rng)
            coords = choose_coordinates(model, layers, int(args.gbc_max_coordinates), rng)
            features = gradient_features(model, items, layers, coords)
        finally:
            model.train(was_training)
        km = weighted_kmeans(features, self.meta_size, seed=int(args.seed))
        self.meta_indices = km.nearest
        self.meta_dataset = EncodedDataset([items[i] for i in km.nearest], name="gbc_meta")
        label_names = getattr(getattr(model, "config", None), "id2label", None) or {}
        groups = self.example_groups()
        meta_counts: dict[str, int] = defaultdict(int)
        for i in km.nearest:
            meta_counts[str(label_names.get(int(groups[i]), int(groups[i])))] += 1
        self.selection = {
            "epoch": float(self.state.epoch or 0.0),
            "global_step": int(self.state.global_step),
            "meta_size": len(km.nearest),
            "layers": [
                {"name": name, "probability": p, "coordinates": int(coords[name].numel())} for name, p in layers
            ],
            "feature_dim": int(features.shape[1]),
            "kmeans_iterations": km.iterations,
            "kmeans_converged": km.converged,
            "meta_indices": [int(i) for i in km.nearest],
            "meta_counts_by_group": dict(meta_counts),
            "seconds": time.perf_counter() - t0,
        }
        logger.info("GBC: meta set of %d examples selected in %.1fs from layers %s", len(km.nearest),
                    self.selection["seconds"], [name for name, _ in layers])
        if self.is_world_process_zero():
            os.makedirs(args.output_dir, exist_ok=True)
            with open(os.path.join(args.output_dir, SELECTION_FILE), "w") as fh:
                json.dump(self.selection, fh, indent=2)
        return self.meta_indices

    # -- training step -------------------------------------------------------------------------------
    def _example_losses(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.task == TaskType.CLASSIFICATION:
            return per_example_ce(logits, labels)
        return per_example_ce(logits, labels, token_reduction="mean")

    def _meta_batch(self) -> dict[str, torch.Tensor]:
        size = self.args.gbc_meta_batch_size or self.args.per_device_train_batch_size
        return self.draw_meta_batch(self.meta_dataset, size, self.l2rw_steps)

    def _inner_lr(self) -> float:
        if self.args.gbc_inner_lr is not None:
            return float(self.args.gbc_inner_lr)
        if self.lr_scheduler is not None:
            return float(self.lr_scheduler.get_last_lr()[0])
        return float(self.args.learning_rate)

    def _weight_lr(self, inner_lr: float) -> float:
        """η_w: ``gbc_weight_lr``, or 1/η_in (0 while η_in is 0, e.g. at the first warm-up step)."""
        if self.args.gbc_weight_lr is not None:
            return float(self.args.gbc_weight_lr)
        return 1.0 / inner_lr if inner_lr > 0 else 0.0

    def _store_weights(self, index: torch.Tensor, weights: torch.Tensor) -> None:
        """Write the batch's new weights into the table; under DDP the (index, weight) pairs of every rank,
        so that the table stays identical everywhere (not exercised by the tests: single process)."""
        idx, w = self.gather_indexed(index, weights)
        self.example_weights[idx] = w

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not model.training:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        if self.meta_dataset is None and self._warmup_done():
            self.select_meta_set()
        if self.meta_dataset is None:  # warm-up: plain CE
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        args = self.args
        index = self._pop_index(inputs, required=True)
        labels = inputs.pop("labels")
        unwrapped = self.accelerator.unwrap_model(model)
        params = select_lookahead(unwrapped, args.gbc_lookahead_scope, args.gbc_lookahead_layers)
        with math_attention():  # the virtual step differentiates through this forward twice
            outputs = model(**inputs)
        losses = self._example_losses(outputs.logits, labels)
        meta = self._meta_batch()
        meta_labels = meta.pop("labels")
        ce = WeightedCrossEntropy()

        def meta_loss_at(p):
            with frozen_except(unwrapped, params.values()), math_attention():
                return ce(functional_call(unwrapped, p, args=(), kwargs=meta).logits, meta_labels)

        idx = index.detach().cpu()
        old = self.example_weights[idx].to(device=losses.device, dtype=losses.dtype)
        inner_lr = self._inner_lr()
        step = l2rw_weight_step(old, losses, params, meta_loss_at, inner_lr, self._weight_lr(inner_lr))
        self.l2rw_steps += 1
        self.num_skipped += int(step.skipped)
        self._store_weights(index, step.weights.detach())
        weights = step.weights.detach()
        if float(weights.mean()) <= 0.0:  # cannot happen with the clip at 1e-7; kept as a guard
            weights = torch.ones_like(weights)
        loss = (weights * losses).mean()
        self.log_value("gbc_meta_loss", step.meta_loss)
        self.log_value("gbc_batch_weight_mean", float(weights.mean()))
        self.log_value("gbc_weight_min", float(weights.min()))
        self.log_value("gbc_weight_grad_abs", float(step.grad.abs().mean()))
        return (loss, outputs) if return_outputs else loss


def meta_size_for(ctx) -> int:
    """K of GBC: ``args.gbc_meta_size``, or the size of the balanced meta set of method.md §3."""
    if ctx.args.gbc_meta_size is not None:
        return int(ctx.args.gbc_meta_size)
    if ctx.bundle.validation is None:
        raise InputError("GBC needs gbc_meta_size, or a validation split to size the meta set like HAMR's")
    from ...metaset import build_meta_set

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # only its size is used here
        meta = build_meta_set(ctx.bundle.train, ctx.bundle.validation, seed=ctx.config.seed)
    return len(meta.split)


def train_gbc(ctx):
    """GBC end to end on ``ctx`` (see the module docstring); returns the trained :class:`GBCTrainer`."""
    trainer = GBCTrainer(**ctx.trainer_kwargs(loss_fn=WeightedCrossEntropy()), meta_size=meta_size_for(ctx))
    trainer.train()
    return trainer
