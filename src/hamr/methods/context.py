"""What a method's ``train_fn`` receives: :class:`RunContext`, one run's data, tokenizer, arguments and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import torch

from ..data import DataBundle, Split
from ..tasks import EncodedDataset, IndexCollator, encode_split, load_model
from .arguments import ImbalanceArguments

if TYPE_CHECKING:  # pragma: no cover
    from ..config import RunConfig


@dataclass
class RunContext:
    """What a method's training function receives (see :mod:`hamr.methods.registry`)."""

    config: "RunConfig"
    bundle: DataBundle
    tokenizer: Any
    train: EncodedDataset
    validation: EncodedDataset | None
    args: ImbalanceArguments
    compute_metrics: Callable
    extra: dict[str, Any] = field(default_factory=dict)  # figures a method reports beside the metrics
    resume_from: str | None = None  # a complete checkpoint folder to continue from

    def new_model(self) -> torch.nn.Module:
        torch.manual_seed(self.config.seed)
        return load_model(self.bundle.task, self.bundle.vocab, self.config.model)

    def collator(self) -> IndexCollator:
        return IndexCollator(self.tokenizer, self.bundle.task)

    def encode(self, split: Split) -> EncodedDataset:
        return encode_split(split, self.tokenizer, self.bundle.vocab, self.config.max_length)

    def trainer_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """The keyword arguments every method's Trainer takes (a fresh model, the run's data and metrics)."""
        kwargs = dict(
            model=self.new_model(),
            args=self.args,
            train_dataset=self.train,
            eval_dataset=self.validation,
            processing_class=self.tokenizer,
            compute_metrics=self.compute_metrics,
            task=self.bundle.task,
        )
        kwargs.update(overrides)
        return kwargs
