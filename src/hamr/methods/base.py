"""The base Trainer every method builds on: :class:`ImbalanceTrainer`, a drop-in ``transformers.Trainer``.

It trains with the method's loss and sampler (both read from the method's registry entry,
:mod:`hamr.methods.registry`), carries example indices, and holds the plumbing the meta-learning trainers
share: log accumulation (:meth:`ImbalanceTrainer.log_value`), gathering per-example values across DDP ranks
(:meth:`ImbalanceTrainer.gather_indexed`), all-reducing hand-made gradients
(:meth:`ImbalanceTrainer.all_reduce_mean_`) and seeded meta batches (:meth:`ImbalanceTrainer.draw_meta_batch`).

Example indices (``example_index``) travel inside the library: the training dataset is wrapped so every
item carries its position, the collator keeps it, and the Trainer's ``remove_unused_columns`` is told
about it. A training batch without indices is an error, never a silent no-op.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset
from transformers import Trainer

from ..constants import IGNORE_INDEX, INDEX_KEY
from ..enums import TaskType
from ..losses import WeightedCrossEntropy, class_counts_from_labels
from ..run_outputs import mark_checkpoint_complete
from ..tasks import IndexCollator
from .arguments import ImbalanceArguments
from .registry import get_method

logger = logging.getLogger(__name__)

#: A sampler's own generator (:attr:`ImbalanceTrainer.sampler_generator`), saved in every checkpoint.
SAMPLER_STATE_NAME = "hamr_sampler_rng.pt"


class MissingIndexError(KeyError):
    """A training batch arrived without ``example_index``."""


class IndexedDataset(Dataset):
    """Adds ``example_index`` (the item's position) to every item of a map-style dataset."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = dict(self.dataset[i])
        item.setdefault(INDEX_KEY, i)
        return item


def ensure_indexed(dataset: Dataset | None) -> Dataset | None:
    """Wrap ``dataset`` so its items carry ``example_index``, unless they already do."""
    if dataset is None or len(dataset) == 0:  # type: ignore[arg-type]
        return dataset
    first = dataset[0]
    if isinstance(first, dict) and INDEX_KEY in first:
        return dataset
    return IndexedDataset(dataset)


def labels_of(dataset: Dataset) -> list:
    return [dataset[i]["labels"] if "labels" in dataset[i] else dataset[i]["label"] for i in range(len(dataset))]


def example_groups(label_rows: Sequence, num_labels: int, outside_id: int | None = None) -> np.ndarray:
    """One class id per example: its label (classification) or, for a tag row (NER), its rarest tag
    other than ``outside_id`` by training tag frequency (``outside_id`` when the row has no entity)."""
    if not len(label_rows) or np.ndim(label_rows[0]) == 0:
        return np.asarray(label_rows, dtype=np.int64)
    counts = class_counts_from_labels(label_rows, num_labels)
    out = np.empty(len(label_rows), dtype=np.int64)
    for i, row in enumerate(label_rows):
        tags = [t for t in row if t != IGNORE_INDEX and t != outside_id]
        out[i] = min(tags, key=lambda t: (counts[t], t)) if tags else (outside_id if outside_id is not None else -1)
    return out


class ImbalanceTrainer(Trainer):
    """A ``transformers.Trainer`` that trains with an imbalance-aware loss or sampler.

    Extra arguments: ``loss_fn`` (a module ``(logits, labels) -> scalar``; default from ``args.method`` and the
    class counts of the training labels) and ``task`` (inferred from the label shape when omitted).
    """

    def __init__(
        self,
        model=None,
        args: ImbalanceArguments | None = None,
        train_dataset: Dataset | None = None,
        eval_dataset: Dataset | None = None,
        *,
        loss_fn: torch.nn.Module | None = None,
        task: TaskType | None = None,
        data_collator=None,
        processing_class=None,
        **kwargs: Any,
    ) -> None:
        if args is None:
            raise ValueError("pass args=ImbalanceArguments(...) (or the method's arguments class, e.g. HAMRArguments)")
        self.method_spec = get_method(args.method)
        if not isinstance(args, self.method_spec.arguments_class):
            raise ValueError(f"method {args.method.value!r} takes {self.method_spec.arguments_class.__name__}, "
                             f"got {type(args).__name__}")
        train_dataset = ensure_indexed(train_dataset)
        self.num_labels = int(getattr(getattr(model, "config", None), "num_labels", 0) or 0)
        if task is None and train_dataset is not None and len(train_dataset):
            task = TaskType.NER if np.ndim(train_dataset[0]["labels"]) > 0 else TaskType.CLASSIFICATION
        self.task = TaskType.parse(task) if task is not None else TaskType.CLASSIFICATION
        if data_collator is None and processing_class is not None:
            data_collator = IndexCollator(processing_class, self.task)
        super().__init__(
            model=model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            data_collator=data_collator,
            processing_class=processing_class,
            **kwargs,
        )
        self.loss_is_scaled_for_ga = False  # our losses are per-batch means
        self.train_labels = labels_of(train_dataset) if train_dataset is not None else []
        if not self.num_labels and self.train_labels:
            flat = [t for r in self.train_labels for t in (r if np.ndim(r) else [r]) if t != IGNORE_INDEX]
            self.num_labels = int(max(flat)) + 1
        self.class_counts = (
            class_counts_from_labels(self.train_labels, self.num_labels) if self.train_labels else None
        )
        if loss_fn is None:
            if self.class_counts is None or self.method_spec.build_loss is None:
                loss_fn = WeightedCrossEntropy()
            else:
                loss_fn = self.method_spec.build_loss(args, self.class_counts)
        self.loss_fn = loss_fn.to(args.device)
        self.eval_loss_fn = WeightedCrossEntropy()
        self._log_acc: dict[str, list[float]] = defaultdict(list)
        #: the generator of a method's own training sampler (set by its ``train_sampler``), kept in checkpoints
        self.sampler_generator: torch.Generator | None = None

    # -- index plumbing ------------------------------------------------------------------------------
    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if INDEX_KEY not in self._signature_columns:
            self._signature_columns.append(INDEX_KEY)

    def _pop_index(self, inputs: dict[str, Any], required: bool) -> torch.Tensor | None:
        index = inputs.pop(INDEX_KEY, None)
        if index is None and required:
            raise MissingIndexError(
                f"a training batch has no {INDEX_KEY!r}: use hamr's IndexCollator (or keep the key in your "
                "collator's output); HAMR's sampler and hardness memory need every example's index"
            )
        return index

    def _outside_id(self) -> int | None:
        label2id = getattr(getattr(self.model, "config", None), "label2id", None) or {}
        return label2id.get("O")

    def example_groups(self) -> np.ndarray:
        return example_groups(self.train_labels, self.num_labels, self._outside_id())

    # -- loss ----------------------------------------------------------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        self._pop_index(inputs, required=False)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss_fn = self.loss_fn if model.training else self.eval_loss_fn
        loss = loss_fn(outputs.logits, labels)
        return (loss, outputs) if return_outputs else loss

    def _get_train_sampler(self, train_dataset=None):
        if self.method_spec.train_sampler is not None:
            return self.method_spec.train_sampler(self)
        return super()._get_train_sampler(train_dataset)

    def train(self, *args, **kwargs):
        out = super().train(*args, **kwargs)
        if self.method_spec.after_train is not None:
            self.method_spec.after_train(self)
        return out

    # -- checkpoints: complete once the marker, written last, exists (hamr.run_outputs) -----------------
    def _checkpoint_folder(self, trial=None) -> str:
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

        return os.path.join(self._get_output_dir(trial=trial), f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")

    def _save_extra_checkpoint_state(self, folder: str) -> None:
        """Save state beyond the Trainer's into the checkpoint ``folder`` (before the marker); subclasses extend
        it. Here: the training sampler's own generator, so a resumed run draws what the whole run would."""
        if self.sampler_generator is not None:
            torch.save({"sampler_generator": self.sampler_generator.get_state()},
                       os.path.join(folder, SAMPLER_STATE_NAME))

    def _save_checkpoint(self, model, trial) -> None:
        super()._save_checkpoint(model, trial)
        if self.args.should_save:  # like the Trainer's own files: world rank 0, or each node's with save_on_each_node
            folder = self._checkpoint_folder(trial)
            os.makedirs(folder, exist_ok=True)
            self._save_extra_checkpoint_state(folder)
            mark_checkpoint_complete(folder, global_step=self.state.global_step, epoch=self.state.epoch)

    def _load_optimizer_and_scheduler(self, checkpoint) -> None:
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is None or self.sampler_generator is None:
            return
        path = os.path.join(checkpoint, SAMPLER_STATE_NAME)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: this checkpoint holds no sampler state (was it written by ImbalanceTrainer?)")
        self.sampler_generator.set_state(torch.load(path, weights_only=True)["sampler_generator"])

    # -- plumbing shared by the meta-learning trainers -------------------------------------------------
    #: How :meth:`log` reduces a key's values accumulated since the last log (default: their mean).
    log_reducers: dict[str, Callable[[list[float]], float]] = {}

    def log_value(self, key: str, value: float) -> None:
        """Accumulate a per-step figure; :meth:`log` reports its reduction (:attr:`log_reducers`)."""
        self._log_acc[key].append(value)

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        for key, vals in self._log_acc.items():
            if vals:
                reduce = self.log_reducers.get(key)
                logs[key] = reduce(vals) if reduce else float(np.mean(vals))
        self._log_acc.clear()
        super().log(logs, *args, **kwargs)

    def gather_indexed(self, index: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(indices, float values) of this step from every rank, on the CPU, padding dropped: per-example tables
        (HAMR's hardness memory, GBC's weights) stay identical on every rank. The inputs as they are outside DDP."""
        if self.accelerator.num_processes > 1:
            index = self.accelerator.pad_across_processes(index, pad_index=-1)
            values = self.accelerator.pad_across_processes(values.float(), pad_index=0)
            index, values = self.accelerator.gather(index), self.accelerator.gather(values)
        idx, val = index.detach().cpu(), values.detach().float().cpu()
        keep = idx >= 0
        return idx[keep], val[keep]

    def all_reduce_mean_(self, grads: Sequence[torch.Tensor]) -> None:
        """Average hand-made gradients over the ranks in place (a no-op in one process)."""
        if self.accelerator.num_processes > 1:
            for g in grads:
                torch.distributed.all_reduce(g, op=torch.distributed.ReduceOp.SUM)
                g.div_(self.accelerator.num_processes)

    def draw_meta_batch(self, dataset: Dataset, size: int, step: int,
                        groups: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        """The meta batch of meta step ``step``: ``min(size, len(dataset))`` examples drawn with the generator
        seeded by (seed, 7919, step), so a run's meta batches do not depend on anything else it draws. With
        ``groups`` (one class id per meta example), round robin over the classes in a seeded order, one
        example of the class each; else without replacement. On the training device, without indices."""
        m = len(dataset)
        size = min(size, m)
        rng = np.random.default_rng([int(self.args.seed), 7919, step])
        if groups is not None:
            classes = np.unique(groups)
            order = np.resize(rng.permutation(classes), size)  # round robin over classes
            chosen = [int(rng.choice(np.flatnonzero(groups == c))) for c in order]
        else:
            chosen = rng.choice(m, size=size, replace=False).tolist()
        batch = self.data_collator([dataset[int(i)] for i in chosen])
        batch.pop(INDEX_KEY, None)
        return {k: v.to(self.args.device) for k, v in batch.items()}


def train_plain(ctx) -> ImbalanceTrainer:
    """The ``train_fn`` of the methods that change only the loss or the sampler: an :class:`ImbalanceTrainer`
    on the run's data, trained; returns it."""
    trainer = ImbalanceTrainer(**ctx.trainer_kwargs())
    trainer.train(resume_from_checkpoint=ctx.resume_from)
    return trainer
