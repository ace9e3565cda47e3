"""A lossbench run logs to an MLflow tracking server (SQL backend, artifact root) over http."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from lossbench.app import run
from tests.conftest import compose_config
from tests.mlflow_server import mlflow_server


@pytest.mark.slow
def test_run_logs_to_a_tracking_server_over_http(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with mlflow_server(tmp_path) as url:
        run(compose_config(f"tracking.uri={url}", "trainer.epochs=2", "loss=huber", "seed=1"))
        client = MlflowClient(url)
        (r,) = client.search_runs([client.get_experiment_by_name("diabetes").experiment_id])
        assert r.info.status == "FINISHED" and r.info.run_name == "diabetes-huber-s1"
        assert r.data.params["tracking.uri"] == url
        assert [m.step for m in client.get_metric_history(r.info.run_id, "val_rmse")] == [1, 2]
        assert "final_test_rmse" in r.data.metrics
        assert r.info.artifact_uri.startswith("mlflow-artifacts:/")  # proxied by the server
        cfg_text = Path(client.download_artifacts(r.info.run_id, "config.yaml",
                                                  str(tmp_path))).read_text()
        assert "delta: 1.5" in cfg_text
        plots = {a.path for a in client.list_artifacts(r.info.run_id, "plots")}
        assert "plots/learning_curve.png" in plots
    # the artifacts and the runs live where the server was told to keep them
    assert list((tmp_path / "artifacts").rglob("learning_curve.png"))
    assert (tmp_path / "server.db").stat().st_size > 0
    assert not (tmp_path / "mlruns").exists()  # nothing written client-side
