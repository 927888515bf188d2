"""Readers for the file formats of the benchmarks, one module per format, each returning a
:class:`~hamr.data.types.Split`.

Every example keeps its origin in ``Split.locations`` (``"path:line"``) and every malformed input raises a
:class:`~hamr.data.types.DataError` whose message names the file, the line and what was expected. Nothing is
dropped silently: the only lines skipped are blank lines (and ``-DOCSTART-`` markers in CoNLL files).

* :mod:`.delimited` – :func:`load_delimited`, CSV / TSV with a header row (HumAID);
* :mod:`.jsonl` – :func:`load_jsonl`, JSON Lines, classification (text + label) or NER (tokens + tags; TweetNER7);
* :mod:`.conll` – :func:`load_conll`, one token per line, blank line between sentences (BioNLP, MIT-Restaurant);
* :mod:`.ptb` – :func:`load_ptb_trees`, one PTB tree per line, root label = sentence label (SST-5);
* :mod:`.hf` – :func:`load_hf`, a Hugging Face dataset (a ``save_to_disk`` folder offline, or a hub name);
* :mod:`.common` – the helpers they share (reading lines, checking IOB2 tags, naming a split).

:func:`hamr.data.loaders.load_files` picks one of them per file and assembles a :class:`DataBundle`.
"""

from .conll import load_conll
from .delimited import load_delimited
from .hf import load_hf
from .jsonl import iter_json_objects, load_jsonl
from .ptb import load_ptb_trees

__all__ = ["iter_json_objects", "load_conll", "load_delimited", "load_hf", "load_jsonl", "load_ptb_trees"]
