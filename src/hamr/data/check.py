"""``hamr data check``: what in a dataset will hurt or break training, found before training starts.

:func:`check_splits` reads the splits as loaded (files or a benchmark) and reports:

- sizes and class counts per split (NER: entity mentions per type), the imbalance ratio of train;
- exact duplicates within a split and across splits (texts compared after collapsing whitespace);
- the same text with conflicting labels (anywhere in the dataset);
- labels that differ only in case or whitespace (``Caution`` / ``caution``);
- classes too small for a stratified validation split (one example) or for the balanced meta set of HAMR
  (:func:`hamr.metaset.build_meta_set`: classes are topped up to the median validation count with training
  examples, so a class below it after using all its training examples stays short);
- labels of validation/test that training never saw (an error: the run would stop on them);
- truncation at ``max_length`` per split, with the tokenizer of the model;
- IOB2 violations for NER (an ``I-X`` not preceded by ``B-X`` / ``I-X``).

Every finding carries ``file:line`` examples (:attr:`Split.locations`). Findings are errors (training would
fail) or warnings; :func:`suggest` turns the report into a suggested method and settings with the reason.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..enums import Severity, TaskType
from .types import DataError, Split, _label_sort_key, entity_types_of

#: Examples shown per finding.
MAX_EXAMPLES = 5
#: Training examples (NER: mentions) below which a class is called tiny (the meta set's own warning, metaset.py).
TINY_CLASS = 20
#: Share of truncated training examples above which raising --max-length is suggested.
HEAVY_TRUNCATION = 0.05


@dataclass
class Finding:
    """One problem: its severity (``error``: training would fail; ``warning``; ``info``), a short code, what
    is wrong, how many examples it touches and up to :data:`MAX_EXAMPLES` ``file:line`` examples."""

    severity: Severity
    code: str
    message: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class Suggestion:
    method: str
    settings: dict[str, Any]
    reasons: list[str]

    def command_options(self) -> str:
        flags = [f"--method {self.method}"]
        for key, value in self.settings.items():
            flags.append(f"--{key.replace('_', '-')} {value}")
        return " ".join(flags)


@dataclass
class CheckReport:
    name: str
    task: TaskType
    sizes: dict[str, int]
    class_counts: dict[str, dict[str, int]]
    imbalance_ratio: float | None
    max_length: int
    truncation: dict[str, dict[str, Any]]
    findings: list[Finding]
    carved_validation: bool = False
    suggestion: Suggestion | None = None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == Severity.WARNING]

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        out = asdict(self)
        out["task"] = str(self.task)
        for f in out["findings"]:
            f["severity"] = str(f["severity"])
        return out


_WS = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """The text compared for duplicates: whitespace runs collapsed to one space, ends stripped (case kept)."""
    return _WS.sub(" ", text).strip()


def normalise_label(label: str) -> str:
    """The label compared for spelling variants: case folded, whitespace removed."""
    return _WS.sub("", label).casefold()


def _label_key(split: Split, i: int) -> str:
    y = split.labels[i]
    return " ".join(y) if split.task == TaskType.NER else str(y)


def _labels_of(split: Split) -> list[str]:
    if split.task == TaskType.NER:
        return [t for row in split.labels for t in row]
    return [str(y) for y in split.labels]


def _examples(items: Sequence[str]) -> list[str]:
    return list(items[:MAX_EXAMPLES])


# ---------------------------------------------------------------------------------------------- the checks


def _duplicates(splits: dict[str, Split]) -> list[Finding]:
    findings: list[Finding] = []
    first_seen: dict[str, tuple[str, int]] = {}  # normalised text -> (role, index) of its first occurrence
    within: dict[str, list[str]] = {}
    across: dict[tuple[str, str], list[str]] = {}
    for role, split in splits.items():
        local: dict[str, int] = {}
        for i in range(len(split)):
            key = normalise_text(split.text(i))
            if key in local:
                within.setdefault(role, []).append(f"{split.where(i)} = {split.where(local[key])}")
            else:
                local[key] = i
                if key in first_seen and first_seen[key][0] != role:
                    r0, i0 = first_seen[key]
                    across.setdefault((r0, role), []).append(f"{split.where(i)} = {splits[r0].where(i0)}")
                first_seen.setdefault(key, (role, i))
    for role, ex in within.items():
        findings.append(Finding(Severity.WARNING, "duplicates_within",
                                f"{role}: {len(ex)} example(s) repeat an earlier {role} text (whitespace normalised)",
                                len(ex), _examples(ex)))
    for (r0, r1), ex in across.items():
        leak = "test" in (r0, r1)
        findings.append(Finding(Severity.WARNING, "duplicates_across",
                                f"{len(ex)} {r1} example(s) repeat a {r0} text" + (
                                    ": test scores are inflated by texts seen in training" if r0 == "train" and leak
                                    else ": the choice on validation favours memorisation" if r0 == "train"
                                    else ""), len(ex), _examples(ex)))
    return findings


def _conflicts(splits: dict[str, Split]) -> list[Finding]:
    by_text: dict[str, dict[str, str]] = {}  # text -> label -> first location
    for role, split in splits.items():
        for i in range(len(split)):
            by_text.setdefault(normalise_text(split.text(i)), {}).setdefault(_label_key(split, i), split.where(i))
    bad = [(t, labs) for t, labs in by_text.items() if len(labs) > 1]
    if not bad:
        return []
    ex = [" vs ".join(f"{where} ({lab if len(lab) < 40 else lab[:37] + '...'})" for lab, where in labs.items())
          for _, labs in bad]
    return [Finding(Severity.WARNING, "conflicting_labels",
                    f"{len(bad)} text(s) appear with different labels", len(bad), _examples(ex))]


def _label_variants(splits: dict[str, Split]) -> list[Finding]:
    where: dict[str, str] = {}
    for split in splits.values():
        for i in range(len(split)):
            labs = split.labels[i] if split.task == TaskType.NER else [split.labels[i]]
            for lab in labs:
                where.setdefault(str(lab), split.where(i))
    groups: dict[str, list[str]] = {}
    for lab in where:
        core = lab[2:] if lab[:2] in ("B-", "I-") else lab
        groups.setdefault(normalise_label(core), [])
        if core not in groups[normalise_label(core)]:
            groups[normalise_label(core)].append(core)
    bad = [g for g in groups.values() if len(g) > 1]
    if not bad:
        return []

    def first(core: str) -> str:
        return next(w for lab, w in where.items() if lab == core or lab[2:] == core)

    ex = [" / ".join(f"{c!r} ({first(c)})" for c in g) for g in bad]
    return [Finding(Severity.WARNING, "label_variants",
                    f"{len(bad)} label(s) are spelled in several ways that differ only in case or whitespace; "
                    "they count as different classes", len(bad), _examples(ex))]


def _unseen_labels(splits: dict[str, Split]) -> list[Finding]:
    known = set(_labels_of(splits["train"]))
    findings = []
    for role in ("validation", "test"):
        split = splits.get(role)
        if split is None:
            continue
        ex: list[str] = []
        labels: dict[str, int] = {}
        for i in range(len(split)):
            labs = split.labels[i] if split.task == TaskType.NER else [split.labels[i]]
            new = [lab for lab in labs if lab not in known]
            for lab in new:
                labels[lab] = labels.get(lab, 0) + 1
            if new:
                ex.append(f"{split.where(i)} ({', '.join(dict.fromkeys(new))})")
        if labels:
            names = ", ".join(f"{k!r} ({v})" for k, v in labels.items())
            findings.append(Finding(Severity.ERROR, "unseen_labels",
                                    f"{role}: label(s) never seen in train: {names}; training stops on them",
                                    len(ex), _examples(ex)))
    return findings


def _class_sizes(splits: dict[str, Split], carved: bool, seed: int) -> list[Finding]:
    train, val = splits["train"], splits.get("validation")
    counts = train.label_counts()
    unit = "examples" if train.task == TaskType.CLASSIFICATION else "entity mentions"
    findings = []
    if len(counts) < 2:
        findings.append(Finding(Severity.ERROR, "one_class",
                                f"train has {len(counts)} class(es): a classifier needs at least two", 0, []))
        return findings

    def where_class(c: str) -> list[str]:
        if train.task == TaskType.CLASSIFICATION:
            return [train.where(i) for i, y in enumerate(train.labels) if y == c]
        return [train.where(i) for i, row in enumerate(train.labels) if c in entity_types_of(row)]

    singles = sorted((c for c, n in counts.items() if n < 2), key=_label_sort_key)
    if singles:
        findings.append(Finding(
            Severity.WARNING, "too_small_to_stratify",
            f"{len(singles)} class(es) have a single training {unit[:-1]} ({', '.join(singles)}): a stratified "
            "validation split cannot hold them" + (" (the carved validation split left them in train)" if carved
                                                   else ""),
            len(singles), _examples([f"{c}: {w}" for c in singles for w in where_class(c)[:1]])))
    if val is not None and len(val):
        vcounts = val.label_counts()
        missing = sorted((c for c in counts if vcounts.get(c, 0) == 0), key=_label_sort_key)
        if missing:
            findings.append(Finding(Severity.WARNING, "absent_from_validation",
                                    f"{len(missing)} training class(es) have no validation {unit}: "
                                    f"{', '.join(missing)}; a choice on validation cannot see them",
                                    len(missing), []))
        from ..metaset import build_meta_set

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meta = build_meta_set(train, val, seed=seed, min_train_examples=TINY_CLASS)
        short = [c for c, n in meta.counts_after.items() if n < meta.target]
        tiny = sorted((c for c, n in counts.items() if n < TINY_CLASS), key=_label_sort_key)
        if tiny:
            findings.append(Finding(
                Severity.WARNING, "tiny_classes",
                f"{len(tiny)} class(es) have fewer than {TINY_CLASS} training {unit}: "
                + ", ".join(f"{c} ({counts[c]})" for c in tiny)
                + "; results on them are fragile, and HAMR's meta set copies them (meta and train overlap)",
                len(tiny), _examples([f"{c}: {w}" for c in tiny for w in where_class(c)[:1]])))
        if short:
            findings.append(Finding(
                Severity.WARNING, "meta_set_short",
                f"HAMR's meta set tops classes up to the median validation count ({meta.target}); "
                f"{len(short)} class(es) stay below it after using every training {unit[:-1]}: "
                + ", ".join(f"{c} ({meta.counts_after[c]})" for c in short), len(short), []))
    return findings


def _iob2(splits: dict[str, Split]) -> list[Finding]:
    findings = []
    for role, split in splits.items():
        ex = []
        for i, tags in enumerate(split.labels):
            prev = "O"
            for j, t in enumerate(tags):
                if t.startswith("I-") and prev[2:] != t[2:]:
                    ex.append(f"{split.where(i)} token {j + 1} ({split.tokens[i][j]!r}: {t} after {prev})")
                prev = t
        if ex:
            findings.append(Finding(Severity.WARNING, "iob2",
                                    f"{role}: {len(ex)} I- tag(s) without a preceding B-/I- of the same type "
                                    "(read as the start of a new entity)", len(ex), _examples(ex)))
    return findings


def token_lengths(split: Split, tokenizer) -> list[int]:
    """Sub-word tokens per example with the special tokens (NER: the words tokenised as pre-split)."""
    if split.task == TaskType.CLASSIFICATION:
        return [len(ids) for ids in tokenizer(split.texts, truncation=False)["input_ids"]]
    return [len(ids) for ids in tokenizer(split.tokens, is_split_into_words=True, truncation=False)["input_ids"]]


def _truncation(splits: dict[str, Split], tokenizer, max_length: int) -> tuple[dict[str, dict], list[Finding]]:
    import numpy as np

    stats, findings = {}, []
    for role, split in splits.items():
        lengths = token_lengths(split, tokenizer)
        over = [i for i, n in enumerate(lengths) if n > max_length]
        arr = np.asarray(lengths) if lengths else np.zeros(1)
        stats[role] = {"truncated": len(over), "examples": len(split), "p50": int(np.percentile(arr, 50)),
                       "p95": int(np.percentile(arr, 95)), "max": int(arr.max())}
        if over:
            share = len(over) / max(len(split), 1)
            findings.append(Finding(
                Severity.WARNING if share >= HEAVY_TRUNCATION else Severity.INFO, "truncation",
                f"{role}: {len(over)} of {len(split)} examples ({100 * share:.1f}%) are longer than --max-length "
                f"{max_length} tokens (95th percentile {stats[role]['p95']}, longest {stats[role]['max']})",
                len(over), _examples([f"{split.where(i)} ({lengths[i]} tokens)" for i in over])))
    return stats, findings


# ---------------------------------------------------------------------------------------------- the report


def imbalance_ratio(counts: dict[str, int]) -> float | None:
    values = [v for v in counts.values() if v > 0]
    return max(values) / min(values) if len(values) >= 2 else None


def suggest(report: CheckReport) -> Suggestion:
    """A method and settings for the data, with the reasons (the README's CPU results: re-weighting pays off
    on strong imbalance; HAMR costs 1.1-1.3x ERM's time per epoch, ICF the same as ERM)."""
    reasons: list[str] = []
    settings: dict[str, Any] = {}
    ratio = report.imbalance_ratio or 1.0
    codes = {f.code for f in report.findings}
    if report.task == TaskType.NER:
        method = "hamr" if ratio >= 10 else "erm"
        reasons.append(f"imbalance ratio {ratio:.1f}: " + (
            "HAMR re-weights rare entity types (on the README's CPU grid MetaBalance, at 4-9x the time, and Dice "
            "lead on some NER sets: try them with `hamr compare`)" if ratio >= 10
            else "mild; plain fine-tuning is a fair start"))
    elif ratio >= 10:
        method = "hamr"
        reasons.append(f"imbalance ratio {ratio:.1f} (>= 10): re-weighting lifts the rare classes; HAMR (about "
                       "1.1-1.3x ERM's time per epoch) or icf (ERM's time) — `hamr compare --methods erm,icf,hamr` "
                       "decides on validation")
    elif ratio >= 3:
        method = "icf"
        reasons.append(f"imbalance ratio {ratio:.1f} (3-10): inverse class frequency weights at no extra cost")
    else:
        method = "erm"
        reasons.append(f"imbalance ratio {ratio:.1f} (< 3): nearly balanced; plain fine-tuning")
    if "tiny_classes" in codes or "meta_set_short" in codes:
        reasons.append("tiny classes: their scores are fragile and HAMR's meta set copies their training examples; "
                       "compare over several seeds (`--seeds 3`)")
    train_trunc = report.truncation.get("train", {})
    if train_trunc.get("examples") and train_trunc["truncated"] / train_trunc["examples"] >= HEAVY_TRUNCATION:
        target = min(512, int(16 * math.ceil(train_trunc["p95"] / 16)))
        settings["max_length"] = target
        reasons.append(f"{train_trunc['truncated']} of {train_trunc['examples']} training examples are cut at "
                       f"{report.max_length} tokens: --max-length {target} covers 95% (costs time ~linearly)")
    if report.carved_validation:
        reasons.append("no validation file: a stratified 10% of train is held out (every class stays in train)")
    return Suggestion(method, settings, reasons)


def check_splits(
    splits: dict[str, Split],
    *,
    name: str = "data",
    tokenizer=None,
    max_length: int = 64,
    seed: int = 42,
    validation_size: int | float = 0.1,
) -> CheckReport:
    """Check the splits (``{"train": ..., "validation": ..., "test": ...}`` as read, before a vocabulary is
    built). Without a validation split one is carved as :func:`hamr.data.load_files` would (stratified).
    ``tokenizer`` (default: none, no truncation check) measures the lengths at ``max_length``."""
    if "train" not in splits or len(splits["train"]) == 0:
        raise DataError(f"{name}: no training examples")
    task = splits["train"].task
    splits = dict(splits)
    findings: list[Finding] = []
    carved = False
    if "validation" not in splits:
        from .loaders import carve_validation

        try:
            splits["train"], splits["validation"] = carve_validation(splits["train"], validation_size, seed=seed)
            carved = True
        except DataError as exc:
            findings.append(Finding(Severity.ERROR, "no_validation", f"cannot carve a validation split: {exc}"))
    sizes = {role: len(s) for role, s in splits.items()}
    counts = {role: dict(sorted(s.label_counts().items(), key=lambda kv: _label_sort_key(kv[0])))
              for role, s in splits.items()}
    findings += _unseen_labels(splits)
    findings += _class_sizes(splits, carved, seed)
    findings += _label_variants(splits)
    findings += _duplicates(splits)
    findings += _conflicts(splits)
    if task == TaskType.NER:
        findings += _iob2(splits)
    truncation: dict[str, dict] = {}
    if tokenizer is not None:
        truncation, trunc_findings = _truncation(splits, tokenizer, max_length)
        findings += trunc_findings
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    findings.sort(key=lambda f: order[f.severity])
    report = CheckReport(name, task, sizes, counts, imbalance_ratio(counts["train"]), max_length, truncation,
                         findings, carved)
    report.suggestion = suggest(report)
    return report


def print_report(report: CheckReport, console) -> None:
    """The report as rich tables: sizes and counts, the findings with examples, the suggestion."""
    from rich.table import Table

    roles = list(report.sizes)
    unit = "examples" if report.task == TaskType.CLASSIFICATION else "entity mentions"
    table = Table(title=f"{report.name} ({report.task}): {unit} per class"
                  + (" · validation carved from train" if report.carved_validation else ""))
    table.add_column("class")
    for role in roles:
        table.add_column(role, justify="right")
    classes = sorted({c for counts in report.class_counts.values() for c in counts}, key=_label_sort_key)
    for c in classes:
        table.add_row(c, *[str(report.class_counts[r].get(c, 0)) for r in roles])
    table.add_row("[bold]examples[/bold]", *[f"[bold]{report.sizes[r]}[/bold]" for r in roles])
    if report.truncation:
        table.add_row(f"truncated at {report.max_length}", *[str(report.truncation[r]["truncated"]) for r in roles])
    console.print(table)
    ratio = report.imbalance_ratio
    console.print(f"imbalance ratio (train, largest / smallest class): {ratio:.1f}" if ratio else
                  "imbalance ratio: - (fewer than two classes)")
    if report.findings:
        ft = Table(title="findings", show_lines=True)
        for col in ("severity", "finding", "examples (file:line)"):
            ft.add_column(col, overflow="fold")
        style = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "dim"}
        for f in report.findings:
            more = f" (+{f.count - len(f.examples)} more)" if f.count > len(f.examples) and f.examples else ""
            ft.add_row(f"[{style[f.severity]}]{f.severity}[/]", f.message, "\n".join(f.examples) + more)
        console.print(ft)
    else:
        console.print("[green]no findings[/green]")
    s = report.suggestion
    if s is not None:
        console.print(f"[bold]suggested:[/bold] hamr train ... {s.command_options()}")
        for r in s.reasons:
            console.print(f"  - {r}")
    n_err, n_warn = len(report.errors), len(report.warnings)
    console.print(f"{n_err} error(s), {n_warn} warning(s)" + (
        ": training would fail on the errors above" if n_err else ""))
