"""The settings of one run: :class:`RunConfig`, the one source that the CLI (``hamr train``), config files and the
bench (protocol ``settings``, :data:`SETTING_DEFAULTS`) read, and the run's task-dependent defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .enums import Method, TaskType

#: Default learning rate per task when a run gives none (method.md §8).
DEFAULT_LEARNING_RATE = {TaskType.CLASSIFICATION: 4e-5, TaskType.NER: 2e-5}


@dataclass
class RunConfig:
    """Everything one run needs. ``options`` sets any field of the method's arguments class by name (e.g.
    ``{"lookahead_scope": "head"}`` for HAMR; see ``hamr.methods.get_method(method).arguments_class``).

    Attributes:
        dataset: a benchmark name (``hamr data list``), or None with ``train_file``.
        train_file: a training file instead of ``dataset``.
        validation_file: its validation file.
        test_file: its test file.
        task: ``classification`` or ``ner``; required with files.
        data_format: ``delimited | jsonl | conll | ptb | hf`` (None: from the file extension).
        data_options: loader options, e.g. ``text_column``, ``tag_column``, ``label_map``.
        data_root: folder of the benchmark datasets (None: ``$HAMR_DATA_ROOT`` or the default search).
        limit: keep the first N examples of every split (smoke runs only: some files are sorted by label).
        max_train_examples: train on a seeded random sample (``seed``) of N training examples; validation and
            test stay whole.
        model: a Hugging Face model name or path (None: the packaged all-MiniLM-L6-v2).
        method: the training method (:class:`~hamr.enums.Method`).
        max_length: maximum tokens per example.
        epochs: training epochs.
        batch_size: training batch size (evaluation uses at least 32).
        learning_rate: None for the task's default (:data:`DEFAULT_LEARNING_RATE`).
        seed: the run's seed (model initialisation, data order, samplers, the training cap).
        output_dir: where the model, metrics and predictions go.
        save_model: save the fine-tuned model and tokenizer under ``output_dir/model``.
        evaluate_each_epoch: validation metrics after every epoch (the final ones are recorded either way).
        options: further fields of the method's arguments class, by name.
    """

    dataset: str | None = None
    train_file: str | None = None
    validation_file: str | None = None
    test_file: str | None = None
    task: TaskType | None = None
    data_format: str | None = None
    data_options: dict[str, Any] = field(default_factory=dict)
    data_root: str | None = None
    limit: int | None = None
    max_train_examples: int | None = None
    model: str | None = None
    method: Method = Method.ERM
    max_length: int = 64
    epochs: float = 3.0
    batch_size: int = 16
    learning_rate: float | None = None
    seed: int = 42
    output_dir: str = "runs/latest"
    save_model: bool = True
    evaluate_each_epoch: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.method = Method.parse(self.method)
        if self.task is not None:
            self.task = TaskType.parse(self.task)
        if (self.dataset is None) == (self.train_file is None):
            raise ValueError("give either a benchmark dataset name or a train_file")
        if self.train_file is not None and self.task is None:
            raise ValueError("a run from files needs task=classification|ner")


def run_config_defaults() -> dict[str, Any]:
    """Every :class:`RunConfig` field with a plain default, by name."""
    return {f.name: f.default for f in dataclasses.fields(RunConfig) if f.default is not dataclasses.MISSING}


#: The run settings a bench protocol may set (``settings``, ``dataset_settings``, an entry's ``settings``).
PROTOCOL_SETTINGS = ("model", "max_length", "epochs", "batch_size", "learning_rate", "limit", "max_train_examples",
                     "evaluate_each_epoch")

#: Their defaults, read from :class:`RunConfig` (not restated).
SETTING_DEFAULTS: dict[str, Any] = {name: run_config_defaults()[name] for name in PROTOCOL_SETTINGS}


def resolve_learning_rate(learning_rate: float | None, task: TaskType | str) -> float:
    """The run's learning rate: the one given, else the task's default (:data:`DEFAULT_LEARNING_RATE`)."""
    return learning_rate if learning_rate is not None else DEFAULT_LEARNING_RATE[TaskType.parse(task)]
