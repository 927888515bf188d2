"""Readers for the file formats of the benchmarks, each returning a :class:`~hamr.data.types.Split`.

Every example keeps its origin in ``Split.locations`` (``"path:line"``) and every malformed input raises a
:class:`~hamr.data.types.DataError` whose message names the file, the line and what was expected. Nothing is
dropped silently: the only lines skipped are blank lines (and ``-DOCSTART-`` markers in CoNLL files).

Formats:

* :func:`load_delimited` – CSV / TSV with a header row (HumAID);
* :func:`load_jsonl` – JSON Lines, classification (text + label) or NER (tokens + tags; TweetNER7);
* :func:`load_conll` – one token per line, blank line between sentences (BioNLP, MIT-Restaurant);
* :func:`load_ptb_trees` – one PTB tree per line, root label = sentence label (SST-5);
* :func:`load_hf` – a Hugging Face dataset (a ``save_to_disk`` folder offline, or a hub name);
* :func:`load_files` – picks one of the above per file and assembles a :class:`DataBundle`.
"""

from __future__ import annotations

import csv
import inspect
import json
import logging
import os
import re
import socket
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence
from urllib.parse import urlparse

import numpy as np

from ..enums import TaskType
from .types import DataBundle, DataError, Split

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike

_IOB2_TAG = re.compile(r"^(O|[BI]-\S.*)$")
# PTB escapes of characters that are special in the tree syntax (the Penn Treebank conventions).
_PTB_UNESCAPE = {
    "-LRB-": "(",
    "-RRB-": ")",
    "-LSB-": "[",
    "-RSB-": "]",
    "-LCB-": "{",
    "-RCB-": "}",
}
_PTB_TOKEN = re.compile(r"\(|\)|[^\s()]+")


# --------------------------------------------------------------------------------------------------------------
# shared helpers


def _read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file, split on ``\\n`` only (a trailing ``\\r`` is removed).

    Splitting on ``\\n`` alone keeps characters such as U+2028 inside tweets from breaking a line. A final
    newline does not produce an extra empty line.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: expected UTF-8 text, found the byte 0x{data[exc.start]:02x}") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _check_tags(tags: Sequence[str], where: str) -> None:
    """Raise unless every tag is ``O``, ``B-<type>`` or ``I-<type>`` (IOB2)."""
    for tag in tags:
        if not _IOB2_TAG.match(tag):
            raise DataError(
                f"{where}: invalid tag {tag!r}: expected 'O' or an IOB2 tag 'B-<type>' / 'I-<type>'"
            )


def _default_name(path: Path, split_name: str | None) -> str:
    """The split name: the one given, else the file name without its last extension."""
    return split_name or path.stem


# --------------------------------------------------------------------------------------------------------------
# CSV / TSV


def _delimiter_for(path: Path, delimiter: str | None) -> str:
    if delimiter is not None:
        return delimiter
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        return "\t"
    if suffix == ".csv":
        return ","
    raise DataError(
        f"{path}: cannot infer the delimiter from the extension {suffix or '(none)'!r}; "
        "pass delimiter=',' or delimiter='\\t' (or name the file .csv / .tsv)"
    )


def _column_index(header: list[str], column: str | int, role: str, where: str) -> int:
    """Index of ``column`` (a header name, or an int position) in ``header``."""
    found = ", ".join(header)
    if isinstance(column, int):
        if -len(header) <= column < len(header):
            return column % len(header)
        raise DataError(
            f"{where}: {role} column {column} is out of range; the header has {len(header)} columns: {found}"
        )
    try:
        return header.index(column)
    except ValueError:
        raise DataError(f"{where}: no {role} column {column!r} in the header; columns found: {found}") from None


_CSV_QUOTED_FIELD = re.compile(r'^"(?:[^"]|"")*"$')


def _tsv_is_csv_quoted(lines: list[str]) -> bool:
    """True when a tab-separated file carries CSV quoting (``pandas.DataFrame.to_csv(sep="\\t")``): a field
    quoted as a whole with a doubled ``""`` inside (how CSV writes a ``"``), or a header of quoted fields."""
    header = next((ln for ln in lines if ln.strip()), "")
    if header and all(_CSV_QUOTED_FIELD.match(f) for f in header.split("\t")):
        return True
    return any(
        '""' in f[1:-1] and _CSV_QUOTED_FIELD.match(f) for ln in lines if '""' in ln for f in ln.split("\t")
    )


