"""Decision offsets (session 24, issue 22): per-class logit offsets fitted after training on the validation split
and folded into the output layer's bias, so the saved model, ``hamr predict`` and every score use them.

A model fine-tuned on skewed labels predicts the rare classes precisely but too seldom (issue 22: Idai19
requests P/R 38/23). Adding a per-class offset δ_c to the logits moves the decision boundary without touching
the representation; :mod:`hamr.methods.logit_adjustment`'s post-hoc form sets δ = −τ log π from the training
prior, which collapses on the HumAID sets (session 22: the offsets exceed MiniLM's margins). Here δ is *fitted*
on held-in validation data, so its strength is learned per dataset:

- ``balanced``: δ minimises the class-balanced mean CE of ``logits + δ`` (:class:`~hamr.methods.hamr.meta_objective.MetaObjectiveLoss`;
  NER: ½ the O tag, ½ the mean over entity tags) — the balanced-error target;
- ``half``: ½ balanced + ½ natural-prior CE (protects micro-F1);
- ``macro_f1``: coordinate ascent on the macro-F1 of the fit rows themselves (the metric, not a surrogate):
  each class's (NER: each entity type's, B- and I- together, and O's) offset in turn takes the value of
  :data:`GRID` that raises macro-F1 most, two sweeps; a change is kept only if it raises macro-F1 by more than
  :data:`MIN_GAIN`.

The CE fits are convex in δ (L-BFGS in float64 with a small L2 penalty :data:`L2`, which also keeps a class
absent from the fit rows near 0). δ is centred (softmax is unchanged by a common shift).

Which rows: the validation rows that :mod:`hamr.holdout` leaves in the meta half (the held-out half stays
unseen, so ``validation_heldout`` is an honest score of the offsets too); with the hold-out off, the whole
validation split (then validation scores are optimistic). Never training rows: the model has fitted those.

This is not specific to HAMR: it is a run setting (``RunConfig.decision_offsets``) for every method, and its
control is ERM with the same offsets.

The default is ``auto`` (session 29, :func:`resolve_form`): ``macro_f1`` when the run has validation rows to fit
on and the model an output layer with a bias, else ``none``, with the reason in the run's log and metrics.json.
Why ``macro_f1``: on the CPU grid (``benchmarks/results/cpu_offsets/offsets_grid.md``, part 1) it raised the
held-out macro-F1 of every one of the twelve methods, by +5.8 on the mean over methods (``balanced`` +4.2,
``half`` +3.6), and ``offsets_cv.py``'s cross-validated choice of form gained no more (+5.94 against +6.02 on 60 cells) at
five times the fit cost.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from .constants import IGNORE_INDEX
from .enums import DecisionOffsets, TaskType
from .errors import InputError, SettingError

__all__ = ["FITTED_FORMS", "GRID", "L2", "MIN_GAIN", "fit_offsets", "fold_offsets", "output_layer", "resolve_form"]

#: The forms a run fits and scores (``auto`` resolves to one of them, :func:`resolve_form`).
FITTED_FORMS = (DecisionOffsets.NONE, DecisionOffsets.BALANCED, DecisionOffsets.HALF, DecisionOffsets.MACRO_F1)

#: The values an offset may take in the ``macro_f1`` search.
GRID = np.round(np.arange(-3.0, 3.0001, 0.25), 2)
#: L2 penalty on δ in the CE fits.
L2 = 1e-3
#: The least macro-F1 gain (absolute, 0-1 scale) that a ``macro_f1`` coordinate step must bring.
MIN_GAIN = 1e-4


def _ce_fit(kind: DecisionOffsets, logits: np.ndarray, labels: np.ndarray, train_counts: np.ndarray,
            outside_id: int | None, ner: bool) -> np.ndarray:
    from .methods.hamr.meta_objective import MetaObjectiveLoss

    loss_fn = MetaObjectiveLoss(kind.value, train_counts.tolist(), outside_id, ner=ner)
    x = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.long)
    delta = torch.zeros(x.shape[-1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([delta], lr=1.0, max_iter=200, line_search_fn="strong_wolfe", tolerance_grad=1e-9)

    def closure():
        opt.zero_grad()
        # MetaObjectiveLoss computes its CE in float32; the fit is small, so that precision is ample
        loss = loss_fn(x + delta, y).double() + L2 * (delta ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    d = delta.detach().numpy()
    if not np.all(np.isfinite(d)):
        raise FloatingPointError(f"decision offsets ({kind.value}): the fit diverged ({d})")
    return d - d.mean()


def _f1_search(score: Callable[[np.ndarray], float], groups: list[np.ndarray], n_classes: int) -> np.ndarray:
    delta = np.zeros(n_classes)
    best = score(delta)
    for _ in range(2):
        changed = False
        for g in groups:
            base = delta[g[0]]
            trial_best, trial_value = best, base
            for v in GRID:
                if v == base:
                    continue
                cand = delta.copy()
                cand[g] = v
                s = score(cand)
                if s > trial_best + MIN_GAIN:
                    trial_best, trial_value = s, v
            if trial_value != base:
                delta[g] = trial_value
                best = trial_best
                changed = True
        if not changed:
            break
    return delta - delta.mean()


def fit_offsets(kind: DecisionOffsets | str, task: TaskType, logits: np.ndarray, label_ids: np.ndarray,
                train_counts: np.ndarray, label_names: list[str],
                macro_f1: Callable[[np.ndarray], float] | None = None) -> np.ndarray:
    """δ (one per label id) fitted on ``logits`` / ``label_ids`` (classification: (n, C) / (n,); NER:
    (n, L, C) / (n, L) with -100 at unlabelled positions). ``train_counts``: per label id, the training counts
    (NER: labelled training tokens per tag) that the ``half`` objective's natural part weights by.
    ``macro_f1(shifted_logits) -> float`` scores shifted logits of the fit rows (needed for ``macro_f1``)."""
    kind = DecisionOffsets.parse(kind)
    if kind not in FITTED_FORMS[1:]:
        raise ValueError(f"fit_offsets: kind {kind.value!r} fits nothing (resolve 'auto' first: resolve_form)")
    logits = np.asarray(logits, dtype=np.float64)
    label_ids = np.asarray(label_ids)
    n_classes = logits.shape[-1]
    if len(label_names) != n_classes or len(train_counts) != n_classes:
        raise ValueError(f"fit_offsets: {n_classes} logits per unit but {len(label_names)} label names and "
                         f"{len(train_counts)} training counts")
    ner = task == TaskType.NER
    outside_id = label_names.index("O") if ner and "O" in label_names else None
    if ner and outside_id is None:
        raise InputError("decision offsets for NER need an 'O' tag among the labels")
    mask = label_ids != IGNORE_INDEX
    if not mask.any():
        raise ValueError("fit_offsets: no labelled unit to fit on")
    if kind in (DecisionOffsets.BALANCED, DecisionOffsets.HALF):
        return _ce_fit(kind, logits[mask], label_ids[mask], np.asarray(train_counts, dtype=np.float64),
                       outside_id, ner)
    if macro_f1 is None:
        raise ValueError("fit_offsets: the macro_f1 search needs a scoring function")
    if ner:  # one offset per entity type (B- and I- together) and one for O
        by_type: dict[str, list[int]] = {}
        for i, name in enumerate(label_names):
            by_type.setdefault(name.split("-", 1)[-1] if "-" in name else name, []).append(i)
        groups = [np.asarray(ids) for ids in by_type.values()]
    else:
        groups = [np.asarray([i]) for i in range(n_classes)]
    return _f1_search(lambda d: macro_f1(logits + d), groups, n_classes)


def _find_output_layer(model: nn.Module, num_labels: int) -> nn.Linear:
    """Post-hoc logit adjustment's search for the output layer (a ValueError saying why when there is none)."""
    from .methods.logit_adjustment.posthoc import output_layer as find

    return find(model, num_labels)


