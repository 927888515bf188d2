"""The benchmark harness (issue 5): protocol validation, grid expansion, skip/restart, summary, report.

No model is trained here: the scheduler takes an injected fake runner that writes a metrics.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from hamr import bench
from hamr.bench import ProtocolError, expand_grid, load_protocol, run_grid, write_report
from hamr.methods import get_method
from hamr.resampling import read_hardness_file, write_hardness_file

CONFIGS = Path(__file__).resolve().parents[1] / "benchmarks" / "configs"


def _write(tmp_path: Path, raw: dict, name: str = "proto.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(raw))
    return path


def _protocol(**over) -> dict:
    raw = {
        "name": "t",
        "seeds": [1, 2],
        "settings": {"epochs": 3, "max_length": 64},
        "datasets": ["humaid_idai19", "sst5"],
        "dataset_settings": {"sst5": {"epochs": 2, "max_train_examples": 100}},
        "methods": [
            "erm",
            "hamr",
            {"name": "hamr_wo_awe", "method": "hamr", "options": {"ablation": "without_awe", "knn_k": 7}},
        ],
        "method_options": {"hamr": {"knn_k": 5, "oversample": 1.5}},
        "dataset_method_options": {"sst5": {"hamr": {"hardness_alpha": 0.6, "knn_k": 6}}},
    }
    raw.update(over)
    return raw


def _metrics(macro: float, micro: float | None = None, seconds: float = 10.0, q1: float = 0.1) -> dict:
    micro = macro if micro is None else micro
    return {
        "train_seconds": seconds,
        "seconds_per_epoch": seconds / 2,
        "peak_memory_mb": 1000.0,
        "epochs": 2,
        "train_examples": 50,
        "options": {},
        "test": {"macro_f1": macro, "micro_f1": micro, "quartiles": {"Q1": q1, "Q2": 0.2, "Q3": 0.3, "Q4": 0.4}},
        "validation": {"macro_f1": macro / 2, "micro_f1": micro / 2},
    }


def fake_runner(values: dict, calls: list | None = None):
    """A runner writing metrics.json with test macro-F1 values[(dataset, entry, seed)]; missing key = crash."""

    def run(spec, folder: Path) -> int:
        if calls is not None:
            calls.append((spec.dataset, spec.entry, spec.seed))
        key = (spec.dataset, spec.entry, spec.seed)
        assert (folder / "run.json").exists()
        if key not in values:
            (folder / "run.log").write_text("Traceback ...\nRuntimeError: boom\n")
            return 1
        (folder / "metrics.json").write_text(json.dumps(_metrics(*values[key])))
        return 0

    return run


@pytest.fixture
def quiet(monkeypatch):
    from rich.console import Console

    from hamr.bench import cli, common

    quiet_console = Console(file=open(os.devnull, "w"))
    monkeypatch.setattr(common, "console", quiet_console)
    monkeypatch.setattr(cli, "console", quiet_console)


# ------------------------------------------------------------------------------------------- grid


def test_grid_is_seeds_by_datasets_by_entries_with_overrides(tmp_path):
    protocol = load_protocol(_write(tmp_path, _protocol()))
    specs = expand_grid(protocol)
    assert len(specs) == 2 * 2 * 3
    assert [(s.seed, s.dataset, s.entry) for s in specs[:4]] == [
        (1, "humaid_idai19", "erm"), (1, "humaid_idai19", "hamr"), (1, "humaid_idai19", "hamr_wo_awe"),
        (1, "sst5", "erm"),
    ]
    by = {(s.dataset, s.entry, s.seed): s for s in specs}
    assert by[("humaid_idai19", "erm", 1)].settings["epochs"] == 3
    assert by[("sst5", "erm", 2)].settings["epochs"] == 2
    assert by[("sst5", "erm", 2)].settings["max_train_examples"] == 100
    assert by[("sst5", "erm", 2)].settings["max_length"] == 64  # shared setting kept
    assert by[("sst5", "erm", 2)].settings["batch_size"] == 16  # default
    assert by[("humaid_idai19", "erm", 1)].options == {}
    # method options < dataset-method options < the entry's own options
    assert by[("humaid_idai19", "hamr", 1)].options == {"knn_k": 5, "oversample": 1.5}
    assert by[("sst5", "hamr", 1)].options == {"knn_k": 6, "oversample": 1.5, "hardness_alpha": 0.6}
    assert by[("sst5", "hamr_wo_awe", 1)].options["knn_k"] == 7
    assert by[("sst5", "hamr_wo_awe", 1)].ablation == "without_awe"
    assert by[("sst5", "hamr", 1)].ablation == "full" and by[("sst5", "erm", 1)].ablation is None
    kwargs = by[("sst5", "hamr", 1)].run_config_kwargs(tmp_path / "x")
    assert kwargs["save_model"] is False and kwargs["epochs"] == 2 and kwargs["max_train_examples"] == 100


def test_entry_settings_override_the_protocol_and_dataset_settings(tmp_path):
    methods = ["erm", {"name": "hamr_12ep", "method": "hamr", "settings": {"epochs": 12, "batch_size": 8}}]
    protocol = load_protocol(_write(tmp_path, _protocol(methods=methods)))
    by = {(s.dataset, s.entry): s.settings for s in expand_grid(protocol, seeds=[1])}
    assert by[("humaid_idai19", "erm")]["epochs"] == 3 and by[("sst5", "erm")]["epochs"] == 2
    assert by[("humaid_idai19", "hamr_12ep")]["epochs"] == 12
    assert by[("sst5", "hamr_12ep")]["epochs"] == 12  # over the dataset's 2
    assert by[("sst5", "hamr_12ep")]["max_train_examples"] == 100  # the dataset's setting still applies
    assert by[("sst5", "hamr_12ep")]["batch_size"] == 8 and by[("sst5", "erm")]["batch_size"] == 16
    bad = [{"name": "x", "method": "erm", "settings": {"epochs": 0}}]
    with pytest.raises(ProtocolError, match=r"methods\[0\]\.settings\.epochs: invalid value 0"):
        load_protocol(_write(tmp_path, _protocol(methods=bad)))
    bad = [{"name": "x", "method": "erm", "settings": {"epoch": 4}}]
    with pytest.raises(ProtocolError, match=r"methods\[0\]\.settings\.epoch: unknown setting"):
        load_protocol(_write(tmp_path, _protocol(methods=bad)))


def test_grid_filters(tmp_path):
    protocol = load_protocol(_write(tmp_path, _protocol()))
    specs = expand_grid(protocol, only_datasets=["sst5"], only_methods=["hamr"], seeds=[7])
    assert [(s.dataset, s.entry, s.seed) for s in specs] == [("sst5", "hamr", 7)]
    with pytest.raises(ProtocolError, match="--only-methods: focal"):
        expand_grid(protocol, only_methods=["focal"])


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"methods": ["erm", "magic"]}, "methods[1].method", "unknown method 'magic'"),
        ({"methods": [{"name": "x", "method": "erm", "options": {"lookahed_scope": "head"}}]},
         "methods[0].options.lookahed_scope", "not a field of ImbalanceArguments"),
        ({"methods": [{"name": "h", "method": "hamr", "options": {"lookahed_scope": "head"}}]},
         "methods[0].options.lookahed_scope", "not a field of HAMRArguments"),
        ({"methods": [{"name": "h", "method": "hamr", "options": {"ablation": "without_magic"}}]},
         "methods[0].options.ablation", "without_magic"),
        ({"datasets": ["sst5", "imdb"], "dataset_settings": {}, "dataset_method_options": {}}, "datasets[1]",
         "unknown dataset 'imdb'"),
        ({"settings": {"epoch": 3}}, "settings.epoch", "unknown setting"),
        ({"dataset_settings": {"sst5": {"max_lenght": 3}}}, "dataset_settings.sst5.max_lenght", "unknown setting"),
        ({"settings": {"batch_size": 0}}, "settings.batch_size", "invalid value"),
        ({"method_options": {"hamr": {"knn_kk": 3}}}, "method_options.hamr.knn_kk", "not a field"),
        ({"method_options": {"focal": {}}}, "method_options.focal", "neither a method nor an entry"),
        ({"methods": [{"name": "x", "method": "erm", "options": {"num_train_epochs": 9}}]},
         "methods[0].options.num_train_epochs", "set by the harness"),
        ({"seeds": []}, "seeds", "non-empty"),
        ({"dataset_method_options": {"bionlp": {}}}, "dataset_method_options.bionlp", "not a dataset"),
        ({"epochs": 3}, "epochs", "unknown field"),
    ],
)
def test_config_errors_name_the_file_and_the_field(tmp_path, change, field, words):
    path = _write(tmp_path, _protocol(**change), "bad.json")
    with pytest.raises(ProtocolError) as err:
        load_protocol(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {field}:"), message
    assert words in message


def test_an_entry_runs_on_its_datasets_and_its_options_are_checked_on_each_task(tmp_path):
    methods = ["erm", {"name": "hamr_frozen", "method": "hamr", "options": {"ablation": "without_class_params"},
                       "datasets": ["tweetner7"], "label": "w/o learned class parameters"}]
    raw = _protocol(methods=methods, datasets=["humaid_idai19", "tweetner7"], dataset_settings={},
                    dataset_method_options={})
    specs = expand_grid(load_protocol(_write(tmp_path, raw)), seeds=[1])
    assert [(s.dataset, s.entry) for s in specs] == [("humaid_idai19", "erm"), ("tweetner7", "erm"),
                                                     ("tweetner7", "hamr_frozen")]
    assert load_protocol(_write(tmp_path, raw)).entry("hamr_frozen").label == "w/o learned class parameters"
    # on every dataset, the ablation of NER's class_residual form cannot resolve for classification: named early
    methods[1] = {k: v for k, v in methods[1].items() if k != "datasets"}
    path = _write(tmp_path, _protocol(methods=methods, datasets=["humaid_idai19", "tweetner7"],
                                      dataset_settings={}, dataset_method_options={}), "bad.json")
    with pytest.raises(ProtocolError) as err:
        load_protocol(path)
    assert str(err.value).startswith(f"{path}: methods[1] (hamr_frozen) on humaid_idai19 (classification): ")
    assert "without_class_params" in str(err.value) and '"datasets"' in str(err.value)
    for bad, words in (({"datasets": ["sst5"]}, "'sst5' is not a dataset of this protocol"),
                       ({"datasets": []}, "expected a non-empty list"), ({"label": ""}, "non-empty string")):
        raw = _protocol(methods=["erm", {"name": "x", "method": "erm", **bad}], datasets=["humaid_idai19"],
                        dataset_settings={}, method_options={}, dataset_method_options={})
        with pytest.raises(ProtocolError, match=rf"methods\[1\]\.(datasets|label): .*{words}"):
            load_protocol(_write(tmp_path, raw))


def test_unreadable_config(tmp_path):
    with pytest.raises(ProtocolError, match="no such protocol file"):
        load_protocol(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ProtocolError, match="broken.json: not valid JSON"):
        load_protocol(tmp_path / "broken.json")


def test_shipped_protocols_are_valid():
    cpu = load_protocol(CONFIGS / "cpu.json")
    specs = expand_grid(cpu)
    assert len(specs) == (6 * 16 + 3 * 2) * 3  # two ablations of the NER form run on the NER datasets only
    assert {s.ablation for s in specs if s.method == "hamr"} == {
        "full", "without_awe", "without_resampling", "without_all", "without_class_params", "without_residual"}
    ner_only = {s.dataset for s in specs if s.ablation in ("without_class_params", "without_residual")}
    assert ner_only == {"bionlp", "mit_restaurant", "tweetner7"}
    knn = {s.dataset: s.options for s in specs if s.entry == "hamr_with_knn"}
    assert knn["tweetner7"] == {"knn_lambda": 0.1} and knn["humaid_idai19"] == {"knn_lambda": 0.7}
    hours = sum(bench.estimate_seconds(s) for s in specs) / 3600
    assert 11 <= hours <= 15, hours  # the CPU protocol is sized for ~13-16 h of this machine
    paper = load_protocol(CONFIGS / "paper.json")
    ps = {(s.dataset, s.entry): s for s in expand_grid(paper, seeds=[42])}
    assert ps[("bionlp", "erm")].settings["learning_rate"] == 2e-5
    assert ps[("sst5", "erm")].settings["learning_rate"] == 4e-5
    assert ps[("sst5", "hamr_wo_knn")].options["hardness_alpha"] == 0.6
    assert paper.settings["model"] == "microsoft/deberta-v3-base" and paper.settings["epochs"] == 8
    smoke = expand_grid(load_protocol(CONFIGS / "smoke.json"))
    assert len(smoke) == 2 and smoke[0].settings["limit"] and smoke[0].settings["epochs"] == 1


# ------------------------------------------------------------------------------------------- runs


def test_runs_are_saved_skipped_when_done_and_restarted_when_unfinished(tmp_path, quiet):
    protocol = load_protocol(_write(tmp_path, _protocol(seeds=[1])))
    specs = expand_grid(protocol, only_datasets=["humaid_idai19"])
    values = {("humaid_idai19", e, 1): (0.5,) for e in ("erm", "hamr", "hamr_wo_awe")}
    out = tmp_path / "results"
    calls: list = []
    counts = run_grid(protocol, out, specs, runner=fake_runner(values, calls))
    assert counts == {"total": 3, "skipped": 0, "finished": 3, "failed": 0, "restarted": 0}
    folder = out / "runs" / "humaid_idai19" / "hamr" / "seed1"
    done = json.loads((folder / "done.json").read_text())
    assert done["method"] == "hamr" and done["base_method"] == "hamr" and done["seed"] == 1
    assert done["code_version"]["hamr"] and "finished_at" in done
    assert json.loads((folder / "run.json").read_text())["config"]["save_model"] is False
    assert len(json.loads((out / "summary.json").read_text())) == 3
    assert not (out / "bench.lock").exists()
    # the progress line names which split each score is from (validation 25.0 = macro / 2 in _metrics)
    assert "validation macro/micro-F1 25.0 / 25.0 · test 50.0 / 50.0" in (out / "bench.log").read_text()

    calls.clear()
    counts = run_grid(protocol, out, specs, runner=fake_runner(values, calls))
    assert calls == [] and counts["skipped"] == 3

    (folder / "done.json").unlink()  # as if the machine stopped mid-run
    (folder / "half-written.bin").write_text("x")
    counts = run_grid(protocol, out, specs, runner=fake_runner(values, calls))
    assert calls == [("humaid_idai19", "hamr", 1)]
    assert counts["restarted"] == 1 and counts["skipped"] == 2
    assert not (folder / "half-written.bin").exists() and (folder / "done.json").exists()
    assert "restarting it from scratch" in (out / "bench.log").read_text()


def test_a_failed_run_does_not_stop_the_grid(tmp_path, quiet):
    protocol = load_protocol(_write(tmp_path, _protocol(seeds=[1])))
    specs = expand_grid(protocol, only_datasets=["humaid_idai19"])
    values = {("humaid_idai19", "erm", 1): (0.5,), ("humaid_idai19", "hamr_wo_awe", 1): (0.4,)}
    counts = run_grid(protocol, tmp_path / "r", specs, runner=fake_runner(values))
    assert counts["failed"] == 1 and counts["finished"] == 2
    assert not (tmp_path / "r" / "runs" / "humaid_idai19" / "hamr" / "seed1" / "done.json").exists()
    assert "FAILED (exit 1)" in (tmp_path / "r" / "bench.log").read_text()
    assert "boom" in (tmp_path / "r" / "bench.log").read_text()


def test_benches_share_a_folder_run_by_run(tmp_path, quiet):
    protocol = load_protocol(_write(tmp_path, _protocol(seeds=[1])))
    specs = expand_grid(protocol, only_datasets=["humaid_idai19"])
    values = {("humaid_idai19", e, 1): (0.5,) for e in ("erm", "hamr", "hamr_wo_awe")}
    out = tmp_path / "r"
    claims = out / "claims"
    claims.mkdir(parents=True)
    # another live bench (our parent process: alive, not us) is running hamr; a dead one left erm's claim
    (claims / "humaid_idai19__hamr__seed1.pid").write_text(str(os.getppid()))
    (claims / "humaid_idai19__erm__seed1.pid").write_text("999999999")
    calls: list = []
    counts = run_grid(protocol, out, specs, runner=fake_runner(values, calls))
    assert sorted(calls) == [("humaid_idai19", "erm", 1), ("humaid_idai19", "hamr_wo_awe", 1)]
    assert counts["finished"] == 2 and counts["skipped"] == 1
    assert "running in another bench" in (out / "bench.log").read_text()
    assert (claims / "humaid_idai19__hamr__seed1.pid").exists()  # not ours to remove
    assert not (claims / "humaid_idai19__erm__seed1.pid").exists()  # the stale claim was taken, then released
    assert not (out / "runs" / "humaid_idai19" / "hamr" / "seed1").exists()  # its folder left to its bench


def test_a_local_bench_refuses_a_folder_a_ray_bench_holds(tmp_path, quiet):
    protocol = load_protocol(_write(tmp_path, _protocol(seeds=[1])))
    out = tmp_path / "r"
    out.mkdir()
    (out / "bench.lock").write_text(str(os.getppid()))  # a live process that is not us
    with pytest.raises(RuntimeError, match="already running"):
        run_grid(protocol, out, expand_grid(protocol), runner=fake_runner({}))


def test_training_cap_is_a_seeded_random_sample_in_file_order(monkeypatch):
    from hamr import pipeline
    from hamr.data import DataBundle, Split
    from hamr.enums import TaskType

    labels = ["a"] * 90 + ["b"] * 10  # sorted by label, like SST-5's file
    train = Split("train", TaskType.CLASSIFICATION, labels, texts=[f"t{i}" for i in range(100)])
    bundle = DataBundle("d", TaskType.CLASSIFICATION, train, train, train)
    monkeypatch.setattr(pipeline, "_load_all", lambda config: bundle)

    def load(seed):
        return pipeline.load_data(pipeline.RunConfig(dataset="d", seed=seed, max_train_examples=40))

    a, b = load(3), load(3)
    assert len(a.train) == 40 and a.train.texts == b.train.texts
    idx = [int(t[1:]) for t in a.train.texts]
    assert idx == sorted(idx) and len(set(idx)) == 40
    assert 0 < a.train.labels.count("b") < 10  # the minority is sampled, not cut off
    assert len(a.validation) == 100 and a.vocab is bundle.vocab
    assert load(4).train.texts != a.train.texts


# ------------------------------------------------------------------------------------------- report


def _fake_results(tmp_path: Path) -> Path:
    raw = _protocol(seeds=[1, 2, 3], methods=[
        "erm", "icf", "hamr",
        {"name": "hamr_wo_knn", "method": "hamr", "options": {"ablation": "without_knn"}},
        {"name": "hamr_frozen", "method": "hamr",
         "options": {"weighting_form": "class_residual", "ablation": "without_class_params"}},
    ])
    protocol = load_protocol(_write(tmp_path, raw))
    values = {}
    for seed, (e, h, k) in zip((1, 2, 3), ((0.5, 0.7, 0.6), (0.6, 0.8, 0.6), (0.7, 0.9, 0.6))):
        values[("humaid_idai19", "erm", seed)] = (e, 0.8, 10.0)
        values[("humaid_idai19", "hamr", seed)] = (h, 0.7, 25.0)
        values[("humaid_idai19", "hamr_wo_knn", seed)] = (k, 0.7, 20.0)
        values[("humaid_idai19", "hamr_frozen", seed)] = (0.55, 0.7, 20.0)
        values[("sst5", "erm", seed)] = (0.4, 0.5, 10.0)
        values[("sst5", "hamr", seed)] = (0.3, 0.4, 20.0)
    values[("humaid_idai19", "icf", 1)] = (0.65, 0.6, 10.0)  # icf: 2 of 3 seeds finished
    values[("humaid_idai19", "icf", 2)] = (0.75, 0.6, 10.0)
    out = tmp_path / "results"
    run_grid(protocol, out, expand_grid(protocol), runner=fake_runner(values))
    return out


def test_summary_records(tmp_path, quiet):
    out = _fake_results(tmp_path)
    records = json.loads((out / "summary.json").read_text())
    assert len(records) == 4 * 3 + 2 + 2 * 3
    r = next(r for r in records if (r["dataset"], r["method"], r["seed"]) == ("humaid_idai19", "hamr", 2))
    assert r["macro_f1"] == 0.8 and r["micro_f1"] == 0.7 and r["val_macro_f1"] == 0.4
    assert r["protocol"] == "t" and r["base_method"] == "hamr" and r["ablation"] == "full"
    assert r["train_seconds"] == 25.0 and r["seconds_per_epoch"] == 12.5 and r["peak_memory_mb"] == 1000.0
    assert r["quartiles"] == {"Q1": 0.1, "Q2": 0.2, "Q3": 0.3, "Q4": 0.4}
    assert set(r["code_version"]) == {"git", "hamr"} and r["finished_at"]


def test_combined_summary_gathers_every_results_folder(tmp_path, quiet):
    """benchmarks/results/summary.json: the grid's runs and a screen's, each record naming its folder."""
    root = tmp_path / "all"
    root.mkdir()
    grid = _fake_results(root)  # root/results
    screen_protocol = load_protocol(_write(tmp_path, _protocol(name="screen", seeds=[7]), "s.json"))
    specs = expand_grid(screen_protocol, only_datasets=["sst5"], only_methods=["erm"])
    run_grid(screen_protocol, root / "screens" / "s", specs, runner=fake_runner({("sst5", "erm", 7): (0.3,)}))
    path = bench.write_combined_summary(root)
    records = json.loads(path.read_text())
    assert path == root / "summary.json"
    assert len(records) == len(json.loads((grid / "summary.json").read_text())) + 1
    screen = [r for r in records if r["results_dir"] == "screens/s"]
    assert len(screen) == 1 and screen[0]["protocol"] == "screen" and screen[0]["macro_f1"] == 0.3
    assert {r["results_dir"] for r in records} == {"results", "screens/s"}
    with pytest.raises(FileNotFoundError, match="no bench results folder"):
        bench.write_combined_summary(root / "screens" / "s" / "runs")


def test_report_tables(tmp_path, quiet):
    out = _fake_results(tmp_path)
    text = write_report(out).read_text()
    table2 = text.split("## Table 2")[1].split("## Table 3")[0]
    macro = table2.split("**Micro-F1")[0]
    rows = {line.split(" | ")[0].strip("| "): line for line in macro.splitlines() if line.startswith("| ")}
    # erm on Idai19: 50, 60, 70 -> mean 60.0, sample sd 10.0; hamr 70, 80, 90 -> 80.0 ± 10.0, the best
    assert "| 60.0 ± 10.0 |" in rows["erm"]
    assert "**80.0 ± 10.0**" in rows["hamr"]
    assert "| 70.0 ± 7.1 (n=2) |" in rows["icf"]  # partial seeds are labelled; sd of 65 and 75 = 7.07
    assert "**40.0 ± 0.0**" in rows["erm"]  # SST-5: erm beats hamr
    assert "hamr_wo_knn" not in rows  # ablations go to Table 3
    micro = table2.split("**Micro-F1")[1]
    assert "**80.0 ± 0.0**" in micro  # erm's micro-F1 on Idai19 is the best
    assert "best mean macro-F1 on 1 of the 2 datasets" in table2
    assert "+5.0 macro-F1 points" in table2  # (+20 on Idai19, -10 on SST-5) / 2
    assert "63.8 / 81.1" in table2  # the paper's block
    table3 = text.split("## Table 3")[1].split("## Figure 2")[0]
    assert "HAMR (hamr)" in table3 and "w/o kNN (hamr_wo_knn)" in table3 and "w/o All = ERM (erm)" in table3
    assert "60.0 ± 0.0" in table3
    assert "w/o learned class parameters (hamr_frozen)" in table3 and "55.0 ± 0.0" in table3
    pareto = text.split("## Equal training time")[1].split("## Table 3")[0]
    # Idai19: erm 10 s / 60.0, icf 10 s / 70.0 (n=2), hamr 25 s / 80.0: all three on the front, erm dominated by icf
    line = next(x for x in pareto.splitlines() if x.startswith("| Idai19 |"))
    assert "icf (10 s, 70.0), **hamr** (25 s, 80.0)" in line and "erm (" not in line
    assert "| icf 70.0 (HAMR 80.0, 25 s) |" in line
    fig = text.split("## Figure 2")[1].split("## Table 4")[0]
    assert "| erm | 10.0 | 20.0 | 30.0 | 40.0 | 2 |" in fig
    assert (out / "quartiles.png").stat().st_size > 1000
    assert "not available: no HAMR run has its hardness (hamr_hardness.json or hamr_examples.tsv)" in text
    overhead = text.split("## Overhead")[1]
    line = next(x for x in overhead.splitlines() if x.startswith("| Idai19 | hamr |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[:5] == ["Idai19", "hamr", "3", "25", "12"] and cells[6:] == ["1000", "2.50×", "1.00×"]
    # the two parts apart: erm, icf, hamr × 2 datasets × 3 seeds (icf's seed 3 and SST-5 missing); 2 ablations
    assert "20 finished runs of 30 (Table 2: 14 of 18; Table 3: 6 of 12)" in text


def test_report_puts_labelled_hamr_variants_and_dataset_restricted_ablations_in_table3(tmp_path, quiet):
    raw = _protocol(seeds=[1], datasets=["humaid_idai19", "tweetner7"], dataset_settings={}, method_options={},
                    dataset_method_options={"tweetner7": {"hamr_with_knn": {"knn_lambda": 0.1}}},
                    methods=["erm", "hamr",
                             {"name": "hamr_with_knn", "method": "hamr", "options": {"knn_lambda": 0.7},
                              "label": "+ kNN boost"},
                             {"name": "hamr_wo_residual", "method": "hamr", "datasets": ["tweetner7"],
                              "options": {"ablation": "without_residual"}},
                             {"name": "hamr_wo_all", "method": "hamr", "options": {"ablation": "without_all"}}])
    protocol = load_protocol(_write(tmp_path, raw))
    values = {("humaid_idai19", "erm", 1): (0.5,), ("humaid_idai19", "hamr", 1): (0.6,),
              ("humaid_idai19", "hamr_with_knn", 1): (0.9,), ("tweetner7", "erm", 1): (0.3,),
              ("tweetner7", "hamr", 1): (0.4,), ("tweetner7", "hamr_with_knn", 1): (0.35,),
              ("tweetner7", "hamr_wo_residual", 1): (0.2,)}
    out = tmp_path / "results"
    # w/o All is not run: ERM's row stands for it, and its runs are not counted as owed
    specs = [s for s in expand_grid(protocol) if s.entry != "hamr_wo_all"]
    run_grid(protocol, out, specs, runner=fake_runner(values))
    text = write_report(out).read_text()
    table2 = text.split("## Table 2")[1].split("## Table 3")[0]
    assert "hamr_with_knn" not in table2 and "hamr_wo_residual" not in table2
    assert "best mean macro-F1 on 2 of the 2 datasets" in table2  # the labelled variant's 90.0 is not a rival
    table3 = text.split("## Table 3")[1].split("**Micro-F1")[0]
    rows = {line.split(" | ")[0].strip("| "): line for line in table3.splitlines() if line.startswith("| ")}
    assert "| 90.0 | 35.0 |" in rows["+ kNN boost (hamr_with_knn)"]
    assert "| – | 20.0 |" in rows["w/o per-example residual (hamr_wo_residual)"]
    assert "w/o All = ERM (erm)" in text.split("## Table 3")[1]
    assert "7 finished runs of 7 (Table 2: 4 of 4; Table 3: 3 of 3, w/o All not run: ERM's row stands for it)" in text


def test_busy_machine_flag():
    from hamr.bench.report import busy

    assert busy({"start": 4.7, "end": 2.0, "cpus": 2})
    assert not busy({"start": 0.3, "end": 2.1, "cpus": 2})  # the run's own two threads
    assert not busy(None)


def test_report_without_runs(tmp_path):
    (tmp_path / "empty").mkdir()
    text = write_report(tmp_path / "empty").read_text()
    assert "not available: no finished runs" in text
    with pytest.raises(FileNotFoundError):
        write_report(tmp_path / "nowhere")


def test_table4_from_a_hamr_run(tmp_path, quiet, monkeypatch):
    """Table 4 rebuilds the run's training split from run.json, checks it against hamr_examples.tsv, and
    feeds consistency_table (embeddings replaced by random unit vectors: no model is loaded)."""
    from hamr.data import load_benchmark

    train = load_benchmark("humaid_idai19", limit=40).train
    raw = _protocol(seeds=[1], datasets=["humaid_idai19"], dataset_settings={}, dataset_method_options={},
                    settings={"limit": 40}, methods=["hamr"], method_options={"hamr": {"knn_ratio": 0.25}})
    protocol = load_protocol(_write(tmp_path, raw))
    out = tmp_path / "results"

    def runner(spec, folder):
        (folder / "metrics.json").write_text(json.dumps(_metrics(0.5)))
        m = np.linspace(1, 2, len(train))
        rows = [f"{i}\t{y}\t{m[i]:.6g}\t0\t0.025" for i, y in enumerate(train.labels)]
        (folder / "hamr_examples.tsv").write_text("index\tlabel\thardness_m\tboost_b\tprobability_p\n" +
                                                  "\n".join(rows) + "\n")
        return 0

    run_grid(protocol, out, expand_grid(protocol), runner=runner)
    calls = []

    def fake_embed(texts, model=None, **kw):
        calls.append(list(texts))
        rng = np.random.default_rng(0)
        e = rng.normal(size=(len(texts), 8)).astype("float32")
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    monkeypatch.setattr("hamr.embeddings.embed_texts", fake_embed)
    table4 = write_report(out).read_text().split("## Table 4")[1].split("## Overhead")[0]
    assert calls == [train.all_texts()]
    assert "| Hard Samples |" in table4 and "| runs (seeds) | 1 |" in table4
    assert "from a re-run" not in table4

    run_dir = out / "runs" / "humaid_idai19" / "hamr" / "seed1"
    (run_dir / "hardness_rerun.json").write_text(json.dumps(
        {"committed_test": {"macro_f1": 0.5}, "rerun_test": {"macro_f1": 0.5}, "reproduced": True}))
    table4 = write_report(out).read_text().split("## Table 4")[1].split("## Overhead")[0]
    assert "1 of 1 hard sets come from a re-run" in table4 and "reproduced the committed test" in table4
    (run_dir / "hardness_rerun.json").write_text(json.dumps(
        {"committed_test": {"macro_f1": 0.5}, "rerun_test": {"macro_f1": 0.487}, "reproduced": False}))
    table4 = write_report(out).read_text().split("## Table 4")[1].split("## Overhead")[0]
    assert "1 re-run(s) did not reproduce" in table4 and "- runs/humaid_idai19/hamr/seed1: 50.0 → 48.7" in table4

    # the report converted the local tsv into the label-free hamr_hardness.json (committed with the run): the
    # row survives without the tsv, and the json is checked against the rebuilt split's texts
    tsv = run_dir / "hamr_examples.tsv"
    hardness = run_dir / "hamr_hardness.json"
    assert read_hardness_file(hardness, train.all_texts()).tolist() == [float(f"{v:.6g}") for v in
                                                                      np.linspace(1, 2, len(train))]
    lines = tsv.read_text().splitlines()
    tsv.unlink()
    assert write_report(out).read_text().split("## Table 4")[1].split("## Overhead")[0] == table4
    write_hardness_file(hardness, np.linspace(1, 2, len(train)), train.all_texts()[::-1])
    table4 = write_report(out).read_text().split("## Table 4")[1]
    assert "not available for runs/humaid_idai19/hamr/seed1: " in table4 and "texts_sha256" in table4

    hardness.unlink()
    lines[1] = "0\tno_such_class\t1\t0\t0.025"
    tsv.write_text("\n".join(lines) + "\n")
    table4 = write_report(out).read_text().split("## Table 4")[1]
    assert "not available for runs/humaid_idai19/hamr/seed1: example 0" in table4
    assert not hardness.exists()  # a tsv that fails its check is not converted


def test_results_folders_keep_per_example_files_out_of_git():
    """Per-example files (predictions, HAMR's hardness table: each training example's label) stay out of git."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    for folder in ("cpu", "screens", "single"):
        base = f"benchmarks/results/{folder}/runs/d/hamr/seed1"
        paths = [f"{base}/hamr_examples.tsv", f"{base}/test_predictions.tsv", f"{base}/metrics.json"]
        res = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=root, capture_output=True, text=True)
        assert res.stdout.split() == paths[:2], (folder, res.stdout, res.stderr)


