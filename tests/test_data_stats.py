"""Dataset statistics and their rich rendering."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from hamr.data import dataset_stats, format_stats, load_benchmark, print_stats


@pytest.fixture(scope="module")
def idai_stats() -> dict:
    return dataset_stats(load_benchmark("humaid_idai19"))


@pytest.fixture(scope="module")
def mit_stats() -> dict:
    return dataset_stats(load_benchmark("mit_restaurant"))


def test_idai19_imbalance_and_quartiles(idai_stats):
    assert idai_stats["sizes"] == {"train": 2753, "validation": 401, "test": 779}
    imb = idai_stats["imbalance"]
    assert imb["ratio"] == 1308 / 13
    assert (imb["max_label"], imb["min_label"]) == ("rescue_volunteering_or_donation_effort", "missing_or_found_people")
    q1, q2, q3, q4 = idai_stats["quartiles"]
    assert "missing_or_found_people" in q1
    assert "rescue_volunteering_or_donation_effort" in q4
    assert sum(map(len, idai_stats["quartiles"])) == 10
    assert idai_stats["label_counts"]["validation"]["missing_or_found_people"] == 2
    assert sum(idai_stats["label_counts"]["test"].values()) == 779
    assert "tokens" not in idai_stats


def test_ner_stats(mit_stats):
    assert mit_stats["task"] == "ner"
    assert mit_stats["labels"][0] == "Amenity"
    assert sum(mit_stats["tokens"].values()) == 70_525 + 14_256
    for role, n_tokens in mit_stats["tokens"].items():
        assert sum(mit_stats["tag_counts"][role].values()) == n_tokens
    test_counts = mit_stats["label_counts"]["test"]
    assert test_counts["Location"] == 812 and test_counts["Price"] == 171
    assert next(iter(mit_stats["tag_counts"]["train"])) == "O"


def test_stats_are_json_serialisable(idai_stats, mit_stats):
    for stats in (idai_stats, mit_stats):
        assert json.loads(json.dumps(stats))["name"] == stats["name"]


def test_label_missing_from_train_gives_infinite_ratio():
    stats = dataset_stats(load_benchmark("humaid_idai19", limit={"train": 5}))
    assert stats["imbalance"]["min"] == 0
    assert stats["imbalance"]["ratio"] == float("inf")
    assert len(stats["labels"]) == 10


def test_print_stats(idai_stats, mit_stats):
    buf = io.StringIO()
    print_stats(idai_stats, Console(file=buf, width=200, color_system=None))
    out = buf.getvalue()
    assert "humaid_idai19" in out
    assert "1,308 (47.5%)" in out
    assert "= 100.6x" in out
    assert "Q1" in out and "missing_or_found_people (13)" in out
    buf = io.StringIO()
    print_stats(mit_stats, Console(file=buf, width=200, color_system=None))
    out = buf.getvalue()
    assert "entity mentions" in out.lower() and "I-Restaurant_Name" in out
    assert len(format_stats(mit_stats)) == len(format_stats(idai_stats)) + 1  # NER adds the tag table
