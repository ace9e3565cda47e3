"""Parallel sweeps: 8 joblib workers write to one fresh SQLite store at once, nothing lost."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lossbench.tracking import PARENT_TAG, sqlite_path
from tests.conftest import lossbench_cli
N = 8


def test_sqlite_path():
    assert sqlite_path("sqlite:////abs/m.db") == Path("/abs/m.db")
    assert sqlite_path("sqlite:///m.db?timeout=30") == Path("m.db")
    assert sqlite_path("http://127.0.0.1:5000") is None
    assert sqlite_path("sqlite://") is None


@pytest.mark.slow
def test_eight_parallel_jobs_all_land_in_a_fresh_sqlite_store(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    store = f"sqlite:///{tmp_path}/mlflow.db"
    # ${now:...} with microseconds: a worker that resolved the sweep dir itself would pick
    # another directory, hence another parent-run lock file, hence a second parent run
    sweep = f"{tmp_path}/sweep/" + "${now:%H-%M-%S-%f}"
    proc = lossbench_cli("-m", "hydra/launcher=joblib", f"hydra.launcher.n_jobs={N}",
                         f"seed=range({N})", "trainer.epochs=2", "torch_threads=1",
                         "tracking.plots=false", f"tracking.uri={store}",
                         f"hydra.sweep.dir={sweep}", "hydra.verbose=lossbench.sweep_callbacks",
                         cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sweep: 8 jobs: 8 finished, 0 failed, 0 refused" in proc.stderr, proc.stderr[-3000:]
    assert len(list((tmp_path / "sweep").iterdir())) == 1
    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("diabetes").experiment_id])
    parents = [r for r in runs if r.data.tags.get("lossbench.role") == "sweep"]
    assert len(parents) == 1, [r.info.run_name for r in parents]
    pid = parents[0].info.run_id
    children = [r for r in runs if r.data.tags.get(PARENT_TAG) == pid]
    assert len(runs) == N + 1 and len(children) == N
    assert all(r.info.status == "FINISHED" for r in runs)
    assert sorted(int(c.data.params["seed"]) for c in children) == list(range(N))
    assert all("final_test_rmse" in c.data.metrics for c in children)
    assert parents[0].data.tags["lossbench.children"] == str(N)
    assert parents[0].data.tags["lossbench.failed_children"] == "0"
    # the parent's summary: the monitored metric over the 8 seeds (no condition: only seeds vary)
    m = parents[0].data.metrics
    assert m["children.finished"] == N and m["children.failed"] == 0
    assert m["final_val_rmse.n.mse"] == N
    values = [c.data.metrics["final_val_rmse"] for c in children]
    assert m["final_val_rmse.mean.mse"] == pytest.approx(sum(values) / N)
    assert m["final_val_rmse.ci_low.mse"] < m["final_val_rmse.mean.mse"] < m["final_val_rmse.ci_high.mse"]
    assert parents[0].data.tags["mlflow.source.git.commit"] == children[0].data.tags["mlflow.source.git.commit"]
    with sqlite3.connect(tmp_path / "mlflow.db") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # the jobs ran in the workers started ahead of them (lossbench.sweep_callbacks): an
    # executor the launcher had replaced would have run them all in other processes
    warmed = re.search(r"workers started ahead of the jobs: pids \[([\d, ]+)\]",
                       proc.stdout + proc.stderr)
    assert warmed, (proc.stdout + proc.stderr)[-3000:]
    job_pids = {int(c.data.tags["lossbench.pid"]) for c in children}
    assert job_pids & {int(p) for p in warmed.group(1).split(",")}
    assert len(job_pids) <= N


def test_release_workers_ends_the_launchers_worker_processes():
    """After a sweep the joblib launcher's idle workers are ended at once (waiting for their
    own teardown held every sweep's exit seconds); none left is a no-op."""
    from joblib.externals.loky import get_reusable_executor

    from lossbench.cli import release_workers

    executor = get_reusable_executor(max_workers=1)
    assert executor.submit(pow, 2, 5).result() == 32
    workers = list(executor._processes.values())
    assert workers and all(p.is_alive() for p in workers)
    release_workers()
    for p in workers:
        p.join(timeout=10)
        assert not p.is_alive()
    release_workers()  # the executor is shut down: nothing to do, no error
