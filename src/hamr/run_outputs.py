"""What a run owns in its output folder, and how it writes there safely.

- :data:`RUN_OUTPUTS` lists every file and folder a run (:func:`hamr.pipeline.run`) writes: a new run clears
  them first (:func:`clear_run_outputs`), so an earlier run's ``model/`` or ``hamr_*`` files never sit beside
  new metrics; other files in the folder are left alone.
- :func:`atomic_write_text` and :func:`atomic_folder` write under a temporary name in the same folder and
  ``os.replace`` it into place, so a killed run never leaves a file that looks finished.
- Checkpoints (``trainer/checkpoint-N``) are complete once :data:`CHECKPOINT_MARKER` exists, written last
  (:func:`mark_checkpoint_complete`); :func:`latest_complete_checkpoint` skips the others.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

#: The final model's raw validation and test logits (:func:`hamr.pipeline.read_logits`).
LOGITS_FILE = "logits.npz"

#: Everything a run writes into its output folder (files and folders), in one place.
RUN_OUTPUTS: tuple[str, ...] = (
    "metrics.json",
    "epoch_metrics.jsonl",
    "test_predictions.tsv",
    LOGITS_FILE,
    "model",
    "trainer",  # the Trainer's own folder: checkpoints and HAMR's files while training
    "hamr_diagnostics.jsonl",
    "hamr_examples.tsv",
    "hamr_hardness.json",
    "lnr_flips.json",
    "gbc_selection.json",
    "diagnostics.png",
    "run_config.json",
)

#: Written last into a checkpoint folder: its presence means every other file of the checkpoint is complete.
CHECKPOINT_MARKER = "hamr_checkpoint_complete.json"
TEMP_PREFIX = ".tmp-"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def clear_run_outputs(folder: str | os.PathLike) -> list[str]:
    """Delete what an earlier run left in ``folder`` (:data:`RUN_OUTPUTS` and stale temporary files); return
    the names removed, for the screen."""
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for entry in sorted(folder.iterdir()):
        if entry.name in RUN_OUTPUTS or entry.name.startswith(TEMP_PREFIX):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry.name)
    return removed


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path`` (atomic on POSIX)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX + path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a result file gets the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path`` (an old ``path`` is removed
    first), on failure or interrupt it is deleted and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX + path.name + ".", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)


def mark_checkpoint_complete(folder: str | os.PathLike, **info) -> None:
    """Write :data:`CHECKPOINT_MARKER` into a checkpoint folder: call it after every other file is saved."""
    atomic_write_text(Path(folder) / CHECKPOINT_MARKER, json.dumps(info))


def checkpoints(folder: str | os.PathLike) -> list[Path]:
    """The ``checkpoint-N`` folders directly under ``folder``, by step."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := _CHECKPOINT_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_complete_checkpoint(folder: str | os.PathLike) -> tuple[Path | None, list[Path]]:
    """(the complete checkpoint with the highest step or None, the incomplete ones found above it)."""
    skipped: list[Path] = []
    for ckpt in reversed(checkpoints(folder)):
        if (ckpt / CHECKPOINT_MARKER).is_file():
            return ckpt, skipped
        skipped.append(ckpt)
    return None, skipped
