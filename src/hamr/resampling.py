"""Hardness-aware region resampling (method.md §4) and local label consistency (method.md §7, Table 4).

Every array here is indexed by the stable training index i = 0..N-1 of method.md's notation: the hardness
memory, the rows of the embedding matrix, the neighbour lists, the sampling probabilities and the indices
the sampler yields all speak in these indices.

Pieces:

- :class:`HardnessMemory` -- the hardness memory m of Eq. 5 (per-index EMA, or the reference code's
  ``faithful`` global decay + renormalisation);
- :func:`build_knn` / :class:`KnnGraph` -- a FAISS inner-product index over L2-normalised embeddings;
- :func:`hard_indices` and :func:`neighbourhood_boost` -- the hard set H and the boost b;
- :func:`sampling_probabilities` -- Eq. 4, p_i ∝ (m_i + 1e-6)^α (1 + λ b_i);
- :class:`HardnessSampler` -- a ``torch.utils.data.Sampler`` drawing ⌈oversample·N⌉ indices per epoch with
  replacement from p, seeded by (seed, epoch), sharded across ranks;
- :func:`local_label_consistency`, :func:`consistency_table` and :func:`ner_sentence_labels` -- Table 4;
- :func:`write_hardness_file` / :func:`read_hardness_file` -- the final hardness m of a run, label- and
  text-free (index order plus a digest of the training texts), so it can be published with the results.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections import Counter
from typing import Any, Callable, Hashable, Iterator, Literal, Sequence

import faiss
import numpy as np
import torch
from torch.utils.data import Sampler

from .data.types import entity_types_of
from .enums import MemoryMode
from .errors import InputError

logger = logging.getLogger(__name__)

ArrayLike = Any  # numpy array, torch tensor or sequence of numbers

#: The additive constant of Eq. 4 (method.md §4): p_i ∝ (m_i + P_EPS)^α (1 + λ b_i).
P_EPS = 1e-6


def _to_numpy(x: ArrayLike) -> np.ndarray:
    """A 1-D float64 copy-or-view of ``x`` (torch tensors are detached and moved to the CPU)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64).reshape(-1)


