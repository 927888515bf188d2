"""The method registry: one :func:`register_method` call per training method (peft's ``register_peft_method``).

Every place that depends on the method (the pipeline's training call, the files a run writes, the bench's cost
model, the training loss and sampler of :class:`~hamr.methods.base.ImbalanceTrainer`, which settings of a run
can change what a method does) reads its :class:`MethodSpec` here instead of testing the method's name.

The registry is filled when :mod:`hamr.methods` is imported (each method folder registers itself); read it
through ``hamr.methods.get_method`` / ``hamr.methods.list_methods``, which guarantee that.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from ..enums import Method
from .arguments import ImbalanceArguments

__all__ = ["MethodSpec", "register_method", "get_method", "list_methods"]


@dataclass(frozen=True)
class MethodSpec:
    """What the library needs to know about one training method.

    - ``name``: the :class:`~hamr.enums.Method` it is selected by;
    - ``arguments_class``: its ``TrainingArguments`` subclass (:class:`~hamr.methods.arguments.ImbalanceArguments` or
      a subclass adding the method's own fields);
    - ``train_fn(ctx) -> Trainer``: trains a :class:`~hamr.methods.context.RunContext` and returns the trained
      Trainer;
    - ``output_files``: the files beside the Trainer's output that a run of the method writes (moved into the
      run folder by :func:`hamr.pipeline.run`);
    - ``cost_factor``: training time relative to plain fine-tuning, for the bench's estimates where nothing was
      measured (benchmarks/README.md);
    - ``build_loss(args, class_counts) -> nn.Module``: the training loss of :class:`ImbalanceTrainer`
      (None: plain cross-entropy);
    - ``train_sampler(trainer) -> Sampler``: the training sampler (None: the Trainer's own random sampler);
    - ``after_train(trainer)``: run by :meth:`ImbalanceTrainer.train` once training ends (post-hoc logit
      adjustment folds its offset into the model here; None: nothing);
    - ``resumable``: False for a method that trains in stages (a first model, then the real one): it cannot
      checkpoint or resume;
    - ``differs_from_erm``: False only for ERM itself (the contract suite checks the others change training);
    - ``needs_validation``: the method builds its meta set from the validation split.
    """

    name: Method
    arguments_class: type
    train_fn: Callable[[Any], Any]
    output_files: tuple[str, ...] = ()
    cost_factor: float = 1.0
    build_loss: Callable[[Any, Any], Any] | None = None
    train_sampler: Callable[[Any], Any] | None = None
    after_train: Callable[[Any], None] | None = None
    resumable: bool = True
    differs_from_erm: bool = True
    needs_validation: bool = False
    description: str = ""

    def own_fields(self) -> tuple[str, ...]:
        """The fields the method's arguments class adds to :class:`~hamr.methods.arguments.ImbalanceArguments`:
        the settings that can change what this method does (and only this method)."""
        base = {f.name for f in dataclasses.fields(ImbalanceArguments)}
        return tuple(f.name for f in dataclasses.fields(self.arguments_class) if f.name not in base)


_REGISTRY: dict[Method, MethodSpec] = {}


def register_method(
    name: Method | str,
    arguments_class: type,
    train_fn: Callable[[Any], Any],
    output_files: tuple[str, ...] | list[str] = (),
    cost_factor: float = 1.0,
    **extra: Any,
) -> MethodSpec:
    """Record a method (see :class:`MethodSpec` for the arguments); a name can be registered once."""
    method = Method.parse(name)
    if method in _REGISTRY:
        raise ValueError(f"method {method.value!r} is registered already")
    if not dataclasses.is_dataclass(arguments_class):
        raise TypeError(f"register_method({method.value!r}): arguments_class must be a dataclass")
    if not cost_factor > 0:
        raise ValueError(f"register_method({method.value!r}): cost_factor must be > 0, got {cost_factor}")
    spec = MethodSpec(method, arguments_class, train_fn, tuple(output_files), float(cost_factor), **extra)
    _REGISTRY[method] = spec
    return spec


def get_method(name: Method | str) -> MethodSpec:
    """The :class:`MethodSpec` of a method name; a clear error lists the registered ones."""
    method = Method.parse(name)
    try:
        return _REGISTRY[method]
    except KeyError:
        known = ", ".join(m.value for m in _REGISTRY) or "none (import hamr.methods first)"
        raise KeyError(f"method {method.value!r} is not registered (registered: {known})") from None


def list_methods() -> list[Method]:
    """The registered methods, in :class:`~hamr.enums.Method` order."""
    return [m for m in Method if m in _REGISTRY]


def all_output_files() -> tuple[str, ...]:
    """Every file any registered method declares (in registration order, without repeats)."""
    return tuple(dict.fromkeys(f for spec in _REGISTRY.values() for f in spec.output_files))
