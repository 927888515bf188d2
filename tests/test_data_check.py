"""`hamr data check`: every finding on small hand-made files, with its file:line examples and the exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hamr.cli import app
from hamr.data import Split, read_split_files
from hamr.data.check import check_splits
from hamr.enums import Severity, TaskType

runner = CliRunner()


def _csv(path, rows):
    path.write_text("tweet_body,category\n" + "".join(f"{t},{y}\n" for t, y in rows))
    return path


@pytest.fixture
def files(tmp_path):
    train = _csv(tmp_path / "train.csv", [
        ("hello  world", "a"), ("hello world", "b"), ("some text here", "a"), ("more text", "a"),
        ("x y", "A"), ("rare one", "c"),
        ("longer text that goes on and on and on and on and on and on and on and on and on", "a"),
    ])
    val = _csv(tmp_path / "val.csv", [("hello world", "a"), ("new", "d")])
    test = _csv(tmp_path / "test.csv", [("more   text", "a"), ("other", "b")])
    return train, val, test


def _by_code(report):
    return {f.code: f for f in report.findings}


def test_every_classification_finding_names_its_lines(files, tokenizer):
    train, val, test = files
    splits = read_split_files("classification", train, val, test, text_column="tweet_body", label_column="category")
    report = check_splits(splits, tokenizer=tokenizer, max_length=12)
    f = _by_code(report)
    assert report.sizes == {"train": 7, "validation": 2, "test": 2}
    assert report.class_counts["train"] == {"A": 1, "a": 4, "b": 1, "c": 1}
    assert report.imbalance_ratio == 4.0
    assert f["unseen_labels"].severity == Severity.ERROR and f["unseen_labels"].examples == [f"{val}:3 (d)"]
    assert f["label_variants"].examples == [f"'a' ({train}:2) / 'A' ({train}:6)"]
    assert f["conflicting_labels"].examples == [f"{train}:2 (a) vs {train}:3 (b)"]
    assert f["duplicates_within"].examples == [f"{train}:3 = {train}:2"]
    across = [x for x in report.findings if x.code == "duplicates_across"]
    assert sorted(e for x in across for e in x.examples) == sorted([f"{val}:2 = {train}:2", f"{test}:2 = {train}:5"])
    assert any("test scores are inflated" in x.message for x in across)
    assert f["too_small_to_stratify"].count == 3
    assert f["truncation"].examples == [f"{train}:8 (23 tokens)"] and report.truncation["train"]["truncated"] == 1
    assert report.suggestion.settings == {"max_length": 32}  # the 95th percentile, to a multiple of 16
    assert report.errors and report.errors[0].code == "unseen_labels"


def test_cli_exit_codes(files, tmp_path):
    train, val, test = files
    common = ["data", "check", "--train", str(train), "--task", "classification", "--data-option",
              "text_column=tweet_body", "--data-option", "label_column=category"]
    r = runner.invoke(app, common + ["--validation", str(val), "--test", str(test)])
    assert r.exit_code == 1, r.output
    assert "1 error(s)" in r.output and "training would fail" in r.output
    r = runner.invoke(app, common + ["--test", str(test), "--json"])  # no validation file: a stratified carve
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["carved_validation"] is True and out["sizes"]["train"] + out["sizes"]["validation"] == 7
    assert not [x for x in out["findings"] if x["severity"] == "error"]
    bad = tmp_path / "bad.csv"
    bad.write_text("tweet_body,category\nonly text\n")
    r = runner.invoke(app, ["data", "check", "--train", str(bad), "--task", "classification",
                            "--data-option", "text_column=tweet_body", "--data-option", "label_column=category"])
    assert r.exit_code == 2 and "bad.csv:2" in r.output


def test_meta_set_and_imbalance_findings_and_the_suggestion():
    def split(name, counts):
        labels = [c for c, n in counts.items() for _ in range(n)]
        return Split(name, TaskType.CLASSIFICATION, labels=labels, texts=[f"{name} {i}" for i in range(len(labels))],
                     locations=[f"{name}.csv:{i + 2}" for i in range(len(labels))])

    report = check_splits({"train": split("train", {"big": 300, "mid": 40, "rare": 3}),
                           "validation": split("val", {"big": 30, "mid": 10, "rare": 1})})
    f = _by_code(report)
    assert report.imbalance_ratio == 100.0
    # median validation count 10: "rare" has 1 + 3 training examples, so it stays at 4 in the meta set
    assert "rare (4)" in f["meta_set_short"].message and f["meta_set_short"].count == 1
    assert "rare (3)" in f["tiny_classes"].message and f["tiny_classes"].examples == ["rare: train.csv:342"]
    assert report.suggestion.method == "hamr" and not report.errors
    balanced = check_splits({"train": split("train", {"a": 50, "b": 40}), "validation": split("val", {"a": 5, "b": 5})})
    assert balanced.suggestion.method == "erm" and not balanced.findings


def test_ner_iob2_violations_point_at_the_token(tmp_path):
    train = tmp_path / "train.bio"
    train.write_text("B-X\ta\nI-X\tb\n\nO\tc\nI-Y\td\n\nB-Y\te\n\nB-X\tf\n")
    splits = read_split_files("ner", train, tag_column=0, token_column=1)
    report = check_splits(splits)
    f = _by_code(report)
    assert f["iob2"].examples == [f"{train}:4 token 2 ('d': I-Y after O)"]
    assert report.carved_validation is False or "validation" in report.sizes
    one = Split("train", TaskType.NER, labels=[["B-X"], ["B-X"]], tokens=[["a"], ["b"]])
    assert _by_code(check_splits({"train": one, "validation": one}))["one_class"].severity == Severity.ERROR


def test_a_benchmark_by_name_reports_the_truncation_training_would_log():
    """Issue 23: 494 of 2,753 Idai19 training texts are cut at length 64 (what encode_split logs in a run)."""
    r = runner.invoke(app, ["data", "check", "humaid_idai19", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["truncation"]["train"]["truncated"] == 494 and out["sizes"]["train"] == 2753
    tiny = next(f for f in out["findings"] if f["code"] == "tiny_classes")
    assert "missing_or_found_people (13)" in tiny["message"]
    assert out["suggestion"]["method"] == "hamr" and out["suggestion"]["settings"] == {"max_length": 80}
