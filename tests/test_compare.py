"""`hamr compare` and file datasets in bench protocols: the choice reads validation only, ties, the budget, unknown
methods; one real (tiny-model) comparison through the bench's subprocesses."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from hamr import bench
from hamr.compare import CompareError, choose, parse_methods, run_compare
from hamr.data import DataError
from hamr.data.filespec import FileDataset

QUIET = Console(file=open(os.devnull, "w"))


@pytest.fixture
def data(tmp_path) -> FileDataset:
    rows = "".join(f"text number {i},{'abbbbbbbbbcccc'[i % 14]}\n" for i in range(84))
    for split in ("train", "dev", "test"):
        (tmp_path / f"{split}.csv").write_text("body,topic\n" + rows)
    raw = {"name": "mydata", "task": "classification", "train": "train.csv", "validation": "dev.csv",
           "test": "test.csv", "data_options": {"text_column": "body", "label_column": "topic"}}
    return FileDataset.from_dict(raw, "t", base=tmp_path)


def _metrics(val: tuple[float, float], test: tuple[float, float], seconds: float = 10.0, rare: float = 0.5) -> dict:
    groups = {"Q1": ["a"], "Q2": ["c"], "Q3": ["b"], "Q4": []}

    def split(macro, micro):
        per = {c: {"precision": 0.5, "recall": rare if c == "a" else 0.9, "f1": 0.5, "support": 3} for c in "abc"}
        return {"macro_f1": macro, "micro_f1": micro, "per_class": per, "quartiles": {"groups": groups}}

    return {"train_seconds": seconds, "seconds_per_epoch": seconds, "validation": split(*val), "test": split(*test)}


def fake(values: dict, calls: list):
    def run(spec, folder: Path) -> int:
        calls.append((spec.entry, spec.seed))
        run_json = json.loads((folder / "run.json").read_text())
        assert run_json["config"]["train_file"].endswith("train.csv") and run_json["config"]["dataset"] is None
        (folder / "metrics.json").write_text(json.dumps(_metrics(*values[(spec.entry, spec.seed)])))
        return 0

    return run


def test_the_choice_reads_validation_only(data, tmp_path):
    calls: list = []
    values = {  # icf is best on test, hamr on validation: hamr must be chosen
        ("erm", 42): ((0.40, 0.80), (0.40, 0.80)), ("icf", 42): ((0.50, 0.70), (0.90, 0.90)),
        ("hamr", 42): ((0.55, 0.75), (0.45, 0.70), 20.0, 0.8),
    }
    comp = run_compare(data, "hamr,icf,erm", out=tmp_path / "out", runner=fake(values, calls), out_console=QUIET)
    assert calls == [("erm", 42), ("hamr", 42), ("icf", 42)]  # ERM first
    assert comp.best == "hamr" and "55.0" in comp.reason and "next icf 50.0" in comp.reason
    assert comp.rarest == ["a", "c", "b"] and comp.validation["hamr"].rare_recall["a"] == [0.8]
    assert comp.test["icf"].macro_mean == 0.9  # reported, not used
    assert (tmp_path / "out" / "runs" / "mydata" / "hamr" / "seed42" / "done.json").exists()
    log = (tmp_path / "out" / "bench.log").read_text()
    assert "validation macro/micro-F1 55.0 / 75.0" in log and "· test " not in log
    again = run_compare(data, "erm,icf,hamr", out=tmp_path / "out", runner=fake(values, calls), out_console=QUIET)
    assert len(calls) == 3 and again.counts["skipped"] == 3  # resumed: nothing re-run


def test_the_choice_reads_the_heldout_half_when_the_runs_have_one(data, tmp_path):
    """HAMR's meta set (and the decision offsets' fit) saw the other half of validation: with a held-out half
    the choice reads it, not the whole split, and says so."""
    calls: list = []
    values = {("erm", 42): ((0.50, 0.80), (0.5, 0.8)), ("hamr", 42): ((0.60, 0.80), (0.5, 0.8))}

    def run(spec, folder: Path) -> int:
        m = _metrics(*values[(spec.entry, spec.seed)])
        held = {"erm": (0.52, 0.8), "hamr": (0.48, 0.8)}[spec.entry]  # optimistic whole split for hamr
        m["validation_heldout"] = {"macro_f1": held[0], "micro_f1": held[1], "per_class": {}}
        (folder / "metrics.json").write_text(json.dumps(m))
        calls.append(spec.entry)
        return 0

    comp = run_compare(data, "erm,hamr", out=tmp_path / "out", runner=run, out_console=QUIET)
    assert comp.choice_split == "validation_heldout" and comp.best == "erm" and "52.0" in comp.reason
    buf = Console(file=__import__("io").StringIO(), width=200)
    from hamr.compare import print_comparison

    print_comparison(comp, buf)
    assert "validation, held-out half" in buf.file.getvalue()


def test_ties_go_to_micro_then_time():
    from hamr.compare import MethodResult

    r = lambda m, macro, micro, s: MethodResult(m, [42], [macro], [micro], [s])  # noqa: E731
    best, why = choose({"erm": r("erm", 0.5, 0.7, 10), "icf": r("icf", 0.5004, 0.8, 10), "x": r("x", 0.3, 0.9, 1)})
    assert best == "icf" and "higher micro-F1" in why
    best, why = choose({"erm": r("erm", 0.5, 0.8, 10), "icf": r("icf", 0.5, 0.8, 5)})
    assert best == "icf" and "shorter training time" in why


def test_unknown_methods_are_named_with_the_known_ones():
    with pytest.raises(CompareError, match=r"unknown method\(s\) nope; known methods: erm, dice, focal"):
        parse_methods("erm,nope")
    assert parse_methods(["icf,hamr", "erm", "icf"]) == ["erm", "icf", "hamr"]


def test_the_budget_stops_new_runs_after_the_measured_erm(data, tmp_path, monkeypatch):
    calls: list = []
    values = {(m, s): ((0.5, 0.5), (0.5, 0.5)) for m in ("erm", "icf", "hamr") for s in (42, 43)}
    import itertools
    import types

    clock = itertools.count(0, 100)  # every run takes 100 s of wall time (bench's own clock only)
    monkeypatch.setattr(bench.grid, "time", types.SimpleNamespace(perf_counter=lambda: float(next(clock))))
    # 5 minutes: ERM (100 s), ICF (est. 100 s, total 200), HAMR (est. 1.4 x 100 s = 140 > 300 - 200): stop
    comp = run_compare(data, "erm,icf,hamr", seeds=2, out=tmp_path / "o", runner=fake(values, calls),
                       budget_minutes=5, out_console=QUIET)
    assert calls == [("erm", 42), ("icf", 42)]
    assert comp.skipped == ["hamr seed42", "erm seed43", "icf seed43", "hamr seed43"]
    assert comp.counts["over_budget"] == 4
    assert "not started, over the budget" in (tmp_path / "o" / "bench.log").read_text()


def test_file_datasets_in_a_protocol(data, tmp_path):
    raw = {"name": "p", "seeds": [1], "datasets": ["sst5", data.to_dict()], "methods": ["erm"]}
    protocol = bench.parse_protocol(raw, str(tmp_path / "p.json"))
    assert protocol.datasets == ["sst5", "mydata"]
    specs = {s.dataset: s for s in bench.expand_grid(protocol)}
    kw = specs["mydata"].run_config_kwargs(tmp_path / "x")
    assert kw["dataset"] is None and kw["train_file"] == data.train and kw["data_options"]["name"] == "mydata"
    assert specs["sst5"].run_config_kwargs(tmp_path / "y")["dataset"] == "sst5"
    from hamr.pipeline import RunConfig, load_data

    bundle = load_data(RunConfig(**kw))
    assert bundle.name == "mydata" and len(bundle.train) == 84
    est = bench.estimate_seconds(specs["mydata"])
    assert est is not None and bench.costs.RUN_OVERHEAD_SECONDS < est < 60  # 84 short texts: seconds
    bad = dict(data.to_dict(), train=str(tmp_path / "missing.csv"))
    with pytest.raises(bench.ProtocolError, match=r"datasets\[0\]\.train: no such file"):
        bench.parse_protocol({**raw, "datasets": [bad]}, "p.json")
    with pytest.raises(bench.ProtocolError, match=r"datasets\[0\]\.name: 'sst5' is a benchmark"):
        bench.parse_protocol({**raw, "datasets": [dict(data.to_dict(), name="sst5")]}, "p.json")
    with pytest.raises(DataError, match=r"t\.colour: unknown field"):
        FileDataset.from_dict({**data.to_dict(), "colour": 1}, "t")


@pytest.mark.slow
def test_cli_compare_end_to_end_with_a_tiny_model(data, tmp_path, tokenizer):
    """A real run in its own `python -m hamr.bench _one` process, with a 2-layer BERT saved here (one method:
    a subprocess costs ~15 s of imports; the other methods go the same way)."""
    from transformers import BertConfig, BertModel

    from hamr.cli import app

    model_dir = tmp_path / "tiny"
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128)).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    r = CliRunner().invoke(app, [
        "compare", "--train", data.train, "--validation", data.validation, "--test", data.test,
        "--data-option", "text_column=body", "--data-option", "label_column=topic", "--methods", "erm",
        "--epochs", "1", "--max-length", "16", "--model", str(model_dir), "--out", str(tmp_path / "cmp"),
        "--name", "mydata"])
    assert r.exit_code == 0, r.output
    assert "recommended:" in r.output and "reported after the choice" in r.output
    for m in ("erm",):
        metrics = json.loads((tmp_path / "cmp" / "runs" / "mydata" / m / "seed42" / "metrics.json").read_text())
        assert metrics["method"] == m and metrics["train_examples"] == 84 and 0 <= metrics["validation"]["macro_f1"] <= 1
        assert metrics["epoch_metrics"] == []  # compare reads the final validation scores: no pass per epoch
    r = CliRunner().invoke(app, ["compare", "--train", data.train, "--methods", "erm,logit_adjustmen"])
    assert r.exit_code == 2 and "known methods" in r.output
