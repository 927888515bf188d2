"""In-memory form of a dataset: what every loader returns and every other module reads.

A :class:`Split` holds either texts with one label each (classification) or token lists with one tag
per token (NER, IOB2 tags as strings). Labels stay strings here; :class:`LabelVocab` maps them to ids.
``locations`` keeps, per example, where it came from (``file:line``) so errors can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..enums import TaskType, UnseenLabels
from ..errors import InputError, SettingError


class DataError(InputError):
    """Malformed or inconsistent input data; the message names the file/line or field."""


def _label_sort_key(label: str):
    """Numeric labels sort as numbers ("2" < "10"), the rest alphabetically, numbers first."""
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, 0.0, label)


@dataclass
class Split:
    """One split of a dataset. Exactly one of ``texts`` / ``tokens`` is set, matching ``task``."""

    name: str
    task: TaskType
    labels: list  # list[str] (classification) or list[list[str]] (NER tags)
    texts: list[str] | None = None
    tokens: list[list[str]] | None = None
    locations: list[str] | None = None  # "path:line" per example, for error messages
    ids: list[str] | None = None

    def __post_init__(self) -> None:
        if self.task == TaskType.CLASSIFICATION:
            if self.texts is None or self.tokens is not None:
                raise DataError(f"split {self.name!r}: a classification split needs texts and no tokens")
            if len(self.texts) != len(self.labels):
                raise DataError(f"split {self.name!r}: {len(self.texts)} texts but {len(self.labels)} labels")
        else:
            if self.tokens is None or self.texts is not None:
                raise DataError(f"split {self.name!r}: an NER split needs tokens and no texts")
            if len(self.tokens) != len(self.labels):
                raise DataError(f"split {self.name!r}: {len(self.tokens)} sentences but {len(self.labels)} tag rows")
            for i, (toks, tags) in enumerate(zip(self.tokens, self.labels)):
                if len(toks) != len(tags):
                    raise DataError(
                        f"{self.where(i)}: sentence has {len(toks)} tokens but {len(tags)} tags"
                    )
        if self.locations is not None and len(self.locations) != len(self.labels):
            raise DataError(f"split {self.name!r}: locations do not match the examples")

    def __len__(self) -> int:
        return len(self.labels)

    def where(self, i: int) -> str:
        """Human-readable origin of example ``i`` (file:line when known)."""
        if self.locations is not None:
            return self.locations[i]
        return f"split {self.name!r}, example {i}"

    def text(self, i: int) -> str:
        """The example as one string (NER tokens joined by spaces); used for embeddings."""
        if self.texts is not None:
            return self.texts[i]
        return " ".join(self.tokens[i])  # type: ignore[index]

    def all_texts(self) -> list[str]:
        return [self.text(i) for i in range(len(self))]

    def subset(self, indices: Sequence[int], name: str | None = None) -> "Split":
        """A new split with the examples at ``indices`` (in that order)."""
        pick = lambda xs: None if xs is None else [xs[i] for i in indices]  # noqa: E731
        return Split(
            name=name or self.name,
            task=self.task,
            labels=pick(self.labels),
            texts=pick(self.texts),
            tokens=pick(self.tokens),
            locations=pick(self.locations),
            ids=pick(self.ids),
        )

    def label_counts(self) -> dict[str, int]:
        """Classification: examples per class. NER: entity mentions per type (IOB2 spans)."""
        counts: dict[str, int] = {}
        if self.task == TaskType.CLASSIFICATION:
            for y in self.labels:
                counts[y] = counts.get(y, 0) + 1
        else:
            for tags in self.labels:
                for etype in entity_types_of(tags):
                    counts[etype] = counts.get(etype, 0) + 1
        return counts


def entity_types_of(tags: Sequence[str]) -> list[str]:
    """The entity type of every mention in one IOB2 tag row (a B-X, or an I-X not continuing an X)."""
    out: list[str] = []
    prev = "O"
    for t in tags:
        if t.startswith("B-") or (t.startswith("I-") and prev[2:] != t[2:]):
            out.append(t[2:])
        prev = t if t != "O" else "O"
    return out


def strata(split: "Split") -> list[str]:
    """One stratum per example, for stratified splits: its class (classification), or the rarest entity type it
    mentions (by the split's own mention counts; ``O`` for a sentence without entities) for NER."""
    if split.task == TaskType.CLASSIFICATION:
        return [str(y) for y in split.labels]
    counts = split.label_counts()
    keys = []
    for tags in split.labels:
        types = entity_types_of(tags)
        keys.append(min(types, key=lambda t: (counts[t], t)) if types else "O")
    return keys


@dataclass
class LabelVocab:
    """Stable label <-> id mapping. For NER the labels are IOB2 tags and ``entity_types`` the types."""

    labels: list[str]
    task: TaskType = TaskType.CLASSIFICATION

    def __post_init__(self) -> None:
        self.index = {lab: i for i, lab in enumerate(self.labels)}

    @classmethod
    def from_labels(cls, labels: Sequence[str], task: TaskType) -> "LabelVocab":
        uniq = set(labels)
        if task == TaskType.NER:
            # "O" first, then B-/I- grouped by type (types sorted), so ids are stable across runs.
            types = sorted({t[2:] for t in uniq if t != "O"}, key=_label_sort_key)
            ordered = ["O"] + [f"{p}-{t}" for t in types for p in ("B", "I")]
            return cls(ordered, task)
        return cls(sorted(uniq, key=_label_sort_key), task)

    @classmethod
    def from_split(cls, split: Split) -> "LabelVocab":
        if split.task == TaskType.NER:
            return cls.from_labels([t for row in split.labels for t in row], split.task)
        return cls.from_labels(split.labels, split.task)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def entity_types(self) -> list[str]:
        return sorted({lab[2:] for lab in self.labels if lab != "O"}, key=_label_sort_key)

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.labels))

    @property
    def label2id(self) -> dict[str, int]:
        return dict(self.index)

    def encode(self, label: str, where: str = "") -> int:
        try:
            return self.index[label]
        except KeyError:
            raise DataError(
                f"{where or 'input'}: label {label!r} was never seen in training "
                f"(training labels: {', '.join(self.labels)})"
            ) from None

    def unseen(self, split: Split) -> dict[str, list[int]]:
        """Every label of ``split`` the vocabulary lacks -> the indices of the examples holding it."""
        out: dict[str, list[int]] = {}
        for i, y in enumerate(split.labels):
            for lab in dict.fromkeys(y if split.task == TaskType.NER else [y]):
                if lab not in self.index:
                    out.setdefault(lab, []).append(i)
        return out

    def check_split(self, split: Split) -> None:
        """Raise an :class:`UnseenLabelsError` listing every label of ``split`` that training never saw."""
        unseen = self.unseen(split)
        if unseen:
            raise UnseenLabelsError(split, unseen, self)


