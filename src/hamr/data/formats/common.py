"""Helpers shared by the format readers: reading a UTF-8 text file into lines, checking IOB2 tags, naming a split.

Not a format of its own: :mod:`~hamr.data.formats.delimited`, :mod:`~hamr.data.formats.jsonl`,
:mod:`~hamr.data.formats.conll`, :mod:`~hamr.data.formats.ptb` and :mod:`~hamr.data.formats.hf` read their files
through these, so every format reports a malformed file the same way (a :class:`~hamr.data.types.DataError`
naming the file and the line).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

from ..types import DataError

PathLike = str | os.PathLike

_IOB2_TAG = re.compile(r"^(O|[BI]-\S.*)$")


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
