"""A dataset given by its files, by name: what a bench protocol may list beside the six benchmarks.

In a protocol's ``datasets`` list, an object instead of a benchmark name::

    {"name": "mydata", "task": "classification", "train": "data/train.csv", "validation": "data/dev.csv",
     "test": "data/test.csv", "format": null, "data_options": {"text_column": "body", "label_column": "topic"}}

``validation``, ``test``, ``format`` and ``data_options`` are optional (no validation file: a stratified 10% of
train is held out, as :func:`hamr.data.load_files` does). Relative paths are read from the protocol file's
folder. Each run loads the files itself through :class:`hamr.pipeline.RunConfig`'s file fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..enums import TaskType
from .types import DataError

FILE_DATASET_KEYS = {"name", "task", "train", "validation", "test", "format", "data_options"}


@dataclass(frozen=True)
class FileDataset:
    """A named dataset read from files (see the module docstring)."""

    name: str
    task: TaskType
    train: str
    validation: str | None = None
    test: str | None = None
    format: str | None = None
    data_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Any, where: str, base: Path | None = None) -> "FileDataset":
        """Validate a protocol's dataset object; errors name ``where`` (``file: datasets[i].key``)."""
        if not isinstance(raw, dict):
            raise DataError(f"{where}: expected a benchmark name or an object with name, task and train")
        unknown = sorted(set(raw) - FILE_DATASET_KEYS)
        if unknown:
            raise DataError(f"{where}.{unknown[0]}: unknown field (expected: {', '.join(sorted(FILE_DATASET_KEYS))})")
        for key in ("name", "task", "train"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise DataError(f"{where}.{key}: required, a non-empty string")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", raw["name"]):
            raise DataError(f"{where}.name: {raw['name']!r} is not a valid dataset name (letters, digits, _ . -)")
        try:
            task = TaskType.parse(raw["task"])
        except ValueError as exc:
            raise DataError(f"{where}.task: {exc}") from None
        options = raw.get("data_options") or {}
        if not isinstance(options, dict):
            raise DataError(f"{where}.data_options: expected an object of loader options")
        paths: dict[str, str | None] = {}
        for key in ("train", "validation", "test"):
            value = raw.get(key)
            if value is None:
                paths[key] = None
                continue
            if not isinstance(value, str):
                raise DataError(f"{where}.{key}: expected a file path")
            p = Path(value).expanduser()
            if not p.is_absolute() and base is not None:
                p = base / p
            if not p.exists():
                raise DataError(f"{where}.{key}: no such file {p}")
            paths[key] = str(p.resolve())
        fmt = raw.get("format")
        if fmt is not None and not isinstance(fmt, str):
            raise DataError(f"{where}.format: expected a format name")
        return cls(raw["name"], task, paths["train"], paths["validation"], paths["test"], fmt, dict(options))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "task": str(self.task), "train": self.train, "validation": self.validation,
                "test": self.test, "format": self.format, "data_options": dict(self.data_options)}

    def run_config_kwargs(self) -> dict[str, Any]:
        """The :class:`hamr.pipeline.RunConfig` fields that load this dataset (the bundle is named ``name``)."""
        return dict(dataset=None, train_file=self.train, validation_file=self.validation, test_file=self.test,
                    task=self.task, data_format=self.format, data_options={"name": self.name, **self.data_options})
