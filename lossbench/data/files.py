"""Which data files a loader read, so each run can record their checksums.

Loaders call :func:`record` with every file they read; :func:`recording` collects them for one
load (``lossbench.app`` wraps the data loading in it). Outside a recording, :func:`record` does
nothing. One job loads its data at a time per process, so a module-level list suffices.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

_current: Optional[list[Path]] = None


def record(path: "str | Path") -> None:
    """Note that the loader read ``path`` (ignored when nobody is recording)."""
    if _current is not None:
        p = Path(path).expanduser().resolve()
        if p.is_file() and p not in _current:
            _current.append(p)


@contextlib.contextmanager
def recording() -> Iterator[list[Path]]:
    """Collect the files recorded while the body runs, in the order they were read."""
    global _current
    previous, _current = _current, []
    try:
        yield _current
    finally:
        _current = previous