# ------------------------------------------------------------------------------------------- CLI


def test_cli_dry_run_and_errors(tmp_path):
    from typer.testing import CliRunner

    from hamr.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["bench", "run", str(CONFIGS / "smoke.json"), "--out", str(tmp_path / "o"), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "2 runs" in res.output and not (tmp_path / "o").exists()
    bad = _write(tmp_path, _protocol(methods=["erm", "magic"]), "bad.json")
    res = runner.invoke(app, ["bench", "run", str(bad), "--dry-run"])
    assert res.exit_code == 2 and "methods[1].method" in res.output
    res = runner.invoke(app, ["bench", "run", str(CONFIGS / "smoke.json"), "--seeds", "42,x", "--dry-run"])
    assert res.exit_code == 2 and "--seeds: expected whole numbers, got 'x'" in res.output


def test_jobs_run_side_by_side_and_each_finished_run_is_saved(tmp_path, quiet):
    import threading
    import time as _time

    protocol = load_protocol(_write(tmp_path, _protocol(seeds=[1, 2])))
    specs = expand_grid(protocol, only_datasets=["humaid_idai19"])
    values = {("humaid_idai19", e, s): (0.5,) for e in ("erm", "hamr", "hamr_wo_awe") for s in (1, 2)}
    inner = fake_runner(values)
    live, peak, lock = [0], [0], threading.Lock()

    def slow(spec, folder):
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        _time.sleep(0.2)
        with lock:
            live[0] -= 1
        return inner(spec, folder)

    out = tmp_path / "r"
    counts = run_grid(protocol, out, specs, runner=slow, jobs=2)
    assert counts["finished"] == 6 and counts["failed"] == 0
    assert peak[0] == 2  # two at a time, never more
    assert len(json.loads((out / "summary.json").read_text())) == 6
    done = json.loads((out / "runs" / "humaid_idai19" / "erm" / "seed2" / "done.json").read_text())
    assert done["concurrent_jobs"] == 2
    assert not (out / "bench.lock").exists()
    with pytest.raises(ValueError, match="jobs"):
        run_grid(protocol, out, specs, runner=slow, jobs=0)


def test_estimates_prefer_the_runs_measured_here(tmp_path, quiet):
    """A finished run's machine seconds (wall / concurrent jobs) replace the cost model for its entry; an
    unfinished entry of the same dataset and settings scales the measured ERM run by its cost factor."""
    protocol = load_protocol(_write(tmp_path, _protocol(seeds=[1])))
    specs = {s.entry: s for s in expand_grid(protocol, only_datasets=["humaid_idai19"])}
    out = tmp_path / "r"
    run_grid(protocol, out, [specs["erm"]], runner=fake_runner({("humaid_idai19", "erm", 1): (0.5,)}), jobs=1)
    done_path = out / "runs" / "humaid_idai19" / "erm" / "seed1" / "done.json"
    done = json.loads(done_path.read_text())
    done.update(wall_seconds=300.0, concurrent_jobs=2)
    done_path.write_text(json.dumps(done))
    measured = bench.measured_costs(out)
    assert list(measured.values()) == [150.0]
    assert bench.estimate_seconds(specs["erm"], measured) == 150.0
    assert bench.estimate_seconds(specs["hamr"], measured) == pytest.approx(150.0 * get_method("hamr").cost_factor)
    model = bench.estimate_seconds(specs["hamr"])
    assert model is not None and model != bench.estimate_seconds(specs["hamr"], measured)
    other = dict(specs["erm"].settings, max_length=32)  # other settings: nothing measured, the cost model
    spec32 = bench.RunSpec(**{**specs["erm"].__dict__, "settings": other})
    assert bench.estimate_seconds(spec32, measured) == bench.estimate_seconds(spec32)


def test_a_protocol_edited_after_its_runs_finished_is_refused(tmp_path):
    """A finished run is skipped by a re-run; if the protocol's settings changed since, skipping it would mix
    two protocols in one report, so the bench stops and names the run and what differs."""
    from typer.testing import CliRunner

    from hamr.cli import app

    first = _write(tmp_path, _protocol(seeds=[1]), "p.json")
    protocol = load_protocol(first)
    specs = expand_grid(protocol, only_datasets=["humaid_idai19"], only_methods=["erm"])
    out = tmp_path / "r"
    run_grid(protocol, out, specs, runner=fake_runner({("humaid_idai19", "erm", 1): (0.5,)}))
    bench.check_finished_runs(specs, out)  # unchanged: fine
    raw = _protocol(seeds=[1])
    raw["settings"]["max_length"] = 2 * protocol.settings["max_length"]
    edited = load_protocol(_write(tmp_path, raw, "p2.json"))
    specs2 = expand_grid(edited, only_datasets=["humaid_idai19"], only_methods=["erm"])
    with pytest.raises(ProtocolError, match=r"seed1/done.json: max_length"):
        run_grid(edited, out, specs2, runner=fake_runner({}))
    res = CliRunner().invoke(app, ["bench", "run", str(tmp_path / "p2.json"), "--out", str(out), "--dry-run",
                                   "--only-datasets", "humaid_idai19", "--only-methods", "erm"])
    assert res.exit_code == 2 and "other settings" in res.output
    res = CliRunner().invoke(app, ["bench", "run", str(tmp_path / "p2.json"), "--out", str(out),
                                   "--only-datasets", "humaid_idai19", "--only-methods", "erm"])
    assert res.exit_code == 2 and "other settings" in res.output  # a real run stops before running anything


def test_the_validation_holdout_is_a_protocol_setting_and_old_runs_count_as_holdout_zero(tmp_path):
    """validation_holdout changes HAMR's meta set, so a protocol states it (default: RunConfig's 0.5). A finished
    run that did not record it is read from its metrics.json: without a ``validation_holdout`` block it held
    nothing out (every run made before issue 22), so it is stale under 0.5 and current under 0."""
    first = load_protocol(_write(tmp_path, _protocol(seeds=[1]), "p.json"))
    assert first.settings["validation_holdout"] == 0.5
    specs = expand_grid(first, only_datasets=["humaid_idai19"], only_methods=["erm"])
    out = tmp_path / "r"
    run_grid(first, out, specs, runner=fake_runner({("humaid_idai19", "erm", 1): (0.5,)}))
    done = specs[0].folder(out) / "done.json"
    record = json.loads(done.read_text())
    del record["settings"]["validation_holdout"]  # as a run from before the setting existed
    done.write_text(json.dumps(record))
    with pytest.raises(ProtocolError, match=r"validation_holdout 0\.0 -> 0\.5"):
        bench.check_finished_runs(specs, out)  # its metrics.json has no hold-out block: it held nothing out
    raw = _protocol(seeds=[1])
    raw["settings"]["validation_holdout"] = 0.0
    pinned = load_protocol(_write(tmp_path, raw, "p0.json"))
    bench.check_finished_runs(expand_grid(pinned, only_datasets=["humaid_idai19"], only_methods=["erm"]), out)
    metrics = specs[0].folder(out) / "metrics.json"
    metrics.write_text(json.dumps({**json.loads(metrics.read_text()), "validation_holdout": {"fraction": 0.5}}))
    bench.check_finished_runs(specs, out)  # a run that recorded its hold-out in metrics.json
    raw["settings"]["validation_holdout"] = 1.0
    with pytest.raises(ProtocolError, match="validation_holdout"):
        load_protocol(_write(tmp_path, raw, "bad.json"))


def test_decision_offsets_is_a_protocol_setting_and_old_runs_count_as_none(tmp_path):
    """decision_offsets (session 24) changes every score, so a protocol states it (default: the library's,
    auto since session 29). A finished run that did not record it counts as none (the setting did not exist),
    unless its metrics.json names a form: under the auto default such a run is stale, under an explicit none
    it is current."""
    assert load_protocol(_write(tmp_path, _protocol(seeds=[1]), "p0.json")).settings["decision_offsets"] == "auto"
    raw = _protocol(seeds=[1])
    raw["settings"]["decision_offsets"] = "none"
    first = load_protocol(_write(tmp_path, raw, "p.json"))
    specs = expand_grid(first, only_datasets=["humaid_idai19"], only_methods=["erm"])
    out = tmp_path / "r"
    run_grid(first, out, specs, runner=fake_runner({("humaid_idai19", "erm", 1): (0.5,)}))
    done = specs[0].folder(out) / "done.json"
    record = json.loads(done.read_text())
    del record["settings"]["decision_offsets"]  # as a run from before the setting existed
    done.write_text(json.dumps(record))
    bench.check_finished_runs(specs, out)  # counts as none: current
    by_default = load_protocol(_write(tmp_path, _protocol(seeds=[1]), "p0.json"))
    with pytest.raises(ProtocolError, match=r"decision_offsets 'none' -> 'auto'"):
        bench.check_finished_runs(expand_grid(by_default, only_datasets=["humaid_idai19"], only_methods=["erm"]), out)
    raw["settings"]["decision_offsets"] = "macro_f1"
    fitted = load_protocol(_write(tmp_path, raw, "p1.json"))
    specs1 = expand_grid(fitted, only_datasets=["humaid_idai19"], only_methods=["erm"])
    with pytest.raises(ProtocolError, match=r"decision_offsets 'none' -> 'macro_f1'"):
        bench.check_finished_runs(specs1, out)
    metrics = specs[0].folder(out) / "metrics.json"
    metrics.write_text(json.dumps({**json.loads(metrics.read_text()), "decision_offsets": {"form": "macro_f1"}}))
    bench.check_finished_runs(specs1, out)  # its metrics.json says which form it fitted
    raw["settings"]["decision_offsets"] = "sometimes"
    with pytest.raises(ProtocolError, match="decision_offsets"):
        load_protocol(_write(tmp_path, raw, "bad.json"))


def test_a_finished_run_whose_method_defaults_changed_since_is_refused(tmp_path):
    """A library default the method reads (HAMR's oversample here) changed after the run: skipping it would
    mix two versions of the method in one report. A default only another method reads (Dice's smoothing, for
    an ERM run) does not make the run stale; nor does a field the run did not record."""
    from hamr import pipeline

    protocol = load_protocol(_write(tmp_path, _protocol(seeds=[1]), "p.json"))
    specs = expand_grid(protocol, only_datasets=["humaid_idai19"], only_methods=["erm", "hamr"])
    out = tmp_path / "r"
    run_grid(protocol, out, specs, runner=fake_runner({("humaid_idai19", "erm", 1): (0.5,),
                                                       ("humaid_idai19", "hamr", 1): (0.6,)}))
    by = {s.entry: s for s in specs}
    for entry, edit in (("erm", {"dice_smooth": "1.0"}), ("hamr", {"meta_interval": "2", "wnet_inputs": "x"})):
        spec = by[entry]
        recorded = pipeline.current_method_settings(spec.method, spec.options)
        if entry == "hamr":
            recorded.pop("wnet_inputs")  # a field added after the run: not compared
        recorded.update({k: v for k, v in edit.items() if k in recorded or entry == "erm"})
        path = spec.folder(out) / "metrics.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "method_settings": recorded}))
    bench.check_finished_runs([by["erm"]], out)  # dice_smooth does not concern ERM
    with pytest.raises(ProtocolError, match=r"hamr/seed1/done.json: default meta_interval '2' -> '3'$"):
        bench.check_finished_runs(specs, out)
    hamr_settings = pipeline.current_method_settings("hamr", {})
    assert hamr_settings["oversample"] == "1.0" and "dice_smooth" not in hamr_settings
    assert pipeline.current_method_settings("focal", {}) == {"focal_gamma": "2.0", "effective_number_beta": "0.9999"}
    assert pipeline.current_method_settings("icf", {}) == {}


def test_a_finished_hamr_run_whose_task_dependent_default_changed_since_is_refused(tmp_path):
    """HAMR leaves τ, λ, the weight net's lr ... at None and resolves them by task (``resolved``); a run records
    the values it used (``resolved_method_settings``), so a change there is caught too, per task. The meta
    batch size follows the protocol's batch size, which the protocol check already compares."""
    from hamr import pipeline
    from hamr.enums import TaskType
    from hamr.methods.hamr import HAMRArguments

    args = HAMRArguments(output_dir=str(tmp_path / "a"), report_to=[], use_cpu=True, per_device_train_batch_size=16)
    used = pipeline._resolved_method_settings(args, TaskType.CLASSIFICATION)
    assert used["class_prior_power"] == "0.5" and used["knn_lambda"] == "0.0" and used["meta_batch_size"] == "16"
    assert pipeline._resolved_method_settings(args, TaskType.NER)["class_prior_power"] == "1.0"
    assert pipeline.current_resolved_settings("hamr", {"faithful": True}, "ner")["knn_lambda"] == "0.1"
    assert pipeline.current_resolved_settings("erm", {}, "classification") == {}
    assert pipeline.current_resolved_settings("hamr", {"knn_lambda": 0.3}, "ner")["knn_lambda"] == "0.3"

    protocol = load_protocol(_write(tmp_path, _protocol(seeds=[1]), "p.json"))
    specs = expand_grid(protocol, only_datasets=["humaid_idai19"], only_methods=["hamr"])
    out = tmp_path / "r"
    run_grid(protocol, out, specs, runner=fake_runner({("humaid_idai19", "hamr", 1): (0.6,)}))
    spec, path = specs[0], specs[0].folder(out) / "metrics.json"

    def record(task, **edit):
        resolved = {**pipeline.current_resolved_settings(spec.method, spec.options, task), "meta_batch_size": "99"}
        resolved.update(edit)
        path.write_text(json.dumps({**json.loads(path.read_text()), "task": task,
                                    "method_settings": pipeline.current_method_settings(spec.method, spec.options),
                                    "resolved_method_settings": resolved}))

    record("classification")
    bench.check_finished_runs(specs, out)  # as now (the meta batch size is the protocol's business)
    record("classification", class_prior_power="0.25")
    with pytest.raises(ProtocolError, match=r"classification default class_prior_power '0.25' -> '0.5'$"):
        bench.check_finished_runs(specs, out)
    record("ner")  # the same values are right for an NER run: τ 1 there
    bench.check_finished_runs(specs, out)

    # a value recorded only since a later session is filled in as the run's code had it (HAMRArguments.
    # unrecorded_resolved): before session 34 class_residual always had the per-example residual, now off
    def record_before_34(task):
        record(task)
        metrics = json.loads(path.read_text())
        metrics["resolved_method_settings"].pop("uses_example_residual")
        path.write_text(json.dumps(metrics))

    record_before_34("ner")
    with pytest.raises(ProtocolError, match=r"ner default uses_example_residual 'True' -> 'False'$"):
        bench.check_finished_runs(specs, out)
    record_before_34("classification")  # the weight net there: it never had the residual
    bench.check_finished_runs(specs, out)


def test_subprocess_runner_sets_the_threads_of_a_run(tmp_path, monkeypatch):
    seen = {}

    class FakePopen:
        def __init__(self, cmd, stdout, stderr, env):
            seen.update(env)

        def wait(self, timeout=None):
            return 0

        def poll(self):
            return 0

    from hamr.bench import grid

    monkeypatch.setattr(grid.subprocess, "Popen", FakePopen)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    spec = expand_grid(load_protocol(_write(tmp_path, _protocol(seeds=[1]))))[0]
    assert bench.subprocess_runner(spec, tmp_path, threads=1) == 0
    assert seen["OMP_NUM_THREADS"] == "1" and seen["MKL_NUM_THREADS"] == "1"
    seen.clear()
    bench.subprocess_runner(spec, tmp_path)
    assert "OMP_NUM_THREADS" not in seen


def test_bench_run_ray_option_dispatches_to_ray(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from hamr.bench import ray as distributed
    from hamr.cli import app

    seen = {}

    def fake_ray(protocol, out, specs, address=None, *, num_cpus=1, num_gpus=0, **kw):
        seen.update(address=address, n=len(specs), num_cpus=num_cpus, num_gpus=num_gpus, out=str(out))
        return {"total": len(specs), "skipped": 0, "finished": len(specs), "failed": 0, "restarted": 0}

    monkeypatch.setattr(distributed, "run_bench_on_ray", fake_ray)
    res = CliRunner().invoke(app, ["bench", "run", str(CONFIGS / "smoke.json"), "--out", str(tmp_path / "o"),
                                   "--ray", "auto", "--ray-cpus", "2", "--ray-gpus", "1"])
    assert res.exit_code == 0, res.output
    assert seen["address"] == "auto" and seen["num_cpus"] == 2 and seen["num_gpus"] == 1 and seen["n"] > 0

    def missing(*a, **k):
        raise ImportError(distributed.RAY_MISSING)

    monkeypatch.setattr(distributed, "run_bench_on_ray", missing)
    res = CliRunner().invoke(app, ["bench", "run", str(CONFIGS / "smoke.json"), "--out", str(tmp_path / "o"),
                                   "--ray", "local"])
    assert res.exit_code == 1 and "pip install ray" in res.output


@pytest.mark.parametrize("bad", ["..", ".", "", "a/b", "/tmp/x", "../up"])
@pytest.mark.parametrize("field", ["name", "methods[0].name"])
def test_protocol_and_entry_names_must_be_plain_file_names(tmp_path, bad, field):
    change = {"name": bad} if field == "name" else {"methods": [{"name": bad, "method": "erm"}]}
    path = _write(tmp_path, _protocol(**change), "bad.json")
    with pytest.raises(ProtocolError) as err:
        load_protocol(path)
    assert str(err.value).startswith(f"{path}: {field}: {bad!r} is not a valid"), str(err.value)
    assert "plain file name" in str(err.value)


def test_an_entry_given_as_dot_dot_string_is_refused(tmp_path):
    path = _write(tmp_path, _protocol(methods=[".."]), "bad.json")
    with pytest.raises(ProtocolError, match=r"methods\[0\]\.name: '\.\.' is not a valid entry name"):
        load_protocol(path)
    assert load_protocol(_write(tmp_path, _protocol(name="a.b-c_1"), "ok.json")).name == "a.b-c_1"
