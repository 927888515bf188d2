"""The model card of a saved model: ``README.md`` in the run's ``model/`` folder, in the Hugging Face Hub's format.

:func:`write_model_card` is called by :func:`hamr.pipeline.run` (and so by ``hamr train`` and :func:`hamr.fit`)
right after the model is saved. The card has YAML front matter (``library_name``, ``pipeline_tag``, ``tags``,
``base_model`` and ``datasets`` where they are known) and sections on the method and its settings, the data
(split sizes, per-class counts), the results (per-class test and validation F1), how the model was trained
(epochs, learning rate, batch size, max length, seed, library versions), how to use it and its limitations
(imbalance, truncation, the dataset's terms). Every figure comes from the run's result dict, the same one
written to ``metrics.json``. The card never contains a text of the data.

Beside the card, :func:`write_model_info` writes ``hamr.json``: the task, label order and max length, which
:mod:`hamr.predict` and :class:`hamr.api.FittedModel` read back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .data import DataBundle
from .enums import Method, TaskType

MODEL_INFO_FILE = "hamr.json"

#: Hub ids of the benchmarks that have one (used for the card's ``datasets`` field).
_HUB_DATASETS = {
    "tweetner7": "tner/tweetner7",
    "mit_restaurant": "tner/mit_restaurant",
    "bionlp": "tner/bionlp2004",
    "sst5": "SetFit/sst5",
}
_PACKAGED_BASE = "sentence-transformers/all-MiniLM-L6-v2"
_HUMAID_TERMS = (
    "HumAID terms of use: the data may be used only for research on humanitarian computing, its contents must "
    "be kept confidential (only tweet ids may be shared) and deleted on request or when the research ends; "
    "cite the HumAID paper (Alam et al., ICWSM 2021). Check these terms before sharing this model."
)
#: Fewer training examples (NER: entity mentions) than this in a class is called out as fragile.
SMALL_CLASS = 20


def _hamr_version() -> str:
    from .version import __version__

    return __version__


def _base_model(model: str | None) -> str | None:
    """The Hub id of the base model, or None for a local folder whose origin is unknown."""
    if model is None or "packaged" in str(model):
        return _PACKAGED_BASE
    if os.path.isdir(model):
        return None
    return model


def write_model_info(model_dir: str | os.PathLike[str], *, task: TaskType, labels: list[str], max_length: int,
                     method: Method | str, extra: dict[str, Any] | None = None) -> Path:
    """``hamr.json`` in ``model_dir``: what prediction needs beyond the Hugging Face files."""
    info = {"task": str(task), "labels": list(labels), "max_length": int(max_length), "method": str(method),
            "hamr_version": _hamr_version(), **(extra or {})}
    path = Path(model_dir) / MODEL_INFO_FILE
    path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return path


def read_model_info(model_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``hamr.json`` of a saved model, or ``{}`` for a model not saved by hamr."""
    path = Path(model_dir) / MODEL_INFO_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _yaml_list(key: str, values: list[str]) -> list[str]:
    return [f"{key}:"] + [f"- {json.dumps(v)}" for v in values] if values else []


def front_matter(result: dict[str, Any], bundle: DataBundle) -> str:
    """The card's YAML header (strings JSON-quoted, which YAML reads as strings)."""
    task = TaskType.parse(result["task"])
    pipeline_tag = "token-classification" if task == TaskType.NER else "text-classification"
    tags = ["hamr", pipeline_tag, "class-imbalance", f"method-{result['method']}"]
    lines = ["---", "library_name: transformers", f"pipeline_tag: {pipeline_tag}"]
    lines += _yaml_list("tags", tags)
    base = _base_model(result.get("model"))
    if base:
        lines.append(f"base_model: {json.dumps(base)}")
    hub = _HUB_DATASETS.get(bundle.name)
    lines += _yaml_list("datasets", [hub] if hub else [])
    lines.append("---")
    return "\n".join(lines)


