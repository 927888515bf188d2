"""PTB trees: sentence-level classification examples from Penn Treebank bracketed trees, one per line (SST-5).

:func:`load_ptb_trees` takes the root's label (an integer) as the sentence label and the leaves, with the PTB
escapes undone, as the text.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...enums import TaskType
from ..types import DataError, Split
from .common import PathLike, _default_name, _read_lines

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
