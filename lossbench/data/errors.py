"""Clear failures for data that is missing and cannot be downloaded."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator


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
