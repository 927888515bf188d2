"""The ``hamr`` command line (typer): train, evaluate, predict, data stats, bench."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any, Optional

import click
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from .config import run_config_defaults
from .enums import CheckpointEvery, DecisionOffsets, Device, Method, ReportTo, TaskType
from .errors import InputError, print_error

_DEFAULTS = run_config_defaults()

#: exit code of an expected input error (bad data, bad option, missing file or model), as click's usage errors
EXIT_INPUT_ERROR = 2
#: exit code after Ctrl-C (128 + SIGINT), as a shell reports it
EXIT_INTERRUPTED = 130


def expected_error_types() -> tuple[type[BaseException], ...]:
    """Errors that are the input's fault: one or two lines and exit code 2, a traceback only with --debug.
    :class:`hamr.errors.InputError` is the base of hamr's own (data, settings, options, config files, protocols,
    model folders); any other exception, a plain ``ValueError`` included, is shown with its traceback (exit 1)."""
    from .embeddings import EmbeddingError
    from .tasks import HubUnreachableError

    return (InputError, HubUnreachableError, EmbeddingError, FileNotFoundError, NotADirectoryError)


def error_message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc)


#: Exceptions that carry the command's own exit (--help, typer.Exit, usage errors): passed through untouched. typer
#: (0.29 here) vendors click, so its Exit, Abort and BadParameter are not click's.
_CONTROL_FLOW = (typer.Exit, typer.Abort, typer.exceptions.TyperException, click.exceptions.Exit,
                 click.ClickException, click.exceptions.Abort)


class CleanErrorsGroup(TyperGroup):
    """The root command: expected errors print ``error: ...`` (exit 2), Ctrl-C says where the run stopped
    (exit 130); ``hamr --debug ...`` (or HAMR_DEBUG=1) re-raises them with the traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except _CONTROL_FLOW:
            raise
        except KeyboardInterrupt as exc:
            if _debug(ctx):
                raise
            click.echo(getattr(exc, "message", None) or "interrupted", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except expected_error_types() as exc:
            if _debug(ctx):
                raise
            click.echo(f"error: {error_message(exc)}", err=True)
            click.echo("(hamr --debug ... shows the traceback)", err=True)
            raise typer.Exit(EXIT_INPUT_ERROR) from None
        except Exception as exc:
            click.echo(f"error: unexpected {type(exc).__name__}, not an input error hamr knows of (a bug: please "
                       "report it with the traceback below)", err=True)
            raise


def _debug(ctx: click.Context) -> bool:
    return bool(ctx.find_root().meta.get("hamr_debug")) or os.environ.get("HAMR_DEBUG", "") not in ("", "0")


app = typer.Typer(add_completion=False, no_args_is_help=True, cls=CleanErrorsGroup,
                  help="Train NLP models well on class-imbalanced data.")
data_app = typer.Typer(no_args_is_help=True, help="Inspect datasets.")
app.add_typer(data_app, name="data")
console = Console()


@app.callback()
def _root(ctx: typer.Context,
          debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an error.")) -> None:
    """Train NLP models well on class-imbalanced data."""
    ctx.meta["hamr_debug"] = debug


def parse_checkpoint_every(value: str) -> tuple[CheckpointEvery, int | None]:
    """``epoch`` | ``none`` | ``N`` (every N optimiser steps) -> (CheckpointEvery, steps)."""
    text = value.strip().lower()
    if text.isdigit():
        if int(text) < 1:
            raise typer.BadParameter(f"--checkpoint-every: a step count must be >= 1, got {value!r}")
        return CheckpointEvery.STEPS, int(text)
    try:
        mode = CheckpointEvery.parse(text)
    except ValueError:
        raise typer.BadParameter(f"--checkpoint-every: expected epoch, none or a step count N, got {value!r}") from None
    if mode == CheckpointEvery.STEPS:
        raise typer.BadParameter("--checkpoint-every: give the step count itself, e.g. --checkpoint-every 200")
    return mode, None


def parse_options(pairs: list[str], method: Method) -> dict[str, Any]:
    """``["lookahead_scope=head", "meta_interval=2"]`` -> typed dict, validated against the method's arguments
    class (:func:`hamr.options.parse_options`)."""
    from .methods import get_method
    from .options import OptionError
    from .options import parse_options as _parse

    try:
        return _parse(pairs, get_method(method).arguments_class, "--option")
    except OptionError as exc:
        raise typer.BadParameter(str(exc)) from None


def parse_data_options(pairs: list[str]) -> dict[str, Any]:
    """``--data-option key=value`` pairs -> loader options (:func:`hamr.options.parse_data_options`: integers and
    decimal fractions become numbers)."""
    from .options import OptionError
    from .options import parse_data_options as _parse

    try:
        return _parse(pairs)
    except OptionError as exc:
        raise typer.BadParameter(str(exc)) from None


def _print_metrics(result: dict[str, Any], split: str = "test") -> None:
    m = result.get(split)
    if not m:
        return
    per = m.get("per_class") or m.get("per_type") or {}
    table = Table(title=f"{result.get('dataset', '')} · {result.get('method', '')} · {split}")
    for col in ("label", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for label, v in per.items():
        table.add_row(label, f"{100 * v['precision']:.1f}", f"{100 * v['recall']:.1f}", f"{100 * v['f1']:.1f}",
                      str(v["support"]))
    console.print(table)
    line = f"macro-F1 {100 * m['macro_f1']:.1f} · micro-F1 {100 * m['micro_f1']:.1f}"
    q = m.get("quartiles")
    if q:
        line += " · " + " ".join(f"{k} {100 * q[k]:.1f}" if q[k] is not None else f"{k} -" for k in ("Q1", "Q2", "Q3", "Q4"))
    if "seconds_per_epoch" in result:
        line += f" · {result['seconds_per_epoch']:.0f} s/epoch · peak {result.get('peak_memory_mb', 0):.0f} MB"
    console.print(line)
    offsets = result.get("decision_offsets")
    plain = ((offsets or {}).get("without") or {}).get(split)
    if plain:
        form = f"auto: {offsets['form']}" if offsets.get("requested") == "auto" else offsets["form"]
        console.print(f"with decision offsets ({form}, in the saved model; `--decision-offsets none` for the "
                      f"model's own decisions); without them: macro-F1 {100 * plain['macro_f1']:.1f} · micro-F1 "
                      f"{100 * plain['micro_f1']:.1f}")
    elif offsets and offsets.get("why"):
        console.print(f"decision offsets: none (auto: {offsets['why']})")


@app.command()
def train(
    ctx: typer.Context,
    config_file: Optional[Path] = typer.Option(
        None, "--config", help="A run.yaml / run.json holding any run setting or method field (`hamr options` lists "
        "them); explicit flags override it and -o overrides both."),
    dataset: Optional[str] = typer.Option(None, help="Benchmark name (see `hamr data list`)."),
    train_file: Optional[Path] = typer.Option(None, "--train", help="Training file (instead of --dataset)."),
    validation_file: Optional[Path] = typer.Option(None, "--validation", help="Validation file."),
    test_file: Optional[Path] = typer.Option(None, "--test", help="Test file."),
    task: Optional[TaskType] = typer.Option(None, help="Task, with files."),
    data_format: Optional[str] = typer.Option(None, "--format", help="delimited | jsonl | conll | ptb | hf."),
    data_option: list[str] = typer.Option([], "--data-option", help="Loader option key=value (e.g. tag_column=0)."),
    data_root: Optional[Path] = typer.Option(None, help="Folder of the benchmark datasets (env HAMR_DATA_ROOT)."),
    model: Optional[str] = typer.Option(None, help="HF model name or path (default: packaged all-MiniLM-L6-v2)."),
    method: Method = typer.Option(_DEFAULTS["method"], help="Training method (`hamr options --method M` lists its fields)."),
    epochs: float = typer.Option(_DEFAULTS["epochs"], help="Training epochs (> 0)."),
    batch_size: int = typer.Option(_DEFAULTS["batch_size"], min=1, help="Training batch size."),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="Learning rate (default: 4e-5 classification, 2e-5 NER). On a small NER budget MiniLM needs more: the "
        "benchmarks' CPU protocol uses 1e-4."),
    max_length: int = typer.Option(_DEFAULTS["max_length"], min=3, help="Maximum tokens per example."),
    seed: int = typer.Option(_DEFAULTS["seed"], min=0, help="Seed of the run (model, data order, samplers, the training cap)."),
    limit: Optional[int] = typer.Option(None, min=1, help="Use only the first N examples of every split."),
    max_train_examples: Optional[int] = typer.Option(
        None, min=1, help="Train on a seeded random sample of N training examples (keeps the class imbalance; "
        "validation and test stay whole), as the benchmark protocols' caps."),
    output_dir: Path = typer.Option(Path(_DEFAULTS["output_dir"]), help="Where the model, metrics and predictions go."),
    option: list[str] = typer.Option([], "--option", "-o", help="Any field of the method's arguments class, key=value (`hamr options --method M`)."),
    report_to: Optional[ReportTo] = typer.Option(
        None, "--report-to", help="Log to TensorBoard or Weights & Biases (TrainingArguments.report_to; default "
        "none). HAMR also logs the per-class mean learned weight and sampling mass each epoch "
        "(hamr/weight_mean/<class>, hamr/sampling_mass/<class>). TensorBoard needs `pip install hamr[tensorboard]`."),
    save_model: bool = typer.Option(_DEFAULTS["save_model"], "--save-model/--no-save-model",
                                    help="Save the fine-tuned model and tokenizer under OUTPUT_DIR/model."),
    checkpoint_every: Optional[str] = typer.Option(
        None, help="Save a resumable checkpoint: epoch | N (every N steps) | none. Default: epoch (kept only "
        "until the run finishes), none for lnr, gbc and metabalance, which cannot resume."),
    resume: bool = typer.Option(False, "--resume", help="Continue the interrupted run of --output-dir from its "
                                "latest complete checkpoint (same settings as that run)."),
    decision_offsets: DecisionOffsets = typer.Option(
        DecisionOffsets.AUTO, help="After training, fit per-class logit offsets on the validation half outside the "
        "held-out half and fold them into the model's output bias: auto (macro_f1 when there is a validation "
        "split, else none) | balanced | half (CE fits) | macro_f1 (a search on macro-F1) | none. metrics.json "
        "keeps the scores without them."),
    unseen_labels: str = typer.Option(
        "error", help="Validation/test labels missing from training: error (list them) | drop (score without "
        "those examples, reported) | map:FILE (two columns: unseen label, known label)."),
) -> None:
    """Fine-tune a model with a method and print per-class test metrics."""
    from .config import RunConfig
    from .methods import get_method
    from .pipeline import run

    config_kwargs: dict[str, Any] = dict(
        dataset=dataset,
        train_file=str(train_file) if train_file else None,
        validation_file=str(validation_file) if validation_file else None,
        test_file=str(test_file) if test_file else None,
        task=task,
        data_format=data_format,
        data_options=parse_data_options(data_option),
        data_root=str(data_root) if data_root else None,
        limit=limit,
        max_train_examples=max_train_examples,
        model=model,
        method=method,
        max_length=max_length,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        output_dir=str(output_dir),
        save_model=save_model,
    )
    config_kwargs.update(decision_offsets=decision_offsets)
    config_kwargs.update(resume=resume, unseen_labels=None if unseen_labels == "error" else unseen_labels)
    if checkpoint_every is not None:
        every, steps = parse_checkpoint_every(checkpoint_every)
        config_kwargs.update(checkpoint_every=every, checkpoint_steps=steps)
    options: dict[str, Any] = {}
    if config_file is not None:  # the file's values, except where a flag was given on the command line
        config_kwargs, options = _merge_config_file(ctx, config_file, config_kwargs)
    if report_to is not None:
        options["report_to"] = str(report_to)
    options.update(parse_options(option, config_kwargs["method"]))
    if "checkpoint_every" not in config_kwargs:  # neither a flag nor the file: by the method
        config_kwargs["checkpoint_every"] = (CheckpointEvery.EPOCH if get_method(config_kwargs["method"]).resumable
                                             else CheckpointEvery.NONE)
    try:
        config = RunConfig(**config_kwargs, options=options)
    except InputError as exc:
        raise typer.BadParameter(str(exc)) from None
    result = run(config, say=lambda msg: console.print(msg, highlight=False, soft_wrap=True))
    _print_metrics(result)
    console.print(f"[green]saved[/green] {output_dir}")
    from .report.hooks import report_after_train

    report_after_train(config, output_dir, console)


#: `hamr train` parameters whose RunConfig field has another name.
_PARAM_FIELDS = {"data_option": "data_options", "option": "options"}


def _merge_config_file(ctx: typer.Context, path: Path, cli_kwargs: dict[str, Any]) -> tuple[dict, dict]:
    """RunConfig kwargs and options from ``--config`` with the flags given on the command line on top."""
    from .config_file import ConfigError, load

    # by name: typer may carry its own copy of click's ParameterSource enum
    explicit = {_PARAM_FIELDS.get(p, p) for p in ctx.params
                if getattr(ctx.get_parameter_source(p), "name", None) == "COMMANDLINE"}
    if "checkpoint_every" in explicit:  # --checkpoint-every sets both fields (a step count, or none)
        explicit.add("checkpoint_steps")
    try:
        file_run, file_options = load(path, method=cli_kwargs["method"] if "method" in explicit else None)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from None
    merged = dict(cli_kwargs)
    for key, value in file_run.items():
        if key == "data_options":
            merged[key] = {**value, **(cli_kwargs[key] if key in explicit else {})}
        elif key == "options":
            continue
        elif key not in explicit:
            merged[key] = value
    merged["method"] = Method.parse(merged["method"])
    return merged, file_options


@app.command()
def options(
    method: Optional[Method] = typer.Option(None, help="Only this method's fields (default: every method's)."),
    transformers_fields: bool = typer.Option(False, "--transformers", help="Also the inherited TrainingArguments fields."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Every setting of a run: the run settings (flags of `hamr train`, keys of `--config`) and the method's fields
    (`-o key=value`, or keys of `--config`), with type, default and help."""
    from .config_file import list_fields

    fields = list_fields(method, transformers_fields)
    if as_json:
        console.print_json(json.dumps([dataclasses.asdict(f) for f in fields]))
        return
    table = Table(title=f"hamr options{f' --method {method}' if method else ''}: run settings, then method fields",
                  show_lines=False)
    for col in ("field", "type", "default", "where", "help"):
        table.add_column(col, overflow="fold")
    for f in fields:
        table.add_row(f.name, f.type, f.default, f.group, f.help)
    console.print(table)
    if not transformers_fields:
        console.print("the inherited transformers.TrainingArguments fields are settable too: `--transformers` lists them")


@app.command()
def evaluate(
    model_dir: Path = typer.Argument(..., help="A saved model folder (e.g. runs/latest/model)."),
    dataset: Optional[str] = typer.Option(None, help="Benchmark name."),
    test_file: Optional[Path] = typer.Option(None, "--test", help="A data file to evaluate instead of --dataset."),
    train_file: Optional[Path] = typer.Option(None, "--train", help="Training file (for quartiles), with --test."),
    task: Optional[TaskType] = typer.Option(None, help="Task, with --test."),
    split: str = typer.Option("test", help="Split of the benchmark to evaluate."),
    data_root: Optional[Path] = typer.Option(None, help="Folder of the benchmark datasets (env HAMR_DATA_ROOT)."),
    max_length: int = typer.Option(_DEFAULTS["max_length"], min=3, help="Maximum tokens per example."),
    batch_size: int = typer.Option(32, min=1, help="Evaluation batch size."),
    limit: Optional[int] = typer.Option(None, min=1, help="Use only the first N examples of the split."),
    output: Optional[Path] = typer.Option(None, help="Write the metrics as JSON here."),
    unseen_labels: str = typer.Option(
        "error", help="Gold labels the model does not know: error (list them) | drop (score without those "
        "examples, reported) | map:FILE (two columns: unseen label, model label)."),
    device: Device = typer.Option(Device.AUTO, help="auto: the GPU when there is one."),
) -> None:
    """Evaluate a saved model on a dataset split."""
    from .evaluation import evaluate_saved_model

    result = evaluate_saved_model(
        str(model_dir), dataset=dataset, data_file=str(test_file) if test_file else None,
        train_file=str(train_file) if train_file else None, task=task, split=split,
        data_root=str(data_root) if data_root else None, max_length=max_length, batch_size=batch_size, limit=limit,
        unseen_labels=None if unseen_labels == "error" else unseen_labels,
        device=device,
    )
    for name, rep in result.get("unseen_labels", {}).items():
        n = rep.get("dropped_examples", rep.get("mapped_examples"))
        console.print(f"{name}: {rep['policy']} applied to {n} example(s) with labels unknown to the model: "
                      + ", ".join(f"{k} ({v})" for k, v in rep["labels"].items()), highlight=False, soft_wrap=True)
    _print_metrics(result, split)
    if output:
        output.write_text(json.dumps(result, indent=2, default=str))


@app.command()
def predict(
    model_dir: Path = typer.Argument(..., help="A saved model folder (e.g. runs/latest/model)."),
    input_file: Path = typer.Argument(..., help="Texts to predict: .csv/.tsv, .jsonl, CoNLL (.conll/.bio/.iob2) "
                                      "or plain text lines (.txt; NER: words split on whitespace)."),
    out: Path = typer.Option(..., "--out", help="Output file: .csv, .tsv or .jsonl."),
    data_format: Optional[str] = typer.Option(None, "--format", help="delimited | jsonl | conll | text "
                                              "(default: from the extension)."),
    text_column: str = typer.Option("text", help="CSV/TSV column (JSON Lines field) holding the text."),
    label_column: Optional[str] = typer.Option(None, help="Column with gold labels (optional; 'label' is used "
                                               "when present). With gold labels the scores are printed."),
    id_column: Optional[str] = typer.Option(None, help="Column with example ids, copied to the output."),
    device: Device = typer.Option(Device.AUTO, help="auto: the GPU when there is one."),
    batch_size: int = typer.Option(32, min=1, help="Prediction batch size."),
    max_length: Optional[int] = typer.Option(None, help="Default: the max length the model was trained with."),
    with_text: bool = typer.Option(False, help="Copy the input texts (NER: words) into the output."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Predict labels (NER: tags and entity spans) with their probabilities for new texts."""
    from .data import DataError
    from .predict import ModelDirError, predict_file

    try:
        result = predict_file(model_dir, input_file, out, device=device, batch_size=batch_size,
                              max_length=max_length, with_text=with_text, quiet=quiet or None, fmt=data_format,
                              text_column=text_column, label_column=label_column, id_column=id_column)
    except (DataError, ModelDirError) as exc:
        print_error(console, exc)
        raise typer.Exit(2) from None
    summary = result.summary()
    counts = summary.get("predicted_counts") or summary.get("predicted_spans") or {}
    table = Table(title=f"{summary['examples']} examples · {result.input.task} · device {summary['device']}")
    table.add_column("predicted " + ("label" if "predicted_counts" in summary else "entity type"))
    table.add_column("count", justify="right")
    for label, n in counts.items():
        table.add_row(label, str(n))
    console.print(table)
    line = f"max length {summary['max_length']}: {summary['truncated']} of {summary['examples']} truncated"
    if "mean_probability" in summary:
        line += f" · mean probability of the predicted label {summary['mean_probability']:.3f}"
    console.print(line)
    if "gold" in summary:
        console.print(f"against the gold labels in the file: macro-F1 {100 * summary['gold']['macro_f1']:.1f} · "
                      f"micro-F1 {100 * summary['gold']['micro_f1']:.1f}")
    elif "gold_labels_unknown_to_model" in summary:
        console.print("gold labels the model does not know: " + ", ".join(summary["gold_labels_unknown_to_model"]))
    console.print(f"[green]wrote[/green] {out}")


@app.command()
def plot(run_dir: Path = typer.Argument(..., help="A run folder written by `hamr train`.")) -> None:
    """Plot a run's per-epoch diagnostics: learned weights and sampling mass per class, validation F1."""
    from .diagnostics import plot_run

    path = plot_run(run_dir)
    if path is None:
        raise typer.BadParameter(f"{run_dir}: no hamr_diagnostics.jsonl or per-class epoch_metrics.jsonl to plot")
    console.print(f"[green]wrote[/green] {path}")


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="A run folder written by `hamr train` (or a bench run folder)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Folder of the benchmark datasets, to rebuild the "
                                        "training split (default: HAMR_DATA_ROOT, then ../shared/datasets)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where to write the page (default RUN_DIR/report.html)."),
    texts: Optional[bool] = typer.Option(None, "--texts/--no-texts", help="Show the training texts. Default: "
                                         "hidden for tweet corpora (HumAID, TweetNER7: their terms forbid "
                                         "publishing texts) and for any benchmark inside a git work tree."),
    hardest: int = typer.Option(200, min=0, help="Rows of the hardest-examples table."),
    neighbours: int = typer.Option(5, min=0, help="Nearest training neighbours per row (0: none)."),
    predict: bool = typer.Option(True, "--predict/--no-predict", help="Predict the table's examples with the "
                                 "run's saved model (model/), when there is one."),
) -> None:
    """Write one self-contained HTML report of a run: scores per class, confusion matrix, per-epoch F1, HAMR's
    learned class parameters and hardness, and a sortable, filterable table of the hardest examples."""
    from .report import RunReportOptions, write_run_report

    try:
        path = write_run_report(run_dir, out, RunReportOptions(texts=texts, data_root=str(data) if data else None,
                                                               hardest=hardest, neighbours=neighbours,
                                                               predict=predict))
    except (FileNotFoundError, ValueError) as exc:
        print_error(console, exc)
        raise typer.Exit(2)
    console.print(f"[green]wrote[/green] {path}")


@data_app.command("list")
def data_list() -> None:
    """The benchmark datasets known by name."""
    from .data import BENCHMARKS

    table = Table(title="benchmarks")
    for col in ("name", "task", "description"):
        table.add_column(col)
    for name, spec in BENCHMARKS.items():
        table.add_row(name, str(spec.task), spec.description)
    console.print(table)


@data_app.command("stats")
def data_stats(
    dataset: Optional[str] = typer.Argument(None, help="Benchmark name."),
    train_file: Optional[Path] = typer.Option(None, "--train", help="Training file (instead of a benchmark name)."),
    validation_file: Optional[Path] = typer.Option(None, "--validation", help="Validation file."),
    test_file: Optional[Path] = typer.Option(None, "--test", help="Test file."),
    task: Optional[TaskType] = typer.Option(None, help="Task, with files."),
    data_format: Optional[str] = typer.Option(None, "--format", help="delimited | jsonl | conll | ptb | hf."),
    data_root: Optional[Path] = typer.Option(None, help="Folder of the benchmark datasets (env HAMR_DATA_ROOT)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Split sizes, per-class counts, imbalance ratio and quartile groups."""
    from .data import dataset_stats, load_benchmark, load_files, print_stats

    if dataset:
        bundle = load_benchmark(dataset, str(data_root) if data_root else None)
    elif train_file and task:
        bundle = load_files(task, train_file, validation_file, test_file, fmt=data_format)
    else:
        raise typer.BadParameter("give a benchmark name, or --train FILE with --task")
    stats = dataset_stats(bundle)
    if as_json:
        console.print_json(json.dumps(stats, default=str))
    else:
        print_stats(stats, console)


@app.command()
def compare(
    train_file: Path = typer.Option(..., "--train", help="Training file."),
    validation_file: Optional[Path] = typer.Option(None, "--validation", help="Validation file (default: a "
                                                   "stratified 10% of train). The choice is made on it."),
    test_file: Optional[Path] = typer.Option(None, "--test", help="Test file: reported after the choice, never used for it."),
    task: TaskType = typer.Option(TaskType.CLASSIFICATION, help="Task."),
    data_format: Optional[str] = typer.Option(None, "--format", help="delimited | jsonl | conll | ptb | hf."),
    data_option: list[str] = typer.Option([], "--data-option", help="Loader option key=value, as for `hamr train`."),
    name: Optional[str] = typer.Option(None, help="Dataset name for the run folders (default: the train file's stem)."),
    methods: str = typer.Option("erm,icf,focal,hamr", help="Comma-separated methods (ERM runs first)."),
    seeds: int = typer.Option(1, min=1, help="Seeds per method (42, 43, ...); the choice uses their mean."),
    budget_minutes: Optional[float] = typer.Option(None, help="Start no run that the estimate puts past this budget."),
    out: Optional[Path] = typer.Option(None, help="Results folder (default runs/compare/<name>); resumable."),
    model: Optional[str] = typer.Option(None, help="HF model name or path (default: packaged all-MiniLM-L6-v2)."),
    max_length: int = typer.Option(64, help="Maximum tokens per example."),
    epochs: float = typer.Option(3.0, help="Training epochs of every run."),
    batch_size: int = typer.Option(16, help="Training batch size."),
    learning_rate: Optional[float] = typer.Option(None, "--lr", help="Default 4e-5 classification, 2e-5 NER."),
    max_train_examples: Optional[int] = typer.Option(None, min=1, help="Train every run on a seeded random sample "
                                                     "of N training examples (validation and test stay whole)."),
    decision_offsets: DecisionOffsets = typer.Option(
        DecisionOffsets.AUTO, help="Every run fits per-class logit offsets on half the validation data (as `hamr "
        "train --decision-offsets`); the choice reads the other half."),
) -> None:
    """Run several methods on your data (through the bench: resumable, one folder per run) and recommend one,
    chosen on validation only; test figures, if a test file is given, come after the choice."""
    from .bench import ProtocolError
    from .compare import CompareError, print_comparison, run_compare
    from .data import DataError
    from .data.filespec import FileDataset

    try:
        raw = {"name": name or train_file.stem, "task": str(task), "train": str(train_file),
               "validation": str(validation_file) if validation_file else None,
               "test": str(test_file) if test_file else None, "format": data_format,
               "data_options": parse_data_options(data_option)}
        data = FileDataset.from_dict(raw, "hamr compare", base=Path.cwd())
        # the choice reads each run's final validation scores: a validation pass after every epoch is not needed
        settings = {"model": model, "max_length": max_length, "epochs": epochs, "batch_size": batch_size,
                    "learning_rate": learning_rate, "max_train_examples": max_train_examples,
                    "evaluate_each_epoch": False, "decision_offsets": decision_offsets.value}
        import signal

        from .bench.grid import sigterm_to_exit

        signal.signal(signal.SIGTERM, sigterm_to_exit)  # `kill PID` stops the current run's process too
        comparison = run_compare(data, methods, seeds=seeds, out=out, settings=settings,
                                 budget_minutes=budget_minutes)
    except (CompareError, DataError, ProtocolError) as exc:
        print_error(console, exc)
        raise typer.Exit(2)
    print_comparison(comparison, console)
    if comparison.counts.get("failed"):
        raise typer.Exit(1)


@data_app.command("check")
def data_check(
    dataset: Optional[str] = typer.Argument(None, help="Benchmark name (or give files)."),
    train_file: Optional[Path] = typer.Option(None, "--train", help="Training file."),
    validation_file: Optional[Path] = typer.Option(None, "--validation", help="Validation file (default: a "
                                                   "stratified 10% of train, as `hamr train` carves it)."),
    test_file: Optional[Path] = typer.Option(None, "--test", help="Test file."),
    task: Optional[TaskType] = typer.Option(None, help="Task, with files."),
    data_format: Optional[str] = typer.Option(None, "--format", help="delimited | jsonl | conll | ptb | hf."),
    data_option: list[str] = typer.Option([], "--data-option", help="Loader option key=value, as for `hamr train`."),
    data_root: Optional[Path] = typer.Option(None, help="Folder of the benchmark datasets (env HAMR_DATA_ROOT)."),
    model: Optional[str] = typer.Option(None, help="Model whose tokenizer measures truncation (default: packaged MiniLM)."),
    max_length: int = typer.Option(64, help="Maximum tokens per example, as for `hamr train`."),
    seed: int = typer.Option(42, help="Seed of the carved validation split, as for `hamr train`."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Check a dataset before training: sizes, class counts, imbalance, duplicates, conflicting labels, label
    spellings, tiny classes, unseen labels, truncation, IOB2; with file:line examples and a suggested method.

    Exit code 0: no errors (warnings only); 1: errors that would make training fail; 2: the data cannot be read."""
    from .data import DataError, load_benchmark, read_split_files
    from .data.check import check_splits, print_report
    from .tasks import load_tokenizer

    try:
        options = parse_data_options(data_option)
        validation_size = options.pop("validation_size", 0.1)
        options.pop("name", None)
        if dataset:
            bundle = load_benchmark(dataset, str(data_root) if data_root else None, seed=seed)
            splits, name = bundle.splits(), dataset
        elif train_file and task:
            splits = read_split_files(task, train_file, validation_file, test_file, fmt=data_format, **options)
            name = train_file.stem
        else:
            raise typer.BadParameter("give a benchmark name, or --train FILE with --task")
        report = check_splits(splits, name=name, tokenizer=load_tokenizer(model), max_length=max_length, seed=seed,
                              validation_size=validation_size)
    except DataError as exc:
        print_error(console, exc)
        raise typer.Exit(2)
    if as_json:
        console.print_json(json.dumps(report.to_dict(), default=str))
    else:
        print_report(report, console)
    if report.errors:
        raise typer.Exit(1)


from .bench.cli import bench_app  # noqa: E402

app.add_typer(bench_app, name="bench")


def main() -> None:  # pragma: no cover
    logging.basicConfig(level=os.environ.get("HAMR_LOG_LEVEL", "WARNING"))
    app(prog_name="hamr")


if __name__ == "__main__":  # python -m hamr.cli (torchrun -m / accelerate launch -m)
    main()