def output_layer(model: nn.Module, num_labels: int) -> nn.Linear:
    """The model's output layer, as post-hoc logit adjustment finds it (the last ``nn.Linear`` with ``num_labels``
    outputs; it must have a bias)."""
    try:
        return _find_output_layer(model, num_labels)
    except ValueError as exc:
        raise SettingError(f"decision offsets: {type(model).__name__}: {exc}; set decision_offsets=none") from None


def resolve_form(requested: DecisionOffsets | str, has_validation: bool, model: nn.Module | None,
                 num_labels: int) -> tuple[DecisionOffsets, str | None]:
    """The form a run fits: ``requested`` unless it is ``auto``, which is ``macro_f1`` when there are validation
    rows to fit on and ``model`` has an output layer with a bias (:func:`output_layer`), else ``none``. Returns
    (form, why ``auto`` chose ``none`` or None). An explicit form is returned as is (its errors come later, with
    the fix in the message)."""
    requested = DecisionOffsets.parse(requested)
    if requested != DecisionOffsets.AUTO:
        return requested, None
    if not has_validation:
        return DecisionOffsets.NONE, "no validation split to fit them on"
    if model is not None:
        try:
            _find_output_layer(model, num_labels)
        except ValueError as exc:
            return DecisionOffsets.NONE, f"{type(model).__name__}: {exc}"
    return DecisionOffsets.MACRO_F1, None


@torch.no_grad()
def fold_offsets(model: nn.Module, delta: np.ndarray) -> None:
    """Add δ to the output layer's bias (:func:`output_layer`)."""
    layer = output_layer(model, len(delta))
    layer.bias.add_(torch.as_tensor(delta, dtype=layer.bias.dtype, device=layer.bias.device))
