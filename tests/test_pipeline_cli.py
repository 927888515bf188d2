"""The user's path end to end: `hamr train` / `hamr evaluate` / `hamr data stats` on real data, and a tiny
model whose training loss goes down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import tiny_bert
from hamr import pipeline
from hamr.config import run_config_record
from hamr.cli import app, parse_options
from hamr.enums import Method

runner = CliRunner()




@pytest.mark.parametrize("dataset", ["humaid_idai19", "tweetner7"])
def test_training_loss_goes_down_on_real_data(tiny_models, tmp_path, dataset):
    config = pipeline.RunConfig(
        dataset=dataset, limit=64, epochs=6, batch_size=16, max_length=32, learning_rate=2e-3,
        output_dir=str(tmp_path), save_model=False, evaluate_each_epoch=False,
        options={"logging_steps": 4, "disable_tqdm": True},
    )
    result = pipeline.run(config)
    recorded = json.loads((tmp_path / "run_config.json").read_text())  # one record of the settings, every run
    assert recorded == run_config_record(config) and recorded["dataset"] == dataset and recorded["epochs"] == 6
    assert recorded["method"] == "erm" and recorded["checkpoint_every"] == "none" and "data" not in recorded
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["train_examples"] == 64 and written["train_losses"] == result["train_losses"]
    train_losses = result["train_losses"]
    assert len(train_losses) >= 4
    assert train_losses[-1] < train_losses[0] - 0.15, train_losses  # and it falls steadily:
    assert all(b < a + 0.05 for a, b in zip(train_losses, train_losses[1:])), train_losses
    _check_prediction_file(tmp_path / "test_predictions.tsv", dataset, result)


def _check_prediction_file(path, dataset, result):
    """The prediction file holds every test example in order, its gold labels, and predictions that give the
    run's own test figures back."""
    from hamr.data import load_benchmark
    from hamr.metrics import classification_metrics, ner_metrics

    bundle = load_benchmark(dataset, limit=64)
    rows = [line.split("\t") for line in path.read_text().splitlines()]
    assert rows[0][:4] == ["index", "id", "gold", "predicted"]  # then the probability columns
    rows = rows[1:]
    assert [int(r[0]) for r in rows] == list(range(len(bundle.test))) == list(range(result["test_examples"]))
    counts = bundle.train.label_counts()
    if bundle.task == "classification":
        assert [r[2] for r in rows] == list(bundle.test.labels)
        pred = [r[3] for r in rows]
        assert set(pred) <= set(bundle.vocab.labels)
        ids = bundle.vocab.label2id
        again = classification_metrics([ids[g] for g in bundle.test.labels], [ids[p] for p in pred],
                                       bundle.vocab.labels, counts)
    else:
        gold_full = [list(t) for t in bundle.test.labels]
        gold = [r[2].split(" ") if r[2] else [] for r in rows]
        pred = [r[3].split(" ") if r[3] else [] for r in rows]
        assert gold == gold_full  # one tag per word of the whole sentence (words cut by max_length: O)
        assert all(len(p) == len(g) for p, g in zip(pred, gold))
        again = ner_metrics(gold_full, pred, counts)
    assert again["macro_f1"] == pytest.approx(result["test"]["macro_f1"], abs=1e-12)
    assert again["micro_f1"] == pytest.approx(result["test"]["micro_f1"], abs=1e-12)