def _to_indices(x: ArrayLike) -> np.ndarray:
    """A 1-D int64 array of indices; non-integer input (e.g. float tensors) is an error, not truncated."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x).reshape(-1)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"indices must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _ceil_count(fraction: float, n: int) -> int:
    """⌈fraction·n⌉ without floating-point spill-over (0.7·10 is 7.000000000000001 in binary)."""
    return math.ceil(round(fraction * n, 9))


# --------------------------------------------------------------------------------------------------------
# Hardness memory (Eq. 5)
# --------------------------------------------------------------------------------------------------------


class HardnessMemory:
    """The hardness memory m of Eq. 5, one float64 value per training example.

    ``MemoryMode.EMA`` (default): m starts at 1; for every i in the batch m_i ← γ m_i + (1−γ) v_i, other
    entries untouched. An index repeated within one batch is applied *sequentially*, in batch order, as if
    each occurrence were its own update (so it decays twice and both values count).

    ``MemoryMode.FAITHFUL`` (the reference code): m starts at 1/N; m ← γ m for all N; m[B] += (1−γ) v;
    m ← m + ε; m ← m / Σm. An index repeated within a batch receives every one of its contributions
    (``np.add.at``). ``eps`` is only used in this mode (method.md: 1e-6, 1e-4 for NER).

    ``values`` passed to :meth:`update` are the post-meta weights w_post (or, for the w/o-AWE ablation, the
    batch-normalised losses); they may be numpy arrays, torch tensors or sequences.
    """

    def __init__(self, n: int, mode: MemoryMode | str = MemoryMode.EMA, gamma: float = 0.99, eps: float = 1e-6):
        if n <= 0:
            raise ValueError(f"HardnessMemory: n must be positive, got {n}")
        if not 0.0 <= gamma < 1.0:
            raise ValueError(f"HardnessMemory: gamma must be in [0, 1), got {gamma}")
        if eps < 0:
            raise ValueError(f"HardnessMemory: eps must be non-negative, got {eps}")
        self.n = int(n)
        self.mode = MemoryMode.parse(mode)
        self.gamma = float(gamma)
        self.eps = float(eps)
        init = 1.0 if self.mode == MemoryMode.EMA else 1.0 / self.n
        self.values = np.full(self.n, init, dtype=np.float64)

    def __len__(self) -> int:
        return self.n

    def update(self, indices: ArrayLike, values: ArrayLike) -> None:
        """Fold the batch's ``values`` into the memory at ``indices`` (training indices)."""
        idx = _to_indices(indices)
        val = _to_numpy(values)
        if idx.shape != val.shape:
            raise ValueError(f"HardnessMemory.update: {idx.size} indices but {val.size} values")
        if idx.size and (idx.min() < 0 or idx.max() >= self.n):
            raise IndexError(f"HardnessMemory.update: index out of range [0, {self.n}): {idx.min()}..{idx.max()}")
        if not np.all(np.isfinite(val)):
            raise ValueError("HardnessMemory.update: non-finite values")
        g = self.gamma
        if self.mode == MemoryMode.EMA:
            if np.unique(idx).size == idx.size:
                self.values[idx] = g * self.values[idx] + (1.0 - g) * val
            else:
                for i, v in zip(idx.tolist(), val.tolist()):
                    self.values[i] = g * self.values[i] + (1.0 - g) * v
        else:
            self.values *= g
            np.add.at(self.values, idx, (1.0 - g) * val)
            self.values += self.eps
            self.values /= self.values.sum()

    def state_dict(self) -> dict[str, Any]:
        """Plain Python scalars and a torch tensor, so ``torch.load(weights_only=True)`` accepts it."""
        return {
            "n": self.n,
            "mode": self.mode.value,
            "gamma": self.gamma,
            "eps": self.eps,
            "values": torch.from_numpy(self.values.copy()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the values (and γ, ε); the size and the mode must match this memory's."""
        if int(state["n"]) != self.n:
            raise ValueError(f"HardnessMemory: state is for {state['n']} examples, this memory has {self.n}")
        if MemoryMode.parse(state["mode"]) != self.mode:
            raise ValueError(f"HardnessMemory: state is in mode {state['mode']}, this memory is {self.mode}")
        values = _to_numpy(state["values"])
        if values.size != self.n or not np.all(np.isfinite(values)):
            raise ValueError("HardnessMemory: state values have the wrong length or are not finite")
        self.gamma = float(state["gamma"])
        self.eps = float(state["eps"])
        self.values = values.copy()


# --------------------------------------------------------------------------------------------------------
# kNN graph over sentence embeddings
# --------------------------------------------------------------------------------------------------------

IndexType = Literal["auto", "flat", "ivf", "hnsw"]


class KnnGraph:
    """A FAISS inner-product index over L2-normalised rows, with per-row neighbour lists cached lazily.

    Build it with :func:`build_knn`. ``search`` accepts row ids (1-D integer array) or query vectors (2-D
    float array). Neighbour lists of row ids are cached: the first time a row is asked for, its top
    ``cache_k + 1`` raw hits are stored (int32/int64 table of shape [N, cache_k + 1], 44 MB at N = 10^6 and
    k = 10), so across epochs every row is searched at most once, and only rows that were ever in a hard
    set are searched at all. Asking for more neighbours than the cache holds rebuilds it at the larger k.
    """

    def __init__(self, index: Any, vectors: np.ndarray, kind: str, *, on_gpu: bool, cache_k: int):
        self.index = index
        self.vectors = vectors
        self.kind = kind
        self.on_gpu = on_gpu
        self.n, self.dim = vectors.shape
        self._cache_k = cache_k
        self._cache: np.ndarray | None = None  # [N, cache_k + 1] raw hits, -2 = not yet searched

    def search(self, queries: ArrayLike, k: int, *, exclude_self: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids), each of shape [Q, k], best first; FAISS pads missing hits with id -1.

        ``queries``: row ids of the indexed set (1-D integers) or vectors (2-D, L2-normalised). With row
        ids and ``exclude_self`` the row itself is dropped from its own list (k + 1 are searched; if the row
        is not among them, e.g. among exact duplicates, the last hit is dropped). Vectors have no self.
        """
        q = np.asarray(queries)
        if q.ndim == 2:
            return self._raw_search(np.ascontiguousarray(q, dtype=np.float32), k)
        ids = self._check_ids(q)
        if not exclude_self:
            return self._raw_search(self._rows(ids), k)
        scores, hits = self._raw_search(self._rows(ids), k + 1)
        keep = _drop_self(hits, ids, k)
        return np.take_along_axis(scores, keep, 1), np.take_along_axis(hits, keep, 1)

    def neighbours(self, ids: ArrayLike, k: int, *, include_self: bool = False) -> np.ndarray:
        """Neighbour ids [len(ids), k] of rows ``ids`` (cached, see the class docstring).

        ``include_self=False``: the k nearest *other* rows. ``include_self=True`` (the reference code): the
        raw top-k search result, in which the row itself normally comes first and counts as one of the k.
        """
        ids = self._check_ids(np.asarray(ids))
        if k <= 0:
            return np.empty((ids.size, 0), dtype=np.int64)
        if self._cache is None or k > self._cache_k:
            self._cache_k = max(k, self._cache_k)
            dtype = np.int32 if self.n < 2**31 - 1 else np.int64
            self._cache = np.full((self.n, self._cache_k + 1), -2, dtype=dtype)
        missing = np.unique(ids[self._cache[ids, 0] == -2])
        if missing.size:
            _, hits = self._raw_search(self._rows(missing), self._cache_k + 1)
            self._cache[missing] = hits
        raw = self._cache[ids].astype(np.int64)
        if include_self:
            return raw[:, :k]
        return np.take_along_axis(raw, _drop_self(raw, ids, k), 1)

    def _check_ids(self, q: np.ndarray) -> np.ndarray:
        if q.ndim != 1 or (q.size and not np.issubdtype(q.dtype, np.integer)):
            raise ValueError("KnnGraph: queries must be 1-D row ids or 2-D vectors")
        ids = q.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.n):
            raise IndexError(f"KnnGraph: row id out of range [0, {self.n})")
        return ids

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(self.vectors[ids], dtype=np.float32)

    def _raw_search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"KnnGraph: query vectors must have shape [Q, {self.dim}], got {x.shape}")
        if k <= 0 or x.shape[0] == 0:
            return np.empty((x.shape[0], max(k, 0)), np.float32), np.empty((x.shape[0], max(k, 0)), np.int64)
        scores, hits = self.index.search(x, k)
        return scores, hits.astype(np.int64, copy=False)


def _drop_self(hits: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Column positions of the first k hits of each row that are not the row itself ([Q, k])."""
    is_self = hits == ids[:, None]
    # Where the row is absent from its own list, drop the last column instead.
    absent = ~is_self.any(axis=1)
    is_self[absent, -1] = True
    # Keep the first k non-self positions (stable: preserves rank order).
    order = np.argsort(is_self, axis=1, kind="stable")
    return order[:, :k]


def _normalised_float32(embeddings: ArrayLike, chunk: int = 65536) -> np.ndarray:
    """The embeddings as C-contiguous float32 with unit rows; no copy when they already are."""
    x = embeddings.detach().cpu().numpy() if isinstance(embeddings, torch.Tensor) else embeddings
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"build_knn: embeddings must be a non-empty [N, d] matrix, got shape {x.shape}")
    unit = True
    for s in range(0, x.shape[0], chunk):
        norms = np.linalg.norm(x[s : s + chunk], axis=1)
        if not np.all(np.isfinite(norms)):
            raise ValueError("build_knn: embeddings contain non-finite values")
        unit = unit and bool(np.all(np.abs(norms - 1.0) < 1e-3))
    if unit:
        return x
    logger.info("build_knn: embeddings are not L2-normalised; normalising a copy")
    x = np.array(x, dtype=np.float32, copy=True)
    faiss.normalize_L2(x)
    return x


def _use_gpu(use_gpu: bool | str) -> bool:
    available = faiss.get_num_gpus() > 0 and hasattr(faiss, "index_cpu_to_all_gpus")
    if use_gpu == "auto":
        return available
    if use_gpu and not available:
        raise RuntimeError("build_knn: use_gpu=True but this FAISS build sees no GPU (faiss-cpu?)")
    return bool(use_gpu)


def resolve_index_type(n: int, index_type: IndexType | str = "auto", flat_threshold: int = 200_000) -> str:
    """The index :func:`build_knn` builds for ``n`` rows: ``"auto"`` is ``"flat"`` below ``flat_threshold``
    rows and ``"ivf"`` from there on; the other names stand for themselves."""
    kind = str(index_type).lower()
    if kind == "auto":
        return "flat" if n < flat_threshold else "ivf"
    if kind not in ("flat", "ivf", "hnsw"):
        raise ValueError(f"build_knn: index_type {index_type!r} is not one of: auto, flat, ivf, hnsw")
    return kind


def build_knn(
    embeddings: ArrayLike,
    k: int = 10,
    *,
    index_type: IndexType | str = "auto",
    flat_threshold: int = 200_000,
    nprobe: int | None = None,
    hnsw_m: int = 32,
    ef_search: int = 128,
    use_gpu: bool | str = "auto",
    seed: int = 0,
) -> KnnGraph:
    """A :class:`KnnGraph` over ``embeddings`` [N, d] (cosine similarity = inner product on unit rows).

    ``k`` is the neighbourhood size the neighbour cache is first sized for (a larger k later still works).
    ``index_type``: ``"flat"`` = exact ``IndexFlatIP``; ``"ivf"`` = IVF-Flat with nlist ≈ 4·√N lists,
    trained by k-means on a seeded sample of min(N, 40·nlist) rows, searched with ``nprobe`` lists
    (default max(16, nlist/32)); ``"hnsw"`` = ``IndexHNSWFlat`` (``hnsw_m`` links, ``ef_search``; CPU only);
    ``"auto"`` = flat below ``flat_threshold`` rows, IVF-Flat from there on. ``use_gpu="auto"`` moves
    flat/IVF indexes to all GPUs when FAISS sees one. Rows not of unit norm are normalised (in a copy);
    already-normalised float32 input (e.g. the read-only memmap from :func:`hamr.embeddings.embed_texts`)
    is used without a copy.
    """
    x = _normalised_float32(embeddings)
    n, d = x.shape
    kind = resolve_index_type(n, index_type, flat_threshold)
    if kind == "flat":
        index: Any = faiss.IndexFlatIP(d)
    elif kind == "ivf":
        nlist = max(1, min(n // 39, int(round(4 * math.sqrt(n)))))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        n_train = min(n, 40 * nlist)
        sample = np.sort(np.random.default_rng(seed).choice(n, size=n_train, replace=False))
        index.train(np.ascontiguousarray(x[sample]))
        index.nprobe = min(nlist, nprobe if nprobe is not None else max(16, nlist // 32))
    else:
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = ef_search
    on_gpu = kind != "hnsw" and _use_gpu(use_gpu)
    if on_gpu:
        index = faiss.index_cpu_to_all_gpus(index)
    index.add(x)
    logger.info("build_knn: %s index over %d x %d%s", kind, n, d, " (GPU)" if on_gpu else "")
    return KnnGraph(index, x, kind, on_gpu=on_gpu, cache_k=max(int(k), 1))


# --------------------------------------------------------------------------------------------------------
# Hard set, neighbourhood boost, Eq. 4
# --------------------------------------------------------------------------------------------------------


def hard_indices(memory_values: ArrayLike, ratio: float) -> np.ndarray:
    """The hard set H: the top ⌈ratio·N⌉ indices by m, highest first, ties broken by the lower index."""
    m = _to_numpy(memory_values)
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"hard_indices: ratio must be in [0, 1], got {ratio}")
    if not np.all(np.isfinite(m)):
        raise ValueError("hard_indices: memory values are not finite")
    return np.argsort(-m, kind="stable")[: _ceil_count(ratio, m.size)]


def neighbourhood_boost(
    memory_values: ArrayLike,
    knn: KnnGraph,
    *,
    ratio: float = 0.1,
    k: int = 10,
    include_self: bool = False,
) -> np.ndarray:
    """The boost b of method.md §4, float64 in [0, 1], one value per training example.

    H = :func:`hard_indices` (``ratio``); every h in H contributes its ``k`` nearest neighbours (not itself,
    unless ``include_self``, the reference behaviour, see :meth:`KnnGraph.neighbours`); hits_i counts how
    often i appears; b = hits / max(hits), all zeros when there are no hits (k = 0, ratio = 0).
    """
    m = _to_numpy(memory_values)
    if m.size != knn.n:
        raise ValueError(f"neighbourhood_boost: {m.size} memory values but the kNN graph has {knn.n} rows")
    hard = hard_indices(m, ratio)
    if k <= 0 or hard.size == 0:
        return np.zeros(m.size, dtype=np.float64)
    nbrs = knn.neighbours(hard, k, include_self=include_self).reshape(-1)
    hits = np.bincount(nbrs[nbrs >= 0], minlength=m.size).astype(np.float64)
    top = hits.max()
    return hits / top if top > 0 else hits


def sampling_probabilities(
    m: ArrayLike, b: ArrayLike | None = None, *, alpha: float = 0.7, lam: float = 0.7,
    class_factor: ArrayLike | None = None,
) -> np.ndarray:
    """Eq. 4: p_i ∝ c_i · (m_i + 1e-6)^α · (1 + λ b_i), float64 summing to 1 (``b=None``: no boost;
    ``class_factor=None``: c_i = 1, the paper; else a positive per-example factor such as
    :func:`class_balance_factor`)."""
    mv = _to_numpy(m)
    bv = np.zeros_like(mv) if b is None else _to_numpy(b)
    if mv.size == 0 or bv.shape != mv.shape:
        raise ValueError(f"sampling_probabilities: {mv.size} memory values but {bv.size} boosts")
    if not (np.all(np.isfinite(mv)) and np.all(np.isfinite(bv))):
        raise ValueError("sampling_probabilities: non-finite memory values or boosts")
    if mv.min() < 0 or bv.min() < 0 or lam < 0:
        raise ValueError("sampling_probabilities: memory values, boosts and lambda must be non-negative")
    w = np.power(mv + P_EPS, alpha) * (1.0 + lam * bv)
    if class_factor is not None:
        cv = _to_numpy(class_factor)
        if cv.shape != mv.shape:
            raise ValueError(f"sampling_probabilities: {mv.size} memory values but {cv.size} class factors")
        if not (np.all(np.isfinite(cv)) and cv.min() > 0):
            raise ValueError("sampling_probabilities: class factors must be finite and positive")
        w = w * cv
    return w / w.sum()


def class_balance_factor(groups: ArrayLike, power: float) -> np.ndarray:
    """Per example, n_g^(-power) for the size n_g of its group g (its class; NER: its sentence's rarest entity
    tag), rescaled to mean 1: the class factor of :func:`sampling_probabilities`. ``power`` 1 gives every group
    the same total draw probability when the memory is flat (as a class-balanced sampler), 0 a factor of 1."""
    g = np.asarray(groups)
    if g.ndim != 1 or g.size == 0:
        raise ValueError(f"class_balance_factor: expected a non-empty 1-d array of group ids, got shape {g.shape}")
    if not (np.isfinite(power) and power >= 0):
        raise ValueError(f"class_balance_factor: power must be finite and >= 0, got {power}")
    _, inverse, counts = np.unique(g, return_inverse=True, return_counts=True)
    f = counts[inverse].astype(np.float64) ** (-float(power))
    return f / f.mean()


# --------------------------------------------------------------------------------------------------------
# Sampler
# --------------------------------------------------------------------------------------------------------


class HardnessSampler(Sampler[int]):
    """Per-epoch draw of ⌈oversample·N⌉ training indices with replacement from p (method.md §4, Eq. 4).

    p is uniform until :meth:`set_probabilities` is called; alternatively pass ``probability_fn``, called at
    the start of every ``__iter__`` (its result is validated and stored, so :meth:`state_dict` holds the p
    that was used). The draw uses ``numpy.random.default_rng([seed, epoch])``: the same (seed, epoch) gives
    the same draw on every rank and after a resume.

    Distributed: the global draw is padded by wrapping around to a multiple of ``num_replicas`` and rank r
    takes the r-th *contiguous* block, so the ranks' shares concatenated in rank order are the padded
    global draw. ``len()`` is this rank's share. (Under 🤗 Accelerate, which shards batches itself, keep
    ``num_replicas=1``.)

    ``uniform=True`` (the w/o-Resampling ablation): each epoch yields a seeded permutation of range(N), so
    the epoch has N indices, not ⌈oversample·N⌉, and every example is seen once -- plain shuffled training.
    """

    def __init__(
        self,
        num_samples: int,
        *,
        seed: int = 42,
        oversample: float = 1.2,
        probability_fn: Callable[[], ArrayLike] | None = None,
        num_replicas: int = 1,
        rank: int = 0,
        uniform: bool = False,
    ):
        if num_samples <= 0:
            raise ValueError(f"HardnessSampler: num_samples must be positive, got {num_samples}")
        if oversample <= 0:
            raise ValueError(f"HardnessSampler: oversample must be positive, got {oversample}")
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"HardnessSampler: rank {rank} is not in [0, num_replicas={num_replicas})")
        super().__init__()
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.oversample = float(oversample)
        self.probability_fn = probability_fn
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.uniform = bool(uniform)
        self.epoch = 0
        self.probabilities: np.ndarray | None = None  # None = uniform

    @property
    def total_size(self) -> int:
        """Length of the global draw of one epoch, before padding to a multiple of ``num_replicas``."""
        return self.num_samples if self.uniform else _ceil_count(self.oversample, self.num_samples)

    def __len__(self) -> int:
        return math.ceil(self.total_size / self.num_replicas)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def set_probabilities(self, p: ArrayLike) -> None:
        """Use ``p`` (length N, finite, non-negative, positive sum; renormalised) from the next epoch on."""
        pv = _to_numpy(p)
        if pv.size != self.num_samples:
            raise ValueError(f"HardnessSampler: {pv.size} probabilities for {self.num_samples} examples")
        if not np.all(np.isfinite(pv)) or pv.min() < 0 or pv.sum() <= 0:
            raise ValueError("HardnessSampler: probabilities must be finite, non-negative and not all zero")
        self.probabilities = pv / pv.sum()

    def global_draw(self) -> np.ndarray:
        """The whole epoch's indices (same on every rank), padded by wrap-around to a multiple of ranks."""
        if self.probability_fn is not None:
            self.set_probabilities(self.probability_fn())
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.uniform:
            draw = rng.permutation(self.num_samples)
        else:
            draw = rng.choice(self.num_samples, size=self.total_size, replace=True, p=self.probabilities)
        pad = len(self) * self.num_replicas - draw.size
        return np.concatenate([draw, np.resize(draw, pad)]) if pad else draw

    def __iter__(self) -> Iterator[int]:
        share = len(self)
        return iter(self.global_draw()[self.rank * share : (self.rank + 1) * share].tolist())

    def state_dict(self) -> dict[str, Any]:
        """Seed, epoch and p (a float64 tensor, or None for uniform); ``torch.load(weights_only=True)``-safe."""
        p = None if self.probabilities is None else torch.from_numpy(self.probabilities.copy())
        return {"num_samples": self.num_samples, "seed": self.seed, "epoch": self.epoch, "probabilities": p}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["num_samples"]) != self.num_samples:
            raise ValueError(
                f"HardnessSampler: state is for {state['num_samples']} examples, this sampler has {self.num_samples}"
            )
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])
        if state["probabilities"] is None:
            self.probabilities = None
        else:
            self.set_probabilities(state["probabilities"])