class UnseenLabelsError(DataError):
    """Validation/test labels the training split never has: all of them, with counts and first examples."""

    def __init__(self, split: Split, unseen: dict[str, list[int]], vocab: LabelVocab, first: int = 3) -> None:
        self.split_name = split.name
        self.unseen = unseen
        parts = []
        for lab, rows in sorted(unseen.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            where = ", ".join(split.where(i) for i in rows[:first]) + (", ..." if len(rows) > first else "")
            parts.append(f"{lab!r} x{len(rows)} ({where})")
        n = len({i for rows in unseen.values() for i in rows})
        super().__init__(
            f"split {split.name!r}: {len(unseen)} label(s) never seen in training, in {n} example(s): "
            + "; ".join(parts)
            + f". Training labels: {', '.join(vocab.labels)}. "
            "Use --unseen-labels drop (score without them) or --unseen-labels map:FILE (two columns: unseen, known)."
        )


@dataclass(frozen=True)
class UnseenLabelPolicy:
    """How a :class:`DataBundle` treats evaluation labels training never saw (see :class:`~hamr.UnseenLabels`).

    ``mapping`` (mode ``map``) renames unseen labels to training labels; for NER it maps entity *types*
    (``B-X``/``I-X`` follow). Parse the CLI form with :meth:`parse`: ``error``, ``drop`` or ``map:FILE``."""

    mode: UnseenLabels = UnseenLabels.ERROR
    mapping: dict = field(default_factory=dict)
    source: str = ""  # the map file, for messages

    @classmethod
    def parse(cls, value: "str | UnseenLabelPolicy | None") -> "UnseenLabelPolicy":
        if value is None:
            return cls()
        if isinstance(value, UnseenLabelPolicy):
            return value
        text = str(value)
        if text.lower().startswith("map:"):
            return cls(UnseenLabels.MAP, read_label_mapping(text[4:]), text[4:])
        mode = UnseenLabels.parse(text)
        if mode == UnseenLabels.MAP:
            raise SettingError("unseen labels: 'map' needs a file, as map:FILE (two columns: unseen label, known label)")
        return cls(mode)


def read_label_mapping(path: str) -> dict[str, str]:
    """A two-column file (tab, comma or whitespace separated; ``#`` comments): unseen label -> known label."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{path}: label map file does not exist")
    out: dict[str, str] = {}
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        sep = "\t" if "\t" in line else ("," if "," in line else None)
        cols = [c.strip() for c in line.split(sep)]
        if len(cols) != 2 or not all(cols):
            raise DataError(f"{path}:{n}: expected two columns (unseen label, known label), got {line!r}")
        if cols[0] in out:
            raise DataError(f"{path}:{n}: label {cols[0]!r} is mapped twice")
        out[cols[0]] = cols[1]
    if not out:
        raise DataError(f"{path}: the label map is empty")
    return out


@dataclass
class DataBundle:
    """A dataset: its splits, its task and the label vocabulary built from the training split."""

    name: str
    task: TaskType
    train: Split
    validation: Split | None = None
    test: Split | None = None
    vocab: LabelVocab = field(default=None)  # type: ignore[assignment]
    unseen_labels: UnseenLabelPolicy | str | None = None  # None/"error" | "drop" | "map:FILE" | a policy
    #: per evaluation split, what the policy did: {"dropped_examples": n, "labels": {label: count}} (drop) or
    #: {"mapped_examples": n, "labels": {label: target}} (map); empty when every label was seen in training
    unseen_report: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.vocab is None:
            self.vocab = LabelVocab.from_split(self.train)
        self.unseen_labels = UnseenLabelPolicy.parse(self.unseen_labels)
        for attr in ("validation", "test"):
            split = getattr(self, attr)
            if split is None:
                continue
            if split.task != self.task:
                raise DataError(f"{self.name}: split {split.name!r} is {split.task}, expected {self.task}")
            setattr(self, attr, self._apply_policy(split))

    def _apply_policy(self, split: Split) -> Split:
        unseen = self.vocab.unseen(split)
        if not unseen:
            return split
        policy: UnseenLabelPolicy = self.unseen_labels  # type: ignore[assignment]
        if policy.mode == UnseenLabels.ERROR:
            raise UnseenLabelsError(split, unseen, self.vocab)
        if policy.mode == UnseenLabels.DROP:
            bad = sorted({i for rows in unseen.values() for i in rows})
            keep = [i for i in range(len(split)) if i not in set(bad)]
            if not keep:
                raise DataError(f"split {split.name!r}: --unseen-labels drop would drop all {len(split)} examples")
            self.unseen_report[split.name] = {
                "policy": "drop", "dropped_examples": len(bad), "kept_examples": len(keep),
                "labels": {lab: len(rows) for lab, rows in sorted(unseen.items())},
            }
            return split.subset(keep)
        ner = split.task == TaskType.NER

        def rename(lab: str) -> str:
            if lab in self.vocab.index:
                return lab
            key = lab[2:] if ner and lab[:2] in ("B-", "I-") else lab
            if key not in policy.mapping:
                return lab
            target = policy.mapping[key]
            if ner and target != "O":
                target = f"{lab[:2]}{target}"
            return target

        labels = [[rename(t) for t in row] if ner else rename(row) for row in split.labels]
        mapped = Split(split.name, split.task, labels, texts=split.texts, tokens=split.tokens,
                       locations=split.locations, ids=split.ids)
        still = self.vocab.unseen(mapped)
        if still:
            detail = "; ".join(f"{lab!r} x{len(rows)} ({mapped.where(rows[0])})" for lab, rows in sorted(still.items()))
            raise DataError(f"{policy.source}: after mapping, split {split.name!r} still has labels that are not "
                            f"training labels: {detail}. Training labels: {', '.join(self.vocab.labels)}")
        self.unseen_report[split.name] = {
            "policy": f"map:{policy.source}", "mapped_examples": len({i for r in unseen.values() for i in r}),
            "labels": {lab: rename(lab) for lab in sorted(unseen)},
        }
        return mapped

    def splits(self) -> dict[str, Split]:
        out = {"train": self.train}
        if self.validation is not None:
            out["validation"] = self.validation
        if self.test is not None:
            out["test"] = self.test
        return out


def quartile_groups(train_counts: dict[str, int]) -> list[list[str]]:
    """Labels sorted by training frequency (rarest first, ties by name) in four groups Q1..Q4.

    Paper Figure 2 / method.md §7. With a number of labels not divisible by four the first groups get
    one more label (numpy ``array_split``); with fewer than four labels some groups are empty.
    """
    import numpy as np

    ordered = sorted(train_counts, key=lambda k: (train_counts[k], str(k)))
    return [list(g) for g in np.array_split(np.array(ordered, dtype=object), 4)]
