"""Primitives of a self-contained HTML page: escaping, sections, tables (sortable, filterable), inline figures.

A page built here loads nothing from the network: its style and its small script are inline, and figures are
inline SVG written by matplotlib (:func:`figure_svg`), so the file opens from disk as it is.

Tables made with ``sortable=True`` sort on a click on a column header (numbers numerically, by the cell's
``data-value`` when it has one; a second click reverses); ``filterable=True`` adds a filter box that keeps the
rows containing the typed text (case-insensitive, any cell) and shows how many rows are shown.
"""

from __future__ import annotations

import html as _html
import io
import itertools
import re
from typing import Any, Iterable, Sequence

__all__ = ["Cell", "esc", "figure_svg", "note", "page", "section", "table", "key_values", "pct"]

_ids = itertools.count()


def esc(value: Any) -> str:
    """``value`` as HTML-escaped text."""
    return _html.escape("" if value is None else str(value), quote=True)


def pct(x: Any, digits: int = 1) -> str:
    """A fraction as a percentage string (``0.5 -> "50.0"``); ``–`` for None."""
    return "–" if x is None else f"{100 * float(x):.{digits}f}"


class Cell:
    """A table cell with raw HTML ``content`` and an optional sort ``value`` (number or text)."""

    def __init__(self, content: str, value: Any = None, cls: str | None = None) -> None:
        self.content, self.value, self.cls = content, value, cls


