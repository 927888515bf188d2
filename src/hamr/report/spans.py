"""NER sentences as HTML with gold and predicted entity spans highlighted.

Spans are read from IOB2 tag rows the way :func:`hamr.metrics.ner_metrics` reads them by default
(:func:`seqeval.metrics.sequence_labeling.get_entities`, conlleval-compatible). Gold spans are underlined in
green, predicted spans shaded in blue; each span start carries its type (``G:`` gold, ``P:`` predicted).
With ``show_tokens=False`` the words are replaced by their positions (for corpora whose texts may not be
published), so the span structure stays visible without the text.
"""

from __future__ import annotations

from typing import Sequence

from seqeval.metrics.sequence_labeling import get_entities

from .html import esc

__all__ = ["spans_of", "sentence_html", "LEGEND"]

LEGEND = ('<p class="legend"><span class="tok gold">gold span</span> <span class="tok pred">predicted span</span> '
          '<span class="tok both">both</span> (G: gold type, P: predicted type, at the span start)</p>')


def spans_of(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """``(type, start, end)`` of every entity in one IOB2 row, end inclusive (seqeval's reading)."""
    return [(t, s, e) for t, s, e in get_entities(list(tags))]


def _membership(n: int, spans: list[tuple[str, int, int]]) -> tuple[list[bool], dict[int, str]]:
    inside, starts = [False] * n, {}
    for etype, s, e in spans:
        starts[s] = etype
        for i in range(s, min(e, n - 1) + 1):
            inside[i] = True
    return inside, starts


def sentence_html(tokens: Sequence[str] | None, gold: Sequence[str], pred: Sequence[str] | None = None,
                  show_tokens: bool = True) -> str:
    """One sentence with its spans highlighted. ``tokens`` may be None (or ``show_tokens`` False): words are
    then shown as ``#position``. ``pred`` None: gold spans only."""
    n = len(gold)
    g_in, g_start = _membership(n, spans_of(gold))
    if pred is not None:
        pred = list(pred) + ["O"] * (n - len(pred))
        p_in, p_start = _membership(n, spans_of(pred[:n]))
    else:
        p_in, p_start = [False] * n, {}
    parts = []
    for i in range(n):
        word = esc(tokens[i]) if (tokens is not None and show_tokens) else f'<span class="muted">#{i}</span>'
        cls = "both" if g_in[i] and p_in[i] else "gold" if g_in[i] else "pred" if p_in[i] else ""
        marks = []
        if i in g_start:
            marks.append(f"G:{esc(g_start[i])}")
        if i in p_start:
            marks.append(f"P:{esc(p_start[i])}")
        tag = f'<span class="tag">{" ".join(marks)}</span>' if marks else ""
        parts.append(f'<span class="tok {cls}">{word}{tag}</span>' if cls else f'<span class="tok">{word}{tag}</span>')
    return '<span class="sent">' + " ".join(parts) + "</span>"
