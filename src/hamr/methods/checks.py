"""The method contract, imbalanced-learn style (``utils/estimator_checks.py``): check functions every registered
method must pass, run by ``tests/test_methods_contract.py`` over :func:`hamr.methods.list_methods`.

A method is trained on a small run (:func:`train_for_checks`: a tiny model, a slice of real data, one epoch) and

- :func:`check_trains_with_finite_losses`: it took steps, every logged loss is finite, its predictions too;
- :func:`check_writes_declared_files`: it wrote exactly the files its registry entry declares (of all the
  files any method declares);
- :func:`check_options_round_trip`: every field of its arguments class survives ``str`` (what a run records
  in ``metrics.json``) and the ``key=value`` parser back to the same value;
- :func:`check_differs_from_erm`: unless it *is* ERM, its trained parameters differ from an ERM run's on the
  same data, seed and initial model: a method that silently trains plain cross-entropy fails here.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ..enums import Method
from ..options import field_types, parse_options
from .registry import MethodSpec, all_output_files, get_method


@dataclass
class CheckRun:
    """One small training run of a method, for the checks."""

    spec: MethodSpec
    trainer: Any
    output_dir: str
    parameters: dict[str, torch.Tensor]
    losses: list[float]
    predictions: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)


def train_for_checks(method: Method | str, ctx_factory: Callable[[Method, dict[str, Any]], Any],
                     options: dict[str, Any] | None = None) -> CheckRun:
    """Train ``method`` through its registered ``train_fn`` on the context ``ctx_factory(method, options)`` (a
    :class:`~hamr.methods.context.RunContext` whose ``new_model`` builds the tiny model) and record what the
    checks read: the trained parameters, the logged per-step losses and the validation predictions."""
    spec = get_method(method)
    ctx = ctx_factory(spec.name, dict(options or {}))
    trainer = spec.train_fn(ctx)
    params = {k: v.detach().float().cpu().clone() for k, v in trainer.model.state_dict().items()}
    losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    pred = trainer.predict(ctx.validation).predictions
    return CheckRun(spec, trainer, ctx.args.output_dir, params, losses, np.asarray(pred), dict(ctx.extra))


def check_trains_with_finite_losses(run: CheckRun) -> None:
    steps = run.trainer.state.global_step
    assert steps > 0, f"{run.spec.name}: no training step"
    assert len(run.losses) == steps, f"{run.spec.name}: {len(run.losses)} logged losses for {steps} steps"
    assert all(math.isfinite(v) for v in run.losses), f"{run.spec.name}: non-finite loss in {run.losses}"
    final = [r["train_loss"] for r in run.trainer.state.log_history if "train_loss" in r]
    assert len(final) == 1 and math.isfinite(final[0]), f"{run.spec.name}: train_loss {final}"
    assert np.isfinite(run.predictions).all(), f"{run.spec.name}: non-finite predictions"


def check_writes_declared_files(run: CheckRun) -> None:
    written = set(os.listdir(run.output_dir)) if os.path.isdir(run.output_dir) else set()
    declared = set(run.spec.output_files)
    missing = sorted(declared - written)
    assert not missing, f"{run.spec.name}: declared files not written: {missing}"
    foreign = sorted((set(all_output_files()) - declared) & written)
    assert not foreign, f"{run.spec.name}: wrote files it does not declare: {foreign}"
    for name in declared:
        assert os.path.getsize(os.path.join(run.output_dir, name)) > 0, f"{run.spec.name}: {name} is empty"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, enum.Enum) or isinstance(b, enum.Enum):
        return str(a) == str(b)
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def check_options_round_trip(spec: MethodSpec) -> None:
    """Every field the method adds: default -> str (as recorded) -> ``key=value`` parser -> the same value, and
    an arguments object built from the parsed options holds the defaults again."""
    cls = spec.arguments_class
    out = os.path.join(tempfile.gettempdir(), "hamr_contract_options")
    args = cls(output_dir=out, method=spec.name, report_to=[], use_cpu=True)
    types_ = field_types(cls)
    pairs = [f"{name}={getattr(args, name)}" for name in spec.own_fields()]
    parsed = parse_options(pairs, cls, f"{spec.name} contract")
    for name in spec.own_fields():
        assert _same(parsed[name], getattr(args, name)), \
            f"{cls.__name__}.{name}: {getattr(args, name)!r} -> {pairs} -> {parsed[name]!r} ({types_[name]})"
    again = cls(output_dir=out, method=spec.name, report_to=[], use_cpu=True, **parsed)
    for f in dataclasses.fields(cls):
        if f.name in spec.own_fields():
            assert _same(getattr(again, f.name), getattr(args, f.name)), f"{cls.__name__}.{f.name} did not round-trip"


def check_differs_from_erm(run: CheckRun, erm: CheckRun, atol: float = 1e-6) -> float:
    """The largest parameter difference to the ERM run; it must exceed ``atol`` unless the method is ERM (then it
    must be 0: the same seed and data give the same bits). Its per-step losses must differ from ERM's too, unless
    the method acts only after training (an ``after_train`` hook, e.g. post-hoc logit adjustment, which trains
    with cross-entropy by design). Returns the gap."""
    assert run.parameters.keys() == erm.parameters.keys()
    gap = max(float((run.parameters[k] - erm.parameters[k]).abs().max()) for k in run.parameters)
    if run.spec.differs_from_erm:
        assert gap > atol, (f"{run.spec.name}: its trained parameters equal ERM's (max gap {gap:.3g}); "
                            "does it train plain cross-entropy?")
        if run.spec.after_train is None:  # a post-training method trains as ERM by design
            assert run.losses != erm.losses, f"{run.spec.name}: per-step losses equal ERM's"
    else:
        assert gap == 0.0, f"{run.spec.name}: two ERM runs differ by {gap}"
    return gap
