"""The benchmark registry: data-root resolution, the six benchmarks' split sizes, seeded validation carving."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from hamr.data import BENCHMARKS, DataBundle, DataError, list_benchmarks, load_benchmark, resolve_data_root
from hamr.data import registry
from hamr.enums import TaskType

EXPECTED_SIZES = {
    "bionlp": (16_619, 1_927, 3_856),
    "mit_restaurant": (6_900, 760, 1_521),
    "tweetner7": (4_616, 576, 576),
    "humaid_irma17": (6_579, 958, 1_862),
    "humaid_idai19": (2_753, 401, 779),
    "sst5": (8_544, 1_101, 2_210),
}
ORIGINAL_TRAIN = {"bionlp": 18_546, "mit_restaurant": 7_660}


@lru_cache(maxsize=None)
def bundle(name: str, seed: int = 42) -> DataBundle:
    """Each benchmark is read once per seed for the whole module (the tests do not modify bundles)."""
    return load_benchmark(name, seed=seed)


def test_list_benchmarks():
    assert list_benchmarks() == ["bionlp", "mit_restaurant", "tweetner7", "humaid_irma17", "humaid_idai19", "sst5"]
    assert set(BENCHMARKS) == set(EXPECTED_SIZES)
    assert all(BENCHMARKS[n].sizes == EXPECTED_SIZES[n] for n in EXPECTED_SIZES)


@pytest.mark.parametrize("name", list(EXPECTED_SIZES))
def test_split_sizes(name):
    b = bundle(name)
    assert b.name == name
    assert (len(b.train), len(b.validation), len(b.test)) == EXPECTED_SIZES[name]
    assert [s.name for s in b.splits().values()] == ["train", "validation", "test"]
    assert b.task == BENCHMARKS[name].task
    assert all(s.locations is not None for s in b.splits().values())


def test_label_sets():
    assert bundle("sst5").vocab.labels == ["0", "1", "2", "3", "4"]
    assert len(bundle("humaid_irma17").vocab) == 9
    assert len(bundle("humaid_idai19").vocab) == 10
    for name, types in [
        ("bionlp", ["DNA", "RNA", "cell_line", "cell_type", "protein"]),
        ("mit_restaurant", ["Amenity", "Cuisine", "Dish", "Hours", "Location", "Price", "Rating", "Restaurant_Name"]),
        ("tweetner7", ["corporation", "creative_work", "event", "group", "location", "person", "product"]),
    ]:
        b = bundle(name)
        assert b.task == TaskType.NER
        assert b.vocab.labels[0] == "O"
        assert b.vocab.entity_types == types


@pytest.mark.parametrize("name", ["bionlp", "mit_restaurant"])
def test_carved_validation_disjoint_and_complete(name):
    b = bundle(name)
    train, val = set(b.train.locations), set(b.validation.locations)
    assert not train & val
    assert len(train | val) == ORIGINAL_TRAIN[name]
    assert all(loc.split(":")[0].endswith(BENCHMARKS[name].train) for loc in val)
    # train keeps the original file order
    lines = [int(loc.rsplit(":", 1)[1]) for loc in b.train.locations]
    assert lines == sorted(lines)


def test_carved_validation_is_seeded():
    a, b, c = bundle("mit_restaurant", 42), load_benchmark("mit_restaurant", seed=42), bundle("mit_restaurant", 7)
    assert a.validation.locations == b.validation.locations
    assert a.validation.tokens == b.validation.tokens
    assert a.validation.locations != c.validation.locations
    assert len(c.validation) == 760
    assert a.test.locations == c.test.locations  # the test file is not touched by carving


def test_limit_after_carving():
    full = bundle("mit_restaurant")
    small = load_benchmark("mit_restaurant", limit=5)
    assert [len(s) for s in small.splits().values()] == [5, 5, 5]
    assert small.validation.locations == full.validation.locations[:5]
    assert small.vocab.labels == full.vocab.labels  # vocabulary from the whole training split
    part = load_benchmark("humaid_idai19", limit={"train": 20})
    assert (len(part.train), len(part.validation), len(part.test)) == (20, 401, 779)
    assert len(part.vocab) == 10
    with pytest.raises(DataError, match="unknown split"):
        load_benchmark("sst5", limit={"dev": 3})
    with pytest.raises(DataError, match="positive int"):
        load_benchmark("sst5", limit=0)


def test_unknown_benchmark_lists_the_six():
    with pytest.raises(DataError) as err:
        load_benchmark("conll2003")
    msg = str(err.value)
    assert "unknown benchmark 'conll2003'" in msg
    assert all(name in msg for name in EXPECTED_SIZES)


def test_missing_file_names_path(tmp_path):
    (tmp_path / "sst5").mkdir()
    (tmp_path / "sst5" / "train.txt").write_text("(1 (1 a))\n")
    with pytest.raises(DataError, match=f"missing file {tmp_path / 'sst5' / 'dev.txt'}"):
        load_benchmark("sst5", data_root=tmp_path)


def test_resolve_data_root_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv(registry.ENV_DATA_ROOT, raising=False)
    repo = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(repo)
    found = resolve_data_root()
    assert found == (repo.parent / "shared" / "datasets").resolve()
    assert all((found / name).is_dir() for name in EXPECTED_SIZES)
    monkeypatch.chdir(tmp_path)  # no ../shared/datasets here: found beside the checkout of the package
    assert resolve_data_root() == found


def test_resolve_data_root_argument_and_env(monkeypatch, tmp_path):
    monkeypatch.setenv(registry.ENV_DATA_ROOT, str(tmp_path))
    assert resolve_data_root() == tmp_path.resolve()
    other = tmp_path / "other"
    other.mkdir()
    assert resolve_data_root(other) == other.resolve()  # the argument wins over the environment
    monkeypatch.setenv(registry.ENV_DATA_ROOT, str(tmp_path / "nope"))
    with pytest.raises(DataError, match="from HAMR_DATA_ROOT"):
        resolve_data_root()
    with pytest.raises(DataError, match="from data_root"):
        resolve_data_root(tmp_path / "nope")


def test_resolve_data_root_nothing_found(monkeypatch, tmp_path):
    monkeypatch.delenv(registry.ENV_DATA_ROOT, raising=False)
    monkeypatch.setattr(registry, "_candidate_roots", lambda: [tmp_path / "absent"])
    with pytest.raises(DataError, match="no data root found.*HAMR_DATA_ROOT"):
        resolve_data_root()
