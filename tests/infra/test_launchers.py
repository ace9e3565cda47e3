"""Beyond one machine: Slurm (hydra-submitit-launcher, run with submitit's local executor) and
Ray (hydra-ray-launcher on a local Ray instance). Each job lands in MLflow under one parent."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lossbench.tracking import PARENT_TAG
from tests.conftest import lossbench_cli

pytestmark = pytest.mark.slow  # each test runs the command line in a subprocess


def _sweep(tmp_path: Path, *launcher: str) -> subprocess.CompletedProcess:
    store = f"sqlite:///{tmp_path}/mlflow.db"
    return lossbench_cli("-m", *launcher, "loss=mse,huber", "trainer.epochs=1",
                         "torch_threads=1", "tracking.plots=false", f"tracking.uri={store}",
                         f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)


def _check_store(tmp_path: Path, n: int) -> None:
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("diabetes").experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("lossbench.role") == "sweep"]
    children = [r for r in runs if r.data.tags.get(PARENT_TAG) == parent.info.run_id]
    assert len(children) == n and len(runs) == n + 1
    assert all(r.info.status == "FINISHED" for r in runs)
    assert {c.data.tags["loss"] for c in children} == {"mse", "huber"}


def test_slurm_config_composes():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    proc = lossbench_cli("+experiment=house_price", "profile=full", "hydra/launcher=slurm",
                         "hydra.launcher.partition=gpu", "--cfg", "hydra", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SlurmLauncher" in proc.stdout and "partition: gpu" in proc.stdout
    assert "gpus_per_node: 1" in proc.stdout


def test_submitit_local_executor_runs_the_jobs(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    proc = _sweep(tmp_path, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10")
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_store(tmp_path, 2)
    assert list((tmp_path / "sweep" / ".submitit").iterdir())  # submitit's job folders


def test_ray_launcher_on_a_local_ray_instance(tmp_path):
    pytest.importorskip("ray")
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    # Ray's AF_UNIX socket paths must stay under 108 bytes: a short temp dir, not tmp_path
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    try:
        proc = _sweep(tmp_path, "hydra/launcher=ray_local", "hydra.launcher.ray.init.num_cpus=2",
                      f"+hydra.launcher.ray.init._temp_dir={ray_tmp}")
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_store(tmp_path, 2)
