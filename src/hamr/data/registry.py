"""The six benchmarks of the paper, by name, read from a local data root.

The data root holds one folder per benchmark, named as in :data:`BENCHMARKS` (the layout of
``shared/datasets``). BioNLP and MIT-Restaurant ship no validation file: as in the paper (T-NER), a
validation split of the paper's size is drawn at random from the training file, with a seed. The paper's own
draw is not published, so these validation sets have the paper's sizes but not its membership.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..enums import TaskType
from .formats import load_conll, load_delimited, load_jsonl, load_ptb_trees
from .loaders import carve_validation
from .types import DataBundle, DataError, LabelVocab, Split

logger = logging.getLogger(__name__)

ENV_DATA_ROOT = "HAMR_DATA_ROOT"
SPLIT_ROLES = ("train", "validation", "test")


@dataclass(frozen=True)
class BenchmarkSpec:
    """Where a benchmark's files are (relative to its folder), how to read them and the sizes to expect.

    ``validation`` is None when the validation split is carved out of train; ``sizes`` are the split sizes
    after carving (paper Table 1 / PROVENANCE.md). ``options`` go to the loader; an option whose value names
    a file of the folder is listed in ``file_options`` and resolved against the folder.
    """

    name: str
    task: TaskType
    fmt: str
    train: str
    test: str
    validation: str | None
    sizes: tuple[int, int, int]
    description: str
    options: Mapping[str, Any] = field(default_factory=dict)
    file_options: tuple[str, ...] = ()


_HUMAID_OPTIONS = {"text_column": "tweet_text", "label_column": "class_label", "id_column": "tweet_id"}

BENCHMARKS: dict[str, BenchmarkSpec] = {
    spec.name: spec
    for spec in (
        BenchmarkSpec(
            name="bionlp",
            task=TaskType.NER,
            fmt="conll",
            train="Genia4ERtask1.iob2",
            validation=None,
            test="Genia4EReval1.iob2",
            sizes=(16_619, 1_927, 3_856),
            description="BioNLP / JNLPBA 2004 bio-entity NER, 5 types (validation carved from train)",
            options={"delimiter": "\t"},
        ),
        BenchmarkSpec(
            name="mit_restaurant",
            task=TaskType.NER,
            fmt="conll",
            train="restauranttrain.bio",
            validation=None,
            test="restauranttest.bio",
            sizes=(6_900, 760, 1_521),
            description="MIT-Restaurant query NER, 8 types, tag-first files (validation carved from train)",
            options={"delimiter": "\t", "tag_column": 0, "token_column": 1},
        ),
        BenchmarkSpec(
            name="tweetner7",
            task=TaskType.NER,
            fmt="jsonl",
            train="2020.train.json",
            validation="2020.dev.json",
            test="2020.test.json",
            sizes=(4_616, 576, 576),
            description="TweetNER7 tweet NER, 7 types (the 2020 files)",
            options={"label_map": "label.json"},
            file_options=("label_map",),
        ),
        BenchmarkSpec(
            name="humaid_irma17",
            task=TaskType.CLASSIFICATION,
            fmt="delimited",
            train="hurricane_irma_2017_train.tsv",
            validation="hurricane_irma_2017_dev.tsv",
            test="hurricane_irma_2017_test.tsv",
            sizes=(6_579, 958, 1_862),
            description="HumAID Hurricane Irma 2017 tweet classification, 9 classes",
            options=_HUMAID_OPTIONS,
        ),
        BenchmarkSpec(
            name="humaid_idai19",
            task=TaskType.CLASSIFICATION,
            fmt="delimited",
            train="cyclone_idai_2019_train.tsv",
            validation="cyclone_idai_2019_dev.tsv",
            test="cyclone_idai_2019_test.tsv",
            sizes=(2_753, 401, 779),
            description="HumAID Cyclone Idai 2019 tweet classification, 10 classes",
            options=_HUMAID_OPTIONS,
        ),
        BenchmarkSpec(
            name="sst5",
            task=TaskType.CLASSIFICATION,
            fmt="ptb",
            train="train.txt",
            validation="dev.txt",
            test="test.txt",
            sizes=(8_544, 1_101, 2_210),
            description="SST-5 sentence sentiment, 5 classes (root labels of the PTB trees)",
        ),
    )
}

_READERS = {"conll": load_conll, "jsonl": load_jsonl, "delimited": load_delimited, "ptb": load_ptb_trees}


def list_benchmarks() -> list[str]:
    """Names of the registered benchmarks, in the order of the paper's tables."""
    return list(BENCHMARKS)


