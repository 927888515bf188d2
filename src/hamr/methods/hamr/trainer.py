"""HAMR's Trainer (method.md §1-§5): meta-learned example weights from a bi-level step against a balanced meta set,
a per-example hardness memory, and an Eq. 4 sampler boosted over kNN neighbourhoods.

The building blocks are shared modules: the weight net and hypergradient (:mod:`hamr.weighting`), the memory,
sampler and kNN graph (:mod:`hamr.resampling`), global batch statistics under DDP (:mod:`hamr.ddp`).
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from contextlib import nullcontext
from typing import Any, Sequence

import numpy as np
import torch
from torch.func import functional_call
from torch.utils.data import Dataset
from transformers import Trainer, TrainerCallback

from ...constants import IGNORE_INDEX
from ...ddp import global_mean, global_zscore
from ...enums import (
    ClassParams,
    HardnessStat,
    HypergradBackend,
    InnerLR,
    MetaObjective,
    TaskType,
    TokenClassWeights,
    WeightingForm,
    WeightUnit,
    WNetInputs,
)
from ...errors import InputError, SettingError
from ...losses import (
    WeightedCrossEntropy,
    class_counts_from_labels,
    effective_number_weights,
    inverse_frequency_weights,
    per_example_ce,
    token_mean_weights,
)
from ...resampling import (
    HardnessMemory,
    HardnessSampler,
    build_knn,
    class_balance_factor,
    neighbourhood_boost,
    sampling_probabilities,
    write_hardness_file,
)
from ...run_outputs import atomic_write_text
from ...weighting import MetaReweighter, batch_zscore, frozen_except, math_attention, select_lookahead
from ..base import ImbalanceTrainer, example_groups, labels_of
from .arguments import HAMRArguments

logger = logging.getLogger(__name__)

HAMR_STATE_NAME = "hamr_state.pt"

#: The label-free hardness file written beside ``hamr_examples.tsv`` (see :meth:`HAMRTrainer.save_hardness_table`).
HARDNESS_FILE_NAME = "hamr_hardness.json"
#: The files a HAMR run writes beside the Trainer's output.
OUTPUT_FILES = ("hamr_diagnostics.jsonl", "hamr_examples.tsv", HARDNESS_FILE_NAME)


class _HAMRCallback(TrainerCallback):
    def __init__(self, trainer: "HAMRTrainer") -> None:
        self.trainer = trainer

    def on_epoch_end(self, args, state, control, **kwargs):
        self.trainer._end_of_epoch(epoch=int(round(state.epoch or 0)))

    def on_train_end(self, args, state, control, **kwargs):
        self.trainer.save_hardness_table()


class HAMRTrainer(ImbalanceTrainer):
    """HAMR as a drop-in ``transformers.Trainer``.

    Its sampler (:class:`~hamr.resampling.HardnessSampler`, ``self.sampler``) is HAMR's registered
    ``train_sampler``.

    Extra arguments beyond :class:`ImbalanceTrainer`'s:

    - ``meta_dataset``: the balanced meta set, encoded like the training data (see :mod:`hamr.metaset`);
      when omitted the evaluation dataset is used as it is, with a warning;
    - ``train_texts``: the training texts in index order, for the kNN graph (when omitted and kNN is on,
      they are decoded from ``input_ids`` with ``processing_class``);
    - ``embeddings``: precomputed L2-normalised sentence embeddings of the training texts (rows = indices);
    - ``group_names``: names of the class ids, for the diagnostics.
    """

    log_reducers = {"hamr_weight_min": min, "hamr_weight_max": max}

    def __init__(
        self,
        model=None,
        args: HAMRArguments | None = None,
        train_dataset: Dataset | None = None,
        eval_dataset: Dataset | None = None,
        *,
        meta_dataset: Dataset | None = None,
        train_texts: Sequence[str] | None = None,
        embeddings: np.ndarray | None = None,
        group_names: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if args is None or not isinstance(args, HAMRArguments):
            raise ValueError("HAMRTrainer needs args=HAMRArguments(...)")
        super().__init__(model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset, **kwargs)
        self.loss_fn = WeightedCrossEntropy()  # HAMR re-weights plain CE
        self.settings = args.resolved(self.task)
        if meta_dataset is None:
            if eval_dataset is None and args.uses_awe:
                raise ValueError("HAMRTrainer needs a meta_dataset (or an eval_dataset to use as one)")
            if args.uses_awe:
                logger.warning("no meta_dataset given: the evaluation set is used as the meta set, unbalanced")
            meta_dataset = eval_dataset
        self.meta_dataset = meta_dataset
        n = len(self.train_dataset)
        self.train_texts = list(train_texts) if train_texts is not None else None
        if self.train_texts is not None and len(self.train_texts) != n:
            raise ValueError(f"train_texts has {len(self.train_texts)} texts for {n} training examples")
        if embeddings is not None and len(embeddings) != n:
            raise ValueError(f"embeddings has {len(embeddings)} rows for {n} training examples")
        self.embeddings = embeddings
        self.groups = self.example_groups()
        self.group_names = list(group_names) if group_names is not None else None
        self._class_feature, self._prior = self._class_tables(self.groups, self.settings["class_prior_power"])
        self._token_weights = self._token_class_weights(args.token_class_weights, self.class_counts)
        # NER token-level weights (ner_weight_unit=token): the class-level start n_tag^(-τ) per tag, if any
        self._token_unit = self.task == TaskType.NER and args.ner_weight_unit == WeightUnit.TOKEN
        self._tag_prior = None
        if self._token_unit and self.settings["class_prior_power"] > 0:
            if self.class_counts is None:
                raise InputError("class_prior_power with ner_weight_unit=token needs labelled training data")
            counts = torch.as_tensor(np.asarray(self.class_counts), dtype=torch.float32)
            self._tag_prior = torch.where(counts > 0, counts ** (-self.settings["class_prior_power"]),
                                          torch.ones_like(counts))
        meta_labels = labels_of(self.meta_dataset) if self.meta_dataset is not None else []
        self.meta_groups = example_groups(meta_labels, self.num_labels, self._outside_id()) if meta_labels else None
        meta_counts = class_counts_from_labels(meta_labels, self.num_labels) if meta_labels else None
        meta_weights = self._token_class_weights(args.meta_token_class_weights, meta_counts, mean_one=False)
        self.meta_loss_fn = WeightedCrossEntropy(meta_weights).to(args.device)
        # the fields, or where None the task's defaults (HAMRArguments.form_settings; checked there)
        self.weighting_form = WeightingForm.parse(self.settings["weighting_form"])
        self.meta_objective = MetaObjective.parse(self.settings["meta_objective"])
        self.hypergrad_backend = HypergradBackend.parse(self.settings["hypergrad_backend"])
        if self.meta_objective != MetaObjective.PLAIN:
            if meta_weights is not None:
                raise SettingError("HAMRArguments: meta_objective and meta_token_class_weights both weigh the meta "
                                 "loss's classes; set one of them")
            if self.class_counts is None:
                raise InputError("meta_objective needs labelled training data (the natural prior)")
            from .meta_objective import MetaObjectiveLoss

            if self.task == TaskType.NER and self._outside_id() is None and args.meta_objective is None:
                raise InputError("HAMRTrainer: the NER default meta objective (half: O tokens and entity tags "
                                 "balanced) needs the O tag's id: give the model config a label2id with 'O', or "
                                 "set meta_objective='plain'")
            self.meta_loss_fn = MetaObjectiveLoss(self.meta_objective, self.class_counts, self._outside_id(),
                                                  ner=self.task == TaskType.NER).to(args.device)
        self.class_reweighter = self._build_class_reweighter(args) if self.weighting_form == \
            WeightingForm.CLASS_RESIDUAL else None
        self._head_cache = None
        self._meta_seen: tuple[torch.Tensor, torch.Tensor] | None = None  # the last meta batch's logits, labels
        self._unit_group_weights: list[tuple[np.ndarray, np.ndarray]] = []
        self.reweighter = MetaReweighter(
            2 if args.wnet_inputs == WNetInputs.LOSS_CLASS else 1,
            hidden=args.wnet_hidden,
            init_bias=args.wnet_init_bias,
            lr=self.settings["wnet_lr"],
            weight_decay=args.wnet_weight_decay,
            w_min=args.weight_min,
            w_max=args.weight_max,
            backend=self.hypergrad_backend,
            fd_epsilon=args.fd_epsilon,
            device=args.device,
            detach_mean=not args.normalise_through_mean,
        )
        if self.accelerator.num_processes > 1 and args.normalise_through_mean:
            raise SettingError("normalise_through_mean=True differentiates a per-process batch mean: not under DDP")
        if self.accelerator.num_processes > 1:  # DDP: mean_B s over the global batch of all ranks
            self.reweighter.batch_mean = global_mean
        if args.fp16:  # method.md §2: explicit (dynamic) loss scaling of the inner and meta gradients
            self.reweighter.loss_scale = 2.0**16
        self.memory = HardnessMemory(
            n, args.memory_mode, gamma=self.settings["memory_gamma"], eps=self.settings["memory_eps"]
        )
        self.boost = np.zeros(n, dtype=np.float64)
        self.sampler = HardnessSampler(
            n, seed=args.seed, oversample=args.oversample, uniform=not args.uses_resampling
        )
        # ρ (sampler_class_power): the class factor of Eq. 4, in the draws from the first epoch on
        self._sampler_class_factor = (class_balance_factor(self.groups, args.sampler_class_power)
                                      if args.sampler_class_power > 0 else None)
        if self._sampler_class_factor is not None and args.uses_resampling:
            self.sampler.set_probabilities(self._sampler_class_factor)
        self.knn = None
        self.meta_steps = 0
        self._last_meta_global_step = -1
        self._epoch_weights: list[tuple[np.ndarray, np.ndarray]] = []
        self.add_callback(_HAMRCallback(self))

    # -- setup ---------------------------------------------------------------------------------------
    def _label_names(self) -> list[str]:
        """The name of every label id: the model config's, unless they are transformers' placeholders
        (LABEL_0, ...), then ``group_names`` (the data's label names), else the ids."""
        id2label = getattr(getattr(self.model, "config", None), "id2label", None) or {}
        names = [str(id2label.get(i, i)) for i in range(self.num_labels)]
        data_names = getattr(self, "group_names", None)  # None until __init__ sets it
        if all(n == f"LABEL_{i}" or n == str(i) for i, n in enumerate(names)) and data_names is not None \
                and len(data_names) == self.num_labels:
            return [str(n) for n in data_names]
        return names

    def _outside_id(self) -> int | None:
        """The O tag's id, from the model config or, failing that, the data's label names."""
        found = super()._outside_id()
        if found is None:
            names = self._label_names()
            return names.index("O") if "O" in names else None
        return found

    def _build_class_reweighter(self, args: HAMRArguments):
        """β, δ per class group and the residual net (weighting_form=class_residual, hamr.class_weighting)."""
        from .class_weighting import ClassResidualReweighter, class_groups

        if self.class_counts is None:
            raise InputError("weighting_form='class_residual' needs labelled training data")
        groups = class_groups(self._label_names(), ner=self.task == TaskType.NER)
        counts = np.zeros(len(groups), dtype=np.float64)
        np.add.at(counts, groups.group_of_label.numpy(), np.asarray(self.class_counts, dtype=np.float64))
        tau = self.settings["class_prior_power"]
        beta0 = -tau * np.log(np.maximum(counts, 1.0))  # log n_c^(-τ): today's class-level start
        return ClassResidualReweighter(
            groups, torch.as_tensor(beta0, dtype=torch.float32), hidden=args.wnet_hidden,
            wnet_lr=self.settings["wnet_lr"], class_lr=args.class_param_lr, weight_decay=args.wnet_weight_decay,
            learn_class=args.learns_class_params, use_residual=args.uses_residual, cap=args.class_param_cap,
            class_params=args.class_params, counts=np.maximum(counts, 1.0), feedback_decay=args.pr_feedback_decay,
            device=args.device,
        )

    @staticmethod
    def _class_tables(groups: np.ndarray, power: float) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per example: the standardised log training frequency of its class (a weight-net input) and the
        class-level prior n_y^(-power) (None when power is 0). Examples without a class (group −1: an NER
        sentence with no entity tag and no O tag in the tag set, or no labelled token) count as one group of
        their own, as :func:`hamr.resampling.class_balance_factor` counts them (until session 29 they had n = 1,
        the largest prior weight)."""
        valid = groups >= 0
        counts = np.bincount(groups[valid], minlength=int(groups.max(initial=0)) + 1).astype(np.float64)
        n_none = float((~valid).sum())
        n_of = np.where(valid, counts[np.maximum(groups, 0)], n_none)
        present = np.append(counts[counts > 0], n_none) if n_none else counts[counts > 0]
        log_c = np.log(present)
        std = log_c.std() if log_c.size > 1 and log_c.std() > 0 else 1.0
        feature = (np.log(n_of) - log_c.mean()) / std
        prior = None if power == 0 else torch.as_tensor(n_of ** (-power), dtype=torch.float32)
        return torch.as_tensor(feature, dtype=torch.float32), prior

    def _token_class_weights(self, kind: TokenClassWeights, counts, mean_one: bool = True) -> torch.Tensor | None:
        """Per-tag weights of a NER loss from tag ``counts`` (``token_class_weights`` on the training loss,
        rescaled to mean 1 per token; ``meta_token_class_weights`` on the meta loss, as they come)."""
        if kind == TokenClassWeights.NONE or self.task != TaskType.NER:
            return None
        if counts is None:
            raise InputError(f"{kind.value} token class weights need labelled examples to count the tags")
        if kind == TokenClassWeights.ICF:
            w = inverse_frequency_weights(counts)
        else:
            w = effective_number_weights(counts, self.args.effective_number_beta)
        return (token_mean_weights(w, counts) if mean_one else w).to(self.args.device)

    def _zscore(self, hardness: torch.Tensor) -> torch.Tensor:
        """z of the hardness over the batch (under DDP: the global batch of all ranks)."""
        return global_zscore(hardness) if self.accelerator.num_processes > 1 else batch_zscore(hardness)

    def _features(self, hardness: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = self._zscore(hardness)
        idx = index.cpu()
        prior = None if self._prior is None else self._prior[idx].to(z.device)
        if self.args.wnet_inputs == WNetInputs.LOSS_CLASS:
            z = torch.stack([z.float(), self._class_feature[idx].to(z.device)], dim=-1)
        return z, prior

    def _texts(self) -> list[str]:
        if self.train_texts is not None:
            return self.train_texts
        if self.processing_class is None:
            raise ValueError("kNN needs train_texts, embeddings, or a processing_class to decode input_ids")
        ds = self.train_dataset
        return [
            self.processing_class.decode(ds[i]["input_ids"], skip_special_tokens=True) for i in range(len(ds))
        ]

    def prepare_knn(self) -> None:
        """Embed the training texts (cached on disk) and build the FAISS graph, once."""
        if self.knn is not None or not self.args.uses_knn:
            return
        if self.embeddings is None:
            from ...embeddings import embed_texts

            # DDP: the first process of each node embeds and fills the disk cache, the others then read it
            with self.args.main_process_first(local=True, desc="hamr: embedding the training texts"):
                self.embeddings = embed_texts(
                    self._texts(), self.args.embedding_model, cache_dir=self.args.embedding_cache_dir
                )
        self.knn = build_knn(np.asarray(self.embeddings), self.args.knn_k)

    def train(self, resume_from_checkpoint=None, *args, **kwargs):
        self.prepare_knn()
        self._reset_diagnostics(resume_from_checkpoint)
        return super().train(resume_from_checkpoint, *args, **kwargs)

    @property
    def diagnostics_path(self) -> str:
        return os.path.join(self.args.output_dir, "hamr_diagnostics.jsonl")

    def _read_diagnostics(self) -> list[dict]:
        if not os.path.exists(self.diagnostics_path):
            return []
        with open(self.diagnostics_path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def _reset_diagnostics(self, resume_from_checkpoint) -> None:
        """A fresh run starts an empty ``hamr_diagnostics.jsonl``; a resumed one keeps the epochs up to its
        checkpoint's and drops the later ones (written by the interrupted run after that checkpoint)."""
        if not self.is_world_process_zero():
            return
        if not resume_from_checkpoint:
            if os.path.exists(self.diagnostics_path):
                os.unlink(self.diagnostics_path)
            return
        if resume_from_checkpoint is True:
            from transformers.trainer_utils import get_last_checkpoint

            resume_from_checkpoint = get_last_checkpoint(self.args.output_dir)
        state_file = os.path.join(str(resume_from_checkpoint or ""), "trainer_state.json")
        if not os.path.exists(state_file):
            return  # the Trainer raises its own error about the checkpoint
        with open(state_file, encoding="utf-8") as fh:
            state = json.load(fh)
        step = int(state.get("global_step", 0))
        kept = [r for r in self._read_diagnostics() if int(r.get("global_step", 0)) <= step]
        atomic_write_text(self.diagnostics_path, "".join(json.dumps(r) + "\n" for r in kept))

    # -- the training step ---------------------------------------------------------------------------
    def _example_losses(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(training loss, hardness signal) per example, both with graph."""
        if self.task == TaskType.CLASSIFICATION:
            ce = per_example_ce(logits, labels)
            return ce, ce
        mean = per_example_ce(logits, labels, token_reduction="mean")
        mx = per_example_ce(logits, labels, token_reduction="max")
        train = mx if self.settings["ner_train_max_token"] else mean
        if self._token_weights is not None:  # Σ_t w_{y_t} CE_t / n_t
            mask = labels != IGNORE_INDEX
            w = self._token_weights.to(logits.device)[labels.clamp_min(0)] * mask
            tokens = per_example_ce(logits, labels, token_reduction="none")
            train = (w.to(tokens.dtype) * tokens).sum(dim=1) / mask.sum(dim=1).clamp_min(1).to(tokens.dtype)
        hard = mx if self.args.hardness_stat.value == "max" else mean
        return train, hard

    def _token_units(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """NER token units (``ner_weight_unit=token``): (training loss, hardness) per labelled token, in the
        row-major order of ``labels != -100``, with graph; the training loss carries ``token_class_weights``."""
        mask = labels != IGNORE_INDEX
        tokens = per_example_ce(logits, labels, token_reduction="none")[mask]
        train = tokens
        if self._token_weights is not None:
            train = self._token_weights.to(logits.device)[labels[mask]].to(tokens.dtype) * tokens
        return train, tokens

    def _token_features(self, hardness: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Weight-net input (z over the batch's labelled tokens) and class-level start per token unit."""
        z = self._zscore(hardness)
        tags = labels[labels != IGNORE_INDEX]
        prior = None if self._tag_prior is None else self._tag_prior.to(z.device)[tags]
        return z, prior

    def _sentence_values(self, token_values: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Per sentence of the batch, the hardness_stat (max | mean) of its token units' values, divided by
        their mean over the (global) batch: mean 1, the scale of sentence weights, so that a sentence not drawn
        yet (m = 1) is neither favoured nor starved by the sampler. A sentence without labelled tokens gets 1."""
        mask = labels != IGNORE_INDEX
        rows = mask.nonzero()[:, 0]
        v = token_values.detach().float()
        out = torch.ones(labels.shape[0], dtype=v.dtype, device=v.device)
        reduce = "amax" if self.args.hardness_stat == HardnessStat.MAX else "mean"
        out = out.scatter_reduce(0, rows, v, reduce=reduce, include_self=False)
        return out / global_mean(out).clamp_min(1e-12)

    def _meta_batch(self) -> dict[str, torch.Tensor]:
        groups = self.meta_groups if self.args.meta_class_balanced else None
        return self.draw_meta_batch(self.meta_dataset, self.settings["meta_batch_size"], self.meta_steps, groups)

    def _inner_lr(self) -> float:
        if self.args.inner_lr == InnerLR.OPTIMIZER and self.lr_scheduler is not None:
            return float(self.lr_scheduler.get_last_lr()[0])
        return float(self.args.meta_update_lr)

    def _gather(self, index: torch.Tensor, values: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Indices and values of this step from every rank, so m stays identical everywhere."""
        idx, val = self.gather_indexed(index, values)
        return idx.numpy(), val.numpy()

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not model.training:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        index = self._pop_index(inputs, required=True)
        labels = inputs.pop("labels")
        args: HAMRArguments = self.args
        step = self.state.global_step
        # once per optimiser step (the first micro-batch when gradients accumulate), every meta_interval steps
        meta_due = args.uses_awe and step % args.meta_interval == 0 and step != self._last_meta_global_step
        if meta_due:
            self._last_meta_global_step = step
        exact = self.hypergrad_backend == HypergradBackend.EXACT
        cached = meta_due and self.hypergrad_backend == HypergradBackend.HEAD_CACHED
        attention = math_attention() if (meta_due and exact) else nullcontext()
        with attention, (self._cache(model).capture() if cached else nullcontext()):
            outputs = model(**inputs)
        if args.uses_awe and self.class_reweighter is not None:  # issue 22: learned β, δ and a residual
            loss, memory_values, weights = self._class_residual_loss(model, inputs, labels, outputs.logits, meta_due)
        elif args.uses_awe and self._token_unit:  # one weight per labelled token
            train_loss, hardness = self._token_units(outputs.logits, labels)
            features, prior = self._token_features(hardness, labels)
            if meta_due:
                self._meta_step(model, inputs, labels, train_loss, features, prior)
            weights = self.reweighter.weights_no_grad(features, prior).to(train_loss.dtype)
            loss = (weights * train_loss).mean()
            memory_values = weights = self._sentence_values(weights, labels)
        else:
            train_loss, hardness = self._example_losses(outputs.logits, labels)
            if args.uses_awe:
                features, prior = self._features(hardness, index)
                if meta_due:
                    self._meta_step(model, inputs, labels, train_loss, features, prior)
                weights = self.reweighter.weights_no_grad(features, prior).to(train_loss.dtype)
                memory_values = weights
            else:
                weights = torch.ones_like(train_loss)
                h = hardness.detach()
                memory_values = h / global_mean(h).clamp_min(1e-12)
            loss = (weights * train_loss).mean()
        idx, val = self._gather(index, memory_values)
        self.memory.update(idx, val)
        _, w_all = self._gather(index, weights)
        self._epoch_weights.append((idx, w_all))
        self.log_value("hamr_weight_min", float(w_all.min()))
        self.log_value("hamr_weight_max", float(w_all.max()))
        return (loss, outputs) if return_outputs else loss

    # -- head-cached hypergradients (hypergrad_backend=head_cached) ----------------------------------------
    def _cache(self, model):
        if self._head_cache is None:
            from .head_cache import HeadCache

            unwrapped = self.accelerator.unwrap_model(model)
            self._head_cache = HeadCache(unwrapped, select_lookahead(unwrapped, self.args.lookahead_scope))
        return self._head_cache

    def _meta_closures(self, model, inputs, labels):
        """(look-ahead params, meta_loss_at, train_logits): ``train_logits`` is None for the exact backends
        (the caller uses the training forward's own logits); for head_cached the head's logits on the training
        batch's captured features, with their graph to the head only, and ``meta_loss_at`` runs the head on the
        meta batch's features (one forward without a graph)."""
        args: HAMRArguments = self.args
        unwrapped = self.accelerator.unwrap_model(model)
        params = select_lookahead(unwrapped, args.lookahead_scope, args.lookahead_layers)
        meta = self._meta_batch()
        meta_labels = meta.pop("labels")
        ce = self.meta_loss_fn
        if self.hypergrad_backend == HypergradBackend.HEAD_CACHED:
            cache = self._cache(model)
            train_features = cache.features
            if train_features is None:
                raise RuntimeError("head_cached: the training forward's head input was not captured")
            meta_features = cache.features_of(unwrapped, meta)
            cache.features = None

            def cached_meta_loss_at(p):
                logits = cache.logits(meta_features, p)
                self._meta_seen = (logits.detach(), meta_labels)
                return ce(logits, meta_labels)

            return params, cached_meta_loss_at, cache.logits(train_features, params)

        def meta_loss_at(p):
            with frozen_except(unwrapped, params.values()), math_attention():
                logits = functional_call(unwrapped, p, args=(), kwargs=meta).logits
                self._meta_seen = (logits.detach(), meta_labels)
                return ce(logits, meta_labels)

        return params, meta_loss_at, None

    # -- weighting_form=class_residual -----------------------------------------------------------------
    def _units(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(unit labels, hardness) of a batch: the examples (classification) or the labelled tokens (NER)."""
        if self.task == TaskType.CLASSIFICATION:
            return labels, per_example_ce(logits, labels)
        mask = labels != IGNORE_INDEX
        return labels[mask], per_example_ce(logits, labels, token_reduction="none")[mask]

    def _unit_losses(self, logits: torch.Tensor, labels: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """CE(f(x) + δ, y) per unit, with graph to the logits (and δ)."""
        shifted = logits + delta.to(logits.dtype)
        if self.task == TaskType.CLASSIFICATION:
            return per_example_ce(shifted, labels)
        return per_example_ce(shifted, labels, token_reduction="none")[labels != IGNORE_INDEX]

    def _class_residual_loss(self, model, inputs, labels, logits, meta_due):
        cr = self.class_reweighter
        unit_labels, hardness = self._units(logits, labels)
        z = self._zscore(hardness)
        if meta_due:
            params, meta_loss_at, cached_logits = self._meta_closures(model, inputs, labels)
            inner_logits = logits if cached_logits is None else cached_logits
            self._meta_seen = None  # meta_loss_at keeps the meta batch's logits and labels here
            result = cr.step(z, unit_labels, lambda d: self._unit_losses(inner_logits, labels, d), params,
                             meta_loss_at, self._inner_lr(), grad_hook=self.all_reduce_mean_)
            if cr.class_params == ClassParams.PR_FEEDBACK:  # β follows the meta batch's precision and recall
                if self._meta_seen is None:  # nothing learned by the hypergradient (w/o residual): score anyway
                    with torch.no_grad():
                        meta_loss_at(params)
                cr.feedback(*self._meta_seen, reduce=self.all_reduce_mean_)
            self._commit_meta_objective()
            self.meta_steps += 1
            self.log_value("hamr_meta_loss", result.meta_loss)
            self.log_value("hamr_meta_skipped", float(result.skipped))
        w = cr.weights_no_grad(z, unit_labels)
        losses = self._unit_losses(logits, labels, cr.logit_offsets())
        loss = (w.to(losses.dtype) * losses).mean()
        groups = cr.group_of_label.to(unit_labels.device)[unit_labels]
        self._unit_group_weights.append((groups.cpu().numpy(), w.detach().float().cpu().numpy()))
        if self.task == TaskType.CLASSIFICATION:
            return loss, w, w
        sentence = self._sentence_values(w, labels)
        return loss, sentence, sentence

    def _meta_step(self, model, inputs, labels, train_loss, features, prior) -> None:
        unwrapped = self.accelerator.unwrap_model(model)
        params, meta_loss_at, cached_logits = self._meta_closures(model, inputs, labels)
        if cached_logits is not None:  # the inner loss from the head alone, on the captured features
            train_loss = (self._token_units(cached_logits, labels)[0] if self._token_unit
                          else self._example_losses(cached_logits, labels)[0])

        def train_loss_at(p):
            logits = functional_call(unwrapped, p, args=(), kwargs=inputs).logits
            if self._token_unit:
                return self._token_units(logits, labels)[0]
            return self._example_losses(logits, labels)[0]

        result = self.reweighter.step(
            features, train_loss, params, meta_loss_at, self._inner_lr(), train_loss_at, grad_hook=self.all_reduce_mean_,
            prior=prior,
        )
        self._commit_meta_objective()
        self.meta_steps += 1
        self.log_value("hamr_meta_loss", result.meta_loss)
        self.log_value("hamr_meta_skipped", float(result.skipped))

    def _commit_meta_objective(self) -> None:
        """A meta objective with state (soft_f1's running counts) takes in the meta batch just used."""
        commit = getattr(self.meta_loss_fn, "commit", None)
        if commit is not None:
            commit()

    # -- end of epoch: kNN refresh, new sampling distribution, diagnostics ------------------------------
    def current_probabilities(self) -> np.ndarray:
        lam = self.settings["knn_lambda"] if self.args.uses_knn else 0.0
        return sampling_probabilities(self.memory.values, self.boost, alpha=self.settings["hardness_alpha"], lam=lam,
                                      class_factor=self._sampler_class_factor)

    def _end_of_epoch(self, epoch: int) -> None:
        args: HAMRArguments = self.args
        if args.uses_knn and self.knn is not None:
            self.boost = neighbourhood_boost(
                self.memory.values, self.knn, ratio=args.knn_ratio, k=args.knn_k, include_self=args.knn_include_self
            )
        p = self.current_probabilities()
        if args.uses_resampling:
            self.sampler.set_probabilities(p)
        self._write_diagnostics(epoch, p)

    def _group_name(self, g: int) -> str:
        if self.group_names is not None and 0 <= g < len(self.group_names):
            return self.group_names[g]
        return str(g)

    def _write_diagnostics(self, epoch: int, p: np.ndarray) -> None:
        if not self.is_world_process_zero():
            self._epoch_weights.clear()
            return
        per_group: dict[str, Any] = {}
        if self._epoch_weights:
            idx = np.concatenate([a for a, _ in self._epoch_weights])
            w = np.concatenate([b for _, b in self._epoch_weights])
            g = self.groups[idx]
            for gid in np.unique(g):
                wg = w[g == gid]
                per_group[self._group_name(int(gid))] = {
                    "n": int(wg.size),
                    "mean": float(wg.mean()),
                    "q10": float(np.quantile(wg, 0.1)),
                    "median": float(np.median(wg)),
                    "q90": float(np.quantile(wg, 0.9)),
                    "min": float(wg.min()),
                    "max": float(wg.max()),
                }
        self._epoch_weights.clear()
        mass = defaultdict(float)
        for gid, pi in zip(self.groups, p):
            mass[self._group_name(int(gid))] += float(pi)
        extra: dict[str, Any] = {}
        if self.class_reweighter is not None:
            extra["class_params"] = self.class_reweighter.describe()
            if self.class_reweighter.hyper_class:  # how steady the meta objective's push on β, δ was this epoch
                extra["class_hypergradient"] = self.class_reweighter.hypergradient_stats()
            if self._unit_group_weights:  # the mean weight of the units (examples / labelled tokens) per group
                g = np.concatenate([a for a, _ in self._unit_group_weights])
                wu = np.concatenate([b for _, b in self._unit_group_weights])
                names = self.class_reweighter.groups.names
                extra["unit_weights_per_group"] = {
                    names[int(k)]: {"n": int((g == k).sum()), "mean": float(wu[g == k].mean())} for k in np.unique(g)
                }
            self._unit_group_weights.clear()
        record = {
            "epoch": epoch,
            "global_step": self.state.global_step,
            "weights_per_class": per_group,
            "sampling_mass_per_class": dict(mass),
            "memory": {"min": float(self.memory.values.min()), "max": float(self.memory.values.max())},
            "boost_nonzero": int((self.boost > 0).sum()),
            "meta_steps": self.meta_steps,
            "meta_steps_skipped": (self.class_reweighter or self.reweighter).num_skipped,
            **extra,
        }
        # rewrite the whole file atomically: one record per epoch, never a duplicate, never a half-written line
        records = [r for r in self._read_diagnostics() if int(r.get("epoch", 0)) < epoch] + [record]
        atomic_write_text(self.diagnostics_path, "".join(json.dumps(r) + "\n" for r in records))
        # the same per-class numbers as scalars, through the Trainer's log (TensorBoard / W&B with report_to);
        # Trainer.log itself, not ImbalanceTrainer.log, which would flush the per-step accumulators into it
        scalars = {f"hamr/weight_mean/{c}": v["mean"] for c, v in per_group.items()}
        scalars.update({f"hamr/sampling_mass/{c}": float(v) for c, v in mass.items()})
        if scalars:
            Trainer.log(self, scalars)

    def save_hardness_table(self, path: str | None = None) -> str | None:
        """Per training example (by index): its label, final hardness m, boost b and sampling probability p
        (``hamr_examples.tsv``), and beside it the label-free ``hamr_hardness.json`` (m and a digest of the
        training texts, :func:`hamr.resampling.write_hardness_file`) that can be published with the results.

        Texts are left out on purpose: some corpora's terms forbid publishing them (HumAID); join on the index."""
        if not self.is_world_process_zero():
            return None
        path = path or os.path.join(self.args.output_dir, "hamr_examples.tsv")
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        p = self.current_probabilities()
        rows = ["index\tlabel\thardness_m\tboost_b\tprobability_p\n"]
        for i in range(len(p)):
            rows.append(f"{i}\t{self._group_name(int(self.groups[i]))}\t{self.memory.values[i]:.6g}\t"
                        f"{self.boost[i]:.6g}\t{p[i]:.6g}\n")
        atomic_write_text(path, "".join(rows))
        write_hardness_file(os.path.join(os.path.dirname(path), HARDNESS_FILE_NAME), self.memory.values,
                            self.train_texts)
        return path

    # -- checkpoints ---------------------------------------------------------------------------------
    def hamr_state_dict(self) -> dict[str, Any]:
        return {
            "reweighter": self.reweighter.state_dict(),
            "class_reweighter": None if self.class_reweighter is None else self.class_reweighter.state_dict(),
            "memory": self.memory.state_dict(),
            "boost": torch.from_numpy(self.boost.copy()),
            "sampler": self.sampler.state_dict(),
            "meta_steps": self.meta_steps,
            # a meta objective's state (soft_f1's running counts; the prior buffer is rebuilt from the data)
            "meta_objective": {k: v for k, v in self.meta_loss_fn.state_dict().items() if k == "running"},
        }

    def load_hamr_state_dict(self, state: dict[str, Any]) -> None:
        self.reweighter.load_state_dict(state["reweighter"])
        if self.class_reweighter is not None:
            if state.get("class_reweighter") is None:
                raise InputError("this HAMR checkpoint has no class-level parameters (written with weighting_form='wnet')")
            self.class_reweighter.load_state_dict(state["class_reweighter"])
        self.memory.load_state_dict(state["memory"])
        self.boost = state["boost"].numpy().astype(np.float64)
        self.sampler.load_state_dict(state["sampler"])
        self.meta_steps = int(state["meta_steps"])
        if state.get("meta_objective"):  # checkpoints before session 23 have none (their objectives had no state)
            self.meta_loss_fn.load_state_dict(state["meta_objective"], strict=False)

    def _save_extra_checkpoint_state(self, folder: str) -> None:
        super()._save_extra_checkpoint_state(folder)
        torch.save(self.hamr_state_dict(), os.path.join(folder, HAMR_STATE_NAME))

    def _load_optimizer_and_scheduler(self, checkpoint) -> None:
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is None:
            return
        path = os.path.join(checkpoint, HAMR_STATE_NAME)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: this checkpoint holds no HAMR state (was it written by HAMRTrainer?)")
        self.load_hamr_state_dict(load_hamr_state_file(path))


def load_hamr_state_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``hamr_state.pt`` with ``torch.load(weights_only=True)``: tensors and plain Python values only,
    so a crafted file cannot run code; anything else is refused with an error naming the file."""
    import pickle

    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        raise InputError(
            f"{path}: refused to load: the HAMR state may hold only tensors and plain values "
            f"(torch.load weights_only=True){_unsupported_global(exc)}"
        ) from None
    if not isinstance(state, dict):
        raise InputError(f"{path}: expected a dict of HAMR state, found {type(state).__name__}")
    return state


def _unsupported_global(exc: Exception) -> str:
    """The line of torch's weights-only error naming the refused object, if any."""
    found = [ln.strip() for ln in str(exc).splitlines() if "Unsupported global" in ln or "GLOBAL" in ln]
    return f": {found[0].split(' Please use')[0]}" if found else ""


def hamr_sampler(trainer: HAMRTrainer):
    """HAMR's training sampler: the trainer's :class:`~hamr.resampling.HardnessSampler` (Eq. 4 draws)."""
    return trainer.sampler


def train_hamr(ctx) -> HAMRTrainer:
    """HAMR on a run: the balanced meta set from the validation split (:func:`hamr.metaset.build_meta_set`),
    the kNN graph (timed apart, as ``ctx.extra["embedding_seconds"]``), then training; returns the Trainer."""
    import time

    from ...holdout import validation_holdout
    from ...metaset import build_meta_set

    args: HAMRArguments = ctx.args  # type: ignore[assignment]
    if ctx.bundle.validation is None:
        raise InputError("HAMR needs a validation split to build the balanced meta set")
    meta_source = ctx.bundle.validation
    holdout = validation_holdout(ctx.config, ctx.bundle)
    if holdout is not None:  # the held-out half never enters the meta set
        meta_source = meta_source.subset(holdout.meta_indices, name="validation_meta_half")
        ctx.extra["meta_validation_examples"] = len(holdout.meta_indices)
    meta = build_meta_set(ctx.bundle.train, meta_source, seed=ctx.config.seed,
                          strip_from_train=args.meta_strip_from_train)
    train_split = meta.train if meta.train is not None else ctx.bundle.train
    train_ds = ctx.encode(train_split) if meta.train is not None else ctx.train
    trainer = HAMRTrainer(
        **ctx.trainer_kwargs(train_dataset=train_ds),
        meta_dataset=ctx.encode(meta.split),
        train_texts=train_split.all_texts(),
        group_names=ctx.bundle.vocab.labels,
    )
    t0 = time.perf_counter()
    trainer.prepare_knn()  # embeddings (cached on disk) and the FAISS graph: a one-off cost, timed apart
    ctx.extra["embedding_seconds"] = time.perf_counter() - t0
    trainer.train(resume_from_checkpoint=ctx.resume_from)
    return trainer