def test_cli_train_then_evaluate_a_saved_model(tiny_models, tmp_path):
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", "--dataset", "humaid_idai19", "--limit", "48", "--max-train-examples", "40",
                            "--epochs", "1", "--max-length", "32", "--output-dir", str(out), "-o", "logging_steps=100"])
    assert r.exit_code == 0, r.output
    assert "macro-F1" in r.output and "missing_or_found_people" in r.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_examples"] == 40 and metrics["test_examples"] == 48  # the cap samples train only
    # the run's HTML report, and the configuration it rebuilt the training split from
    assert json.loads((out / "run_config.json").read_text())["max_train_examples"] == 40
    assert "Confusion matrix (test)" in (out / "report.html").read_text()
    r = runner.invoke(app, ["evaluate", str(out / "model"), "--dataset", "humaid_idai19", "--limit", "48",
                            "--max-length", "32", "--output", str(tmp_path / "eval.json")])
    assert r.exit_code == 0, r.output
    again = json.loads((tmp_path / "eval.json").read_text())["test"]
    assert again["macro_f1"] == pytest.approx(metrics["test"]["macro_f1"])
    assert again["micro_f1"] == pytest.approx(metrics["test"]["micro_f1"])
    out2 = tmp_path / "run2"
    r = runner.invoke(app, ["train", "--dataset", "humaid_idai19", "--limit", "16", "--epochs", "1",
                            "--max-length", "16", "--output-dir", str(out2), "--no-save-model"])
    assert r.exit_code == 0, r.output
    assert (out2 / "metrics.json").exists() and not (out2 / "model").exists()


def test_every_cli_option_has_help_and_no_repository_path():
    import typer.main

    def walk(cmd, path):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from walk(sub, f"{path} {name}")
        else:
            yield path, cmd

    seen = 0
    for path, cmd in walk(typer.main.get_command(app), "hamr"):
        for p in cmd.params:
            seen += 1
            text = getattr(p, "help", None)
            assert text, f"{path}: {p.name} has no help"
            # no repository paths (file types such as ".jsonl" or an output name such as report.md are fine)
            assert not any(d in text for d in ("benchmarks/configs", "benchmarks/runs", "src/", "docs/", "tests/",
                                               "method.md", "cpu.json")), \
                f"{path}: {p.name}: {text}"
    assert seen > 40
    train = typer.main.get_command(app).commands["train"]
    flags = {o for p in train.params for o in (*p.opts, *p.secondary_opts)}
    assert {"--save-model", "--no-save-model", "--test"} <= flags and "--no-no-save-model" not in flags
    evaluate = typer.main.get_command(app).commands["evaluate"]
    assert "--test" in {o for p in evaluate.params for o in p.opts}


def test_cli_data_stats_prints_the_split_sizes():
    r = runner.invoke(app, ["data", "stats", "mit_restaurant", "--json"])
    assert r.exit_code == 0, r.output
    stats = json.loads(r.output)
    assert stats["sizes"] == {"train": 6900, "validation": 760, "test": 1521}


def test_cli_options_are_typed_and_checked():
    opts = parse_options(["lookahead_scope=head", "meta_interval=2", "wnet_lr=none", "faithful=true"], Method.HAMR)
    assert opts == {"lookahead_scope": "head", "meta_interval": 2, "wnet_lr": None, "faithful": True}
    with pytest.raises(Exception, match="not a field"):
        parse_options(["no_such_field=1"], Method.HAMR)
    with pytest.raises(Exception, match="lookahead_scope"):
        parse_options(["lookahead_scope=everything"], Method.HAMR)
    with pytest.raises(Exception, match="not a field"):
        parse_options(["lookahead_scope=head"], Method.ERM)  # a HAMR field is not an ERM option


def test_diagnostics_plot_from_a_run_folder(tmp_path):
    # class "b" is skewed as on MIT-Restaurant (seed 43): most weights high, a few near weight_min, so its
    # mean lies below its 10th percentile; that once failed the whole run after training (negative error bar)
    skewed = {"mean": 0.95, "q10": 0.99, "median": 1.0, "q90": 1.0}
    diag = [{"epoch": e, "weights_per_class": {"a": {"mean": 1.0 + e / 10, "q10": 0.9, "median": 1.05, "q90": 1.3},
                                               "b": skewed},
             "sampling_mass_per_class": {"a": 0.3, "b": 0.7}} for e in (1, 2)]
    (tmp_path / "hamr_diagnostics.jsonl").write_text("\n".join(json.dumps(d) for d in diag))
    (tmp_path / "epoch_metrics.jsonl").write_text(json.dumps({"epoch": 1, "f1/a": 0.5, "f1/b": 0.1}))
    r = runner.invoke(app, ["plot", str(tmp_path)])
    assert r.exit_code == 0, r.output
    png = (tmp_path / "diagnostics.png").read_bytes()
    assert png[:4] == b"\x89PNG" and len(png) > 5000
    empty = tmp_path / "empty"
    empty.mkdir()
    assert runner.invoke(app, ["plot", str(empty)]).exit_code != 0