def _candidate_roots() -> list[Path]:
    """Default places for the data root: beside the working directory, then beside this checkout."""
    candidates = [Path.cwd().parent / "shared" / "datasets"]
    candidates += [parent / "shared" / "datasets" for parent in Path(__file__).resolve().parents]
    return candidates


def resolve_data_root(data_root: str | os.PathLike | None = None) -> Path:
    """The folder holding the benchmark folders.

    Order: the argument; the environment variable ``HAMR_DATA_ROOT``; the first existing of
    ``<cwd>/../shared/datasets`` and a ``shared/datasets`` folder in any parent folder of this package (the
    one beside the git checkout). A given root that does not exist, or no root at all, is a
    :class:`DataError` saying how to set it.
    """
    for given, source in ((data_root, "data_root"), (os.environ.get(ENV_DATA_ROOT) or None, ENV_DATA_ROOT)):
        if given is not None:
            root = Path(given).expanduser()
            if not root.is_dir():
                raise DataError(f"data root {root} (from {source}) is not a folder")
            return root.resolve()
    for root in _candidate_roots():
        if root.is_dir():
            return root.resolve()
    tried = ", ".join(str(p) for p in dict.fromkeys(_candidate_roots()))
    raise DataError(
        f"no data root found (tried {tried}); pass data_root=... (CLI: --data-root) or set "
        f"{ENV_DATA_ROOT} to the folder holding the benchmark folders ({', '.join(BENCHMARKS)})"
    )


def _limits(limit: int | Mapping[str, int] | None) -> dict[str, int]:
    """Per-split example limits from an int (every split) or a dict keyed by split role."""
    if limit is None:
        return {}
    if isinstance(limit, Mapping):
        unknown = sorted(set(limit) - set(SPLIT_ROLES))
        if unknown:
            raise DataError(f"limit: unknown split(s) {', '.join(unknown)}; expected {', '.join(SPLIT_ROLES)}")
        out = dict(limit)
    else:
        out = {role: limit for role in SPLIT_ROLES}
    for role, n in out.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise DataError(f"limit for {role}: expected a positive int, found {n!r}")
    return out


def load_benchmark(
    name: str,
    data_root: str | os.PathLike | None = None,
    *,
    seed: int = 42,
    limit: int | Mapping[str, int] | None = None,
) -> DataBundle:
    """Load one of :data:`BENCHMARKS` as a :class:`DataBundle` named ``name``.

    A validation split missing from the files is carved from train with :func:`carve_validation` and
    ``seed``. ``limit`` (an int for every split, or a dict such as ``{"train": 200}``) keeps the first N
    examples of each split, after carving; the label vocabulary still comes from the whole training split,
    so small slices remain consistent with it. Split sizes that differ from the expected ones are logged as
    a warning (the files are then not the paper's).
    """
    try:
        spec = BENCHMARKS[name]
    except KeyError:
        raise DataError(f"unknown benchmark {name!r}; expected one of: {', '.join(BENCHMARKS)}") from None
    limits = _limits(limit)
    folder = resolve_data_root(data_root) / spec.name
    files = {"train": spec.train, "validation": spec.validation, "test": spec.test}
    paths = {role: folder / f for role, f in files.items() if f is not None}
    options = {k: (folder / v if k in spec.file_options else v) for k, v in spec.options.items()}
    for p in [*paths.values(), *(options[k] for k in spec.file_options)]:
        if not p.is_file():
            raise DataError(f"{spec.name}: missing file {p} (is the data root {folder.parent} right?)")

    reader = _READERS[spec.fmt]
    splits: dict[str, Split] = {role: reader(p, split_name=role, **options) for role, p in paths.items()}
    if spec.validation is None:
        splits["train"], splits["validation"] = carve_validation(splits["train"], spec.sizes[1], seed=seed,
                                                                     stratify=False)
        logger.info(
            "%s: validation = %d training sentences drawn at random (seed %d), as in the paper; "
            "the paper's own draw is not published",
            spec.name,
            spec.sizes[1],
            seed,
        )
    for role, expected in zip(SPLIT_ROLES, spec.sizes):
        if len(splits[role]) != expected:
            logger.warning("%s: %s has %d examples, expected %d", spec.name, role, len(splits[role]), expected)

    vocab = LabelVocab.from_split(splits["train"])
    for role, n in limits.items():
        splits[role] = splits[role].subset(range(min(n, len(splits[role]))))
    return DataBundle(
        name=spec.name,
        task=spec.task,
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        vocab=vocab,
    )
