"""The settings of one run: :class:`RunConfig`, the one source that the CLI (``hamr train``), config files and the
bench (protocol ``settings``, :data:`SETTING_DEFAULTS`) read, and the run's task-dependent defaults."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .data.types import DataBundle
from .enums import CheckpointEvery, DecisionOffsets, Method, TaskType
from .errors import SettingError

#: Default learning rate per task when a run gives none (method.md §8).
DEFAULT_LEARNING_RATE = {TaskType.CLASSIFICATION: 4e-5, TaskType.NER: 2e-5}


@dataclass
class RunConfig:
    """Everything one run needs. ``options`` sets any field of the method's arguments class by name (e.g.
    ``{"lookahead_scope": "head"}`` for HAMR; see ``hamr.methods.get_method(method).arguments_class``).

    Attributes:
        dataset: a benchmark name (``hamr data list``); or
        data: an in-memory :class:`~hamr.data.DataBundle` (``hamr.fit`` builds one); or
        train_file: a training file (exactly one of ``dataset``, ``data``, ``train_file``).
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
        validation_holdout: honest validation (issue 22, :mod:`hamr.holdout`): this share of the validation
            split, a stratified cut seeded by ``validation_holdout_seed`` (fixed, not the run's seed), is kept out
            of HAMR's meta set and scored apart for every method as metrics.json's ``validation_heldout``; 0
            switches it off (the meta set takes all of it).
        validation_holdout_seed: the seed of that cut.
        decision_offsets: ``auto`` | ``none`` | ``balanced`` | ``half`` | ``macro_f1``: after training, fit per-class
            logit offsets on the validation rows outside the held-out half (all of validation with the hold-out
            off) and fold them into the output layer's bias (:mod:`hamr.offsets`; any method). metrics.json keeps
            the scores without them (``decision_offsets.without``) and every form's held-out score. ``auto`` (the
            default since session 29): ``macro_f1`` when there is a validation split and the model's output layer
            has a bias, else ``none`` (the reason is logged).
        options: further fields of the method's arguments class, by name.
        checkpoint_every: ``none`` (the bench's default) | ``epoch`` | ``steps``: when the Trainer saves a
            complete checkpoint under ``output_dir/trainer``.
        checkpoint_steps: with ``checkpoint_every=steps``, save every N optimiser steps.
        resume: continue from the latest complete checkpoint of ``output_dir/trainer``.
        unseen_labels: validation/test labels the training split lacks: an error (None) | ``drop`` |
            ``map:FILE``.
    """

    dataset: str | None = None
    data: DataBundle | None = field(default=None, repr=False)
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
    validation_holdout: float = 0.5
    validation_holdout_seed: int = 0
    decision_offsets: DecisionOffsets = DecisionOffsets.AUTO
    options: dict[str, Any] = field(default_factory=dict)
    checkpoint_every: CheckpointEvery = CheckpointEvery.NONE
    checkpoint_steps: int | None = None
    resume: bool = False
    unseen_labels: str | None = None

    def __post_init__(self) -> None:
        self.method = Method.parse(self.method)
        self.checkpoint_every = CheckpointEvery.parse(self.checkpoint_every)
        self.decision_offsets = DecisionOffsets.parse(self.decision_offsets)
        if self.task is not None:
            self.task = TaskType.parse(self.task)
        if sum(x is not None for x in (self.dataset, self.train_file, self.data)) != 1:
            raise SettingError("give exactly one of a benchmark dataset name, a train_file or an in-memory data bundle")
        if self.train_file is not None and self.task is None:
            raise SettingError("a run from files needs task=classification|ner")
        validate_run_sizes(self)
        if not 0.0 <= self.validation_holdout < 1.0:
            raise SettingError(f"RunConfig.validation_holdout must be in [0, 1), got {self.validation_holdout}")
        if self.checkpoint_every == CheckpointEvery.STEPS and self.checkpoint_steps is None:
            raise SettingError("RunConfig.checkpoint_steps: checkpoint_every=steps needs a step count >= 1")
        if self.checkpoint_every != CheckpointEvery.STEPS and self.checkpoint_steps is not None:
            raise SettingError(f"RunConfig.checkpoint_steps is set but checkpoint_every={self.checkpoint_every.value}")
        # files without a validation file get one carved from train (hamr.data.load_files); a bundle does not
        if self.data is not None and self.data.validation is None and self.decision_offsets not in (
                DecisionOffsets.AUTO, DecisionOffsets.NONE):
            raise SettingError(f"RunConfig.decision_offsets={self.decision_offsets.value} needs a validation split to "
                               "fit the offsets on (give the bundle one, or set decision_offsets=auto or none)")
        if "resume_from_checkpoint" in self.options:
            raise SettingError("option resume_from_checkpoint is not honoured by hamr's runs: use RunConfig.resume=True "
                             "(hamr train --resume), which continues from the latest complete checkpoint of output_dir")
        if self.unseen_labels is not None:
            from .data import UnseenLabelPolicy

            UnseenLabelPolicy.parse(self.unseen_labels)  # a bad value or a missing map file fails here, early
            if self.train_file is None:  # it would do nothing: say so rather than ignore it
                raise SettingError(
                    f"RunConfig.unseen_labels={self.unseen_labels!r} applies to data read from files (train_file); "
                    + (f"the benchmark {self.dataset!r} has a fixed label set" if self.dataset is not None
                       else "an in-memory data bundle has its label vocabulary already")
                    + ": leave unseen_labels unset (hamr train: drop --unseen-labels)")


def _check(ok: bool, name: str, expected: str, value: Any) -> None:
    if not ok:
        raise SettingError(f"RunConfig.{name} must be {expected}, got {value!r}")


def validate_run_sizes(config: RunConfig) -> None:
    """Refuse sizes that make a run meaningless (0 epochs, an empty slice, a zero batch, a negative lr ...)."""

    def pos_int(v):
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1

    _check(config.limit is None or pos_int(config.limit), "limit", "an int >= 1 (None: every example)", config.limit)
    _check(config.max_train_examples is None or pos_int(config.max_train_examples), "max_train_examples",
           "an int >= 1 (None: the whole training split)", config.max_train_examples)
    _check(pos_int(config.max_length) and config.max_length >= 3, "max_length",
           "an int >= 3 (special tokens plus at least one token)", config.max_length)
    _check(isinstance(config.epochs, (int, float)) and math.isfinite(config.epochs) and config.epochs > 0,
           "epochs", "a number > 0", config.epochs)
    _check(pos_int(config.batch_size), "batch_size", "an int >= 1", config.batch_size)
    lr = config.learning_rate
    _check(lr is None or (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0), "learning_rate",
           "a number > 0 (None: the task's default)", lr)
    _check(isinstance(config.seed, int) and 0 <= config.seed < 2**32, "seed", "an int in [0, 2**32)", config.seed)
    _check(config.checkpoint_steps is None or pos_int(config.checkpoint_steps), "checkpoint_steps",
           "an int >= 1", config.checkpoint_steps)


#: The record of a run's settings in its output folder (:func:`run_config_record`): written by
#: :func:`hamr.pipeline.run` when a run starts, read by ``--resume`` (same settings?) and by the HTML report
#: (rebuilding the training split).
RUN_CONFIG_FILE = "run_config.json"


def _plain(value: Any) -> Any:
    import enum

    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def run_config_record(config: RunConfig) -> dict[str, Any]:
    """Every :class:`RunConfig` field as a plain JSON value (enums by value), except ``data`` (an in-memory
    dataset is not recorded): the content of :data:`RUN_CONFIG_FILE`."""
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config) if f.name != "data"}


def run_config_help() -> dict[str, str]:
    """The help of every :class:`RunConfig` field, read from its docstring's ``Attributes:`` section (the one
    place the run settings are documented; ``hamr options`` lists them)."""
    doc = RunConfig.__doc__ or ""
    out: dict[str, str] = {}
    name = None
    for line in doc.split("Attributes:", 1)[-1].splitlines():
        text = line.strip()
        head, sep, rest = text.partition(": ")
        if sep and line.startswith(" " * 8) and not line.startswith(" " * 12) and head.isidentifier():
            name = head
            out[name] = rest
        elif name and text:
            out[name] += " " + text
    return out


def run_config_defaults() -> dict[str, Any]:
    """Every :class:`RunConfig` field with a plain default, by name."""
    return {f.name: f.default for f in dataclasses.fields(RunConfig) if f.default is not dataclasses.MISSING}


#: The run settings a bench protocol may set (``settings``, ``dataset_settings``, an entry's ``settings``).
PROTOCOL_SETTINGS = ("model", "max_length", "epochs", "batch_size", "learning_rate", "limit", "max_train_examples",
                     "evaluate_each_epoch", "validation_holdout", "decision_offsets")

#: Their defaults, read from :class:`RunConfig` (not restated).
SETTING_DEFAULTS: dict[str, Any] = {name: _plain(run_config_defaults()[name]) for name in PROTOCOL_SETTINGS}


def resolve_learning_rate(learning_rate: float | None, task: TaskType | str) -> float:
    """The run's learning rate: the one given, else the task's default (:data:`DEFAULT_LEARNING_RATE`)."""
    return learning_rate if learning_rate is not None else DEFAULT_LEARNING_RATE[TaskType.parse(task)]
