"""What a run was made of: the code version and the data set, as MLflow tags and a dataset input.

Tags on every run (names are stable; filter on them in MLflow's search box):

* ``mlflow.source.git.commit``: HEAD of the git checkout lossbench runs from (absent when it
  is not a checkout), ``mlflow.source.git.branch``, and ``lossbench.git_dirty`` (``true`` when
  tracked files differ from HEAD);
* ``lossbench.version.<package>``: installed versions of lossbench, torch, mlflow, numpy;
* ``lossbench.data_sha256.<file name>``: the sha256 of each data file the loader read.

The dataset input (the runs table's Dataset column): name = the data set (``info["dataset"]``,
else the ``data`` option), source = the file the loader read (its folder when several), or the
loader's ``_target_`` for bundled / generated data, digest = a hash of the arrays the model sees
(:func:`arrays_digest`), context = the split sizes (``train=14448 val=3096 test=3096``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

import numpy as np

from lossbench.data.errors import sha256

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("lossbench", "torch", "mlflow", "numpy")
DIGEST_CHARS = 16


def _git(*args: str) -> Optional[str]:
    try:
        out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def code_version_tags() -> dict[str, str]:
    """Git commit, branch and dirtiness of lossbench's checkout, and package versions (once per
    process)."""
    tags: dict[str, str] = {}
    commit = _git("rev-parse", "HEAD") if (REPO / ".git").exists() else None
    if commit:
        tags["mlflow.source.git.commit"] = commit
        branch = _git("rev-parse", "--abbrev-ref", "HEAD")
        if branch:
            tags["mlflow.source.git.branch"] = branch
        status = _git("status", "--porcelain", "--untracked-files=no")
        if status is not None:
            tags["lossbench.git_dirty"] = str(bool(status)).lower()
    for package in PACKAGES:
        try:  # an imported module's own version names its build (torch 2.14.1+cu130)
            version = getattr(sys.modules.get(package), "__version__", None)
            tags[f"lossbench.version.{package}"] = str(version or metadata.version(package))
        except metadata.PackageNotFoundError:
            pass
    return tags


@functools.lru_cache(maxsize=256)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    return sha256(Path(path))


def file_sha256(path: Path) -> str:
    """sha256 of a file, cached per path, modification time and size."""
    st = path.stat()
    return _sha256(str(path), st.st_mtime_ns, st.st_size)


def data_file_tags(files: Sequence[Path]) -> dict[str, str]:
    return {f"lossbench.data_sha256.{p.name}": file_sha256(p) for p in files}


def arrays_digest(arrays: dict[str, np.ndarray]) -> str:
    """Hash of the arrays' names, dtypes, shapes and bytes: equal data, equal digest."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()[:DIGEST_CHARS]


def split_context(arrays: dict[str, np.ndarray]) -> str:
    """``train=14448 val=3096 test=3096``: the rows of every ``x_<split>`` array."""
    return " ".join(f"{k[2:]}={len(v)}" for k, v in arrays.items() if k.startswith("x_"))


def dataset_input(data: Any, name: str, loader: str, files: Sequence[Path]):
    """MLflow's :class:`~mlflow.entities.DatasetInput` for a data object (``arrays()`` and
    ``info``): a metadata-only dataset (MLflow stores no copy of the arrays)."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.types import Schema, TensorSpec
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    arrays = data.arrays()
    if files:
        where = files[0] if len(files) == 1 else os.path.commonpath([str(f) for f in files])
        source = resolve_dataset_source(str(where))  # a local file: MLflow's local source
    else:
        source = CodeDatasetSource({"loader": loader})
    schema = Schema([TensorSpec(np.dtype(a.dtype), (-1, *a.shape[1:]), name=k)
                     for k, a in arrays.items()])
    ds = MetaDataset(source, name=str(data.info.get("dataset") or name),
                     digest=arrays_digest(arrays), schema=schema)
    return DatasetInput(ds._to_mlflow_entity(),
                        tags=[InputTag(MLFLOW_DATASET_CONTEXT, split_context(arrays))])

