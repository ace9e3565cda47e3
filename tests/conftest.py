"""Shared fixtures: compose lossbench configs the way the CLI does, into a temporary store."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from lossbench.app import CONF_DIR
from lossbench.config import register_configs

register_configs()
# the tests train tiny models: one thread avoids oversubscribing a busy 2-core machine
torch.set_num_threads(1)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def compose_config(*overrides: str) -> DictConfig:
    """Compose ``conf/config.yaml`` with CLI-style overrides; ``hydra:`` interpolations work."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite MLflow store; artifacts land under tmp_path too."""
    monkeypatch.chdir(tmp_path)
    return f"sqlite:///{tmp_path}/mlflow.db"
