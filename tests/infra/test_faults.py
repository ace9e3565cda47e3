"""Fault injection (issue 10): signals mid-run and mid-sweep, a process killed with SIGKILL and
``lossbench runs cleanup``, a store locked for longer than the retry budget and
``lossbench runs sync``, an unreachable tracking server, an all-failing sweep, a sweep
re-launched with ``resume=true``.

Also covered elsewhere: supervised and pairs resume to identical metrics (test_resume.py), a
corrupt data file (tests/supervised/test_data_files.py), a corrupt checkpoint
(test_resume.py), the generated config product (test_config_product.py)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lossbench import runs
from lossbench.app import run
from lossbench.lifecycle import HEARTBEAT_TAG, HOST_TAG, PID_TAG, host
from lossbench.store import SPOOL_FILE, StoreUnavailable, check_reachable, sync
from lossbench.tracking import PARENT_TAG, MlflowTracker
from tests.conftest import ROOT, compose_config
from tests.mlflow_server import free_port

TINY = ("device=cpu", "torch_threads=1", "model.hidden=[8]", "trainer.patience=0")
LONG = (*TINY, "trainer.epochs=100000")  # runs until it is stopped


def _start(tmp_path: Path, *args: str) -> subprocess.Popen:
    """``python -m lossbench ARGS`` in the background, output in tmp_path/out.txt."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = open(tmp_path / "out.txt", "w")
    return subprocess.Popen([sys.executable, "-m", "lossbench", *args], cwd=tmp_path, env=env,
                            stdout=out, stderr=subprocess.STDOUT)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 240.0) -> None:
    """Until ``path`` exists (a checkpoint: training has begun)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"exited {proc.returncode} before {path} appeared"
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        time.sleep(0.2)


def _runs(store: str, experiment: str = "diabetes") -> list:
    client = MlflowClient(store)
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])


# --------------------------------------------------------------------------- signals
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_run_ends_it_killed_with_the_signal_and_status_128_plus(tmp_path, sig):
    store = f"sqlite:///{tmp_path}/mlflow.db"
    proc = _start(tmp_path, *LONG, f"tracking.uri={store}", "tracking.heartbeat_s=0",
                  f"hydra.run.dir={tmp_path}/job")
    _wait_for(tmp_path / "job" / "checkpoints" / "last.pt", proc)
    time.sleep(1.5)
    proc.send_signal(sig)
    assert proc.wait(timeout=120) == 128 + sig
    name = signal.Signals(sig).name
    assert (tmp_path / "out.txt").read_text().strip().splitlines()[-1] == (
        f"lossbench: killed by {name}: the run is KILLED")
    (r,) = _runs(store)
    assert r.info.status == "KILLED" and r.data.tags["failure_reason"] == f"killed by {name}"
    assert r.data.tags[HOST_TAG] == host() and r.data.tags[PID_TAG] == str(proc.pid)
    assert int(r.data.tags[HEARTBEAT_TAG]) > r.info.start_time // 1000  # beat with the epochs
    history = MlflowClient(store).get_metric_history(r.info.run_id, "train_loss")
    assert len(history) >= 1  # what was logged before the signal is there


@pytest.mark.slow
def test_ctrl_c_mid_sweep_kills_the_parent_and_a_relaunch_skips_finished_jobs(tmp_path):
    """Job 0 finishes, job 1 is interrupted; the re-launch with resume=true skips job 0,
    resumes job 1, and the parent ends FINISHED with one child per job."""
    store = f"sqlite:///{tmp_path}/mlflow.db"
    sweep = ("-m", *TINY, "seed=0,1", "stack_seeds=false", "trainer.epochs=150",
             f"tracking.uri={store}", f"hydra.sweep.dir={tmp_path}/sweep")
    proc = _start(tmp_path, *sweep)
    _wait_for(tmp_path / "sweep" / "1" / "checkpoints" / "last.pt", proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    done, killed, parent = sorted(_runs(store), key=lambda r: r.info.run_name)
    assert parent.data.tags["lossbench.role"] == "sweep" and parent.info.status == "KILLED"
    assert parent.data.tags["failure_reason"] == "killed by SIGINT"
    assert [done.info.status, killed.info.status] == ["FINISHED", "KILLED"]

    relaunch = _start(tmp_path, *sweep, "resume=true")
    assert relaunch.wait(timeout=600) == 0, (tmp_path / "out.txt").read_text()[-3000:]
    assert (tmp_path / "out.txt").read_text().strip().splitlines()[-1] == (
        "lossbench: sweep: 2 jobs: 1 finished, 0 failed, 0 refused, 1 skipped")
    client = MlflowClient(store)
    parent = client.get_run(parent.info.run_id)
    assert parent.info.status == "FINISHED"
    children = [r for r in _runs(store) if r.data.tags.get(PARENT_TAG) == parent.info.run_id]
    assert sorted(c.data.tags["seed"] for c in children) == ["0", "1"]  # no duplicates
    assert all(c.info.status == "FINISHED" for c in children)
    resumed = next(c for c in children if c.data.tags["seed"] == "1")
    assert "resumed_from_epoch" in resumed.data.tags
    assert client.get_run(killed.info.run_id).data.tags["lossbench.superseded_by"] == (
        resumed.info.run_id)
    steps = [m.step for m in client.get_metric_history(resumed.info.run_id, "val_rmse")]
    assert steps == list(range(1, 151))


@pytest.mark.slow
def test_sigkill_then_runs_cleanup_marks_the_run_killed(tmp_path):
    store = f"sqlite:///{tmp_path}/mlflow.db"
    proc = _start(tmp_path, *LONG, f"tracking.uri={store}", f"hydra.run.dir={tmp_path}/job")
    _wait_for(tmp_path / "job" / "checkpoints" / "last.pt", proc)
    proc.kill()
    proc.wait(timeout=60)
    (r,) = _runs(store)
    assert r.info.status == "RUNNING"  # nothing could end it
    assert runs.main([f"tracking.uri={store}"]) == 0
    (stale, why), = runs.stale_runs(MlflowClient(store), runs.STALE_AFTER_S)
    assert why == f"process {proc.pid} on {host()} is gone"
    assert runs.main(["cleanup", f"tracking.uri={store}"]) == 0
    (r,) = _runs(store)
    assert r.info.status == "KILLED"
    assert r.data.tags["failure_reason"].startswith(f"killed: process {proc.pid} on")
    assert runs.stale_runs(MlflowClient(store), runs.STALE_AFTER_S) == []


def test_cleanup_ends_stale_runs_and_then_their_sweep_parent(store):
    """A parent whose sweep process is gone is ended KILLED once no child is RUNNING; a run on
    another host counts as stale only by its heartbeat."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    gone = {HOST_TAG: host(), PID_TAG: str(dead.pid)}
    client = MlflowClient(store)
    exp = client.create_experiment("diabetes")
    parent = client.create_run(exp, tags={"lossbench.role": "sweep", **gone}).info.run_id
    child = client.create_run(exp, tags={PARENT_TAG: parent, **gone}).info.run_id
    finished = client.create_run(exp, tags={PARENT_TAG: parent, **gone}).info.run_id
    client.set_terminated(finished, "FINISHED")
    elsewhere = client.create_run(exp, tags={HOST_TAG: "other-host", PID_TAG: "1",
                                             HEARTBEAT_TAG: str(int(time.time()))}).info.run_id
    assert [r.info.run_id for r, _ in runs.stale_runs(client, 3600)] == [child, parent]
    runs.cleanup(client, 3600)
    assert [client.get_run(x).info.status for x in (parent, child, finished, elsewhere)] == [
        "KILLED", "KILLED", "FINISHED", "RUNNING"]
    assert client.get_run(parent).data.metrics["children.failed"] == 2  # its summary
    assert [r.info.run_id for r, _ in runs.stale_runs(client, 0)] == [elsewhere]


