"""The cost model behind ``hamr bench run --dry-run`` estimates and the ETA (MiniLM on this 2-core CPU), and the
machine time measured in a results folder. A method's cost factor is its registry entry's ``cost_factor``
(:func:`hamr.methods.get_method`)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from ..methods import get_method
from .common import DONE
from .protocol import RunSpec


#: Padded tokens per training example (MiniLM tokenizer, random batches of 16, dynamic padding) at
#: max_length 64 and 128, measured on the full training splits.
TOKENS_PER_EXAMPLE = {
    "bionlp": (62.7, 78.9),
    "mit_restaurant": (20.0, 20.0),
    "tweetner7": (63.9, 85.1),
    "humaid_irma17": (41.5, 42.6),
    "humaid_idai19": (63.9, 79.2),
    "sst5": (46.2, 46.2),
}
#: Calibration: plain MiniLM fine-tuning of Idai19 (2,753 × 63.9 tokens) takes ~65 s per epoch (method.md §10).
TRAIN_TOKENS_PER_SECOND = 2753 * 63.9 / 65
#: Forward-only evaluation, about three times the training rate (an estimate).
EVAL_TOKENS_PER_SECOND = 3 * TRAIN_TOKENS_PER_SECOND
#: Process start, imports, data loading, tokenization and model loading of one run (measured: ~10-14 s).
RUN_OVERHEAD_SECONDS = 12.0
ABLATION_COST = {"without_awe": 1.2, "without_resampling": 1.16, "without_knn": 1.4, "without_all": 1.0}
MINILM_NAMES = {None, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def settings_key(settings: dict[str, Any]) -> str:
    return json.dumps(settings, sort_keys=True, default=str)


def machine_seconds(done: dict) -> float:
    """A finished run's machine seconds: its wall seconds divided by the jobs that shared the machine with it
    (``done.json``'s ``concurrent_jobs``), the unit of :func:`estimate_seconds`."""
    return float(done["wall_seconds"]) / max(1, int(done.get("concurrent_jobs") or 1))


def measured_costs(out: Path) -> dict[tuple[str, str, str], float]:
    """Machine seconds of the finished runs in ``out``, averaged per (dataset, method entry, settings).

    A run's machine seconds: :func:`machine_seconds`. Read by the estimates, which
    prefer what was measured here over the cost model: for NER at length 128 the cost model is ~2x low."""
    acc: dict[tuple[str, str, str], list[float]] = {}
    for done in Path(out).glob(f"runs/*/*/seed*/{DONE}"):
        try:
            d = json.loads(done.read_text())
            key = (d["dataset"], d["method"], settings_key(d["settings"]))
            acc.setdefault(key, []).append(machine_seconds(d))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a run folder written by an older version: the cost model covers it
    return {k: sum(v) / len(v) for k, v in acc.items()}


def estimate_seconds(spec: RunSpec, measured: dict[tuple[str, str, str], float] | None = None) -> float | None:
    """Estimated machine seconds of a run on this 2-core machine with MiniLM (None for other models or
    datasets the cost model does not know); see the constants above.

    With ``measured`` (:func:`measured_costs`): the mean of the finished runs of the same dataset, entry and
    settings; else a finished ERM run of that dataset and settings times the method's cost factor; else the
    cost model."""
    from ..data import BENCHMARKS

    factor = ABLATION_COST.get(spec.ablation or "", get_method(spec.method).cost_factor)
    if measured:
        key = settings_key(spec.settings)
        if (spec.dataset, spec.entry, key) in measured:
            return measured[(spec.dataset, spec.entry, key)]
        if (spec.dataset, "erm", key) in measured:
            return factor * measured[(spec.dataset, "erm", key)]

    s = spec.settings
    if s.get("model") not in MINILM_NAMES or (spec.data is None and spec.dataset not in TOKENS_PER_EXAMPLE):
        return None
    length = s["max_length"]
    if spec.data is not None:  # a file dataset: its sizes and padded tokens per example, measured on its files
        (n_train, n_val, n_test), tokens = file_dataset_shape(spec.data, length)
    else:
        lo, hi = TOKENS_PER_EXAMPLE[spec.dataset]
        tokens = lo * min(length, 64) / 64 if length <= 64 else lo + (hi - lo) * (min(length, 128) - 64) / 64
        n_train, n_val, n_test = BENCHMARKS[spec.dataset].sizes
    if s.get("limit"):
        n_train, n_val, n_test = (min(n, s["limit"]) for n in (n_train, n_val, n_test))
    if s.get("max_train_examples"):
        n_train = min(n_train, s["max_train_examples"])
    train = factor * s["epochs"] * n_train * tokens / TRAIN_TOKENS_PER_SECOND
    evals = (s["epochs"] if s.get("evaluate_each_epoch") else 0) + 1
    evaluation = (evals * n_val + n_test) * tokens / EVAL_TOKENS_PER_SECOND
    return RUN_OVERHEAD_SECONDS + train + evaluation


@functools.lru_cache(maxsize=32)
def _shape(spec_json: str, max_length: int, batch_size: int = 16, seed: int = 0) -> tuple[tuple[int, int, int], float]:
    import numpy as np

    from ..data.check import token_lengths
    from ..data.filespec import FileDataset
    from ..data.loaders import load_files
    from ..tasks import load_tokenizer

    spec = json.loads(spec_json)
    fd = FileDataset(**spec)
    kw = fd.run_config_kwargs()
    bundle = load_files(fd.task, fd.train, fd.validation, fd.test, fmt=fd.format, **kw["data_options"])
    lengths = np.minimum(np.asarray(token_lengths(bundle.train, load_tokenizer())), max_length)
    order = np.random.default_rng(seed).permutation(len(lengths))
    batches = [lengths[order[i:i + batch_size]].max() for i in range(0, len(order), batch_size)]
    sizes = (len(bundle.train), len(bundle.validation), len(bundle.test) if bundle.test is not None else 0)
    return sizes, float(np.mean(batches))


def file_dataset_shape(spec: dict[str, Any], max_length: int) -> tuple[tuple[int, int, int], float]:
    """(train, validation, test) sizes and padded tokens per training example (random batches of 16, dynamic
    padding, the packaged MiniLM tokenizer) of a file dataset: the inputs of the bench's cost model."""
    return _shape(json.dumps(spec, sort_keys=True, default=str), int(max_length))
