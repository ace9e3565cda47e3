"""MLflow: one run per job with params, stepped metrics and artifacts; sweeps get a parent run."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from lossbench.app import run
from lossbench.tracking import PARENT_TAG, flatten
from tests.conftest import compose_config, lossbench_cli


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
    assert proc.returncode == 0, proc.stderr[-3000:]
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