def _class_counts_table(bundle: DataBundle) -> list[str]:
    splits = bundle.splits()
    counts = {name: s.label_counts() for name, s in splits.items()}
    unit = "entity mentions" if bundle.task == TaskType.NER else "examples"
    labels = bundle.vocab.entity_types if bundle.task == TaskType.NER else bundle.vocab.labels
    out = [f"| {'type' if bundle.task == TaskType.NER else 'class'} | " + " | ".join(splits) + " |",
           "|---|" + "---:|" * len(splits)]
    for lab in labels:
        out.append(f"| {lab} | " + " | ".join(str(counts[n].get(lab, 0)) for n in splits) + " |")
    out.append(f"\n(Counts are {unit}.)")
    return out


def _results_table(result: dict[str, Any]) -> list[str]:
    test, val = result.get("test") or {}, result.get("validation") or {}
    per_test = test.get("per_class") or test.get("per_type") or {}
    per_val = val.get("per_class") or val.get("per_type") or {}
    labels = list(per_test) or list(per_val)
    if not labels:
        return ["No validation or test split was evaluated."]
    out = ["| label | test precision | test recall | test F1 | test support | validation F1 |",
           "|---|---:|---:|---:|---:|---:|"]
    for lab in labels:
        t, v = per_test.get(lab, {}), per_val.get(lab, {})
        out.append(f"| {lab} | {_pct(t.get('precision'))} | {_pct(t.get('recall'))} | {_pct(t.get('f1'))} | "
                   f"{t.get('support', '-')} | {_pct(v.get('f1'))} |")
    for name, m in (("test", test), ("validation", val)):
        if m:
            out.append(f"\n{name}: macro-F1 **{_pct(m.get('macro_f1'))}**, micro-F1 {_pct(m.get('micro_f1'))}")
    return out


def _limitations(result: dict[str, Any], bundle: DataBundle) -> list[str]:
    seen = bundle.train.label_counts()
    names = bundle.vocab.entity_types if bundle.task == TaskType.NER else bundle.vocab.labels
    counts = {lab: seen.get(lab, 0) for lab in names}
    unit = "entity mentions" if bundle.task == TaskType.NER else "training examples"
    out: list[str] = []
    if counts:
        most = max(counts, key=counts.get)
        least = min(counts, key=counts.get)
        ratio = f"ratio {counts[most] / counts[least]:.1f}x" if counts[least] else "the model never trained on it"
        out.append(f"- Class imbalance: the most frequent class in training, `{most}`, has {counts[most]} {unit}; "
                   f"the rarest, `{least}`, has {counts[least]} ({ratio}). "
                   "Expect lower recall on the rare classes (see the per-class table).")
    small = sorted((c for c, n in counts.items() if n < SMALL_CLASS), key=lambda c: counts[c])
    if small:
        out.append(f"- Classes with fewer than {SMALL_CLASS} {unit}: "
                   + ", ".join(f"`{c}` ({counts[c]})" for c in small) + "; their figures are fragile.")
    truncated = result.get("truncated") or {}
    sizes = {name: len(s) for name, s in bundle.splits().items()}
    cut = [f"{name} {n} of {sizes.get(name, '?')}" for name, n in truncated.items() if n]
    if cut:
        out.append(f"- Inputs longer than {result['max_length']} tokens were truncated: " + ", ".join(cut)
                   + ". The model never saw the truncated tail; long inputs may be classified on their start only.")
    else:
        out.append(f"- No input was longer than the maximum length of {result['max_length']} tokens.")
    if result.get("max_train_examples"):
        out.append(f"- Trained on a seeded random sample of {result['train_examples']} training examples "
                   f"(cap {result['max_train_examples']}), not the whole training split.")
    if bundle.name.startswith("humaid"):
        out.append(f"- {_HUMAID_TERMS}")
    out.append("- This card holds counts and scores only: no text of the data.")
    return out


