"""`hamr train --config` and `hamr options`: every run setting and method field from a file, flags over the file,
-o over both, unknown keys named with the file; the list of fields read off the dataclasses."""

from __future__ import annotations

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from hamr import HAMRArguments, ImbalanceArguments, RunConfig, pipeline
from hamr.cli import app
from hamr.config_file import ConfigError, list_fields, load, resolve
from hamr.enums import CheckpointEvery, LookaheadScope, Method

runner = CliRunner()


def test_yaml_and_json_configs_give_typed_settings_and_options(tmp_path):
    y = tmp_path / "run.yaml"
    y.write_text("dataset: humaid_idai19\nmethod: hamr\nepochs: 2\nmax-length: 32\nlr: 1e-4\n"
                 "lookahead_scope: head\noptions: {meta_interval: 2}\nreport_to: tensorboard\n")
    run, options = load(y)
    assert run == {"dataset": "humaid_idai19", "method": Method.HAMR, "epochs": 2.0, "max_length": 32,
                   "learning_rate": 1e-4}
    assert options == {"lookahead_scope": LookaheadScope.HEAD, "meta_interval": 2, "report_to": "tensorboard"}
    j = tmp_path / "run.json"
    j.write_text(json.dumps({"train": "a.csv", "task": "classification", "data_options": {"text_column": "b"},
                             "focal_gamma": 3, "method": "focal"}))
    run, options = load(j)
    assert run["train_file"] == "a.csv" and run["data_options"] == {"text_column": "b"} and options == {"focal_gamma": 3.0}


@pytest.mark.parametrize("text, words", [
    ("dataset: sst5\nlookahed_scope: head\n", r"run.yaml: lookahed_scope: unknown key"),
    ("method: erm\nlookahead_scope: head\n", r"run.yaml: lookahead_scope: unknown key.*ImbalanceArguments \(method erm\)"),
    ("method: hamr\noptions: {meta_intervall: 2}\n", r"run.yaml: options.meta_intervall: unknown option"),
    ("epochs: many\n", r"run.yaml: epochs: could not convert|run.yaml: epochs"),
    ("max_length: 2.5\n", r"run.yaml: max_length: expected an integer"),
    ("method: hamr\nlookahead_scope: everything\n", r"run.yaml: lookahead_scope: LookaheadScope"),
    ("- a\n- b\n", r"run.yaml: expected a mapping"),
])
def test_bad_configs_name_the_file_and_the_key(tmp_path, text, words):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words):
        load(path)


def test_every_run_setting_and_every_method_field_is_accepted():
    for f in dataclasses.fields(RunConfig):
        value = {} if f.name in ("data_options", "options") else (
            f.default if f.default is not dataclasses.MISSING else None)
        if f.name == "options":
            continue
        run, _ = resolve({f.name: value}, "x.yaml")
        assert f.name in run
    for cls, method in ((HAMRArguments, "hamr"), (ImbalanceArguments, "focal")):
        for f in dataclasses.fields(cls):
            if not f.init or f.name in {g.name for g in dataclasses.fields(RunConfig)}:
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            _, options = resolve({"method": method, f.name: default}, "x.yaml")
            assert f.name in options, f.name


@pytest.fixture
def captured(monkeypatch):
    seen = []
    monkeypatch.setattr(pipeline, "run", lambda config, **kw: seen.append(config) or {})
    return seen


def test_cli_flags_override_the_file_and_options_override_both(tmp_path, captured):
    path = tmp_path / "run.yaml"
    path.write_text("dataset: humaid_idai19\nmethod: hamr\nepochs: 1\nmax_length: 32\nbatch_size: 8\n"
                    "lookahead_scope: head\noptions: {meta_interval: 2, knn_k: 7}\n")
    r = runner.invoke(app, ["train", "--config", str(path), "--epochs", "2", "-o", "meta_interval=5",
                            "--report-to", "tensorboard"])
    assert r.exit_code == 0, r.output
    config = captured[-1]
    assert config.epochs == 2.0  # the flag wins
    assert config.max_length == 32 and config.batch_size == 8 and config.method == Method.HAMR  # from the file
    assert config.options == {"lookahead_scope": LookaheadScope.HEAD, "meta_interval": 5, "knn_k": 7,
                              "report_to": "tensorboard"}
    r = runner.invoke(app, ["train", "--config", str(path), "--method", "erm"])  # a HAMR field under ERM
    assert r.exit_code == 2 and "lookahead_scope" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dataset": "sst5", "colour": "red"}))
    r = runner.invoke(app, ["train", "--config", str(bad)])
    assert r.exit_code == 2 and "colour" in r.output and "bad.json" in r.output


def test_checkpoint_resume_and_unseen_labels_come_from_the_file_unless_a_flag_is_given(tmp_path, captured):
    """The file's checkpoint_every, resume and unseen_labels reach the run (they were overwritten by the flags'
    defaults); an explicit flag still wins."""
    path = tmp_path / "run.yaml"
    # unseen_labels applies to data files (a benchmark has a fixed label set and refuses it)
    path.write_text(f"train: {tmp_path / 'train.csv'}\ntask: classification\nmethod: erm\ncheckpoint_every: steps\n"
                    "checkpoint_steps: 7\nunseen_labels: drop\n")
    r = runner.invoke(app, ["train", "--config", str(path)])
    assert r.exit_code == 0, r.output
    config = captured[-1]
    assert (config.checkpoint_every, config.checkpoint_steps, config.unseen_labels) == (CheckpointEvery.STEPS, 7,
                                                                                         "drop")
    r = runner.invoke(app, ["train", "--config", str(path), "--checkpoint-every", "epoch", "--unseen-labels", "error"])
    assert r.exit_code == 0, r.output
    config = captured[-1]
    assert (config.checkpoint_every, config.checkpoint_steps, config.unseen_labels) == (CheckpointEvery.EPOCH, None,
                                                                                         None)
    plain = tmp_path / "plain.yaml"
    plain.write_text("dataset: humaid_idai19\nmethod: gbc\n")
    r = runner.invoke(app, ["train", "--config", str(plain)])
    assert r.exit_code == 0, r.output
    assert captured[-1].checkpoint_every == CheckpointEvery.NONE  # gbc cannot resume: no checkpoints by default


def test_options_lists_every_field_with_type_default_and_help():
    names = [f.name for f in list_fields()]
    assert names[: len(dataclasses.fields(RunConfig))] == [f.name for f in dataclasses.fields(RunConfig)]
    own_hamr = {f.name for f in dataclasses.fields(HAMRArguments)} - {f.name for f in dataclasses.fields(ImbalanceArguments)}
    assert own_hamr <= set(names) and "focal_gamma" in names and "report_to" in names
    hamr_only = {f.name: f for f in list_fields("hamr")}
    assert "focal_gamma" not in hamr_only and hamr_only["oversample"].default == "None" and hamr_only["meta_interval"].default == "None"
    assert hamr_only["lookahead_scope"].type.startswith("all | head")
    assert all(f.help for f in list_fields("hamr") if f.group == "HAMRArguments")
    focal = [f.name for f in list_fields("focal") if f.group == "FocalArguments"]
    assert focal == ["focal_gamma", "effective_number_beta"]
    r = runner.invoke(app, ["options", "--method", "hamr", "--json"])
    assert r.exit_code == 0 and len(json.loads(r.output)) == len(hamr_only)
    assert len(list_fields("hamr", transformers_fields=True)) > len(hamr_only) + 50
