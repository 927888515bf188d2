"""Issue 20 items 4, 5, 6, 9, 10: meaningless runs are refused, output folders do not mix runs, writes are atomic,
an interrupted run resumes to the same result, input errors are one line with exit code 2, unseen evaluation
labels are listed in one message and can be dropped or mapped (never silently)."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from hamr import pipeline
from hamr.cli import app
from hamr.data import DataBundle, DataError, Split, UnseenLabelsError, load_files
from hamr.enums import CheckpointEvery, TaskType
from hamr.errors import InputError, SettingError
from hamr.run_outputs import (
    CHECKPOINT_MARKER,
    RUN_OUTPUTS,
    atomic_folder,
    atomic_write_text,
    clear_run_outputs,
    latest_complete_checkpoint,
)
from hamr import (
    EffectiveNumberArguments,
    GBCArguments,
    HAMRArguments,
    ImbalanceArguments,
    LogitAdjustmentArguments,
    MetaBalanceArguments,
)

runner = CliRunner()




def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def first_error_line(result) -> str:
    lines = [ln for ln in (result.stderr or result.output).splitlines() if ln.strip()]
    return lines[0] if lines else ""


# ------------------------------------------------------------------------------------------- item 4: sizes

@pytest.mark.parametrize("args, field", [
    (["--epochs", "0"], "RunConfig.epochs"),
    (["--epochs", "-1"], "RunConfig.epochs"),
    (["--lr", "-1e-5"], "RunConfig.learning_rate"),
    (["--limit", "0"], "'--limit'"),
    (["--limit", "-5"], "'--limit'"),
    (["--max-length", "0"], "'--max-length'"),
    (["--batch-size", "0"], "'--batch-size'"),
    (["--max-train-examples", "0"], "'--max-train-examples'"),
    (["--seed", "-1"], "'--seed'"),
    (["--checkpoint-every", "0"], "--checkpoint-every"),
    (["--checkpoint-every", "sometimes"], "--checkpoint-every"),
    (["-o", "resume_from_checkpoint=runs/x"], "resume_from_checkpoint"),
    (["--method", "lnr", "--checkpoint-every", "epoch"], "cannot checkpoint"),
])
def test_meaningless_sizes_are_refused_at_the_cli(tmp_path, args, field):
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", "--dataset", "humaid_idai19", "--output-dir", str(out), *args])
    assert r.exit_code == 2, r.output
    assert field in r.output
    assert "Traceback" not in r.output
    assert not out.exists()  # nothing was trained or written


@pytest.mark.parametrize("kw, message", [
    (dict(epochs=0), "RunConfig.epochs must be a number > 0"),
    (dict(limit=0), "RunConfig.limit must be an int >= 1"),
    (dict(limit=-5), "RunConfig.limit must be an int >= 1"),
    (dict(max_length=0), "RunConfig.max_length must be an int >= 3"),
    (dict(batch_size=0), "RunConfig.batch_size must be an int >= 1"),
    (dict(learning_rate=0.0), "RunConfig.learning_rate must be a number > 0"),
    (dict(max_train_examples=0), "RunConfig.max_train_examples"),
    (dict(checkpoint_every="steps"), "RunConfig.checkpoint_steps"),
    (dict(checkpoint_every="epoch", checkpoint_steps=5), "RunConfig.checkpoint_steps is set"),
    (dict(unseen_labels="map"), "map:FILE"),
    (dict(unseen_labels="sometimes"), "UnseenLabels"),
    (dict(unseen_labels="drop"), "applies to data read from files .*the benchmark 'humaid_idai19' has a fixed"),
])
def test_run_config_validates_sizes(kw, message):
    with pytest.raises(InputError, match=message):
        pipeline.RunConfig(dataset="humaid_idai19", **kw)


@pytest.mark.parametrize("cls, kw, message", [
    (ImbalanceArguments, dict(num_train_epochs=0), "ImbalanceArguments.num_train_epochs must be > 0"),
    (ImbalanceArguments, dict(per_device_train_batch_size=0), "per_device_train_batch_size must be >= 1"),
    (ImbalanceArguments, dict(learning_rate=-1e-3), "ImbalanceArguments.learning_rate must be >= 0"),
    (GBCArguments, dict(gbc_meta_size=0), "GBCArguments.gbc_meta_size must be >= 1"),
    (EffectiveNumberArguments, dict(effective_number_beta=1.0), r"effective_number_beta must be in \[0, 1\)"),
    (MetaBalanceArguments, dict(metabalance_outer_batches=0), "metabalance_outer_batches must be >= 1"),
    (LogitAdjustmentArguments, dict(logit_adjustment_tau=-1.0), "logit_adjustment_tau must be >= 0"),
    (HAMRArguments, dict(meta_batch_size=0), "HAMRArguments.meta_batch_size must be >= 1"),
    (HAMRArguments, dict(wnet_lr=0.0), "HAMRArguments.wnet_lr must be > 0"),
    (HAMRArguments, dict(memory_gamma=1.5), r"HAMRArguments.memory_gamma must be in \[0, 1\)"),
])
def test_method_arguments_validate_sizes(tmp_path, cls, kw, message):
    with pytest.raises(SettingError, match=message):
        cls(output_dir=str(tmp_path), report_to=[], use_cpu=True, **kw)


def test_one_class_and_entity_free_training_sets_are_refused(tmp_path):
    one = write(tmp_path / "one.tsv", "text\tlabel\n" + "".join(f"t{i}\tx\n" for i in range(6)))
    r = runner.invoke(app, ["train", "--train", str(one), "--validation", str(one), "--task", "classification",
                            "--output-dir", str(tmp_path / "o1")])
    assert r.exit_code == 2
    assert f"error: {one}: the training split has a single class ('x', 6 examples)" in r.output
    o_only = write(tmp_path / "o.conll", "a\tO\nb\tO\n\nc\tO\n\n")
    r = runner.invoke(app, ["train", "--train", str(o_only), "--validation", str(o_only), "--task", "ner",
                            "--output-dir", str(tmp_path / "o2")])
    assert r.exit_code == 2
    assert "has no entity (all 2 sentences are tagged O)" in r.output


# ------------------------------------------------------------------------------------ item 9: clean errors

def test_missing_model_path_names_the_path_not_the_hub(tmp_path):
    missing = tmp_path / "no" / "such" / "model"
    r = runner.invoke(app, ["train", "--dataset", "humaid_idai19", "--limit", "8", "--model", str(missing),
                            "--output-dir", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert first_error_line(r) == f"error: {missing}: model folder does not exist"
    assert "HF_HUB_OFFLINE" not in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) <= 2
    r = runner.invoke(app, ["evaluate", str(missing), "--dataset", "humaid_idai19"])
    assert r.exit_code == 2 and first_error_line(r) == f"error: {missing}: model folder does not exist"


def test_data_errors_are_one_line_and_debug_shows_the_traceback(tmp_path):
    bad = write(tmp_path / "bad.conll", "a\tB-X\nb\n\n")
    args = ["train", "--train", str(bad), "--task", "ner", "--output-dir", str(tmp_path / "o")]
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    assert first_error_line(r).startswith(f"error: {bad}:2")
    assert "Traceback" not in r.output
    r = runner.invoke(app, ["--debug", *args])
    assert r.exit_code != 0 and isinstance(r.exception, DataError)  # re-raised for the traceback
    r = runner.invoke(app, ["train", "--train", str(tmp_path / "missing.tsv"), "--task", "classification"])
    assert r.exit_code == 2 and "missing.tsv" in first_error_line(r)
    r = runner.invoke(app, ["train", "--dataset", "no_such_benchmark"])
    assert r.exit_code == 2 and first_error_line(r).startswith("error: unknown benchmark 'no_such_benchmark'")


def test_hamr_error_classes_are_input_errors():
    """Every error a user can cause is an InputError (the CLI's one-line exit 2), and still a ValueError."""
    from hamr.bench.protocol import ProtocolError
    from hamr.compare import CompareError
    from hamr.config_file import ConfigError
    from hamr.options import OptionError
    from hamr.predict import ModelDirError

    from hamr.tasks import TokenizerMismatchError

    for cls in (DataError, UnseenLabelsError, OptionError, ProtocolError, CompareError, ConfigError, ModelDirError,
                SettingError, TokenizerMismatchError):
        assert issubclass(cls, InputError) and issubclass(cls, ValueError), cls


def test_a_plain_error_inside_a_run_is_a_bug_not_an_input_error(tmp_path, monkeypatch):
    """A ValueError that is not an InputError (say, from torch or a bug in hamr) is not reported as bad input:
    exit code 1, a line saying so, and the exception itself (its traceback) rather than a one-line message."""
    def broken_run(config, say=print):
        raise ValueError("shapes (3,) and (4,) not aligned")

    monkeypatch.setattr(pipeline, "run", broken_run)
    r = runner.invoke(app, ["train", "--dataset", "humaid_idai19", "--limit", "8", "--output-dir", str(tmp_path / "o")])
    assert r.exit_code == 1, r.output
    assert "unexpected ValueError" in first_error_line(r) and "report it" in first_error_line(r)
    assert isinstance(r.exception, ValueError) and not isinstance(r.exception, InputError)
    assert "error: shapes" not in r.output  # not dressed up as an input error


@pytest.mark.parametrize("args, code", [(["train", "--help"], 0), (["train", "--epochs", "0"], 2), (["bench"], 2)])
def test_help_usage_errors_and_exits_are_not_taken_for_bugs(args, code):
    """--help, usage errors and typer.Exit are the command's own exits (typer vendors click: its exceptions are not
    click's), so they pass through without the bug line."""
    r = runner.invoke(app, args)
    assert r.exit_code == code, r.output
    assert "unexpected" not in r.output


# ------------------------------------------------------------------------------- item 10: unseen labels

def _unseen_files(tmp_path):
    train = write(tmp_path / "train.tsv", "text\tlabel\n" + "".join(f"t{i}\t{'ab'[i % 2]}\n" for i in range(8)))
    dev = write(tmp_path / "dev.tsv", "text\tlabel\nd1\ta\nd2\tz\nd3\tq\nd4\tz\nd5\tb\nd6\tz\nd7\tz\n")
    return train, dev


def test_every_unseen_label_in_one_message(tmp_path):
    train, dev = _unseen_files(tmp_path)
    with pytest.raises(UnseenLabelsError) as err:
        load_files("classification", train, validation=dev)
    msg = str(err.value)
    assert "2 label(s) never seen in training, in 5 example(s)" in msg
    assert f"'z' x4 ({dev}:3, {dev}:5, {dev}:7, ...)" in msg and f"'q' x1 ({dev}:4)" in msg
    assert err.value.unseen == {"z": [1, 3, 5, 6], "q": [2]}


def test_unseen_labels_drop_and_map(tmp_path):
    train, dev = _unseen_files(tmp_path)
    dropped = load_files("classification", train, validation=dev, unseen_labels="drop")
    assert dropped.validation.texts == ["d1", "d5"]
    assert dropped.unseen_report == {"validation": {"policy": "drop", "dropped_examples": 5, "kept_examples": 2,
                                                    "labels": {"q": 1, "z": 4}}}
    mapping = write(tmp_path / "map.tsv", "# unseen\tknown\nz\ta\nq\tb\n")
    mapped = load_files("classification", train, validation=dev, unseen_labels=f"map:{mapping}")
    assert mapped.validation.labels == ["a", "a", "b", "a", "b", "a", "a"]
    assert mapped.unseen_report["validation"]["labels"] == {"q": "b", "z": "a"}
    partial = write(tmp_path / "partial.tsv", "z\ta\n")
    with pytest.raises(DataError, match=r"partial\.tsv: after mapping.*'q' x1"):
        load_files("classification", train, validation=dev, unseen_labels=f"map:{partial}")
    bad = write(tmp_path / "bad.tsv", "z a b\n")
    with pytest.raises(DataError, match=r"bad\.tsv:1: expected two columns"):
        load_files("classification", train, validation=dev, unseen_labels=f"map:{bad}")


def test_unseen_ner_types_drop_sentences():
    train = Split("train", TaskType.NER, [["B-PER", "O"]], tokens=[["a", "b"]])
    test = Split("test", TaskType.NER, [["B-LOC", "I-LOC"], ["B-PER", "O"]], tokens=[["c", "d"], ["e", "f"]])
    bundle = DataBundle("x", TaskType.NER, train, test=test, unseen_labels="drop")
    assert bundle.test.tokens == [["e", "f"]]
    assert bundle.unseen_report["test"]["labels"] == {"B-LOC": 1, "I-LOC": 1}


def test_cli_drop_reports_in_metrics_and_on_screen(tiny_models, tmp_path):
    train, dev = _unseen_files(tmp_path)
    out = tmp_path / "run"
    base = ["train", "--train", str(train), "--validation", str(dev), "--test", str(dev), "--task",
            "classification", "--epochs", "1", "--max-length", "16", "--output-dir", str(out), "--no-save-model",
            "-o", "disable_tqdm=true"]
    r = runner.invoke(app, base)
    assert r.exit_code == 2 and "2 label(s) never seen in training" in r.output
    r = runner.invoke(app, base + ["--unseen-labels", "drop"])
    assert r.exit_code == 0, r.output
    assert "validation: dropped 5 example(s) with labels never seen in training (q x1, z x4)" in r.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["unseen_labels"]["test"]["dropped_examples"] == 5
    assert metrics["test_examples"] == 2


def test_cli_evaluate_drops_labels_the_model_does_not_know(tiny_models, tmp_path):
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", "--dataset", "humaid_idai19", "--limit", "16", "--epochs", "1", "--max-length",
                            "16", "--output-dir", str(out), "--checkpoint-every", "none", "-o", "disable_tqdm=true"])
    assert r.exit_code == 0, r.output
    rows = "help us\tsympathy_and_support\nroad closed\tnew_intent\nwater please\tnew_intent\n" \
           "bridge down\tinfrastructure_and_utility_damage\n"
    data = write(tmp_path / "eval.tsv", "text\tlabel\n" + rows * 5)  # (evaluate carves 10% as validation)
    base = ["evaluate", str(out / "model"), "--test", str(data), "--task", "classification", "--max-length", "16"]
    r = runner.invoke(app, base)
    assert r.exit_code == 2 and f"'new_intent' x10 ({data}:3, {data}:4, {data}:7, ...)" in r.output
    r = runner.invoke(app, base + ["--unseen-labels", "drop", "--output", str(tmp_path / "e.json")])
    assert r.exit_code == 0, r.output
    assert "test: drop applied to 10 example(s) with labels unknown to the model: new_intent (10)" in r.output
    written = json.loads((tmp_path / "e.json").read_text())
    assert written["unseen_labels"]["test"]["dropped_examples"] == 10
    assert sum(v["support"] for v in written["test"]["per_class"].values()) == 10