def load_delimited(
    path: PathLike,
    *,
    text_column: str | int = "text",
    label_column: str | int = "label",
    delimiter: str | None = None,
    split_name: str | None = None,
    id_column: str | int | None = None,
    quoting: str | None = None,
) -> Split:
    """Read a classification split from a CSV or TSV file with a header row.

    The delimiter comes from the extension (``.tsv`` tab, ``.csv`` comma) unless given. ``quoting`` is
    ``"csv"`` (standard CSV quoting: ``"..."`` fields, ``""`` for a quote inside) or ``"none"`` (quotes are
    text); by default other delimiters use CSV quoting, and tab-separated files are read without quoting
    (HumAID puts raw ``"`` characters in tweets) unless the file shows CSV quoting (a TSV written by pandas
    ``to_csv(sep="\\t")``: a whole field in quotes with ``""`` inside), in which case it is read as quoted.
    Columns are chosen by header name or by position. Every row must have as many fields as the header; an
    empty text or label is an error. Labels are stripped of surrounding whitespace, texts are kept as they are.
    A quoted field running over several lines is an error when one of the lines it swallows looks like a row
    of its own (the right number of fields and a label of this file): an unclosed ``"`` would merge rows.
    """
    path = Path(path)
    delim = _delimiter_for(path, delimiter)
    kind = {"\t": "tab", ",": "comma"}.get(delim, repr(delim))
    lines = _read_lines(path)
    if quoting not in (None, "csv", "none"):
        raise DataError(f"{path}: quoting={quoting!r}: expected 'csv', 'none' or None (automatic)")
    if quoting is None:
        quoting = "csv" if delim != "\t" or _tsv_is_csv_quoted(lines) else "none"
        if delim == "\t" and quoting == "csv":
            logger.info("%s: tab-separated with CSV quoting (as pandas writes it): read as quoted", path)
    csv_quoting = csv.QUOTE_MINIMAL if quoting == "csv" else csv.QUOTE_NONE
    reader = csv.reader((ln + "\n" for ln in lines), delimiter=delim, quoting=csv_quoting, strict=True)
    spans: list[tuple[int, int]] = []  # first and last physical line of each multi-line record

    def rows() -> Iterator[tuple[int, list[str]]]:
        start = 1
        try:
            for row in reader:
                if reader.line_num > start:
                    spans.append((start, reader.line_num))
                yield start, row
                start = reader.line_num + 1
        except csv.Error as exc:
            raise DataError(f"{path}:{start}: malformed {kind}-separated row ({exc})") from None

    records = rows()
    header: list[str] | None = None
    where_header = str(path)
    for line, row in records:
        if row:
            header = [h.strip() for h in row]
            where_header = f"{path}:{line}"
            break
    if header is None:
        raise DataError(f"{path}: empty file; expected a header row naming the columns")
    header_line = int(where_header.rsplit(":", 1)[1])
    t_idx = _column_index(header, text_column, "text", where_header)
    l_idx = _column_index(header, label_column, "label", where_header)
    i_idx = None if id_column is None else _column_index(header, id_column, "id", where_header)

    texts: list[str] = []
    labels: list[str] = []
    ids: list[str] = []
    locations: list[str] = []
    for line, row in records:
        if not row:
            continue
        where = f"{path}:{line}"
        if len(row) != len(header):
            hint = ""
            if quoting == "none" and any(f.startswith('"') for f in row):
                hint = " (if the file was written with CSV quoting, e.g. by pandas, pass quoting='csv')"
            raise DataError(
                f"{where}: expected {len(header)} {kind}-separated fields ({', '.join(header)}), found {len(row)}"
                + hint
            )
        text, label = row[t_idx], row[l_idx].strip()
        if not text.strip():
            raise DataError(f"{where}: empty text in column {header[t_idx]!r}")
        if not label:
            raise DataError(f"{where}: empty label in column {header[l_idx]!r}")
        texts.append(text)
        labels.append(label)
        locations.append(where)
        if i_idx is not None:
            ids.append(row[i_idx])
    if not labels:
        raise DataError(f"{path}: no examples after the header row")
    _check_swallowed_rows(path, lines, spans, header_line, len(header), l_idx, set(labels), delim, csv_quoting,
                          len(labels))
    return Split(
        name=_default_name(path, split_name),
        task=TaskType.CLASSIFICATION,
        labels=labels,
        texts=texts,
        locations=locations,
        ids=ids if i_idx is not None else None,
    )


