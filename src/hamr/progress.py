"""Progress bars for hamr's long steps (embedding for kNN, evaluation, prediction), with one quiet switch.

:func:`progress` wraps an iterable in a ``tqdm`` bar. A bar is shown only when its output stream (stderr) is a
terminal (tqdm's ``disable=None``), so logs, CI and captured test output stay clean; ``quiet=True``, or the
environment variable ``HAMR_QUIET=1``, turns every bar off, and ``quiet=False`` forces them on.
"""

from __future__ import annotations

import os
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

ENV_QUIET = "HAMR_QUIET"


def quiet_from_env() -> bool:
    """True when ``HAMR_QUIET`` is set to a true value (1, true, yes, on)."""
    return os.environ.get(ENV_QUIET, "").strip().lower() in {"1", "true", "yes", "on"}


def progress(iterable: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "it",
             quiet: bool | None = None) -> Iterator[T]:
    """``iterable`` with a progress bar: shown on a terminal, never with ``quiet=True`` / ``HAMR_QUIET=1``,
    always with ``quiet=False``."""
    from tqdm.auto import tqdm

    if quiet is None:
        disable = True if quiet_from_env() else None  # None: tqdm hides the bar when stderr is not a TTY
    else:
        disable = quiet
    return iter(tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable, leave=False, dynamic_ncols=True))