# --------------------------------------------------------------------------------------------------------
# Local label consistency (Table 4)
# --------------------------------------------------------------------------------------------------------


def ner_sentence_labels(tag_rows: Sequence[Sequence[str]]) -> list[str]:
    """One label per NER sentence, for :func:`local_label_consistency`.

    The label is the entity type with the most mentions in the sentence; a tie goes to the type that is
    rarer over all the given sentences (then the alphabetically first). A sentence without entities gets
    ``"O"``. So a sentence is consistent when most of its neighbours are dominated by the same type.
    """
    per_sentence = [Counter(entity_types_of(tags)) for tags in tag_rows]
    overall: Counter[str] = Counter()
    for c in per_sentence:
        overall.update(c)
    return [min(c, key=lambda t: (-c[t], overall[t], t)) if c else "O" for c in per_sentence]


def _consistent_flags(knn: KnnGraph, labels: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Per row in ``rows``: do more than half of its k neighbours (self excluded) share its label?"""
    nbrs = knn.neighbours(rows, k)
    valid = nbrs >= 0
    same = (labels[np.where(valid, nbrs, 0)] == labels[rows][:, None]) & valid
    return same.sum(axis=1) > k / 2


def _label_codes(labels: Sequence[Hashable], n: int) -> np.ndarray:
    if len(labels) != n:
        raise ValueError(f"local label consistency: {len(labels)} labels for {n} embeddings")
    codes: dict[Hashable, int] = {}
    return np.array([codes.setdefault(y, len(codes)) for y in labels], dtype=np.int64)


def local_label_consistency(
    embeddings: ArrayLike,
    labels: Sequence[Hashable],
    *,
    k: int = 10,
    subset: ArrayLike | None = None,
    knn: KnnGraph | None = None,
) -> float:
    """Fraction of examples (of ``subset``, default all) whose k nearest training neighbours (self
    excluded, graph over all the embeddings) share its label in more than half the cases.

    ``labels``: one hashable label per row (for NER use :func:`ner_sentence_labels`). Pass a prebuilt
    ``knn`` over the same embeddings to reuse it.
    """
    knn = knn if knn is not None else build_knn(embeddings, k)
    codes = _label_codes(labels, knn.n)
    rows = np.arange(knn.n) if subset is None else _to_indices(subset)
    if rows.size == 0:
        raise ValueError("local_label_consistency: empty subset")
    return float(_consistent_flags(knn, codes, rows, k).mean())


def consistency_table(
    embeddings: ArrayLike,
    labels: Sequence[Hashable],
    hard_indices: ArrayLike,
    k: int = 10,
    seed: int = 42,
    *,
    knn: KnnGraph | None = None,
) -> dict[str, float]:
    """Table 4: local label consistency of four sets of training examples.

    ``random``: a ``default_rng(seed)`` sample without replacement of the hard set's size; ``full_set``:
    all examples; ``hard_samples``: the hard set; ``hard_neighbours``: the hard set ∪ the k neighbours of
    each hard example (self excluded).
    """
    knn = knn if knn is not None else build_knn(embeddings, k)
    codes = _label_codes(labels, knn.n)
    hard = np.unique(_to_indices(hard_indices))
    if hard.size == 0:
        raise ValueError("consistency_table: the hard set is empty")
    flags = _consistent_flags(knn, codes, np.arange(knn.n), k)
    nbrs = knn.neighbours(hard, k).reshape(-1)
    region = np.union1d(hard, nbrs[nbrs >= 0])
    random = np.random.default_rng(seed).choice(knn.n, size=hard.size, replace=False)
    return {
        "random": float(flags[random].mean()),
        "full_set": float(flags.mean()),
        "hard_samples": float(flags[hard].mean()),
        "hard_neighbours": float(flags[region].mean()),
    }


# --------------------------------------------------------------------------------------------------------
# The hardness file: a run's final m, without labels or texts
# --------------------------------------------------------------------------------------------------------

#: ``format`` of the hardness file; :func:`read_hardness_file` refuses any other.
HARDNESS_FORMAT = "hamr-hardness/1"


def texts_digest(texts: Sequence[str]) -> str:
    """sha256 of the training texts in index order (their JSON list): checks that a hardness file and a
    rebuilt training split speak of the same examples in the same order, without storing a text."""
    return hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode("utf-8")).hexdigest()


def write_hardness_file(path: str | os.PathLike, memory_values: ArrayLike,
                        texts: Sequence[str] | None = None) -> str:
    """Write ``{"format", "examples", "texts_sha256", "hardness_m"}`` as JSON: the final hardness m per
    training index (6 significant digits, as in ``hamr_examples.tsv``) and the digest of the training texts
    (null when they are not known). It carries neither labels nor texts, so unlike the per-example table it
    can be committed beside a run's metrics: Table 4's hard set is read from it."""
    m = _to_numpy(memory_values)
    if texts is not None and len(texts) != m.size:
        raise ValueError(f"write_hardness_file: {len(texts)} texts for {m.size} hardness values")
    payload = {
        "format": HARDNESS_FORMAT,
        "examples": int(m.size),
        "texts_sha256": texts_digest(texts) if texts is not None else None,
        "hardness_m": [float(f"{v:.6g}") for v in m],
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, separators=(",", ":"))
        fh.write("\n")
    os.replace(tmp, path)
    return str(path)


def read_hardness_file(path: str | os.PathLike, texts: Sequence[str] | None = None) -> np.ndarray:
    """The hardness m of a :func:`write_hardness_file` file, checked: its format, its length against
    ``examples`` and, when ``texts`` is given, its length and text digest against them (an error naming the
    file says what differs)."""
    with open(path, encoding="utf-8") as fh:
        try:
            payload = json.load(fh)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not a JSON hardness file ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != HARDNESS_FORMAT:
        got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise InputError(f"{path}: format {got!r}, expected {HARDNESS_FORMAT!r}")
    m = np.asarray(payload.get("hardness_m"), dtype=np.float64).reshape(-1)
    if m.size != payload.get("examples"):
        raise InputError(f"{path}: 'hardness_m' has {m.size} values, 'examples' says {payload.get('examples')}")
    if texts is not None:
        if len(texts) != m.size:
            raise InputError(f"{path}: {m.size} hardness values, but the training split has {len(texts)} examples")
        digest = payload.get("texts_sha256")
        if digest is not None and digest != texts_digest(texts):
            raise InputError(f"{path}: 'texts_sha256' does not match the training texts (other examples, or "
                             "another order)")
    return m
