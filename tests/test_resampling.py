"""Hardness memory, kNN boost, Eq. 4 sampler and local label consistency (method.md §4, §7)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

from hamr.enums import MemoryMode
from hamr.resampling import (
    HardnessMemory,
    HardnessSampler,
    build_knn,
    class_balance_factor,
    consistency_table,
    hard_indices,
    local_label_consistency,
    neighbourhood_boost,
    ner_sentence_labels,
    read_hardness_file,
    sampling_probabilities,
    write_hardness_file,
)


def _circle(angles: list[float]) -> np.ndarray:
    """Unit vectors in the plane at the given angles: the neighbourhoods are plain to read off."""
    a = np.asarray(angles)
    return np.stack([np.cos(a), np.sin(a)], axis=1).astype(np.float32)


def _roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


# ----------------------------------------------------------------------------------------- memory


def test_ema_memory_hand_values() -> None:
    mem = HardnessMemory(4, MemoryMode.EMA, gamma=0.9)
    np.testing.assert_array_equal(mem.values, np.ones(4))
    mem.update(torch.tensor([0, 2]), torch.tensor([2.0, 0.5]))
    np.testing.assert_allclose(mem.values, [1.1, 1.0, 0.95, 1.0])
    # A repeated index is applied sequentially: 0.9*1 + 0.1*3 = 1.2, then 0.9*1.2 + 0.1*0 = 1.08.
    mem.update([1, 1], [3.0, 0.0])
    np.testing.assert_allclose(mem.values, [1.1, 1.08, 0.95, 1.0])


def test_faithful_memory_hand_values() -> None:
    mem = HardnessMemory(4, "faithful", gamma=0.5, eps=0.01)
    np.testing.assert_allclose(mem.values, 0.25)
    mem.update(np.array([1]), np.array([2.0]))
    raw = np.array([0.135, 1.135, 0.135, 0.135])  # 0.25*0.5 (+ 0.5*2 at index 1) + 0.01
    np.testing.assert_allclose(mem.values, raw / raw.sum())
    assert mem.values.sum() == pytest.approx(1.0)
    # Repeated indices each contribute.
    mem2 = HardnessMemory(2, "faithful", gamma=0.5, eps=0.0)
    mem2.update([0, 0], [1.0, 1.0])
    np.testing.assert_allclose(mem2.values, np.array([1.25, 0.25]) / 1.5)


def test_memory_state_round_trip_and_errors() -> None:
    mem = HardnessMemory(5, gamma=0.8)
    mem.update([0, 3], [4.0, 0.1])
    other = HardnessMemory(5, gamma=0.99)
    other.load_state_dict(_roundtrip(mem.state_dict()))
    np.testing.assert_array_equal(other.values, mem.values)
    assert other.gamma == 0.8
    with pytest.raises(ValueError, match="5 examples"):
        HardnessMemory(6).load_state_dict(mem.state_dict())
    with pytest.raises(ValueError, match="mode"):
        HardnessMemory(5, "faithful").load_state_dict(mem.state_dict())
    with pytest.raises(IndexError):
        mem.update([5], [1.0])
    with pytest.raises(TypeError):
        mem.update(torch.tensor([1.0]), [1.0])
    with pytest.raises(ValueError, match="non-finite"):
        mem.update([1], [float("nan")])


# -------------------------------------------------------------------------------------- kNN graph


def test_knn_search_excludes_self_even_among_duplicates() -> None:
    x = _circle([0.0, 0.0, 0.3, 2.0, 2.1])  # rows 0 and 1 coincide
    knn = build_knn(x, 2)
    assert knn.kind == "flat"
    _, ids = knn.search(np.array([0, 1, 3]), 2)
    np.testing.assert_array_equal(ids, [[1, 2], [0, 2], [4, 2]])
    _, ids = knn.search(np.array([3]), 2, exclude_self=False)
    np.testing.assert_array_equal(ids, [[3, 4]])
    scores, ids = knn.search(_circle([2.05]), 1)
    assert ids[0, 0] in (3, 4) and scores[0, 0] == pytest.approx(math.cos(0.05), abs=1e-6)
    np.testing.assert_array_equal(knn.neighbours([0, 1], 2), [[1, 2], [0, 2]])
    # Unnormalised input is normalised (in a copy): same neighbours.
    knn2 = build_knn(3.0 * x, 2)
    np.testing.assert_array_equal(knn2.neighbours([3], 2), [[4, 2]])


@pytest.mark.parametrize("index_type", ["ivf", "hnsw"])
def test_approximate_indexes_find_the_exact_neighbours(index_type: str) -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((8, 16))
    x = (centres[rng.integers(0, 8, 1200)] + 0.3 * rng.standard_normal((1200, 16))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    exact = build_knn(x, 5, index_type="flat").neighbours(np.arange(0, 1200, 7), 5)
    approx = build_knn(x, 5, index_type=index_type).neighbours(np.arange(0, 1200, 7), 5)
    recall = np.mean([len(set(a) & set(e)) / 5 for a, e in zip(approx, exact)])
    assert recall > 0.9


# ------------------------------------------------------------------------------------------ boost


def test_hard_set_ties_and_rounding() -> None:
    np.testing.assert_array_equal(hard_indices(np.ones(10), 0.3), [0, 1, 2])
    assert hard_indices(np.ones(10), 0.7).size == 7  # not 8 from 7.000000000000001
    np.testing.assert_array_equal(hard_indices([1.0, 3.0, 2.0, 3.0], 0.5), [1, 3])


def test_neighbourhood_boost_hand_values() -> None:
    # Rows 0-2 close together (0.1 and 0.15 apart), rows 3-5 far away, rows 6-7 elsewhere again.
    x = _circle([0.0, 0.1, 0.25, 1.6, 1.7, 1.8, 3.1, 3.2])
    knn = build_knn(x, 2)
    m = np.array([5.0, 4.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    # H = {0, 1}; N(0) = {1, 2}, N(1) = {0, 2}: hits 1, 1, 2.
    b = neighbourhood_boost(m, knn, ratio=0.25, k=2)
    np.testing.assert_allclose(b, [0.5, 0.5, 1.0, 0, 0, 0, 0, 0])
    # Reference behaviour: the raw top-2 includes the row itself: N(0) = {0, 1}, N(1) = {1, 0}.
    b_self = neighbourhood_boost(m, knn, ratio=0.25, k=2, include_self=True)
    np.testing.assert_allclose(b_self, [1, 1, 0, 0, 0, 0, 0, 0])
    # A larger k after a smaller one (the neighbour cache grows): N(0) = {1, 2, 3}.
    np.testing.assert_allclose(neighbourhood_boost(m, knn, ratio=0.125, k=3), [0, 1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(neighbourhood_boost(m, knn, ratio=0.25, k=0), np.zeros(8))
    np.testing.assert_array_equal(neighbourhood_boost(m, knn, ratio=0.0, k=2), np.zeros(8))
    with pytest.raises(ValueError, match="8 rows"):
        neighbourhood_boost(m[:5], knn)


# ------------------------------------------------------------------------------------ probability


def test_sampling_probabilities_hand_value() -> None:
    p = sampling_probabilities([1.0, 0.5], [0.0, 1.0], alpha=0.5, lam=1.0)
    w = np.array([math.sqrt(1 + 1e-6), math.sqrt(0.5 + 1e-6) * 2.0])
    np.testing.assert_allclose(p, w / w.sum(), rtol=1e-12)
    np.testing.assert_allclose(sampling_probabilities([0.0, 0.0]), [0.5, 0.5])
    with pytest.raises(ValueError):
        sampling_probabilities([1.0, -0.1])
    with pytest.raises(ValueError):
        sampling_probabilities([1.0, 2.0], [0.0])


def test_class_balance_factor_balances_the_draw_mass_per_class() -> None:
    groups = np.array([0] * 6 + [1] * 3 + [2])  # class sizes 6, 3, 1
    f = class_balance_factor(groups, 1.0)
    assert f.mean() == pytest.approx(1.0)
    p = sampling_probabilities(np.ones(10), alpha=1.0, lam=0.0, class_factor=f)
    mass = np.bincount(groups, weights=p)
    np.testing.assert_allclose(mass, [1 / 3] * 3, rtol=1e-9)  # flat memory: every class drawn equally often
    half = class_balance_factor(groups, 0.5)
    np.testing.assert_allclose(np.bincount(groups, weights=half) / np.bincount(groups, weights=half).sum(),
                               np.sqrt([6, 3, 1]) / np.sqrt([6, 3, 1]).sum(), rtol=1e-9)  # n_c · n_c^-1/2
    np.testing.assert_allclose(class_balance_factor(groups, 0.0), np.ones(10))
    # the factor multiplies Eq. 4's hardness term: the hand value
    m = np.array([1.0, 2.0])
    p = sampling_probabilities(m, alpha=1.0, lam=0.0, class_factor=[3.0, 1.0])
    np.testing.assert_allclose(p, np.array([3 * (1 + 1e-6), 2 + 1e-6]) / (5 + 4e-6), rtol=1e-12)
    with pytest.raises(ValueError, match="class factors"):
        sampling_probabilities(m, class_factor=[1.0])
    with pytest.raises(ValueError, match="positive"):
        sampling_probabilities(m, class_factor=[1.0, 0.0])
    with pytest.raises(ValueError, match="power"):
        class_balance_factor(groups, -1.0)


def _chi_square_pvalue(counts: np.ndarray, p: np.ndarray) -> float:
    """Goodness-of-fit p-value (scipy when installed, else the Wilson-Hilferty approximation)."""
    expected = counts.sum() * p
    try:
        from scipy.stats import chisquare
    except ImportError:
        stat = float(((counts - expected) ** 2 / expected).sum())
        dof = counts.size - 1
        z = ((stat / dof) ** (1 / 3) - (1 - 2 / (9 * dof))) / math.sqrt(2 / (9 * dof))
        return 0.5 * math.erfc(z / math.sqrt(2))
    return float(chisquare(counts, expected).pvalue)


def test_sampler_draws_follow_p() -> None:
    m = np.array([0.2, 0.5, 1.0, 2.0, 4.0, 8.0])
    p = sampling_probabilities(m, [0, 0, 1.0, 0, 0.5, 0], alpha=0.7, lam=0.7)
    sampler = HardnessSampler(6, seed=7)
    sampler.set_probabilities(p)
    uniform = HardnessSampler(6, seed=7)  # p never set: the wrong, uniform sampler
    counts, wrong = np.zeros(6), np.zeros(6)
    for epoch in range(300):
        for s, c in ((sampler, counts), (uniform, wrong)):
            s.set_epoch(epoch)
            c += np.bincount(list(s), minlength=6)
    assert counts.sum() == 300 * 8
    assert _chi_square_pvalue(counts, p) > 0.001
    assert _chi_square_pvalue(wrong, p) < 0.001


def test_sampler_determinism_length_and_ranks() -> None:
    sampler = HardnessSampler(7, seed=3)
    sampler.set_probabilities(np.arange(1, 8, dtype=float))
    assert len(sampler) == 9  # ⌈1.2 · 7⌉
    sampler.set_epoch(2)
    first = list(sampler)
    assert list(sampler) == first and len(first) == 9
    sampler.set_epoch(3)
    assert list(sampler) != first
    sampler.set_epoch(2)
    assert list(sampler) == first

    shares = []
    for rank in range(2):
        s = HardnessSampler(7, seed=3, num_replicas=2, rank=rank)
        s.set_probabilities(np.arange(1, 8, dtype=float))
        s.set_epoch(2)
        assert len(s) == 5
        shares.append(list(s))
    assert shares[0] + shares[1] == first + first[:1]  # padded by wrapping around

    with pytest.raises(ValueError):
        sampler.set_probabilities(np.ones(6))
    with pytest.raises(ValueError):
        sampler.set_probabilities([1, 1, 1, 1, 1, 1, float("nan")])
    with pytest.raises(ValueError):
        sampler.set_probabilities([1, 1, 1, 1, 1, 1, -1])


def test_sampler_uniform_mode_probability_fn_and_state() -> None:
    perm = HardnessSampler(10, seed=1, uniform=True)
    assert len(perm) == 10 and sorted(perm) == list(range(10))

    p = np.array([0.0, 0.0, 1.0, 0.0])
    fn_sampler = HardnessSampler(4, seed=1, probability_fn=lambda: p)
    assert set(fn_sampler) == {2} and len(list(fn_sampler)) == 5

    sampler = HardnessSampler(5, seed=11)
    sampler.set_probabilities([1, 2, 3, 4, 5])
    sampler.set_epoch(4)
    resumed = HardnessSampler(5, seed=0)
    resumed.load_state_dict(_roundtrip(sampler.state_dict()))
    assert resumed.epoch == 4 and list(resumed) == list(sampler)
    with pytest.raises(ValueError, match="5 examples"):
        HardnessSampler(6).load_state_dict(sampler.state_dict())


# ---------------------------------------------------------------------------- label consistency


def test_local_label_consistency_known_answer() -> None:
    # Cluster A (rows 0-3, labels a a a b) and cluster B (rows 4-7, all b); k = 3 stays within a cluster.
    x = _circle([0.0, 0.01, 0.02, 0.03, 2.0, 2.01, 2.02, 2.03])
    labels = ["a", "a", "a", "b", "b", "b", "b", "b"]
    assert local_label_consistency(x, labels, k=3) == pytest.approx(7 / 8)
    assert local_label_consistency(x, labels, k=3, subset=[3]) == 0.0
    assert local_label_consistency(x, labels, k=3, subset=[0, 3]) == 0.5
    table = consistency_table(x, labels, [3], k=3, seed=42)
    assert table["full_set"] == pytest.approx(7 / 8)
    assert table["hard_samples"] == 0.0
    assert table["hard_neighbours"] == pytest.approx(3 / 4)  # {3} ∪ {0, 1, 2}
    random_row = np.random.default_rng(42).choice(8, size=1, replace=False)[0]
    assert table["random"] == (0.0 if random_row == 3 else 1.0)


def test_ner_sentence_labels() -> None:
    rows = [["B-A", "I-A", "O", "B-B"], ["B-A"], ["O", "O"], ["B-B", "B-A", "B-A"]]
    # Row 0: A and B tie with one mention each -> B, the rarer type overall (A: 4, B: 2).
    assert ner_sentence_labels(rows) == ["B", "A", "O", "A"]


def test_hardness_file_round_trip_and_checks(tmp_path) -> None:
    """The label-free hardness file keeps m in index order (6 significant digits, as the tsv), carries no text
    or label, and refuses another split: a changed text, another order, another length or another format."""
    texts = ["flood in the north", "send water", "roads closed", "prayers"]
    m = np.array([1.23456789, 0.5, 2.0, 0.999999949])
    path = tmp_path / "hamr_hardness.json"
    write_hardness_file(path, torch.tensor(m), texts)
    raw = path.read_text()
    assert not any(t in raw for t in texts)
    np.testing.assert_array_equal(read_hardness_file(path, texts), [1.23457, 0.5, 2.0, 1.0])
    assert list(hard_indices(read_hardness_file(path), 0.5)) == [2, 0]
    with pytest.raises(ValueError, match="texts_sha256"):
        read_hardness_file(path, texts[::-1])
    with pytest.raises(ValueError, match="texts_sha256"):
        read_hardness_file(path, texts[:3] + ["prayer"])
    with pytest.raises(ValueError, match="3 examples"):
        read_hardness_file(path, texts[:3])
    with pytest.raises(ValueError, match="3 texts for 4"):
        write_hardness_file(path, m, texts[:3])
    write_hardness_file(path, m)  # texts unknown: no digest, only the length is checked
    assert read_hardness_file(path, ["a", "b", "c", "d"]).size == 4
    (tmp_path / "bad.json").write_text('{"format": "other", "examples": 1, "hardness_m": [1]}')
    with pytest.raises(ValueError, match="bad.json: format 'other'"):
        read_hardness_file(tmp_path / "bad.json")
    (tmp_path / "short.json").write_text('{"format": "hamr-hardness/1", "examples": 2, "hardness_m": [1]}')
    with pytest.raises(ValueError, match="short.json: 'hardness_m' has 1 values"):
        read_hardness_file(tmp_path / "short.json")