def _cell_html(c: Any, tag: str = "td") -> str:
    if isinstance(c, Cell):
        attrs = ""
        if c.value is not None:
            attrs += f' data-value="{esc(c.value)}"'
        classes = [c.cls] if c.cls else []
        if isinstance(c.value, str):
            classes.append("txt")  # sorted as text, aligned as text
        if classes:
            attrs += f' class="{esc(" ".join(classes))}"'
        return f"<{tag}{attrs}>{c.content}</{tag}>"
    if isinstance(c, float):
        return f'<{tag} data-value="{c!r}">{c:.4g}</{tag}>'
    if isinstance(c, int) and not isinstance(c, bool):
        return f'<{tag} data-value="{c}">{c}</{tag}>'
    return f"<{tag}>{esc(c)}</{tag}>"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, sortable: bool = False, filterable: bool = False,
          table_id: str | None = None, caption: str | None = None, numeric: Sequence[int] = ()) -> str:
    """An HTML table. Cells are escaped text, ints/floats (sorted numerically) or :class:`Cell` (raw HTML).
    ``numeric``: column indices right-aligned."""
    table_id = table_id or f"t{next(_ids)}"
    rows = list(rows)
    classes = ["data"] + (["sortable"] if sortable else [])
    out = []
    if filterable:
        out.append(f'<div class="filter"><label>filter <input type="search" class="table-filter" '
                   f'data-table="{esc(table_id)}" placeholder="text in any column"></label> '
                   f'<span class="row-count" id="{esc(table_id)}-count">{len(rows)} of {len(rows)} rows</span></div>')
    out.append(f'<div class="scroll"><table id="{esc(table_id)}" class="{" ".join(classes)}">')
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    ths = "".join(f'<th{" class=num" if i in numeric else ""} title="{"click to sort" if sortable else ""}">{esc(h)}</th>'
                  for i, h in enumerate(header))
    out.append(f"<thead><tr>{ths}</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>" + "".join(_cell_html(c) for c in r) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def key_values(pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of names and values."""
    return '<table class="kv">' + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in pairs) + "</table>"


def note(text: str, kind: str = "note") -> str:
    """A highlighted paragraph (``kind``: note | warn); ``text`` is escaped."""
    return f'<p class="{esc(kind)}">{esc(text)}</p>'


def section(title: str, *parts: str, anchor: str | None = None) -> str:
    anchor = anchor or re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>\n' + "\n".join(p for p in parts if p) + "\n</section>"


def figure_svg(fig, caption: str | None = None, close: bool = True) -> str:
    """A matplotlib figure as an inline ``<svg>`` inside a ``<figure>`` (text kept as text, so it stays small).
    Element ids are made unique per figure so that several SVGs can share one page."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"hamr-{next(_ids)}"}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    if close:
        plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]  # drop the XML declaration and doctype
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    # matplotlib numbers its element ids per figure (figure_1, axes_1, ...): prefix them so that every id of
    # the page is unique, and every reference (url(#..), href="#..") follows
    prefix = f"f{next(_ids)}-"
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'url\(#([^)]+)\)', lambda m: f"url(#{prefix}{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure class="plot">{svg}{cap}</figure>'


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:0 1.2em 3em;
color:#1d232a;line-height:1.4}
h1{font-size:1.55em;margin:.8em 0 .2em} h2{font-size:1.2em;border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.6em}
h3{font-size:1.02em;margin:1em 0 .3em}
nav a{margin-right:.9em;font-size:.9em}
table{border-collapse:collapse;margin:.4em 0 .8em;font-size:.86em}
th,td{border:1px solid #d0d7de;padding:.22em .5em;text-align:left;vertical-align:top}
thead th{background:#f3f5f7;position:sticky;top:0}
table.sortable thead th{cursor:pointer;user-select:none}
table.sortable thead th.asc::after{content:" \\25B2";font-size:.7em}
table.sortable thead th.desc::after{content:" \\25BC";font-size:.7em}
td[data-value],th.num{text-align:right;font-variant-numeric:tabular-nums}
table.kv th{background:#f7f8fa;font-weight:600;width:16em}
figure.plot{margin:.5em 0 1em} figure.plot svg{max-width:100%;height:auto}
figcaption{font-size:.85em;color:#57606a}
p.note{color:#57606a;font-size:.9em} p.warn{background:#fff8c5;border:1px solid #d4a72c;padding:.4em .6em}
.filter{margin:.3em 0;font-size:.9em} .filter input{width:22em;padding:.2em}
.row-count{color:#57606a;margin-left:1em}
.summary{display:flex;gap:1.2em;flex-wrap:wrap;margin:.6em 0}
.stat{border:1px solid #d0d7de;border-radius:6px;padding:.4em .9em;background:#f7f8fa}
.stat b{display:block;font-size:1.35em}
.sent{font-family:ui-monospace,monospace;font-size:.85em;line-height:2.1}
.tok{padding:.05em .15em}
.gold{border-bottom:3px solid #1f883d} .pred{background:#ddf4ff;outline:1px solid #54aeff}
.both{border-bottom:3px solid #1f883d;background:#ddf4ff;outline:1px solid #54aeff}
.tag{font-size:.7em;color:#57606a;vertical-align:super}
.muted{color:#8c959f} .wrong{color:#cf222e;font-weight:600}
.legend span{margin-right:1em}
.nb{font-size:.8em;display:block}
.scroll{overflow-x:auto;max-width:100%}
table.data td:not([data-value]),table.data td.txt{overflow-wrap:anywhere}
td.txt{text-align:left}
details{margin:.4em 0} summary{cursor:pointer;color:#0969da}
"""

_JS = r"""
(function(){
  function val(td){
    if(!td) return "";
    var v = td.getAttribute("data-value");
    var s = v !== null ? v : td.textContent.trim();
    var n = parseFloat(s);
    return (s !== "" && !isNaN(n) && isFinite(s)) ? n : s.toLowerCase();
  }
  document.querySelectorAll("table.sortable").forEach(function(t){
    var ths = t.tHead.rows[0].cells;
    Array.prototype.forEach.call(ths, function(th, col){
      th.addEventListener("click", function(){
        var asc = !th.classList.contains("asc");
        Array.prototype.forEach.call(ths, function(h){ h.classList.remove("asc","desc"); });
        th.classList.add(asc ? "asc" : "desc");
        var body = t.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function(a, b){
          var x = val(a.cells[col]), y = val(b.cells[col]);
          var c;
          if(typeof x === "number" && typeof y === "number") c = x - y;
          else if(typeof x === "number") c = -1;
          else if(typeof y === "number") c = 1;
          else c = x < y ? -1 : (x > y ? 1 : 0);
          return asc ? c : -c;
        });
        rows.forEach(function(r){ body.appendChild(r); });
      });
    });
  });
  document.querySelectorAll("input.table-filter").forEach(function(box){
    var t = document.getElementById(box.getAttribute("data-table"));
    var count = document.getElementById(box.getAttribute("data-table") + "-count");
    box.addEventListener("input", function(){
      var q = box.value.trim().toLowerCase(), shown = 0, rows = t.tBodies[0].rows;
      Array.prototype.forEach.call(rows, function(r){
        var hit = q === "" || r.textContent.toLowerCase().indexOf(q) >= 0;
        r.style.display = hit ? "" : "none";
        if(hit) shown++;
      });
      if(count) count.textContent = shown + " of " + rows.length + " rows";
    });
  });
})();
"""


def page(title: str, body: Sequence[str], *, subtitle: str | None = None, nav: Sequence[tuple[str, str]] = ()) -> str:
    """A whole HTML document: inline style, ``body`` parts, the inline table script. Nothing is fetched."""
    links = " ".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in nav)
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="note">{esc(subtitle)}</p>' if subtitle else "",
        f"<nav>{links}</nav>" if links else "",
        *body,
        f"<script>{_JS}</script>",
        "</body></html>",
    ])
