"""LNR, Label-Noise Rebalancing (Hu et al., ICML 2025), method.md §6.

Two stages, both inside :func:`train_lnr` (so the pipeline's timing covers both):

1. a plain cross-entropy model (a fresh ``ctx.new_model()``) is trained for ``args.lnr_first_stage_epochs``
   epochs on the training set, without evaluation, and predicts class probabilities on the training set;
2. labels are flipped once with :func:`hamr.methods.lnr.flips.lnr_flip` (rng ``numpy.random.default_rng(args.seed)``,
   threshold ``args.lnr_t_flip``), the flips are logged and written to ``<args.output_dir>/lnr_flips.json``,
   and a second fresh model is trained with plain cross-entropy on the flipped labels for the full budget
   (``args``, unchanged). That second Trainer is returned.

Classification: the unit is the example, its probabilities the softmax of the first-stage logits.

NER: the unit is the **entity span**. LNR flips labels from frequent to rare classes; for NER the classes
that make sense to trade are the entity types (flipping ``O`` tokens would invent span boundaries the
formula knows nothing about, and a single ``B-``/``I-`` tag flip would break IOB2). So:

- spans are read from the IOB2 tags of the labelled positions (label != -100: first sub-token of each
  word) of the encoded sentence, in order; a ``B-X``, or an ``I-X`` not continuing an ``X``, opens a span;
- P(type k | span) = the mean over the span's tokens of P(B-k) + P(I-k) under the first-stage model
  (not renormalised over the types: a span the model reads as ``O`` has small values for every type and
  hardly ever flips);
- class counts are spans per type in the (encoded) training set; the LNR rule of :func:`lnr_flip` runs over
  all spans of the training set with these;
- a flipped span keeps its boundaries and its B-/I- structure: ``B-old → B-new``, ``I-old → I-new``.
  ``O`` tokens never change.

Entities cut off by ``max_length`` are invisible to both stages and are not counted.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os

from ...errors import SettingError
from ...losses import WeightedCrossEntropy
from ..base import ImbalanceTrainer
from .flips import FLIPS_FILE, flip_dataset, no_flip_message

logger = logging.getLogger(__name__)


def train_lnr(ctx):
    """LNR end to end (see the module docstring); returns the trained second-stage Trainer, with the flip
    summary as ``trainer.lnr_flips``."""
    args = ctx.args
    task = ctx.bundle.task
    if args.lnr_first_stage_epochs <= 0:
        raise SettingError(f"lnr_first_stage_epochs must be > 0, got {args.lnr_first_stage_epochs}")
    stage1_args = dataclasses.replace(
        args,
        num_train_epochs=args.lnr_first_stage_epochs,
        max_steps=-1,
        eval_strategy="no",
        save_strategy="no",
        load_best_model_at_end=False,
        output_dir=os.path.join(args.output_dir, "lnr_stage1"),
    )
    stage1 = ImbalanceTrainer(
        model=ctx.new_model(),
        args=stage1_args,
        train_dataset=ctx.train,
        processing_class=ctx.tokenizer,
        loss_fn=WeightedCrossEntropy(),
        task=task,
    )
    stage1.train()
    pred = stage1.predict(ctx.train, metric_key_prefix="lnr_stage1")
    del stage1
    gc.collect()

    flipped, result = flip_dataset(
        ctx.train, pred.predictions, pred.label_ids, task, ctx.bundle.vocab.labels,
        t_flip=args.lnr_t_flip, seed=args.seed,
    )
    summary = {"t_flip": args.lnr_t_flip, "seed": args.seed, "first_stage_epochs": args.lnr_first_stage_epochs}
    summary.update(result.summary())
    logger.info(
        "LNR flipped %d of %d %ss: %s", result.num_flipped, result.num_units, result.unit.replace("_", " "),
        ", ".join(f"{f['from']}->{f['to']}: {f['count']}" for f in summary["flips"]) or "none",
    )
    if result.num_flipped == 0:
        logger.warning(no_flip_message(result.max_eligible_z, args.lnr_t_flip))
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, FLIPS_FILE), "w") as fh:
        json.dump(summary, fh, indent=2)

    trainer = ImbalanceTrainer(**ctx.trainer_kwargs(args=args, train_dataset=flipped, loss_fn=WeightedCrossEntropy()))
    trainer.lnr_flips = summary
    trainer.train()
    return trainer