# ----------------------------------------------------------------- item 5: owned outputs, atomic writes

def test_clear_run_outputs_removes_only_what_a_run_owns(tmp_path):
    for name in ("metrics.json", "hamr_diagnostics.jsonl", ".tmp-metrics.json.abc", "notes.txt"):
        (tmp_path / name).write_text("old")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    removed = clear_run_outputs(tmp_path)
    assert sorted(removed) == [".tmp-metrics.json.abc", "hamr_diagnostics.jsonl", "metrics.json", "model"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert "metrics.json" in RUN_OUTPUTS and "model" in RUN_OUTPUTS


def test_atomic_writes_leave_the_old_file_when_interrupted(tmp_path):
    target = tmp_path / "metrics.json"
    atomic_write_text(target, "old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(tmp_path / "model") as tmp:
            (tmp / "half.bin").write_text("x")
            raise KeyboardInterrupt
    assert not (tmp_path / "model").exists() and target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # no temporary left behind
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    old_mask = os.umask(0o022)
    try:
        atomic_write_text(target, "x")
        assert oct(target.stat().st_mode & 0o777) == oct(0o644)  # not mkstemp's 0600
    finally:
        os.umask(old_mask)


def test_a_reused_folder_does_not_mix_runs(tiny_models, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("hamr_diagnostics.jsonl", "hamr_examples.tsv", "diagnostics.png", "lnr_flips.json"):
        (out / name).write_text("stale")
    (out / "model").mkdir()
    (out / "keep.txt").write_text("mine")
    r = runner.invoke(app, ["train", "--dataset", "humaid_idai19", "--limit", "16", "--epochs", "1",
                            "--max-length", "16", "--output-dir", str(out), "--no-save-model",
                            "-o", "disable_tqdm=true"])
    assert r.exit_code == 0, r.output
    assert "cleared the previous run's outputs" in r.output and "hamr_diagnostics.jsonl" in r.output
    names = sorted(p.name for p in out.iterdir())
    assert "model" not in names and "hamr_diagnostics.jsonl" not in names and "lnr_flips.json" not in names
    assert "keep.txt" in names and "metrics.json" in names
    assert "trainer" not in names  # epoch checkpoints (the CLI default) are removed once the run finished
    assert not [n for n in names if n.startswith(".tmp-")]


# ------------------------------------------------------------------------------- item 6: interrupt/resume

def test_latest_complete_checkpoint_skips_incomplete(tmp_path):
    for step in (4, 8, 12):
        (tmp_path / f"checkpoint-{step}").mkdir()
    (tmp_path / "checkpoint-4" / CHECKPOINT_MARKER).write_text("{}")
    (tmp_path / "checkpoint-8" / CHECKPOINT_MARKER).write_text("{}")
    ckpt, skipped = latest_complete_checkpoint(tmp_path)
    assert ckpt.name == "checkpoint-8" and [p.name for p in skipped] == ["checkpoint-12"]
    assert latest_complete_checkpoint(tmp_path / "none") == (None, [])


# 64 training examples: 4 steps per epoch at batch 16 (HAMR draws N per epoch), so checkpoint-4 ends epoch 1
HAMR_RUN = ["train", "--dataset", "humaid_idai19", "--limit", "64", "--method", "hamr", "--epochs", "3",
            "--batch-size", "16", "--max-length", "16", "--lr", "1e-3", "--no-save-model",
            "-o", "disable_tqdm=true", "-o", "logging_steps=2"]


def _interrupt_after(monkeypatch, step: int):
    """Ctrl-C in the middle of training: a KeyboardInterrupt from the training step after ``step`` steps."""
    from hamr import ImbalanceTrainer

    original = ImbalanceTrainer.training_step

    def training_step(self, *a, **kw):
        if self.state.global_step == step:
            raise KeyboardInterrupt
        return original(self, *a, **kw)

    monkeypatch.setattr(ImbalanceTrainer, "training_step", training_step)
    return original


def test_interrupted_and_resumed_cli_run_equals_the_uninterrupted_one(tiny_models, tmp_path, monkeypatch):
    from hamr import ImbalanceTrainer

    whole = tmp_path / "whole"
    r = runner.invoke(app, HAMR_RUN + ["--output-dir", str(whole)])
    assert r.exit_code == 0, r.output

    part = tmp_path / "part"
    original = _interrupt_after(monkeypatch, 6)  # 4 steps per epoch: stops in epoch 2, after checkpoint-4
    r = runner.invoke(app, HAMR_RUN + ["--output-dir", str(part)])
    assert r.exit_code == 130, r.output
    assert "interrupted: training of" in r.output and "checkpoint-4 (step 4, epoch 1)" in r.output
    assert "--resume" in r.output
    assert not (part / "metrics.json").exists()
    # a checkpoint half-written when the run was killed: no marker, skipped on resume
    (part / "trainer" / "checkpoint-6").mkdir()
    (part / "trainer" / "checkpoint-6" / "trainer_state.json").write_text("{")
    monkeypatch.setattr(ImbalanceTrainer, "training_step", original)
    r = runner.invoke(app, HAMR_RUN + ["--output-dir", str(part), "--resume"])
    assert r.exit_code == 0, r.output
    assert "skipping incomplete checkpoint" in r.output and "checkpoint-6" in r.output
    assert "resuming from" in r.output and "checkpoint-4" in r.output

    a = json.loads((whole / "metrics.json").read_text())
    b = json.loads((part / "metrics.json").read_text())
    for split in ("validation", "test"):
        assert b[split]["macro_f1"] == a[split]["macro_f1"] and b[split]["micro_f1"] == a[split]["micro_f1"]
        assert b[split]["per_class"] == a[split]["per_class"]
    timing = ("runtime", "samples_per_second", "steps_per_second")
    scores = lambda m: [{k: v for k, v in rec.items() if k not in timing} for rec in m["epoch_metrics"]]  # noqa: E731
    assert len(scores(b)) == 3 and scores(b) == scores(a)
    assert b["train_losses"] == a["train_losses"]
    diag_a = (whole / "hamr_diagnostics.jsonl").read_text()
    diag_b = (part / "hamr_diagnostics.jsonl").read_text()
    assert [json.loads(x)["epoch"] for x in diag_b.splitlines()] == [1, 2, 3]
    assert diag_b == diag_a
    assert (part / "hamr_examples.tsv").read_text() == (whole / "hamr_examples.tsv").read_text()
    assert b["resumed_from"].endswith("checkpoint-4") and a["resumed_from"] is None


def test_balanced_sampler_resumes_to_the_same_scores(tiny_models, tmp_path, monkeypatch):
    """ImbalanceTrainer's own sampler RNG is checkpointed: resuming at step 3 (after checkpoint-3, every 3 steps)
    draws the batches the whole run drew."""
    from hamr import ImbalanceTrainer

    run = ["train", "--dataset", "humaid_idai19", "--limit", "48", "--method", "balanced_sampler", "--epochs", "2",
           "--max-length", "16", "--lr", "1e-3", "--no-save-model", "--checkpoint-every", "3",
           "-o", "disable_tqdm=true", "-o", "logging_steps=1"]
    assert runner.invoke(app, run + ["--output-dir", str(tmp_path / "whole")]).exit_code == 0
    original = _interrupt_after(monkeypatch, 4)
    r = runner.invoke(app, run + ["--output-dir", str(tmp_path / "part")])
    assert r.exit_code == 130 and "checkpoint-3" in r.output
    monkeypatch.setattr(ImbalanceTrainer, "training_step", original)
    r = runner.invoke(app, run + ["--output-dir", str(tmp_path / "part"), "--resume"])
    assert r.exit_code == 0, r.output
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("whole", "part"))
    assert b["train_losses"] == a["train_losses"] and len(a["train_losses"]) == 6
    assert b["test"]["per_class"] == a["test"]["per_class"]


def test_resume_refuses_other_settings_and_missing_checkpoints(tiny_models, tmp_path, monkeypatch):
    out = tmp_path / "run"
    r = runner.invoke(app, HAMR_RUN + ["--output-dir", str(out), "--resume"])
    assert r.exit_code == 2 and "no complete checkpoint to resume from" in r.output
    _interrupt_after(monkeypatch, 5)
    r = runner.invoke(app, HAMR_RUN + ["--output-dir", str(out)])
    assert r.exit_code == 130
    r = runner.invoke(app, HAMR_RUN + ["--output-dir", str(out), "--resume", "--seed", "7"])
    assert r.exit_code == 2 and "seed (was 42, now 7)" in r.output


def test_interrupt_without_checkpoints_says_it_cannot_resume(tiny_models, tmp_path, monkeypatch):
    _interrupt_after(monkeypatch, 2)
    r = runner.invoke(app, HAMR_RUN + ["--output-dir", str(tmp_path / "r"), "--checkpoint-every", "none"])
    assert r.exit_code == 130
    assert "no complete checkpoint was saved, so it cannot resume (checkpoints were off)" in r.output


def test_bench_default_keeps_checkpoints_off():
    config = pipeline.RunConfig(dataset="humaid_idai19")
    assert config.checkpoint_every == CheckpointEvery.NONE
    args = pipeline.training_arguments(config, TaskType.CLASSIFICATION, "/tmp/hamr_probe")
    assert str(args.save_strategy.value if hasattr(args.save_strategy, "value") else args.save_strategy) == "no"


def test_an_error_line_is_neither_wrapped_nor_read_as_markup():
    import io

    from rich.console import Console

    from hamr.errors import print_error

    out = io.StringIO()
    console = Console(file=out, width=40, force_terminal=False)
    msg = "/a/very/long/folder/name/that/is/much/wider/than/the/console/[run 3]/in.csv:1: no text column 'text'"
    print_error(console, ValueError(msg))
    assert out.getvalue() == f"error: {msg}\n"
