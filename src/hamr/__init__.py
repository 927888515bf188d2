"""hamr: Hardness-Aware Meta-Resample for class-imbalanced NLP.

The public API. Heavy modules (transformers, faiss) load on first use of the names that need them.
"""

from __future__ import annotations

import importlib
from typing import Any

from .data import DataBundle, DataError, LabelVocab, Split, load_benchmark, load_files
from .enums import (
    AblationMode,
    HardnessStat,
    HypergradBackend,
    InnerLR,
    LookaheadScope,
    MemoryMode,
    Method,
    TaskType,
    TokenClassWeights,
    WNetInputs,
)

from .version import __version__  # noqa: E402

_LAZY = {
    "HAMRArguments": "methods.hamr",
    "HAMRTrainer": "methods.hamr",
    "ImbalanceArguments": "methods.arguments",
    "ImbalanceTrainer": "methods.base",
    "DiceArguments": "methods.dice",
    "FocalArguments": "methods.focal",
    "EffectiveNumberArguments": "methods.effective_number",
    "LNRArguments": "methods.lnr",
    "GBCArguments": "methods.gbc",
    "MetaBalanceArguments": "methods.metabalance",
    "MethodSpec": "methods",
    "get_method": "methods",
    "list_methods": "methods",
    "register_method": "methods",
    "build_loss": "methods",
    "RunConfig": "config",
    "run": "pipeline",
    "build_meta_set": "metaset",
    "embed_texts": "embeddings",
    "classification_metrics": "metrics",
    "ner_metrics": "metrics",
    "encode_split": "tasks",
    "load_model": "tasks",
    "load_tokenizer": "tasks",
    "TokenizerMismatchError": "tasks",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'hamr' has no attribute {name!r}")


__all__ = [
    "AblationMode",
    "DataBundle",
    "DataError",
    "HardnessStat",
    "HypergradBackend",
    "InnerLR",
    "LabelVocab",
    "LookaheadScope",
    "MemoryMode",
    "Method",
    "Split",
    "TaskType",
    "TokenClassWeights",
    "WNetInputs",
    "load_benchmark",
    "load_files",
    *_LAZY,
]
