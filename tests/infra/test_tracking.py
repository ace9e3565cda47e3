"""MLflow: one run per job with params, stepped metrics and artifacts; sweeps get a parent run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lossbench.app import run
from lossbench.data.files import recording
from lossbench.provenance import arrays_digest, split_context
from lossbench.summary import summarize_sweep
from lossbench.tracking import PARENT_TAG, close_sweep, flatten
from tests.conftest import SHARED_DATA, compose_config, lossbench_cli

ROOT = Path(__file__).resolve().parents[2]


def test_flatten_nested_config():
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {"a.b": "1", "a.c": "[1, 2]",
                                                               "d": "None"}


def test_run_logs_params_stepped_metrics_and_artifacts(store):
    run(compose_config(f"tracking.uri={store}", "trainer.epochs=3", "trainer.patience=0",
                       "loss=huber", "seed=4"))
    client = MlflowClient(store)
    exp = client.get_experiment_by_name("diabetes")
    (r,) = client.search_runs([exp.experiment_id])
    assert r.info.status == "FINISHED" and r.info.run_name == "diabetes-huber-s4"
    p = r.data.params
    assert p["loss._target_"] == "torch.nn.HuberLoss" and p["loss.delta"] == "1.5"
    assert p["seed"] == "4" and p["optimizer.lr"] == "0.003" and p["model.hidden"] == "[64, 64]"
    assert r.data.tags["loss"] == "huber"
    for key in ("train_loss", "val_rmse", "val_mae", "val_medae", "val_r2"):
        assert [m.step for m in client.get_metric_history(r.info.run_id, key)] == [1, 2, 3], key
    assert "test_rmse" not in r.data.metrics  # the test split: once, at the end
    assert [m.step for m in client.get_metric_history(r.info.run_id, "final_test_rmse")] == [3]
    arts = {a.path for a in client.list_artifacts(r.info.run_id)}
    plots = {a.path for a in client.list_artifacts(r.info.run_id, "plots")}
    assert "config.yaml" in arts
    assert plots == {"plots/learning_curve.png", "plots/predicted_vs_true.png"}
    cfg_text = Path(client.download_artifacts(r.info.run_id, "config.yaml")).read_text()
    assert "delta: 1.5" in cfg_text and "${" not in cfg_text  # resolved
    # the data set, the code version, no system metrics unless asked
    (ds,) = r.inputs.dataset_inputs
    assert ds.dataset.name == "diabetes" and ds.dataset.source_type == "code"
    assert "lossbench.tasks.supervised.data.diabetes" in ds.dataset.source
    assert {t.key: t.value for t in ds.tags} == {"mlflow.data.context":
                                                 "train=308 val=67 test=67"}
    assert len(ds.dataset.digest) == 16
    assert r.data.tags["lossbench.version.torch"] == __import__("torch").__version__
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert r.data.tags["mlflow.source.git.commit"] == head
    assert r.data.tags["lossbench.git_dirty"] in ("true", "false")
    assert "loss=huber" in r.data.tags["lossbench.overrides"].split()
    assert not any(k.startswith("system/") for k in r.data.metrics)


def test_a_synthetic_run_logs_its_distance_to_the_truth_once_with_a_figure(store):
    """skewed_noise knows the conditional median and mean on its validation and test x: the
    run logs its fit's test distance to each once, at the end (the validation distance per
    epoch and at the end: what lossbench tune scores), and draws the fit against both."""
    run(compose_config(f"tracking.uri={store}", "scenario=skewed_noise", "loss=mae",
                       "data.n_train=200", "trainer.epochs=2", "trainer.patience=0"))
    client = MlflowClient(store)
    (r,) = client.search_runs([client.get_experiment_by_name("skewed_noise").experiment_id])
    for key in ("final_test_dist_median", "final_test_dist_mean"):
        assert [m.step for m in client.get_metric_history(r.info.run_id, key)] == [2], key
    for key in ("val_dist_median", "val_dist_mean"):
        assert [m.step for m in client.get_metric_history(r.info.run_id, key)] == [1, 2], key
    assert "final_val_dist_median" in r.data.metrics
    assert not any(k.startswith("test_dist") for k in r.data.metrics)  # test: at the end only
    plots = {a.path for a in client.list_artifacts(r.info.run_id, "plots")}
    assert "plots/fit_vs_truth.png" in plots


def test_a_store_is_prepared_once_per_process(tmp_path, monkeypatch):
    """prepare_store creates and migrates a SQLite store under its lock once per process and
    database (a stacked job's seeds each open a tracker); another database gets its own."""
    import lossbench.tracking as tracking

    opened = []
    real = tracking.MlflowClient
    monkeypatch.setattr(tracking, "MlflowClient", lambda **kw: opened.append(kw) or real(**kw))
    for name in ("once.db", "once.db", "other.db", "once.db"):
        tracking.prepare_store(f"sqlite:///{tmp_path}/{name}")
    assert [kw["tracking_uri"] for kw in opened] == [f"sqlite:///{tmp_path}/once.db",
                                                     f"sqlite:///{tmp_path}/other.db"]
    assert (tmp_path / "once.db").exists() and (tmp_path / "other.db").exists()


def test_same_data_same_digest_other_split_other_digest():
    from lossbench.tasks.supervised.data import diabetes

    kw = dict(val_fraction=0.15, test_fraction=0.15, standardize_target=True,
              outlier_fraction=0.0, outlier_scale_min=5.0, outlier_scale_max=10.0)
    a, b = diabetes("", False, split_seed=0, **kw), diabetes("", False, split_seed=0, **kw)
    c = diabetes("", False, split_seed=1, **kw)
    assert arrays_digest(a.arrays()) == arrays_digest(b.arrays()) != arrays_digest(c.arrays())
    assert split_context(a.arrays()) == "train=308 val=67 test=67"


@pytest.mark.skipif(not (SHARED_DATA / "scikit_learn_data").exists(), reason="no shared data")
def test_loader_records_the_file_it_read_and_the_run_its_checksum(store):
    import hashlib

    run(compose_config(f"tracking.uri={store}", "scenario=house_price", "trainer.epochs=1",
                       f"data_dir={SHARED_DATA}", "download=false", "tracking.plots=false",
                       "tracking.system_metrics=true", "tracking.system_metrics_interval=60"))
    client = MlflowClient(store)
    (r,) = client.search_runs([client.get_experiment_by_name("house_price").experiment_id])
    pkz = SHARED_DATA / "scikit_learn_data" / "cal_housing_py3.pkz"
    sha = hashlib.sha256(pkz.read_bytes()).hexdigest()
    assert r.data.tags["lossbench.data_sha256.cal_housing_py3.pkz"] == sha
    (ds,) = r.inputs.dataset_inputs
    assert ds.dataset.name == "california_housing" and ds.dataset.source_type == "local"
    assert str(pkz.resolve()) in ds.dataset.source  # the loader records the real path
    # a job shorter than the sampling interval still records the samples taken
    assert "system/cpu_utilization_percentage" in r.data.metrics  # tracking.system_metrics
    with recording() as files:  # nothing recorded outside a recording; nested ones restore
        from lossbench.data.files import record
        record(pkz)
    assert files == [pkz.resolve()]


def test_diverging_run_is_recorded_failed_with_reason(store):
    from lossbench.loop import TrainingDiverged

    cfg = compose_config(f"tracking.uri={store}", "optimizer.lr=1e30", "trainer.epochs=3")
    with pytest.raises(TrainingDiverged):
        run(cfg)
    client = MlflowClient(store)
    (r,) = client.search_runs([client.get_experiment_by_name("diabetes").experiment_id])
    assert r.info.status == "FAILED"
    assert r.data.tags["failure_reason"].startswith("TrainingDiverged: training loss is")


@pytest.mark.slow
def test_multirun_sweep_gets_a_parent_and_survives_failed_jobs(store, tmp_path):
    proc = lossbench_cli("-m", "loss=mse,mae", "optimizer.lr=0.003,1e30", "trainer.epochs=2",
                         "tracking.plots=false", f"tracking.uri={store}",
                         f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path, timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]  # the sweep went on, and says 2 failed
    assert "sweep: 4 jobs: 2 finished, 2 failed, 0 refused" in proc.stderr.splitlines()[-1]
    client = MlflowClient(store)
    exp_id = client.get_experiment_by_name("diabetes").experiment_id
    runs = client.search_runs([exp_id])
    parents = [r for r in runs if r.data.tags.get("lossbench.role") == "sweep"]
    assert len(parents) == 1
    parent = parents[0]
    children = [r for r in runs if r.data.tags.get(PARENT_TAG) == parent.info.run_id]
    assert len(children) == 4 and len(runs) == 5
    failed = [c for c in children if c.info.status == "FAILED"]
    assert len(failed) == 2
    assert all(c.data.params["optimizer.lr"] == "1e+30" for c in failed)
    assert all("TrainingDiverged" in c.data.tags["failure_reason"] for c in failed)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["lossbench.children"] == "4"
    assert parent.data.tags["lossbench.failed_children"] == "2"
    assert "loss=mse,mae" in parent.data.tags["lossbench.sweep_overrides"]
    # the summary: the monitored metric per loss and condition (the swept lr), no study tags
    m = parent.data.metrics
    assert m["children.finished"] == 2 and m["children.failed"] == 2
    assert parent.data.tags["summary.condition_keys"] == "optimizer.lr"
    for loss in ("mse", "mae"):
        (child,) = [c for c in children if c.data.tags["loss"] == loss
                    and c.info.status == "FINISHED"]
        assert m[f"final_val_rmse.mean.{loss}.0_003"] == child.data.metrics["final_val_rmse"]
        assert m[f"final_val_rmse.n.{loss}.0_003"] == 1
    assert "study.claim" not in parent.data.tags
    assert (proc.stdout + proc.stderr).count("MLflow run: ") == 5  # 4 jobs and the sweep


def _fake_sweep(client: MlflowClient, results: list[tuple[str, str, str, float]]) -> str:
    """A parent with one child per (loss, optimizer, status, headline) of a fake study."""
    exp = client.create_experiment("fake_study")
    parent = client.create_run(exp, tags={"lossbench.role": "sweep"}).info.run_id
    for seed, (loss, opt, status, value) in enumerate(results):
        child = client.create_run(exp, tags={
            PARENT_TAG: parent, "loss": loss,
            "lossbench.overrides": f"+experiment=fake loss={loss} optimizer={opt} seed={seed}"})
        rid = child.info.run_id
        for k, v in {"study.headline": "final_test_rmse", "study.headline_mode": "min",
                     "study.claim": "Huber beats MSE.", "study.guide_loss": "huber",
                     "trainer.monitor": "val_rmse", "profile": "quick"}.items():
            client.log_param(rid, k, v)
        client.log_metric(rid, "final_test_rmse", value)
        client.set_terminated(rid, status)
    return parent


def test_sweep_summary_names_reference_values_and_counts(store):
    client = MlflowClient(store)
    parent = _fake_sweep(client, [
        ("huber", "adam", "FINISHED", 1.0), ("huber", "adam", "FINISHED", 2.0),
        ("huber", "adam", "FINISHED", 3.0), ("huber", "sgd", "FINISHED", 5.0),
        ("mse", "adam", "FINISHED", 4.0), ("mse", "adam", "FINISHED", float("inf")),
        ("mse", "adam", "FAILED", 1.0)])
    s = summarize_sweep(client, parent)
    m, tags = s["metrics"], s["tags"]
    assert m["final_test_rmse.mean.huber.adam"] == pytest.approx(2.0)
    # mean +- t(0.975, 2) * sd / sqrt(3) = 2 +- 4.302653 / 1.732051
    assert m["final_test_rmse.ci_low.huber.adam"] == pytest.approx(-0.484138, abs=1e-6)
    assert m["final_test_rmse.ci_high.huber.adam"] == pytest.approx(4.484138, abs=1e-6)
    assert m["final_test_rmse.mean.huber.sgd"] == 5.0 and m["final_test_rmse.n.huber.sgd"] == 1
    assert "final_test_rmse.ci_low.huber.sgd" not in m  # no interval from one value
    assert m["final_test_rmse.mean.mse.adam"] == 4.0  # the infinite and the FAILED one: out
    assert m["children.finished"] == 5 and m["children.failed"] == 2
    assert tags["summary.condition_keys"] == "optimizer"
    assert tags["study.claim"] == "Huber beats MSE." and tags["study.guide_loss"] == "huber"
    assert tags["lossbench.failed_children"] == "2" and tags["lossbench.children"] == "7"


def test_close_sweep_logs_the_summary_on_the_parent(store, tmp_path):
    import json

    client = MlflowClient(store)
    parent = _fake_sweep(client, [("huber", "adam", "FINISHED", 1.0),
                                  ("mse", "adam", "FINISHED", 2.0)])
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "mlflow_parents.json").write_text(json.dumps({f"{store}|1": parent}))
    close_sweep(str(tmp_path / "sweep"))
    r = client.get_run(parent)
    assert r.info.status == "FINISHED"
    assert r.data.metrics["final_test_rmse.mean.huber"] == 1.0  # optimizer not crossed
    assert r.data.tags["summary.condition_keys"] == ""


