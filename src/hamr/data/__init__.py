"""Loading datasets: file formats, the benchmark registry, label vocabularies and statistics."""

from .formats import load_conll, load_delimited, load_hf, load_jsonl, load_ptb_trees
from .loaders import FORMATS, carve_validation, infer_format, load_files, read_split_files
from .registry import BENCHMARKS, BenchmarkSpec, list_benchmarks, load_benchmark, resolve_data_root
from .stats import dataset_stats, format_stats, print_stats
from .types import (
    DataBundle,
    DataError,
    LabelVocab,
    Split,
    UnseenLabelPolicy,
    UnseenLabelsError,
    entity_types_of,
    quartile_groups,
)

__all__ = [
    "BENCHMARKS",
    "BenchmarkSpec",
    "DataBundle",
    "DataError",
    "FORMATS",
    "LabelVocab",
    "Split",
    "UnseenLabelPolicy",
    "UnseenLabelsError",
    "carve_validation",
    "dataset_stats",
    "entity_types_of",
    "format_stats",
    "infer_format",
    "list_benchmarks",
    "load_benchmark",
    "load_conll",
    "load_delimited",
    "load_files",
    "load_hf",
    "load_jsonl",
    "load_ptb_trees",
    "print_stats",
    "quartile_groups",
    "read_split_files",
    "resolve_data_root",
]