# --------------------------------------------------------------------------- store faults
@pytest.mark.slow  # SQLite's busy timeout in MLflow is 20 s
def test_a_store_locked_past_the_retry_budget_spools_and_sync_completes_the_run(
        tmp_path, monkeypatch):
    store = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.chdir(tmp_path)  # the spool goes to the job dir: here, outside Hydra
    lock = sqlite3.connect(tmp_path / "mlflow.db", isolation_level=None)
    log_metrics = MlflowTracker.log_metrics

    def locking(self, metrics, step):
        if step == 2 and not lock.in_transaction:  # another writer takes the database
            lock.execute("BEGIN EXCLUSIVE")
        return log_metrics(self, metrics, step)

    monkeypatch.setattr(MlflowTracker, "log_metrics", locking)
    monkeypatch.setattr(MlflowTracker, "FLUSH_SECONDS", 0.0)  # each epoch's metrics sent at once
    cfg = compose_config(*TINY, "trainer.epochs=4", f"tracking.uri={store}",
                         "tracking.retry_s=1")
    with pytest.raises(StoreUnavailable, match="lossbench runs sync .*" + SPOOL_FILE):
        run(cfg)
    lock.rollback()
    (r,) = _runs(store)
    client = MlflowClient(store)
    assert r.info.status == "RUNNING"
    assert [m.step for m in client.get_metric_history(r.info.run_id, "val_rmse")] == [1]
    assert runs.main(["sync", str(tmp_path)]) == 0
    assert (tmp_path / (SPOOL_FILE + ".synced")).exists() and not (tmp_path / SPOOL_FILE).exists()
    r = client.get_run(r.info.run_id)
    assert r.info.status == "FINISHED"
    for key in ("train_loss", "val_rmse"):
        assert [m.step for m in client.get_metric_history(r.info.run_id, key)] == [1, 2, 3, 4]
    assert "final_test_rmse" in r.data.metrics
    assert {a.path for a in client.list_artifacts(r.info.run_id, "plots")} == {
        "plots/learning_curve.png", "plots/predicted_vs_true.png"}