def _check_swallowed_rows(path: Path, lines: list[str], spans: list[tuple[int, int]], header_line: int,
                          width: int, l_idx: int, known: set[str], delim: str, csv_quoting: int,
                          examples: int) -> None:
    """Raise when a quoted field spanning several lines holds a line that reads as a row of its own."""
    for first, last in spans:
        if first <= header_line:
            continue
        for k in range(first + 1, last + 1):
            fields = next(csv.reader([lines[k - 1]], delimiter=delim, quoting=csv_quoting), [])
            if len(fields) == width and fields[l_idx].strip() in known:
                rows_in = sum(1 for ln in lines[header_line:] if ln.strip())
                raise DataError(
                    f"{path}:{first}: a quoted field opened on this line runs to line {last} and swallows line {k}, "
                    f"which looks like a row of its own (label {fields[l_idx].strip()!r}): {rows_in} non-blank "
                    f"lines after the header would give {examples} examples. Close the quote, or write a quote "
                    'inside a quoted field as ""'
                )


# --------------------------------------------------------------------------------------------------------------
# JSON Lines


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


# --------------------------------------------------------------------------------------------------------------
# CoNLL / BIO


def load_conll(
    path: PathLike,
    *,
    token_column: int = 0,
    tag_column: int = -1,
    delimiter: str | None = None,
    split_name: str | None = None,
) -> Split:
    """Read an NER split in CoNLL/BIO layout: one token per line, a blank line between sentences.

    Columns are split on ``delimiter`` (e.g. ``"\\t"``); by default (``delimiter=None``) on tabs when the
    first token line holds a tab (a token may then contain spaces, e.g. ``New York``), else on any
    whitespace. The token and the tag are taken from ``token_column`` / ``tag_column`` (MIT-Restaurant is tag first:
    ``tag_column=0, token_column=1``). Whitespace-only lines end a sentence and ``-DOCSTART-`` lines are
    skipped. Tags must be IOB2 (``O``, ``B-X``, ``I-X``). A sentence's location is the line of its first token.
    """
    path = Path(path)
    lines = _read_lines(path)
    if delimiter is None:
        first = next((ln for ln in lines if ln.strip() and not ln.startswith("-DOCSTART-")), "")
        delimiter = "\t" if "\t" in first else None
    kind = "whitespace" if delimiter is None else {"\t": "tab", " ": "space"}.get(delimiter, repr(delimiter))
    needed = max(c + 1 if c >= 0 else -c for c in (token_column, tag_column))
    tokens: list[list[str]] = []
    labels: list[list[str]] = []
    locations: list[str] = []
    cur_tokens: list[str] = []
    cur_tags: list[str] = []
    start = 0

    def flush() -> None:
        if cur_tokens:
            tokens.append(list(cur_tokens))
            labels.append(list(cur_tags))
            locations.append(f"{path}:{start}")
            cur_tokens.clear()
            cur_tags.clear()

    for line_no, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("-DOCSTART-"):
            flush()
            continue
        cols = line.split(delimiter)
        n = len(cols)
        if n < needed or (token_column % n) == (tag_column % n):
            raise DataError(
                f"{path}:{line_no}: expected at least {max(needed, 2)} {kind}-separated columns "
                f"(token in column {token_column}, tag in column {tag_column}), found {n}"
            )
        token, tag = cols[token_column], cols[tag_column].strip()
        if not _IOB2_TAG.match(tag):
            raise DataError(
                f"{path}:{line_no}: invalid tag {tag!r} in column {tag_column}: expected 'O' or an IOB2 tag "
                "'B-<type>' / 'I-<type>' (is the tag in another column? see tag_column / token_column)"
            )
        if not token.strip():
            raise DataError(f"{path}:{line_no}: empty token in column {token_column}")
        if not cur_tokens:
            start = line_no
        cur_tokens.append(token.strip())
        cur_tags.append(tag)
    flush()
    if not tokens:
        raise DataError(f"{path}: no sentences; expected one 'token tag' line per token")
    return Split(
        name=_default_name(path, split_name), task=TaskType.NER, labels=labels, tokens=tokens, locations=locations
    )


# --------------------------------------------------------------------------------------------------------------
# PTB trees (SST-5)


