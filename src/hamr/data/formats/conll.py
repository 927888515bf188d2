"""CoNLL / BIO: an NER split with one token per line and a blank line between sentences (BioNLP,
MIT-Restaurant).

:func:`load_conll` splits each line into columns (on tabs when the file has them, else on whitespace), takes the
token and the IOB2 tag from the given columns and skips ``-DOCSTART-`` markers.
"""

from __future__ import annotations

from pathlib import Path

from ...enums import TaskType
from ..types import DataError, Split
from .common import _IOB2_TAG, PathLike, _default_name, _read_lines


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