def test_a_study_sweep_parent_gets_the_verdict_and_its_report_section(store, tmp_path):
    """close_sweep judges a study as `lossbench report` does and puts the verdict on the parent:
    huber [1.0, 1.1, 1.2] against mse [2.0, 2.3, 2.1] paired by seed, d = [-1, -1.2, -0.9],
    one-sided paired t (df 2): t = -11.7, p = 0.0036 < 0.05 -> supported."""
    import json

    import yaml

    client = MlflowClient(store)
    exp = client.create_experiment("fake_study")
    parent = client.create_run(exp, tags={"lossbench.role": "sweep"}).info.run_id
    study = {"headline": "final_test_rmse", "headline_mode": "min", "guide_loss": "huber",
             "claim": "Huber beats MSE.", "claim_id": "C2", "claim_type": "superiority"}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"study": study, "profile": "quick"}))
    for loss, values in {"huber": [1.0, 1.1, 1.2], "mse": [2.0, 2.3, 2.1]}.items():
        for seed, value in enumerate(values):
            rid = client.create_run(exp, tags={
                PARENT_TAG: parent, "loss": loss, "seed": str(seed),
                "lossbench.overrides": f"+experiment=fake loss={loss} seed={seed}"}).info.run_id
            for k, v in {"seed": seed, "profile": "quick",
                         **{f"study.{k}": v for k, v in study.items()}}.items():
                client.log_param(rid, k, v)
            client.log_artifact(rid, str(config))
            client.log_metric(rid, "final_test_rmse", value)
            client.set_terminated(rid, "FINISHED")
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "mlflow_parents.json").write_text(json.dumps({f"{store}|{exp}": parent}))
    close_sweep(str(tmp_path / "sweep"), plots=True)
    r = client.get_run(parent)
    assert r.info.status == "FINISHED"
    assert r.data.tags["study.verdict"] == "supported"
    assert (r.data.tags["study.claim_id"], r.data.tags["study.claim_type"]) == ("C2", "superiority")
    assert "-1.033" in r.data.tags["study.key_number"]
    files = {f.path for f in client.list_artifacts(parent, "report")}
    assert {"report/fake_study.md", "report/fake_study.png",
            "report/fake_study_forest.png"} <= files
    section = Path(client.download_artifacts(parent, "report/fake_study.md", str(tmp_path)))
    text = section.read_text()
    assert "**Verdict: supported**" in text and "Decision rule" in text