def _parse_tree(line: str, where: str) -> tuple[str, list[str]]:
    """Root label and leaves of one bracketed tree ``(label (label word) ...)``; raise on malformed input."""
    tokens = _PTB_TOKEN.findall(line)
    if not tokens or tokens[0] != "(":
        raise DataError(f"{where}: expected a tree starting with '(', found {line.strip()[:30]!r}")
    depth = 0
    root_label: str | None = None
    leaves: list[str] = []
    expect_label = False
    for i, tok in enumerate(tokens):
        if expect_label:
            if tok in "()":
                raise DataError(f"{where}: expected a node label after '(', found {tok!r}")
            if root_label is None:
                root_label = tok
            expect_label = False
        elif tok == "(":
            if depth == 0 and i > 0:
                raise DataError(f"{where}: unexpected text after the end of the tree (a second tree?)")
            depth += 1
            expect_label = True
        elif tok == ")":
            if depth == 0:
                raise DataError(f"{where}: unbalanced parentheses: a ')' closes nothing")
            depth -= 1
        else:
            if depth == 0:
                raise DataError(f"{where}: unexpected text {tok!r} after the end of the tree")
            leaves.append(tok)
    if depth:
        raise DataError(f"{where}: unbalanced parentheses: {depth} '(' never closed")
    assert root_label is not None  # the first token is "(", so a label was read or an error raised
    return root_label, leaves


def _unescape_ptb(word: str) -> str:
    """Undo the PTB escapes: bracket tokens (``-LRB-`` -> ``(``) and backslashed ``/`` and ``*``."""
    word = _PTB_UNESCAPE.get(word, word)
    return word.replace("\\/", "/").replace("\\*", "*")


def load_ptb_trees(path: PathLike, *, split_name: str | None = None) -> Split:
    """Read sentence-level examples from PTB-style trees, one per line (SST-5's ``train.txt`` etc.).

    The label is the root's label, which must be an integer; the text is the leaves joined by spaces, with
    the PTB escapes undone (``-LRB-``/``-RRB-`` -> ``(``/``)``, likewise ``-LSB-``/``-LCB-``..., and ``\\/`` ->
    ``/``, ``\\*`` -> ``*``). Labels of inner nodes (phrase sentiment) are not used. Blank lines are skipped.
    """
    path = Path(path)
    texts: list[str] = []
    labels: list[str] = []
    locations: list[str] = []
    for line_no, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        where = f"{path}:{line_no}"
        label, leaves = _parse_tree(line, where)
        try:
            labels.append(str(int(label)))
        except ValueError:
            raise DataError(f"{where}: expected an integer root label, found {label!r}") from None
        if not leaves:
            raise DataError(f"{where}: the tree has no words")
        texts.append(" ".join(_unescape_ptb(w) for w in leaves))
        locations.append(where)
    if not labels:
        raise DataError(f"{path}: no trees; expected one bracketed tree per line")
    return Split(
        name=_default_name(path, split_name),
        task=TaskType.CLASSIFICATION,
        labels=labels,
        texts=texts,
        locations=locations,
    )


# --------------------------------------------------------------------------------------------------------------
# Hugging Face datasets


