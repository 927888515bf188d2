"""CSV / TSV: a classification split from a delimited file with a header row (HumAID).

:func:`load_delimited` picks the delimiter from the extension (or takes it), reads quoted or unquoted fields
(tab-separated files are unquoted unless they show CSV quoting), chooses the text, label and id columns by
header name or position, and raises a :class:`~hamr.data.types.DataError` naming the file and line for a
row of the wrong width, an empty text or label, or a quoted field that swallows rows.
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path
from typing import Iterator

from ...enums import TaskType
from ..types import DataError, Split
from .common import PathLike, _default_name, _read_lines

logger = logging.getLogger(__name__)


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
