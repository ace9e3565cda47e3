"""Checkpoints every task kind shares: where they go, the fingerprint of the settings a resume
must keep, the RNG states, and one file written atomically and read back safely.

One file, ``<dir>/last.pt``, overwritten atomically (write a temporary file, then rename), so
an interrupted save never leaves a broken checkpoint. It holds only tensors and plain Python
values (RNG states that are not tensors are stored as JSON strings) and is loaded with
``weights_only=True``: a checkpoint cannot run code. A file that cannot be read, or was written
with other settings, is a :class:`CheckpointError` naming the file and what to do.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import pickle
import random
import zipfile
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from lossbench.schema import ConfigError, one_line

FILE = "last.pt"


class CheckpointError(ConfigError):
    """A checkpoint cannot be resumed from: unreadable, or written with other settings.
    A user error (exit status 2, one line), like a bad config value."""


# the folder under the checkpoint dir that one seed of a job of several seeds writes to; set
# by :func:`seed_folder`, not in the config: each seed's config (and so its MLflow params)
# must be the one its job alone would have, or the report reads the folder as a condition
_SEED_FOLDER: contextvars.ContextVar[str] = contextvars.ContextVar("seed_folder", default="")


@contextlib.contextmanager
def seed_folder(seed: int) -> Iterator[None]:
    """Within: checkpoints go to ``<checkpoint dir>/seed_<seed>``. The seeds of one job share
    its output dir; with one ``last.pt`` for all, ``resume=true`` found another seed's."""
    token = _SEED_FOLDER.set(f"seed_{seed}")
    try:
        yield
    finally:
        _SEED_FOLDER.reset(token)


def checkpoint_dir(cfg: DictConfig) -> Path:
    """``trainer.checkpoint_dir``; else ``<Hydra's output dir>/checkpoints``; else ./checkpoints;
    in a :func:`seed_folder`, its ``seed_<seed>`` below that."""
    return _base_dir(cfg) / _SEED_FOLDER.get()


def _base_dir(cfg: DictConfig) -> Path:
    given = OmegaConf.select(cfg, "trainer.checkpoint_dir", default=None)
    if given:
        return Path(given).expanduser()
    if HydraConfig.initialized():
        out = OmegaConf.select(HydraConfig.get(), "runtime.output_dir", default=None,
                               throw_on_missing=False)
        if out:
            return Path(out) / "checkpoints"
    return Path("checkpoints")


def fingerprint(cfg: DictConfig, keys: Sequence[str]) -> str:
    """The ``keys`` of ``cfg``, resolved, as JSON."""
    def plain(v: Any) -> Any:
        return OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v

    return json.dumps({k: plain(OmegaConf.select(cfg, k)) for k in keys}, sort_keys=True)


# --------------------------------------------------------------------------- RNG states
def global_rng_state() -> dict[str, Any]:
    """torch's, numpy's legacy and Python's process-wide generators (and CUDA's, if any)."""
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)),
                       "pos": int(np_state[2]), "has_gauss": int(np_state[3]),
                       "cached_gaussian": float(np_state[4])},
             "python": json.dumps(random.getstate())}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_global_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached_gaussian"]))
    version, internal, gauss = json.loads(state["python"])
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def rng_state(rng: "torch.Generator | np.random.Generator") -> Any:
    """The state of a task's own generator: a tensor (torch) or a JSON string (numpy)."""
    if isinstance(rng, torch.Generator):
        return rng.get_state()
    return json.dumps(rng.bit_generator.state)


def set_rng_state(rng: "torch.Generator | np.random.Generator", state: Any) -> None:
    if isinstance(rng, torch.Generator):
        rng.set_state(state)
    else:
        rng.bit_generator.state = json.loads(state)


# --------------------------------------------------------------------------- the file
def save(directory: Path, state: dict[str, Any], fprint: str) -> Path:
    """Write ``state`` with the process-wide RNG states and ``fprint`` to ``directory/last.pt``
    atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE
    tmp = path.with_suffix(".tmp")
    torch.save({**state, "rng": global_rng_state(), "fingerprint": fprint}, tmp)
    os.replace(tmp, path)
    return path


def load(directory: Path, fprint: str) -> Optional[dict[str, Any]]:
    """The checkpoint in ``directory`` (None if there is none). Refuses, naming the file, one
    that cannot be read or whose settings differ from this job's."""
    path = directory / FILE
    if not path.is_file():
        return None
    fresh = "point trainer.checkpoint_dir elsewhere (or delete it) to start afresh"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError,
            ValueError) as e:
        reason = one_line(e)
        if isinstance(e, pickle.UnpicklingError) and "weights_only" in str(e):
            reason = "it holds objects other than tensors and plain values"
        raise CheckpointError(f"resume: cannot read the checkpoint {path} ({reason[:200]}); "
                              f"it is truncated, corrupt or not a lossbench checkpoint: "
                              f"{fresh}") from None
    if not isinstance(state, dict) or not isinstance(state.get("fingerprint"), str):
        raise CheckpointError(f"resume: {path} is not a lossbench checkpoint: {fresh}")
    if state["fingerprint"] != fprint:
        old, new = json.loads(state["fingerprint"]), json.loads(fprint)
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise CheckpointError(f"resume: the checkpoint {path} was written with other settings "
                              f"for {', '.join(diff)}; resume with the same ones, or {fresh}")
    return state