def _hub_offline_reason() -> str | None:
    """Why the Hugging Face hub cannot be used right now, or None when it seems reachable."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"} or os.environ.get(
        "HF_DATASETS_OFFLINE", ""
    ).strip().lower() in {"1", "true", "yes", "on"}:
        return "offline mode is on (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None  # a proxy decides; a direct connection test would say nothing
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        return f"cannot connect to {host}:{port} ({exc})"
    return None


def _is_saved_dataset(path: Path) -> bool:
    """True for a folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``."""
    if not path.is_dir():
        return False
    saved_dict = (path / "dataset_dict.json").is_file()
    return saved_dict or ((path / "state.json").is_file() and (path / "dataset_info.json").is_file())


def _names_of(feature: Any) -> Callable[[Any], str] | None:
    """A function naming the integer values of a ClassLabel feature, or None for other features."""
    from datasets import ClassLabel

    return feature.int2str if isinstance(feature, ClassLabel) else None


def load_hf(
    name_or_path: PathLike,
    *,
    split: str,
    text_column: str = "text",
    label_column: str = "label",
    tokens_column: str = "tokens",
    tags_column: str = "ner_tags",
    task: TaskType | str | None = None,
) -> Split:
    """Read one split of a Hugging Face dataset.

    A folder written by ``save_to_disk`` is read with ``datasets.load_from_disk`` and works offline (for a
    saved single ``Dataset`` the data is used whatever ``split`` says). Another local path or a hub name goes
    to ``datasets.load_dataset``; a hub name fails at once with a :class:`DataError` when the hub is not
    reachable. The task is NER when ``task`` says so or, with ``task=None``, when the tokens and tags columns
    exist. ClassLabel features give the label names, and integer tags of a sequence of ClassLabel give the tag
    names. Locations are ``"<name> [<split>] row <i>"``.
    """
    import datasets

    source = str(name_or_path)
    path = Path(name_or_path)
    if _is_saved_dataset(path):
        loaded = datasets.load_from_disk(source)
    elif path.exists():
        loaded = datasets.load_dataset(source)
    else:
        reason = _hub_offline_reason()
        if reason is not None:
            raise DataError(
                f"{source}: not a local folder, and the Hugging Face hub is not reachable: {reason}. "
                "Save the dataset once with datasets' save_to_disk(folder) and pass that folder: it loads offline."
            )
        try:
            loaded = datasets.load_dataset(source)
        except (ConnectionError, TimeoutError) as exc:
            raise DataError(
                f"{source}: the Hugging Face hub is not reachable ({exc}). "
                "A folder written by save_to_disk loads offline."
            ) from exc
        except Exception as exc:  # noqa: BLE001 - the hub raises many error types; name the dataset in all
            raise DataError(f"{source}: could not load the dataset from the hub ({type(exc).__name__}: {exc})") from exc
    if isinstance(loaded, datasets.Dataset):
        ds = loaded
    else:
        if split not in loaded:
            raise DataError(f"{source}: no split {split!r}; splits found: {', '.join(loaded)}")
        ds = loaded[split]

    columns = list(ds.column_names)
    if task is None:
        task = TaskType.NER if tokens_column in columns and tags_column in columns else TaskType.CLASSIFICATION
    task = TaskType.parse(task)
    needed = (tokens_column, tags_column) if task == TaskType.NER else (text_column, label_column)
    missing = [c for c in needed if c not in columns]
    if missing:
        raise DataError(
            f"{source} [{split}]: missing column(s) {', '.join(map(repr, missing))} for {task}; "
            f"columns found: {', '.join(columns)}"
        )
    locations = [f"{source} [{split}] row {i}" for i in range(len(ds))]
    if task == TaskType.NER:
        inner = getattr(ds.features[tags_column], "feature", None)
        namer = _names_of(inner)
        tokens: list[list[str]] = []
        tags_out: list[list[str]] = []
        for where, toks, tags in zip(locations, ds[tokens_column], ds[tags_column]):
            if namer is not None:
                tags = [namer(t) for t in tags]
            elif tags and not isinstance(tags[0], str):
                raise DataError(
                    f"{where}: column {tags_column!r} holds integer tags without a ClassLabel feature to name them"
                )
            if len(toks) != len(tags):
                raise DataError(f"{where}: {len(toks)} tokens but {len(tags)} tags")
            _check_tags(tags, where)
            tokens.append([str(t) for t in toks])
            tags_out.append(list(tags))
        return Split(name=split, task=task, labels=tags_out, tokens=tokens, locations=locations)

    namer = _names_of(ds.features[label_column])
    texts: list[str] = []
    labels: list[str] = []
    for where, text, label in zip(locations, ds[text_column], ds[label_column]):
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where}: expected a non-empty text in column {text_column!r}")
        if label is None or (isinstance(label, int) and label < 0):
            raise DataError(f"{where}: missing label in column {label_column!r}")
        labels.append(namer(label) if namer is not None else str(label))
        texts.append(text)
    return Split(name=split, task=task, labels=labels, texts=texts, locations=locations)


# --------------------------------------------------------------------------------------------------------------
# generic entry point

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
    train: Split, size: int | float, *, seed: int = 42, name: str = "validation"
) -> tuple[Split, Split]:
    """Hold out a random validation split from ``train``.

    ``size`` is a count (int) or a fraction of ``train`` (float in (0, 1)). The held-out indices are the first
    ``size`` of ``numpy.random.default_rng(seed).permutation(len(train))``; both returned splits keep the
    original order of their examples (and their locations), so the same seed always gives the same split.
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
    perm = np.random.default_rng(seed).permutation(n)
    held = np.sort(perm[:count]).tolist()
    kept = np.sort(perm[count:]).tolist()
    return train.subset(kept, name=train.name), train.subset(held, name=name)


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

    if "validation" not in splits:
        full = len(splits["train"])
        splits["train"], splits["validation"] = carve_validation(splits["train"], validation_size, seed=seed)
        logger.warning(
            "%s: no validation file given; held out %d of the %d training examples at random (seed %d) as the "
            "validation split, so training uses %d. This is not an official validation split.",
            name,
            len(splits["validation"]),
            full,
            seed,
            len(splits["train"]),
        )
    return DataBundle(
        name=name, task=task, train=splits["train"], validation=splits["validation"], test=splits.get("test")
    )