def test_a_failing_diagnostics_plot_keeps_the_finished_run(tiny_models, tmp_path, monkeypatch):
    import hamr.diagnostics

    def broken_plot(run_dir, out=None):
        raise ValueError("'yerr' must not contain negative values")

    monkeypatch.setattr(hamr.diagnostics, "plot_run", broken_plot)
    pipeline.run(pipeline.RunConfig(
        dataset="humaid_idai19", limit=32, epochs=1, batch_size=16, max_length=32, output_dir=str(tmp_path),
        save_model=False, evaluate_each_epoch=False, options={"disable_tqdm": True},
    ))
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["diagnostics_plot_error"] == "ValueError: 'yerr' must not contain negative values"
    assert "macro_f1" in json.dumps(written)


def test_model_folder_without_tokenizer_files_is_refused(tmp_path):
    import shutil

    from hamr.evaluation import evaluate_saved_model
    from hamr.tasks import TokenizerMismatchError, default_model_path, load_tokenizer

    src = Path(default_model_path())
    folder = tmp_path / "minilm_no_tokenizer"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):  # no tokenizer.json, vocab.txt, tokenizer_config.json
        shutil.copy(src / name, folder / name)
    with pytest.raises(TokenizerMismatchError) as err:
        load_tokenizer(str(folder))
    message = str(err.value)
    assert message.startswith(f"{folder}: the tokenizer has 5 tokens but the model has 30522 input embeddings")
    assert "missing tokenizer.json, vocab.txt" in message
    with pytest.raises(TokenizerMismatchError):  # hamr evaluate assembles model + tokenizer the same way
        evaluate_saved_model(str(folder), dataset="humaid_idai19", limit=4)
    with pytest.raises(TokenizerMismatchError):  # and so does training
        pipeline.run(pipeline.RunConfig(dataset="humaid_idai19", model=str(folder), limit=8, epochs=1,
                                        output_dir=str(tmp_path / "run")))
    assert len(load_tokenizer(str(src))) == 30522  # the complete folder loads


def test_evaluate_takes_quartile_groups_from_the_whole_train_file(tmp_path, tokenizer):
    from hamr.data import load_files
    from hamr.data.types import quartile_groups
    from hamr.evaluation import evaluate_saved_model

    labels = ["a", "b", "c", "d"]
    train = tmp_path / "train.csv"
    train.write_text("text,label\n" + "".join(f"example number {i},{labels[i % 4]}\n" for i in range(16)))
    test = tmp_path / "test.csv"
    test.write_text("text,label\n" + "".join(f"test case {i},{labels[i % 4]}\n" for i in range(8)))
    model = tiny_bert(tokenizer, 4, "classification", dropout=0.0)
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {lab: i for i, lab in enumerate(labels)}
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")

    whole = quartile_groups({lab: 4 for lab in labels})  # every label 4 times: ties broken by name
    carved = load_files("classification", train, test=test).train.label_counts()  # what a 90% carve keeps
    assert quartile_groups(carved) != whole  # so the test below can tell the two apart
    result = evaluate_saved_model(str(tmp_path / "model"), data_file=str(test), train_file=str(train),
                                  task="classification", max_length=16)
    assert list(result["test"]["quartiles"]["groups"].values()) == whole