def test_ui_resolves_the_store_like_a_run_and_links_runs_table_and_latest_study(store, tmp_path):
    import json

    from lossbench.ui import links, tracking_uri

    assert tracking_uri([]) == "sqlite:///mlflow.db"
    assert tracking_uri([f"tracking.uri={store}", "+experiment=power_outliers"]) == store
    client = MlflowClient(store)
    parent = _fake_sweep(client, [("huber", "adam", "FINISHED", 1.0)])
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "mlflow_parents.json").write_text(json.dumps({f"{store}|1": parent}))
    close_sweep(str(tmp_path / "sweep"))
    lines = links(store, "http://127.0.0.1:5000/")
    assert lines[0] == "experiment fake_study: http://127.0.0.1:5000/#/experiments/1/runs"
    assert lines[-1].startswith("latest study sweep")
    assert lines[-1].endswith(f"http://127.0.0.1:5000/#/experiments/1/runs/{parent}")
    assert not any("Default" in line for line in lines)  # no runs there


@pytest.mark.slow
def test_ui_stops_its_server_when_it_is_terminated(tmp_path):
    """SIGTERM to ``lossbench ui`` stops the MLflow server it started (none is left behind)."""
    import signal
    import sys

    import psutil

    from tests.mlflow_server import free_port

    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "lossbench", "ui", "--port", str(free_port()),
           f"tracking.uri=sqlite:///{tmp_path}/ui.db"]
    ui = subprocess.Popen(cmd, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(root)},
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    server: list[psutil.Process] = []
    try:
        # printed once the server answers (MLflow's own lines may come first)
        assert any(line.startswith("MLflow UI for") for line in iter(ui.stdout.readline, ""))
        server = psutil.Process(ui.pid).children(recursive=True)
        assert server and "server" in " ".join(server[0].cmdline())
        ui.send_signal(signal.SIGTERM)
        assert ui.wait(timeout=60) == 128 + signal.SIGTERM
        gone, alive = psutil.wait_procs(server, timeout=30)
        assert not alive, [p.cmdline() for p in alive]
    finally:
        ui.kill()
        for p in server:  # never leave a server behind, even when the test fails
            if p.is_running():
                p.kill()