def model_card(result: dict[str, Any], bundle: DataBundle) -> str:
    """The text of the card for a finished run (``result`` as written to ``metrics.json``)."""
    import torch
    import transformers

    task = TaskType.parse(result["task"])
    method = result["method"]
    settings = dict(result.get("method_settings") or {})
    from .methods.settings import relevant_method_settings

    relevant = relevant_method_settings(method, settings)
    resolved = result.get("resolved_method_settings") or {}
    kind = "token classification (NER, IOB2 tags)" if task == TaskType.NER else "text classification"
    sizes = {name: len(s) for name, s in bundle.splits().items()}
    lines = [front_matter(result, bundle), "", f"# {bundle.name} · {method} ({kind})", "",
             f"Fine-tuned from `{result.get('model')}` with [hamr](https://pypi.org/project/hamr/) "
             f"{_hamr_version()}, method `{method}`, on the dataset `{bundle.name}` "
             f"({len(bundle.vocab.entity_types if task == TaskType.NER else bundle.vocab.labels)} "
             f"{'entity types' if task == TaskType.NER else 'classes'}).", "",
             "## Method and settings", "",
             f"- method: `{method}`"]
    if result.get("options"):
        lines.append("- options set: " + ", ".join(f"`{k}={v}`" for k, v in result["options"].items()))
    if relevant:
        lines.append("- method settings: " + ", ".join(f"`{k}={v}`" for k, v in sorted(relevant.items())))
    if resolved:
        lines.append("- resolved for this task: " + ", ".join(f"`{k}={v}`" for k, v in sorted(resolved.items())))
    offsets = result.get("decision_offsets")
    if offsets and offsets.get("form") == "none":  # `auto` without a validation split or a foldable output layer
        lines.append(f"- decision offsets: none (auto: {offsets.get('why', 'not fitted')})")
    elif offsets:
        plain = (offsets.get("without") or {}).get("test")
        lines.append(f"- decision offsets (`{offsets['form']}`), fitted after training on {offsets['fit_rows']} rows of "
                     f"the {offsets['fit_on']} and folded into the output layer's bias (the saved model predicts "
                     "with them): " + ", ".join(f"`{k}` {v:+.2f}" for k, v in offsets["offsets"].items())
                     + (f"; test macro-F1 without them {100 * plain['macro_f1']:.1f}, micro-F1 "
                        f"{100 * plain['micro_f1']:.1f}" if plain else ""))
    lines += ["", "## Data", "", "Split sizes: " + ", ".join(f"{k} {v}" for k, v in sizes.items()), ""]
    lines += _class_counts_table(bundle)
    lines += ["", "## Results", ""]
    lines += _results_table(result)
    lines += ["", "## Training", "",
              f"- epochs {result['epochs']}, learning rate {result['learning_rate']}, batch size "
              f"{result['batch_size']}, max length {result['max_length']} tokens, seed {result['seed']}",
              f"- training time {result.get('train_seconds', 0):.0f} s"
              + (f" (+ {result['embedding_seconds']:.0f} s embedding for kNN)" if "embedding_seconds" in result else ""),
              f"- hamr {_hamr_version()}, transformers {transformers.__version__}, torch {torch.__version__}",
              "", "## Use", "", "```python", "from transformers import pipeline", "",
              f'pipe = pipeline("{"token-classification" if task == TaskType.NER else "text-classification"}", '
              'model="path/to/this/folder"' + (', aggregation_strategy="first")' if task == TaskType.NER else ")"),
              'pipe(' + ('"Some text"' if task == TaskType.CLASSIFICATION else '"Some sentence"')
              + (", top_k=None)  # every class with its probability" if task == TaskType.CLASSIFICATION else ")"),
              "```", "", "or `hamr predict path/to/this/folder input.csv --out predictions.csv` (label, its "
              "probability and every class probability).", "",
              "## Limitations", ""]
    lines += _limitations(result, bundle)
    return "\n".join(lines) + "\n"


def write_model_card(model_dir: str | os.PathLike[str], result: dict[str, Any], bundle: DataBundle) -> Path:
    """Write ``README.md`` (the card) and ``hamr.json`` into ``model_dir``; return the card's path."""
    model_dir = Path(model_dir)
    write_model_info(model_dir, task=bundle.task, labels=bundle.vocab.labels, max_length=result["max_length"],
                     method=result["method"], extra={"dataset": bundle.name})
    path = model_dir / "README.md"
    path.write_text(model_card(result, bundle), encoding="utf-8")
    return path
