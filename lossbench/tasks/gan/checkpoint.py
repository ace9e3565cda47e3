"""Checkpoints of a GAN job (the generic parts are lossbench.checkpoint): the trainer's state
(models, optimizers, the loop's RNG), the metric history so far, and a fingerprint of the
settings that must not change across a resume (the step budget may grow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig

from lossbench import checkpoint as core
from lossbench.checkpoint import checkpoint_dir, set_global_rng_state  # noqa: F401 (used by run)

# settings a resumed job must share with the job it continues (the step budget may grow)
FINGERPRINT_KEYS = ("task", "seed", "data", "model", "loss", "optimizer", "trainer.batch_size")


def fingerprint(cfg: DictConfig) -> str:
    return core.fingerprint(cfg, FINGERPRINT_KEYS)


def save(directory: Path, trainer_state: dict[str, Any], history: list[dict[str, float]],
         fprint: str) -> Path:
    return core.save(directory, {"trainer": trainer_state, "history": history}, fprint)


def load(directory: Path, fprint: str) -> Optional[dict[str, Any]]:
    return core.load(directory, fprint)
