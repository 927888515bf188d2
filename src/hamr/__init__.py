"""hamr: Hardness-Aware Meta-Resample for class-imbalanced NLP.

The public API. Heavy modules (transformers, faiss) load on first use of the names that need them.
"""

from __future__ import annotations

import importlib
from typing import Any

from .data import DataBundle, DataError, LabelVocab, Split, load_benchmark, load_files
from .enums import (
    AblationMode,
    ClassParams,
    Device,
    HardnessStat,
    HypergradBackend,
    InnerLR,
    LogitAdjustmentForm,
    LookaheadScope,
    MemoryMode,
    MetaObjective,
    Method,
    TaskType,
    TokenClassWeights,
    WeightingForm,
    WNetInputs,
)
from .errors import InputError, SettingError
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
    "LogitAdjustmentArguments": "methods.logit_adjustment",
    "split_validation": "holdout",
    "ClassResidualReweighter": "methods.hamr.class_weighting",
    "MetaObjectiveLoss": "methods.hamr.meta_objective",
    "classification_metrics": "metrics",
    "ner_metrics": "metrics",
    "encode_split": "tasks",
    "load_model": "tasks",
    "load_tokenizer": "tasks",
    "check_splits": "data.check",
    "FileDataset": "data.filespec",
    "run_compare": "compare",
    "TokenizerMismatchError": "tasks",
    "RunReportOptions": "report",
    "write_run_report": "report",
    "write_bench_html": "report",
    "fit": "api",
    "FittedModel": "api",
    "HAMRData": "api",
    "prepare_hamr_data": "api",
    "Predictor": "predict",
    "predict_file": "predict",
    "entity_spans": "predict",
    "write_model_card": "modelcard",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'hamr' has no attribute {name!r}")


__all__ = [
    "__version__",
    "AblationMode",
    "DataBundle",
    "DataError",
    "Device",
    "ClassParams",
    "HardnessStat",
    "HypergradBackend",
    "InnerLR",
    "InputError",
    "LabelVocab",
    "LogitAdjustmentForm",
    "MetaObjective",
    "WeightingForm",
    "LookaheadScope",
    "MemoryMode",
    "Method",
    "SettingError",
    "Split",
    "TaskType",
    "TokenClassWeights",
    "WNetInputs",
    "load_benchmark",
    "load_files",
    *_LAZY,
]
