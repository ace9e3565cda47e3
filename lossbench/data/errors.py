"""Clear failures for data that is missing and cannot be downloaded."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lossbench.data.files import record


class DataNotFoundError(FileNotFoundError):
    """A data set is not in the data dir and could not (or may not) be downloaded."""


@contextlib.contextmanager
def download_timeout(seconds: float = 30.0) -> Iterator[None]:
    """Bound every socket operation of a download, so an unreachable host fails, never hangs."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def missing(what: str, where: str, how: str, cause: BaseException | None = None) -> DataNotFoundError:
    """Build the error a user sees when ``what`` is not at ``where``."""
    msg = (f"{what} not found in {where}"
           + (f" and the download failed ({type(cause).__name__}: {cause})" if cause else "")
           + f".\nTo get it: {how}\n"
           "Point lossbench at another copy with data_dir=/path (or LOSSBENCH_DATA_DIR); "
           "download=true lets it fetch missing files when online.")
    return DataNotFoundError(msg)


def sklearn_home(data_dir: str | Path) -> Path:
    """scikit-learn's ``data_home`` inside lossbench's data dir."""
    return Path(data_dir).expanduser() / "scikit_learn_data"


def fetch_sklearn(fetcher: Callable[..., Any], data_dir: str, download: bool, what: str,
                  cache_file: str) -> Any:
    """Call a scikit-learn fetcher on ``<data_dir>/scikit_learn_data``; a missing cache file
    that cannot be downloaded ends in :class:`DataNotFoundError`, never a hang."""
    home = sklearn_home(data_dir)
    try:
        with download_timeout():
            bunch = fetcher(data_home=str(home), download_if_missing=download)
    except Exception as e:  # OSError offline / with download=False, URLError when unreachable
        raise missing(f"{what} ({cache_file})", str(home),
                      "run once online with download=true, or copy scikit-learn's cache file "
                      f"{cache_file} into that folder.", e if download else None) from e
    record(home / cache_file)
    return bunch
