"""Checkpoints of a GAN job: the trainer's state (models, optimizers, the loop's RNG), the
process-wide RNGs, the metric history so far, and a fingerprint of the settings that must not
change across a resume.

One file, ``<dir>/last.pt``, overwritten atomically (write, then rename), so an interrupted
save never leaves a broken checkpoint. Loaded with ``weights_only=True``: only tensors and
plain Python values are stored.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from lossbench.schema import ConfigError

FILE = "last.pt"
# settings a resumed job must share with the job it continues (the step budget may grow)
FINGERPRINT_KEYS = ("task", "seed", "data", "model", "loss", "optimizer", "trainer.batch_size")


def checkpoint_dir(cfg: DictConfig) -> Path:
    """``trainer.checkpoint_dir``; else ``<Hydra's output dir>/checkpoints``; else ./checkpoints."""
    if cfg.trainer.checkpoint_dir:
        return Path(cfg.trainer.checkpoint_dir).expanduser()
    if HydraConfig.initialized():
        out = OmegaConf.select(HydraConfig.get(), "runtime.output_dir", default=None,
                               throw_on_missing=False)
        if out:
            return Path(out) / "checkpoints"
    return Path("checkpoints")


def fingerprint(cfg: DictConfig) -> str:
    """The :data:`FINGERPRINT_KEYS` of ``cfg``, resolved, as JSON."""
    def plain(v: Any) -> Any:
        return OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v

    return json.dumps({k: plain(OmegaConf.select(cfg, k)) for k in FINGERPRINT_KEYS},
                      sort_keys=True)


def global_rng_state() -> dict[str, Any]:
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


def save(directory: Path, trainer_state: dict[str, Any], history: list[dict[str, float]],
         fprint: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE
    tmp = path.with_suffix(".tmp")
    torch.save({"trainer": trainer_state, "rng": global_rng_state(), "history": history,
                "fingerprint": fprint}, tmp)
    os.replace(tmp, path)
    return path


def load(directory: Path, fprint: str) -> Optional[dict[str, Any]]:
    """The checkpoint in ``directory`` (None if there is none); refuses one whose settings
    differ from this job's."""
    path = directory / FILE
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["fingerprint"] != fprint:
        old, new = json.loads(state["fingerprint"]), json.loads(fprint)
        diff = sorted(k for k in FINGERPRINT_KEYS if old.get(k) != new.get(k))
        raise ConfigError(f"resume: the checkpoint {path} was written with other settings for "
                          f"{', '.join(diff)}; resume with the same ones, or point "
                          f"trainer.checkpoint_dir elsewhere to start afresh")
    return state
