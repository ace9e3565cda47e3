"""Clear failures for data that is missing and cannot be downloaded, or present but unreadable.

scikit-learn's cache files are pickles, and unpickling runs code: a cache file lossbench finds
already in the data dir is unpickled only when its SHA-256 is that of the official file
(:data:`OFFICIAL_SHA256`); one that scikit-learn itself just downloaded is trusted."""

from __future__ import annotations

import contextlib
import hashlib
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lossbench.data.files import record


class DataNotFoundError(FileNotFoundError):
    """A data set is not in the data dir and could not (or may not) be downloaded."""


class DataFileError(ValueError):
    """A data file is there but cannot be used: unreadable, corrupt, truncated, or (for a
    pickle) not the official file. The message names the file and the underlying error."""


# SHA-256 of scikit-learn's official cache files (as fetched by scikit-learn 1.x)
OFFICIAL_SHA256 = {
    "cal_housing_py3.pkz": "9978c2d7871796010716280f0511accccad29f3902d052b254953249cea04dd3",
    "olivetti_py3.pkz": "47398b319d88c78459514b30b87c562313aad345b5c6a387b678d7f8177be4ba",
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_official(path: Path) -> None:
    """Refuse ``path`` unless it is the official scikit-learn cache file of its name."""
    refetch = (f"delete it and run with download=true (scikit-learn fetches it afresh), or copy "
               f"the official {path.name} there")
    try:
        digest = sha256(path)
    except OSError as e:
        raise DataFileError(f"cannot read {path}: {type(e).__name__}: {e}") from None
    if digest != OFFICIAL_SHA256.get(path.name):
        raise DataFileError(f"{path} is not the official scikit-learn file (SHA-256 {digest[:16]}"
                            f"... differs): it may be corrupt or replaced, and a pickle can run "
                            f"code, so lossbench will not unpickle it; {refetch}")


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
    """Call a scikit-learn fetcher on ``<data_dir>/scikit_learn_data``. A cache file already
    there must be the official one (checked before it is unpickled) and readable, else
    :class:`DataFileError` names it and the error; a missing one that cannot be downloaded
    ends in :class:`DataNotFoundError`, never a hang."""
    home = sklearn_home(data_dir)
    path = home / cache_file
    if path.exists():
        check_official(path)
        try:
            bunch = fetcher(data_home=str(home), download_if_missing=False)
        except Exception as e:
            raise DataFileError(f"cannot load {path}: {type(e).__name__}: {e}") from e
        record(path)
        return bunch
    try:
        with download_timeout():
            bunch = fetcher(data_home=str(home), download_if_missing=download)
    except Exception as e:  # OSError offline / with download=False, URLError when unreachable
        raise missing(f"{what} ({cache_file})", str(home),
                      "run once online with download=true, or copy scikit-learn's cache file "
                      f"{cache_file} into that folder.", e if download else None) from e
    record(home / cache_file)
    return bunch