def test_sync_keeps_what_it_could_not_write(tmp_path):
    """A sync into a store that is still down fails with one line and loses nothing."""
    spool = tmp_path / SPOOL_FILE
    line = {"uri": f"http://127.0.0.1:{free_port()}", "run_id": "r", "op": "batch",
            "tags": {"a": "b"}}
    spool.write_text(json.dumps(line) + "\n")
    with pytest.raises(StoreUnavailable):
        sync(spool, budget_s=0)
    assert json.loads(spool.read_text()) == line


def test_an_unreachable_server_fails_before_training_within_15_s(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=f"tracking server {uri} is unreachable"):
        run(compose_config(*TINY, "trainer.epochs=1", f"tracking.uri={uri}"))
    assert time.monotonic() - started < 15
    assert not (tmp_path / "checkpoints").exists()  # no training
    with pytest.raises(StoreUnavailable):
        check_reachable(uri, within_s=0)


# --------------------------------------------------------------------------- sweeps
@pytest.mark.slow
def test_an_all_failing_sweep_exits_non_zero(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "lossbench", "-m", "loss=bce,wgan", "tracking.enabled=false",
         f"hydra.sweep.dir={tmp_path}/sweep"], cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "lossbench: sweep: 2 jobs: 0 finished, 0 failed, 2 refused; first reasons: ")


def test_which_store_errors_are_retried():
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import BAD_REQUEST, TEMPORARILY_UNAVAILABLE

    from lossbench.store import transient

    race = ("(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, "
            "datasets.name, datasets.digest")  # two parallel jobs logging the same data set
    assert transient(MlflowException(race, BAD_REQUEST))
    assert transient(MlflowException("database is locked", TEMPORARILY_UNAVAILABLE))
    assert transient(sqlite3.OperationalError("database is locked"))
    assert not transient(MlflowException("UNIQUE constraint failed: metrics.key", BAD_REQUEST))
    assert not transient(MlflowException("Invalid value for param", BAD_REQUEST))
    assert not transient(ValueError("database is locked"))
