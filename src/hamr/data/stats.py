"""Dataset statistics: split sizes, label counts, the imbalance ratio and the Q1..Q4 label groups.

:func:`dataset_stats` returns plain data (JSON-serialisable dicts and lists); :func:`format_stats` turns it
into rich renderables and :func:`print_stats` prints them. Labels are classes for classification and entity
types for NER (counted as mentions, see :meth:`Split.label_counts`).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from ..enums import TaskType
from .types import DataBundle, quartile_groups


def dataset_stats(bundle: DataBundle) -> dict[str, Any]:
    """Statistics of a dataset, as a dict.

    Keys: ``name``, ``task``; ``labels`` (classes, or entity types for NER, in vocabulary order);
    ``sizes`` (split -> examples); ``label_counts`` (split -> label -> examples, or entity mentions for NER;
    every label listed, zeros included); ``imbalance`` (``max_label``, ``max``, ``min_label``, ``min``,
    ``ratio`` = max / min of the training counts; ``inf`` when a label has no training example);
    ``quartiles`` (four lists of labels, rarest first, from :func:`quartile_groups` on the training counts).
    NER adds ``tokens`` (split -> tokens) and ``tag_counts`` (split -> IOB2 tag -> tokens).
    """
    ner = bundle.task == TaskType.NER
    labels = bundle.vocab.entity_types if ner else list(bundle.vocab.labels)
    splits = bundle.splits()
    label_counts: dict[str, dict[str, int]] = {}
    for role, split in splits.items():
        counts = split.label_counts()
        extra = sorted(set(counts) - set(labels))  # only possible when the vocab was given from elsewhere
        label_counts[role] = {lab: counts.get(lab, 0) for lab in [*labels, *extra]}

    train_counts = label_counts["train"]
    max_label = max(train_counts, key=lambda k: (train_counts[k], k))
    min_label = min(train_counts, key=lambda k: (train_counts[k], k))
    lo, hi = train_counts[min_label], train_counts[max_label]
    stats: dict[str, Any] = {
        "name": bundle.name,
        "task": str(bundle.task),
        "labels": list(train_counts),
        "sizes": {role: len(split) for role, split in splits.items()},
        "label_counts": label_counts,
        "imbalance": {
            "max_label": max_label,
            "max": hi,
            "min_label": min_label,
            "min": lo,
            "ratio": hi / lo if lo else float("inf"),
        },
        "quartiles": quartile_groups(train_counts),
    }
    if ner:
        stats["tokens"] = {role: sum(len(t) for t in split.tokens or []) for role, split in splits.items()}
        tag_counts: dict[str, dict[str, int]] = {}
        for role, split in splits.items():
            counts: dict[str, int] = {}
            for row in split.labels:
                for tag in row:
                    counts[tag] = counts.get(tag, 0) + 1
            order = [t for t in bundle.vocab.labels if t in counts] + sorted(set(counts) - set(bundle.vocab.labels))
            tag_counts[role] = {t: counts[t] for t in order}
        stats["tag_counts"] = tag_counts
    return stats


def _count_share(count: int, total: int) -> str:
    return f"{count:,} ({100.0 * count / total:.1f}%)" if total else f"{count:,}"


def format_stats(stats: dict[str, Any]) -> list[RenderableType]:
    """Rich renderables for :func:`dataset_stats` output: sizes, per-label counts with shares, the
    imbalance ratio, the Q1..Q4 label groups and, for NER, the tag counts."""
    ner = stats["task"] == str(TaskType.NER)
    roles = list(stats["sizes"])
    unit = "entity mentions" if ner else "examples"
    out: list[RenderableType] = [Text(f"{stats['name']} ({stats['task']})", style="bold")]

    sizes = Table(title="Split sizes", title_justify="left")
    sizes.add_column("split")
    sizes.add_column("sentences" if ner else "examples", justify="right")
    if ner:
        sizes.add_column("tokens", justify="right")
        sizes.add_column("entity mentions", justify="right")
    for role in roles:
        row = [role, f"{stats['sizes'][role]:,}"]
        if ner:
            row += [f"{stats['tokens'][role]:,}", f"{sum(stats['label_counts'][role].values()):,}"]
        sizes.add_row(*row)
    out.append(sizes)

    group_of = {lab: f"Q{q + 1}" for q, group in enumerate(stats["quartiles"]) for lab in group}
    per_label = Table(
        title=f"{unit.capitalize()} per {'entity type' if ner else 'class'} (share of the split)", title_justify="left"
    )
    per_label.add_column("type" if ner else "class", overflow="fold")
    for role in roles:
        per_label.add_column(role, justify="right")
    per_label.add_column("group", justify="center")
    totals = {role: sum(stats["label_counts"][role].values()) for role in roles}
    for lab in stats["labels"]:
        cells = [_count_share(stats["label_counts"][role].get(lab, 0), totals[role]) for role in roles]
        per_label.add_row(lab, *cells, group_of.get(lab, ""))
    out.append(per_label)

    imb = stats["imbalance"]
    ratio = "inf (a label has no training example)" if imb["min"] == 0 else f"{imb['ratio']:.1f}x"
    out.append(
        Text(
            f"Imbalance ratio (train, most / least frequent): {imb['max_label']} {imb['max']:,} / "
            f"{imb['min_label']} {imb['min']:,} = {ratio}"
        )
    )

    groups = Table(title="Label groups by training frequency (Q1 rarest)", title_justify="left")
    groups.add_column("group", no_wrap=True)
    groups.add_column("labels (train count)")
    train = stats["label_counts"]["train"]
    for q, group in enumerate(stats["quartiles"]):
        groups.add_row(f"Q{q + 1}", ", ".join(f"{lab} ({train[lab]:,})" for lab in group) or "-")
    out.append(groups)

    if ner:
        tags = Table(title="Tokens per tag", title_justify="left")
        tags.add_column("tag")
        for role in roles:
            tags.add_column(role, justify="right")
        all_tags = list(dict.fromkeys(t for role in roles for t in stats["tag_counts"][role]))
        for tag in all_tags:
            tags.add_row(tag, *(f"{stats['tag_counts'][role].get(tag, 0):,}" for role in roles))
        out.append(tags)
    return out


def print_stats(stats: dict[str, Any], console: Console | None = None) -> None:
    """Print :func:`format_stats` output to ``console`` (a new rich Console on stdout when None)."""
    console = console or Console()
    for renderable in format_stats(stats):
        console.print(renderable)
