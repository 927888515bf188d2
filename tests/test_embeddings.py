"""Sentence embeddings and their disk cache. The packaged MiniLM is loaded once for the whole module."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

import hamr.embeddings as emb
from hamr.embeddings import (
    EmbeddingError,
    default_cache_dir,
    default_embedder_path,
    embed_texts,
    embedding_cache_key,
)

TEXTS = [
    "the cat sat on the mat",
    "a kitten is sleeping on the rug",
    "stock markets fell sharply today",
    "the central bank raised interest rates",
    "heavy rain flooded the village",
    "rescue teams evacuated families from the flood",
    "I love this film",
    "the movie was terrible",
    "the bridge collapsed after the storm",
    "volunteers collected food donations",
    "two people are missing after the cyclone",
    "power lines are down across the city",
    "thoughts and prayers for the victims",
    "the hospital needs blood donors urgently",
    "the road to the airport is closed",
    "the football match ended in a draw",
    "a new phone was released this week",
    "schools reopened after the disaster",
    "the death toll has risen to forty",
    "",
]


@pytest.fixture(scope="module")
def cached(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, Path]:
    """The TEXTS embedded once, encoded in chunks of 8 (three chunks) into a fresh cache directory."""
    cache_dir = tmp_path_factory.mktemp("emb")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(emb, "ENCODE_CHUNK", 8)
        x = embed_texts(TEXTS, cache_dir=cache_dir, batch_size=4)
    return np.array(x), cache_dir


@pytest.mark.slow
def test_embeddings_are_unit_rows_matching_a_direct_encode(cached: tuple[np.ndarray, Path]) -> None:
    x, cache_dir = cached
    assert x.shape == (len(TEXTS), 384) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    direct = emb._load_model(default_embedder_path(), None).encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(x, direct, atol=1e-5)
    assert x[0] @ x[1] > x[0] @ x[2]  # cat ~ kitten, not stock markets
    key = embedding_cache_key(TEXTS, default_embedder_path())
    assert sorted(p.name for p in cache_dir.iterdir()) == [f"{key}.json", f"{key}.npy"]  # no temp files left
    sidecar = json.loads((cache_dir / f"{key}.json").read_text())
    assert sidecar == {"model": str(Path(default_embedder_path()).resolve()), "n": 20, "dim": 384, "key": key}


class _ModelLoaded(Exception):
    """Raised by the stand-in model loader: the cache missed."""


@pytest.mark.slow
def test_cache_hit_does_not_load_the_model(cached: tuple[np.ndarray, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    x, cache_dir = cached
    loads: list[str] = []

    def count_loads(name: str, device: str | None) -> None:
        loads.append(name)
        raise _ModelLoaded

    monkeypatch.setattr(emb, "_load_model", count_loads)
    again = embed_texts(TEXTS, cache_dir=cache_dir)
    assert loads == []
    assert isinstance(again, np.memmap) and not again.flags.writeable
    np.testing.assert_array_equal(again, x)
    with pytest.raises(_ModelLoaded):  # one changed text: another key, a miss
        embed_texts(TEXTS[:-1] + ["changed"], cache_dir=cache_dir)
    assert loads == [default_embedder_path()]


@pytest.mark.slow
def test_unknown_model_fails_fast_with_a_clear_message(
    cached: tuple[np.ndarray, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `cached` first: sentence-transformers is then already imported, so the timing is the load alone.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(EmbeddingError, match="hub is not reachable .*pass a local path"):
        embed_texts(["a"], "no-such-org/no-such-model-hamr", cache_dir=tmp_path)
    assert time.monotonic() - start < 10
    assert list(tmp_path.iterdir()) == []


def test_cache_key_depends_on_every_text_and_the_model() -> None:
    base = embedding_cache_key(["ab", "c"], "m")
    assert base == embedding_cache_key(["ab", "c"], "m")
    assert base != embedding_cache_key(["ab", "d"], "m")
    assert base != embedding_cache_key(["a", "bc"], "m")  # length prefixes: no ambiguity from joining
    assert base != embedding_cache_key(["ab", "c", ""], "m")
    assert base != embedding_cache_key(["ab", "c"], "other")


def test_cache_entry_with_the_wrong_size_is_an_error(tmp_path: Path) -> None:
    texts = ["one", "two"]
    key = embedding_cache_key(texts, "some-model")
    np.save(tmp_path / f"{key}.npy", np.zeros((3, 4), dtype=np.float32))
    (tmp_path / f"{key}.json").write_text(json.dumps({"model": "some-model", "n": 3, "dim": 4, "key": key}))
    with pytest.raises(EmbeddingError, match="for 2 texts"):
        embed_texts(texts, "some-model", cache_dir=tmp_path)
    (tmp_path / f"{key}.npy").write_bytes(b"not an npy file")
    with pytest.raises(EmbeddingError, match="unreadable"):
        embed_texts(texts, "some-model", cache_dir=tmp_path)


def test_default_cache_dir_and_input_checks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HAMR_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "embeddings"
    monkeypatch.delenv("HAMR_CACHE")
    assert default_cache_dir() == Path(os.path.expanduser("~")) / ".cache" / "hamr" / "embeddings"
    with pytest.raises(ValueError):
        embed_texts([], cache_dir=tmp_path)
    with pytest.raises(TypeError, match="text 1"):
        embed_texts(["a", None], cache_dir=tmp_path)  # type: ignore[list-item]
