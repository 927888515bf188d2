"""Hugging Face datasets: one split of a dataset, from a ``save_to_disk`` folder (offline) or a hub name.

:func:`load_hf` reads a classification or NER split, names integer labels and tags through their ClassLabel
features, and fails at once with a :class:`~hamr.data.types.DataError` when a hub name is asked for and the hub
is not reachable.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

from ...enums import TaskType
from ..types import DataError, Split
from .common import PathLike, _check_tags


def _hub_offline_reason() -> str | None:
    """Why the Hugging Face hub cannot be used right now, or None when it seems reachable."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"} or os.environ.get(
        "HF_DATASETS_OFFLINE", ""
    ).strip().lower() in {"1", "true", "yes", "on"}:
        return "offline mode is on (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None  # a proxy decides; a direct connection test would say nothing
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        return f"cannot connect to {host}:{port} ({exc})"
    return None


def _is_saved_dataset(path: Path) -> bool:
    """True for a folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``."""
    if not path.is_dir():
        return False
    saved_dict = (path / "dataset_dict.json").is_file()
    return saved_dict or ((path / "state.json").is_file() and (path / "dataset_info.json").is_file())


def _names_of(feature: Any) -> Callable[[Any], str] | None:
    """A function naming the integer values of a ClassLabel feature, or None for other features."""
    from datasets import ClassLabel

    return feature.int2str if isinstance(feature, ClassLabel) else None


def load_hf(
    name_or_path: PathLike,
    *,
    split: str,
    text_column: str = "text",
    label_column: str = "label",
    tokens_column: str = "tokens",
    tags_column: str = "ner_tags",
    task: TaskType | str | None = None,
) -> Split:
    """Read one split of a Hugging Face dataset.

    A folder written by ``save_to_disk`` is read with ``datasets.load_from_disk`` and works offline (for a
    saved single ``Dataset`` the data is used whatever ``split`` says). Another local path or a hub name goes
    to ``datasets.load_dataset``; a hub name fails at once with a :class:`DataError` when the hub is not
    reachable. The task is NER when ``task`` says so or, with ``task=None``, when the tokens and tags columns
    exist. ClassLabel features give the label names, and integer tags of a sequence of ClassLabel give the tag
    names. Locations are ``"<name> [<split>] row <i>"``.
    """
    import datasets

    source = str(name_or_path)
    path = Path(name_or_path)
    if _is_saved_dataset(path):
        loaded = datasets.load_from_disk(source)
    elif path.exists():
        loaded = datasets.load_dataset(source)
    else:
        reason = _hub_offline_reason()
        if reason is not None:
            raise DataError(
                f"{source}: not a local folder, and the Hugging Face hub is not reachable: {reason}. "
                "Save the dataset once with datasets' save_to_disk(folder) and pass that folder: it loads offline."
            )
        try:
            loaded = datasets.load_dataset(source)
        except (ConnectionError, TimeoutError) as exc:
            raise DataError(
                f"{source}: the Hugging Face hub is not reachable ({exc}). "
                "A folder written by save_to_disk loads offline."
            ) from exc
        except Exception as exc:  # noqa: BLE001 - the hub raises many error types; name the dataset in all
            raise DataError(f"{source}: could not load the dataset from the hub ({type(exc).__name__}: {exc})") from exc
    if isinstance(loaded, datasets.Dataset):
        ds = loaded
    else:
        if split not in loaded:
            raise DataError(f"{source}: no split {split!r}; splits found: {', '.join(loaded)}")
        ds = loaded[split]

    columns = list(ds.column_names)
    if task is None:
        task = TaskType.NER if tokens_column in columns and tags_column in columns else TaskType.CLASSIFICATION
    task = TaskType.parse(task)
    needed = (tokens_column, tags_column) if task == TaskType.NER else (text_column, label_column)
    missing = [c for c in needed if c not in columns]
    if missing:
        raise DataError(
            f"{source} [{split}]: missing column(s) {', '.join(map(repr, missing))} for {task}; "
            f"columns found: {', '.join(columns)}"
        )
    locations = [f"{source} [{split}] row {i}" for i in range(len(ds))]
    if task == TaskType.NER:
        inner = getattr(ds.features[tags_column], "feature", None)
        namer = _names_of(inner)
        tokens: list[list[str]] = []
        tags_out: list[list[str]] = []
        for where, toks, tags in zip(locations, ds[tokens_column], ds[tags_column]):
            if namer is not None:
                tags = [namer(t) for t in tags]
            elif tags and not isinstance(tags[0], str):
                raise DataError(
                    f"{where}: column {tags_column!r} holds integer tags without a ClassLabel feature to name them"
                )
            if len(toks) != len(tags):
                raise DataError(f"{where}: {len(toks)} tokens but {len(tags)} tags")
            _check_tags(tags, where)
            tokens.append([str(t) for t in toks])
            tags_out.append(list(tags))
        return Split(name=split, task=task, labels=tags_out, tokens=tokens, locations=locations)

    namer = _names_of(ds.features[label_column])
    texts: list[str] = []
    labels: list[str] = []
    for where, text, label in zip(locations, ds[text_column], ds[label_column]):
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where}: expected a non-empty text in column {text_column!r}")
        if label is None or (isinstance(label, int) and label < 0):
            raise DataError(f"{where}: missing label in column {label_column!r}")
        labels.append(namer(label) if namer is not None else str(label))
        texts.append(text)
    return Split(name=split, task=task, labels=labels, texts=texts, locations=locations)
