"""The ``hamr`` command line (typer): train, evaluate, data stats, bench."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from .config import run_config_defaults
from .enums import Method, TaskType

_DEFAULTS = run_config_defaults()

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Train NLP models well on class-imbalanced data.")
data_app = typer.Typer(no_args_is_help=True, help="Inspect datasets.")
app.add_typer(data_app, name="data")
console = Console()


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


def _data_options(pairs: list[str]) -> dict[str, Any]:
    from .options import OptionError, parse_data_options

    try:
        return parse_data_options(pairs)
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


@app.command()
def train(
    dataset: Optional[str] = typer.Option(None, help="Benchmark name (see `hamr data list`)."),
    train_file: Optional[Path] = typer.Option(None, "--train", help="Training file (instead of --dataset)."),
    validation_file: Optional[Path] = typer.Option(None, "--validation", help="Validation file."),
    test_file: Optional[Path] = typer.Option(None, "--test", help="Test file."),
    task: Optional[TaskType] = typer.Option(None, help="Task, with files."),
    data_format: Optional[str] = typer.Option(None, "--format", help="delimited | jsonl | conll | ptb | hf."),
    data_option: list[str] = typer.Option([], "--data-option", help="Loader option key=value (e.g. tag_column=0)."),
    data_root: Optional[Path] = typer.Option(None, help="Folder of the benchmark datasets (env HAMR_DATA_ROOT)."),
    model: Optional[str] = typer.Option(None, help="HF model name or path (default: packaged all-MiniLM-L6-v2)."),
    method: Method = typer.Option(_DEFAULTS["method"], help="Training method."),
    epochs: float = typer.Option(_DEFAULTS["epochs"], help="Training epochs."),
    batch_size: int = typer.Option(_DEFAULTS["batch_size"], help="Training batch size."),
    learning_rate: Optional[float] = typer.Option(
        None, "--lr", help="Learning rate (default: 4e-5 classification, 2e-5 NER)."),
    max_length: int = typer.Option(_DEFAULTS["max_length"], help="Maximum tokens per example."),
    seed: int = typer.Option(_DEFAULTS["seed"], help="Seed of the run (model, data order, samplers, the training cap)."),
    limit: Optional[int] = typer.Option(None, help="Use only the first N examples of every split."),
    max_train_examples: Optional[int] = typer.Option(
        None, min=1, help="Train on a seeded random sample of N training examples (keeps the class imbalance; "
        "validation and test stay whole), as the benchmark protocols' caps."),
    output_dir: Path = typer.Option(Path(_DEFAULTS["output_dir"]), help="Where the model, metrics and predictions go."),
    option: list[str] = typer.Option([], "--option", "-o", help="Any field of the method's arguments class, key=value."),
    save_model: bool = typer.Option(_DEFAULTS["save_model"], "--save-model/--no-save-model",
                                    help="Save the fine-tuned model and tokenizer under OUTPUT_DIR/model."),
) -> None:
    """Fine-tune a model with a method and print per-class test metrics."""
    from .config import RunConfig
    from .pipeline import run

    config = RunConfig(
        dataset=dataset,
        train_file=str(train_file) if train_file else None,
        validation_file=str(validation_file) if validation_file else None,
        test_file=str(test_file) if test_file else None,
        task=task,
        data_format=data_format,
        data_options=_data_options(data_option),
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
        options=parse_options(option, method),
    )
    result = run(config)
    _print_metrics(result)
    console.print(f"[green]saved[/green] {output_dir}")


@app.command()
def evaluate(
    model_dir: Path = typer.Argument(..., help="A saved model folder (e.g. runs/latest/model)."),
    dataset: Optional[str] = typer.Option(None, help="Benchmark name."),
    test_file: Optional[Path] = typer.Option(None, "--test", help="A data file to evaluate instead of --dataset."),
    train_file: Optional[Path] = typer.Option(None, "--train", help="Training file (for quartiles), with --test."),
    task: Optional[TaskType] = typer.Option(None, help="Task, with --test."),
    split: str = typer.Option("test", help="Split of the benchmark to evaluate."),
    data_root: Optional[Path] = typer.Option(None, help="Folder of the benchmark datasets (env HAMR_DATA_ROOT)."),
    max_length: int = typer.Option(_DEFAULTS["max_length"], help="Maximum tokens per example."),
    batch_size: int = typer.Option(32, help="Evaluation batch size."),
    limit: Optional[int] = typer.Option(None, help="Use only the first N examples of the split."),
    output: Optional[Path] = typer.Option(None, help="Write the metrics as JSON here."),
) -> None:
    """Evaluate a saved model on a dataset split."""
    from .evaluation import evaluate_saved_model

    result = evaluate_saved_model(
        str(model_dir), dataset=dataset, data_file=str(test_file) if test_file else None,
        train_file=str(train_file) if train_file else None, task=task, split=split,
        data_root=str(data_root) if data_root else None, max_length=max_length, batch_size=batch_size, limit=limit,
    )
    _print_metrics(result, split)
    if output:
        output.write_text(json.dumps(result, indent=2, default=str))


@app.command()
def plot(run_dir: Path = typer.Argument(..., help="A run folder written by `hamr train`.")) -> None:
    """Plot a run's per-epoch diagnostics: learned weights and sampling mass per class, validation F1."""
    from .diagnostics import plot_run

    path = plot_run(run_dir)
    if path is None:
        raise typer.BadParameter(f"{run_dir}: no hamr_diagnostics.jsonl or per-class epoch_metrics.jsonl to plot")
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


from .bench.cli import bench_app  # noqa: E402

app.add_typer(bench_app, name="bench")


def main() -> None:  # pragma: no cover
    logging.basicConfig(level=os.environ.get("HAMR_LOG_LEVEL", "WARNING"))
    app()


if __name__ == "__main__":  # python -m hamr.cli (torchrun -m / accelerate launch -m)
    main()
