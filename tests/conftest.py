"""Shared helpers: compose lossbench configs the way the CLI does, run the CLI in a subprocess,
record a run's metric history, and compare tiny seeded runs with stored reference metrics."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

import lossbench.app as app
from lossbench.app import CONF_DIR
from lossbench.config import register_configs
from lossbench.tracking import NullTracker

register_configs()
# the tests train tiny models: one thread avoids oversubscribing a busy 2-core machine
torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
# a tiny job on the CPU, reproducible to the bit: no tracking, one torch thread
CPU = ("tracking.enabled=false", "device=cpu", "torch_threads=1")
REFERENCE = Path(__file__).resolve().parent / "reference" / "metrics.json"
TIMINGS = ("train_seconds", "seconds_per_epoch")


def compose_with_hydra(*overrides: str) -> tuple[DictConfig, DictConfig]:
    """Compose ``conf/config.yaml`` like ``lossbench [-m]``; return (job config, hydra config).
    ``hydra:`` interpolations in the job config work afterwards."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    hydra_cfg = cfg.hydra
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, hydra_cfg


def compose_config(*overrides: str) -> DictConfig:
    """Compose ``conf/config.yaml`` with CLI-style overrides; ``hydra:`` interpolations work."""
    return compose_with_hydra(*overrides)[0]


def run_python(*args: str, cwd: Path | None = None,
               timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` with this tree first on the path; output is captured as text."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def lossbench_cli(*args: str, cwd: Path | None = None,
                  timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the command line, ``python -m lossbench ARGS``, in a subprocess."""
    return run_python("-m", "lossbench", *args, cwd=cwd, timeout=timeout)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite MLflow store; artifacts land under tmp_path too."""
    monkeypatch.chdir(tmp_path)
    return f"sqlite:///{tmp_path}/mlflow.db"


class MetricLog(NullTracker):
    """A tracker that keeps each metric's ``[(step, value), ...]`` in memory (no MLflow)."""

    def __init__(self) -> None:
        self.history: dict[str, list[tuple[int, float]]] = {}

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        for k, v in metrics.items():
            self.history.setdefault(k, []).append((step, float(v)))


def recording(monkeypatch: pytest.MonkeyPatch) -> MetricLog:
    """Make the next ``lossbench.app.run`` log its metrics into the returned :class:`MetricLog`."""
    log = MetricLog()
    monkeypatch.setattr(app, "make_tracker", lambda cfg: log)
    return log


# ------------------------------------------------------------------ reference metrics
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-reference", action="store_true",
                     help=f"write the reference runs' metrics to {REFERENCE.relative_to(ROOT)} "
                          "instead of comparing with it")


class Reference:
    """Stored final metrics of tiny seeded runs, compared at ``rel`` (timings left out)."""

    def __init__(self, update: bool, rel: float = 1e-4, abs_: float = 1e-6) -> None:
        self.update, self.rel, self.abs = update, rel, abs_

    def check(self, name: str, final: dict[str, float]) -> None:
        observed = {k: v for k, v in sorted(final.items()) if k not in TIMINGS}
        stored = json.loads(REFERENCE.read_text()) if REFERENCE.exists() else {}
        if self.update:
            stored[name] = observed
            REFERENCE.parent.mkdir(exist_ok=True)
            REFERENCE.write_text(json.dumps(dict(sorted(stored.items())), indent=1) + "\n")
            return
        assert name in stored, f"no reference for {name!r}: run pytest --update-reference"
        expected = stored[name]
        assert observed.keys() == expected.keys(), name
        off = {k: (observed[k], expected[k]) for k in expected
               if not _close(observed[k], expected[k], self.rel, self.abs)}
        assert not off, f"{name}: (observed, reference) differ beyond rel {self.rel}: {off}"


def _close(a: float, b: float, rel: float, abs_: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


@pytest.fixture(scope="session")
def reference(request: pytest.FixtureRequest) -> Reference:
    return Reference(request.config.getoption("--update-reference"))
