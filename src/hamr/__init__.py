"""hamr: Hardness-Aware Meta-Resample for class-imbalanced NLP."""

from .data import DataBundle, DataError, LabelVocab, Split
from .enums import (
    AblationMode,
    HardnessStat,
    HypergradBackend,
    InnerLR,
    LookaheadScope,
    MemoryMode,
    Method,
    TaskType,
)

__version__ = "0.1.0"

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
]
