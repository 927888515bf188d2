"""JSON Lines: one JSON object per line, a classification split (text + label) or an NER split (tokens + tags;
TweetNER7).

:func:`load_jsonl` takes the task from the first record's fields and names integer labels or tags through a
``tag -> id`` label map (a dict or a JSON file); :func:`iter_json_objects` yields each line's object with its
``path:line`` (``hamr predict`` reads its JSON Lines input through it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from ...enums import TaskType
from ..types import DataError, Split
from .common import PathLike, _check_tags, _default_name, _read_lines


def _read_label_map(label_map: Mapping[str, int] | PathLike, context: str) -> dict[int, str]:
    """Invert a ``tag -> id`` map (a dict, or the path of a JSON file holding one) into ``id -> tag``."""
    where = context
    if not isinstance(label_map, Mapping):
        map_path = Path(label_map)
        where = str(map_path)
        try:
            label_map = json.loads("\n".join(_read_lines(map_path)))
        except json.JSONDecodeError as exc:
            raise DataError(f"{map_path}:{exc.lineno}: invalid JSON in the label map ({exc.msg})") from None
        if not isinstance(label_map, Mapping):
            raise DataError(f"{map_path}: expected a JSON object mapping each tag to its integer id")
    inverse: dict[int, str] = {}
    for tag, idx in label_map.items():
        if not isinstance(tag, str) or isinstance(idx, bool) or not isinstance(idx, int):
            raise DataError(f"{where}: label map entries must be tag (string) -> id (integer), found {tag!r}: {idx!r}")
        if idx in inverse:
            raise DataError(f"{where}: label map gives id {idx} to both {inverse[idx]!r} and {tag!r}")
        inverse[idx] = tag
    return inverse


def _map_value(value: Any, id2label: dict[int, str] | None, what: str, where: str) -> str:
    """A label or tag as a string: strings as they are, integers through the label map."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if id2label is None:
            raise DataError(f"{where}: {what} {value} is an integer but no label_map was given to name it")
        try:
            return id2label[value]
        except KeyError:
            raise DataError(
                f"{where}: {what} {value} is not in the label map (ids: {', '.join(map(str, sorted(id2label)))})"
            ) from None
    raise DataError(f"{where}: expected {what} to be a string or an integer, found {value!r}")


def iter_json_objects(path: Path):
    """``(path:line, object)`` for every non-blank line of a JSON-lines file; a line that is not a JSON object is
    a :class:`DataError` naming it."""
    for line_no, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        where = f"{path}:{line_no}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected a JSON object, found {type(obj).__name__}")
        yield where, obj


def load_jsonl(
    path: PathLike,
    *,
    text_field: str = "text",
    label_field: str = "label",
    tokens_field: str = "tokens",
    tags_field: str = "tags",
    label_map: Mapping[str, int] | PathLike | None = None,
    split_name: str | None = None,
    id_field: str = "id",
) -> Split:
    """Read a split from a JSON Lines file (one JSON object per line; blank lines are skipped).

    The first record decides the task: with ``tokens_field`` and ``tags_field`` it is NER, otherwise
    classification with ``text_field`` and ``label_field``; every later record must have the same fields.
    Tags (and classification labels) may be strings or integers; integers are named through ``label_map``, a
    ``tag -> id`` dict or the path of a JSON file holding one (TweetNER7's ``label.json``). Without a map,
    integer classification labels become their decimal strings. ``id_field`` fills ``Split.ids`` when every
    record has it.
    """
    path = Path(path)
    id2label = None if label_map is None else _read_label_map(label_map, f"label_map for {path}")
    task: TaskType | None = None
    texts: list[str] = []
    tokens: list[list[str]] = []
    labels: list = []
    ids: list[str] = []
    have_ids = True
    locations: list[str] = []
    for where, obj in iter_json_objects(path):
        if task is None:
            task = TaskType.NER if tokens_field in obj and tags_field in obj else TaskType.CLASSIFICATION
        needed = (tokens_field, tags_field) if task == TaskType.NER else (text_field, label_field)
        missing = [f for f in needed if f not in obj]
        if missing:
            raise DataError(
                f"{where}: missing field(s) {', '.join(map(repr, missing))}: this file is {task} "
                f"(fields {needed[0]!r} and {needed[1]!r}); fields found: {', '.join(obj) or '(none)'}"
            )
        if task == TaskType.NER:
            toks, raw_tags = obj[tokens_field], obj[tags_field]
            if not isinstance(toks, list) or not toks or not all(isinstance(t, str) for t in toks):
                raise DataError(f"{where}: expected {tokens_field!r} to be a non-empty list of strings")
            if not isinstance(raw_tags, list):
                raise DataError(f"{where}: expected {tags_field!r} to be a list of tags")
            if len(toks) != len(raw_tags):
                raise DataError(f"{where}: {len(toks)} tokens but {len(raw_tags)} tags")
            tags = [_map_value(t, id2label, "tag", where) for t in raw_tags]
            _check_tags(tags, where)
            tokens.append(toks)
            labels.append(tags)
        else:
            text = obj[text_field]
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"{where}: expected {text_field!r} to be a non-empty string")
            raw_label = obj[label_field]
            if id2label is None and isinstance(raw_label, int) and not isinstance(raw_label, bool):
                label = str(raw_label)
            else:
                label = _map_value(raw_label, id2label, "label", where).strip()
            if not label:
                raise DataError(f"{where}: empty label in field {label_field!r}")
            texts.append(text)
            labels.append(label)
        if id_field in obj:
            ids.append(str(obj[id_field]))
        else:
            have_ids = False
        locations.append(where)
    if task is None:
        raise DataError(f"{path}: no records; expected one JSON object per line")
    return Split(
        name=_default_name(path, split_name),
        task=task,
        labels=labels,
        texts=texts if task == TaskType.CLASSIFICATION else None,
        tokens=tokens if task == TaskType.NER else None,
        locations=locations,
        ids=ids if have_ids else None,
    )
