"""Sweeps with ``stack_seeds=true``: jobs that differ only in seed become stacked jobs, and the
sweep still leaves one FINISHED child run per seed, as the unstacked sweep does."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient
from omegaconf import OmegaConf

from lossbench.sweeper import launcher_workers, stack_seed_jobs
from lossbench.tracking import PARENT_TAG
from tests.conftest import lossbench_cli


def _jobs(losses, seeds):
    return [[f"loss={loss}", f"seed={s}", "profile=quick"] for loss in losses for s in seeds]


def test_jobs_that_differ_only_in_seed_are_stacked():
    assert stack_seed_jobs(_jobs(["mse", "mae"], range(3)), workers=1) == [
        ["loss=mse", "seed=0", "profile=quick", "seeds=[0,1,2]"],
        ["loss=mae", "seed=0", "profile=quick", "seeds=[0,1,2]"]]


def test_a_group_is_split_to_keep_every_worker_busy():
    jobs = stack_seed_jobs(_jobs(["mse"], range(5)), workers=2)
    assert [j[-1] for j in jobs] == ["seeds=[0,1,2]", "seeds=[3,4]"]
    assert [j[1] for j in jobs] == ["seed=0", "seed=3"]
    # never more jobs than seeds; enough groups already fill the workers
    assert len(stack_seed_jobs(_jobs(["mse"], range(2)), workers=8)) == 2
    assert len(stack_seed_jobs(_jobs(["mse", "mae", "huber"], range(4)), workers=2)) == 3


def test_a_job_without_a_seed_override_stays_alone():
    assert stack_seed_jobs([["loss=mse"]], workers=2) == [["loss=mse"]]


def test_launcher_workers():
    assert launcher_workers(OmegaConf.create({"n_jobs": 3})) == 3
    assert launcher_workers(OmegaConf.create({"_target_": "basic"})) == 1
    assert launcher_workers(OmegaConf.create({"n_jobs": -1})) >= 1


def _same(overrides: str) -> list[str]:
    """The overrides both sweeps share (the store and the switch differ on purpose)."""
    return [o for o in overrides.split() if not o.startswith(("stack_seeds=", "tracking.uri="))]


def _children(store: str) -> dict[int, object]:
    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("diabetes").experiment_id])
    parents = [r.info.run_id for r in runs if r.data.tags.get("lossbench.role") == "sweep"]
    assert len(parents) == 1
    return {int(r.data.params["seed"]): r for r in runs
            if r.data.tags.get(PARENT_TAG) == parents[0]}


@pytest.mark.slow
def test_stacked_sweep_leaves_the_same_child_runs(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    stores = {}
    for stack in ("true", "false"):
        stores[stack] = f"sqlite:///{tmp_path}/{stack}.db"
        proc = lossbench_cli("-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                             "seed=range(4)", f"stack_seeds={stack}", "trainer.epochs=3",
                             "torch_threads=1", "tracking.plots=false",
                             f"tracking.uri={stores[stack]}",
                             f"hydra.sweep.dir={tmp_path}/sweep-{stack}", cwd=tmp_path,
                             timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "sweep: 4 jobs: 4 finished, 0 failed, 0 refused" in proc.stderr
    stacked, alone = _children(stores["true"]), _children(stores["false"])
    assert sorted(stacked) == sorted(alone) == [0, 1, 2, 3]
    for seed, run in stacked.items():
        other = alone[seed]
        assert run.info.status == other.info.status == "FINISHED"
        assert run.data.tags["lossbench.stacked_seeds"] in ("0 1", "2 3")
        assert _same(run.data.tags["lossbench.overrides"]) == _same(
            other.data.tags["lossbench.overrides"])  # seed=<its own>, no seeds=[...]
        assert run.data.metrics.keys() == other.data.metrics.keys()
        assert run.data.params.keys() == other.data.params.keys()
        assert run.data.metrics["final_test_rmse"] == pytest.approx(
            other.data.metrics["final_test_rmse"], rel=0.01)


@pytest.mark.parametrize("sweep, n_jobs, cores, threads", [
    (False, None, 8, 0),  # a single run: torch's default (every core)
    (True, 2, 2, 1), (True, -1, 2, 1), (True, 1, 2, 2), (True, 3, 8, 2), (True, 16, 4, 1)])
def test_torch_threads_share_the_cores_over_parallel_jobs(monkeypatch, sweep, n_jobs, cores,
                                                           threads):
    from types import SimpleNamespace

    import lossbench.app as app

    monkeypatch.setattr(app, "_sweep_dir", lambda: "sweep" if sweep else None)
    monkeypatch.setattr(app.HydraConfig, "get",
                        staticmethod(lambda: SimpleNamespace(launcher={"n_jobs": n_jobs})))
    monkeypatch.setattr(app.os, "cpu_count", lambda: cores)
    monkeypatch.setattr("lossbench.sweeper.os.cpu_count", lambda: cores)
    assert app.job_threads() == threads
