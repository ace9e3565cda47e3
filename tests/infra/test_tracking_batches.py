"""MlflowTracker buffers metrics and sends them in batches; the run's end flushes them on every
exit path, so nothing logged is lost."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from lossbench.tracking import MlflowTracker


def test_buffered_metrics_reach_the_store_when_the_run_fails(store):
    tracker = MlflowTracker(store, "batches", plots=False)
    with pytest.raises(RuntimeError):
        with tracker.start("r", tags={}):
            for epoch in range(1, 1201):  # more than one MLflow batch (1000)
                tracker.log_metrics({"train_loss": 1.0 / epoch}, step=epoch)
            assert tracker._pending  # buffered, not yet sent
            raise RuntimeError("boom")
    client = MlflowClient(store)
    run = client.get_run(tracker.run_id)
    assert run.info.status == "FAILED"
    history = client.get_metric_history(tracker.run_id, "train_loss")
    assert sorted(m.step for m in history) == list(range(1, 1201))


def test_metrics_are_flushed_every_flush_seconds(store, monkeypatch):
    tracker = MlflowTracker(store, "batches", plots=False)
    monkeypatch.setattr(MlflowTracker, "FLUSH_SECONDS", 0.0)
    with tracker.start("r", tags={}):
        tracker.log_metrics({"a": 1.0}, step=1)
        assert not tracker._pending
        assert len(MlflowClient(store).get_metric_history(tracker.run_id, "a")) == 1
