"""Loading datasets: file formats, the benchmark registry, label vocabularies and statistics."""

from .types import DataBundle, DataError, LabelVocab, Split, entity_types_of, quartile_groups

__all__ = ["DataBundle", "DataError", "LabelVocab", "Split", "entity_types_of", "quartile_groups"]
