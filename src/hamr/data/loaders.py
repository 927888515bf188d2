"""The generic entry point for loading a dataset from files: :func:`load_files` (and :func:`read_split_files`)
pick a format per file, run its reader and assemble a :class:`~hamr.data.types.DataBundle`.

The readers themselves live in :mod:`hamr.data.formats`, one module per file format (:func:`load_delimited`,
:func:`load_jsonl`, :func:`load_conll`, :func:`load_ptb_trees`, :func:`load_hf`); this module maps format
names and file extensions to them (:data:`FORMATS`, :func:`infer_format`) and holds out a validation split
when none is given (:func:`carve_validation`).
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..enums import TaskType
from .formats import load_conll, load_delimited, load_hf, load_jsonl, load_ptb_trees
from .formats.common import PathLike
from .formats.hf import _is_saved_dataset
from .types import DataBundle, DataError, Split, strata as split_strata

logger = logging.getLogger(__name__)


_LOADERS: dict[str, Callable[..., Split]] = {
    "delimited": load_delimited,
    "jsonl": load_jsonl,
    "conll": load_conll,
    "ptb": load_ptb_trees,
    "hf": load_hf,
}
_EXTENSIONS = {
    ".tsv": "delimited",
    ".csv": "delimited",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".bio": "conll",
    ".iob2": "conll",
    ".conll": "conll",
    ".txt": "conll",
}
FORMATS: tuple[str, ...] = tuple(_LOADERS)


def infer_format(path: PathLike) -> str:
    """The format name for a file extension (see :data:`FORMATS`), or a :class:`DataError` listing them."""
    p = Path(path)
    if _is_saved_dataset(p):
        return "hf"
    try:
        return _EXTENSIONS[p.suffix.lower()]
    except KeyError:
        known = ", ".join(f"{ext} ({fmt})" for ext, fmt in _EXTENSIONS.items())
        raise DataError(
            f"{p}: cannot infer the format from the extension {p.suffix or '(none)'!r}; "
            f"pass fmt= one of {', '.join(FORMATS)} (known extensions: {known})"
        ) from None


def carve_validation(
    train: Split, size: int | float, *, seed: int = 42, name: str = "validation", stratify: bool = True
) -> tuple[Split, Split]:
    """Hold out a validation split from ``train``.

    ``size`` is a count (int) or a fraction of ``train`` (float in (0, 1)). With ``stratify`` (the default)
    the split is scikit-learn's ``train_test_split(stratify=...)`` over the examples' strata (the label; NER:
    the rarest entity type a sentence mentions), and a stratum with a single example stays in train, so every
    class of the file is trained on; when the count is too small to hold one example of every stratum
    (scikit-learn refuses), the held-out examples are drawn at random from the strata with two or more
    examples, which still keeps every class in train. ``stratify=False`` is the plain random draw (the first
    ``size`` of ``numpy.random.default_rng(seed).permutation(len(train))``), which the BioNLP and
    MIT-Restaurant benchmarks keep so their validation sets stay those of the recorded results. Both returned
    splits keep the original order of their examples (and their locations); the same seed gives the same split.
    """
    n = len(train)
    if isinstance(size, bool) or not isinstance(size, (int, float)):
        raise DataError(f"validation size {size!r} must be a count (int) or a fraction (float)")
    if isinstance(size, float):
        if not 0.0 < size < 1.0:
            raise DataError(f"validation size {size} must be a fraction strictly between 0 and 1 (or an int count)")
        count = max(1, round(n * size))
    else:
        count = size
    if not 0 < count < n:
        raise DataError(
            f"split {train.name!r}: cannot hold out {count} validation examples from {n} training examples"
        )
    if not stratify:
        perm = np.random.default_rng(seed).permutation(n)
        held = np.sort(perm[:count]).tolist()
        kept = np.sort(perm[count:]).tolist()
        return train.subset(kept, name=train.name), train.subset(held, name=name)

    from sklearn.model_selection import train_test_split

    strata = split_strata(train)
    sizes: dict[str, int] = {}
    for s in strata:
        sizes[s] = sizes.get(s, 0) + 1
    pool = [i for i, s in enumerate(strata) if sizes[s] >= 2]  # singletons stay in train
    if count > len(pool) - len({strata[i] for i in pool}):
        raise DataError(
            f"split {train.name!r}: cannot hold out {count} validation examples and keep every class in train "
            f"({n} examples, {len(sizes)} classes, {sum(v == 1 for v in sizes.values())} of them with one example)"
        )
    pool_strata = [strata[i] for i in pool]
    try:
        _, held = train_test_split(pool, test_size=count, stratify=pool_strata, random_state=seed)
    except ValueError:  # fewer held-out examples than strata: a seeded random draw that leaves one of each in train
        rng = np.random.default_rng(seed)
        first: dict[str, int] = {}
        for i in rng.permutation(pool).tolist():
            first.setdefault(strata[i], i)
        rest = [i for i in pool if i not in set(first.values())]
        held = rng.choice(rest, size=count, replace=False).tolist()
    held_set = set(int(i) for i in held)
    # scikit-learn's allocation can hold out every example of a small stratum at large sizes: give one back
    # and hold out one of the largest stratum instead, so every class keeps a training example
    rng = np.random.default_rng(seed)
    for s in sorted(sizes, key=lambda k: (sizes[k], k)):
        members = [i for i in pool if strata[i] == s]
        if members and all(i in held_set for i in members):
            held_set.discard(members[0])
            kept_by = {}
            for i in pool:
                if i not in held_set:
                    kept_by.setdefault(strata[i], []).append(i)
            donor = max((k for k in kept_by if len(kept_by[k]) >= 2), key=lambda k: (len(kept_by[k]), k))
            held_set.add(int(rng.choice(kept_by[donor])))
    kept = [i for i in range(n) if i not in held_set]
    return train.subset(kept, name=train.name), train.subset(sorted(held_set), name=name)


def _loader_options(fmt: str) -> set[str]:
    """The keyword options the loader of ``fmt`` takes from :func:`load_files` (not path or split name)."""
    params = set(inspect.signature(_LOADERS[fmt]).parameters) - {"path", "name_or_path", "split", "split_name"}
    return params | {"split_names"} if fmt == "hf" else params


def _call_loader(fmt: str, path: PathLike, role: str, options: dict[str, Any]) -> Split:
    """Run the loader of ``fmt`` on one file with the options it accepts; the split is named ``role``."""
    kwargs = {k: v for k, v in options.items() if k in _loader_options(fmt) and k != "split_names"}
    if fmt == "hf":
        split = load_hf(path, split=options.get("split_names", {}).get(role, role), **kwargs)
        split.name = role
        return split
    return _LOADERS[fmt](path, split_name=role, **kwargs)


def read_split_files(
    task: TaskType | str,
    train: PathLike,
    validation: PathLike | None = None,
    test: PathLike | None = None,
    fmt: str | None = None,
    **options: Any,
) -> dict[str, Split]:
    """The splits of :func:`load_files` as read, keyed by role, before a validation split is carved and before
    the label vocabulary is checked (``hamr data check`` reads files this way to report every problem)."""
    task = TaskType.parse(task)
    if fmt is not None and fmt not in _LOADERS:
        raise DataError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    files = {"train": train, "validation": validation, "test": test}
    formats = {role: fmt or infer_format(p) for role, p in files.items() if p is not None}
    accepted = set().union(*(_loader_options(f) for f in formats.values()))
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise DataError(
            f"option(s) {', '.join(unknown)} do not apply to the format(s) {', '.join(sorted(set(formats.values())))}"
        )

    splits: dict[str, Split] = {}
    for role, p in files.items():
        if p is None:
            continue
        split = _call_loader(formats[role], p, role, options)
        if split.task != task:
            raise DataError(f"{p}: the {role} data is {split.task} but the task is {task}")
        splits[role] = split

    return splits


def load_files(
    task: TaskType | str,
    train: PathLike,
    validation: PathLike | None = None,
    test: PathLike | None = None,
    fmt: str | None = None,
    **options: Any,
) -> DataBundle:
    """Load a dataset from files (or Hugging Face datasets) into a :class:`DataBundle`.

    ``fmt`` is one of :data:`FORMATS`; when omitted it is inferred per file from the extension (``.tsv`` /
    ``.csv`` delimited, ``.jsonl`` / ``.json`` JSON Lines, ``.bio`` / ``.iob2`` / ``.conll`` / ``.txt``
    CoNLL, a ``save_to_disk`` folder hf). Other ``options`` go to the loader that accepts them (e.g.
    ``text_column``, ``tag_column``, ``label_map``); an option no loader in use accepts is an error.
    Special options: ``name`` (dataset name, default the train file's stem), ``validation_size`` (count or
    fraction, default 0.1) and ``seed`` (default 42) for carving a validation split from train when no
    validation file is given, and ``split_names`` (role -> split name) for ``fmt="hf"``.
    """
    task = TaskType.parse(task)
    if fmt is not None and fmt not in _LOADERS:
        raise DataError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    options = dict(options)
    name = str(options.pop("name", Path(train).stem))
    validation_size = options.pop("validation_size", 0.1)
    seed = int(options.pop("seed", 42))
    unseen_labels = options.pop("unseen_labels", None)  # UnseenLabelPolicy: error | drop | map:FILE

    splits = read_split_files(task, train, validation, test, fmt=fmt, **options)

    if "validation" not in splits:
        full = len(splits["train"])
        splits["train"], splits["validation"] = carve_validation(splits["train"], validation_size, seed=seed)
        logger.warning(
            "%s: no validation file given; held out %d of the %d training examples at random, stratified by "
            "class (seed %d), as the validation split, so training uses %d. This is not an official validation "
            "split.",
            name,
            len(splits["validation"]),
            full,
            seed,
            len(splits["train"]),
        )
    return DataBundle(
        name=name, task=task, train=splits["train"], validation=splits["validation"], test=splits.get("test"),
        unseen_labels=unseen_labels,
    )
