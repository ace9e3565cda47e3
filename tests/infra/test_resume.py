"""Resume of epoch-trained jobs (supervised and pairs): a job killed mid-run and resumed with
``resume=true`` ends with the same final metrics as one run in one go (on CPU); a broken or
foreign checkpoint is refused naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient

from lossbench.app import run
from lossbench.checkpoint import CheckpointError
from lossbench.tracking import MlflowTracker, NullTracker
from tests.conftest import compose_config
from tests.pairs.test_pairs import TINY as TINY_PAIRS, fake_olivetti  # noqa: F401 (fixture)

# dropout draws from the global RNG, early stopping (patience 2) keeps state across epochs
DIABETES = ("device=cpu", "model.dropout=0.2", "model.hidden=[16]", "trainer.epochs=8",
            "trainer.patience=2", "trainer.batch_size=64", "optimizer.lr=0.05")
TIMINGS = ("train_seconds", "seconds_per_epoch")


def _job(ckpt: Path, *overrides: str) -> dict[str, float]:
    final = run(compose_config(*overrides, f"trainer.checkpoint_dir={ckpt}"))
    return {k: v for k, v in final.items() if k not in TIMINGS}


def _killed_after(monkeypatch, tracker_cls, epoch: int):
    """Make ``tracker_cls.log_metrics`` raise KeyboardInterrupt when epoch ``epoch`` logs:
    the job dies after that epoch's training and before its checkpoint."""
    log = tracker_cls.log_metrics

    def dying(self, metrics, step=None):
        if step == epoch and "train_loss" in metrics:
            raise KeyboardInterrupt("simulated kill")
        return log(self, metrics, step=step)

    monkeypatch.setattr(tracker_cls, "log_metrics", dying)
    return lambda: monkeypatch.setattr(tracker_cls, "log_metrics", log)


def test_killed_regression_job_resumes_to_the_same_final_metrics(tmp_path, monkeypatch):
    cfg = (*DIABETES, "tracking.enabled=false")
    whole = _job(tmp_path / "whole", *cfg)
    assert whole["epochs_run"] == 8 or whole["best_epoch"] < whole["epochs_run"]
    undo = _killed_after(monkeypatch, NullTracker, 4)
    with pytest.raises(KeyboardInterrupt):
        _job(tmp_path / "killed", *cfg)
    state = torch.load(tmp_path / "killed" / "last.pt", weights_only=True)
    assert state["fit"]["epoch"] == 3 and len(state["fit"]["history"]) == 3
    undo()
    assert _job(tmp_path / "killed", *cfg, "resume=true") == whole
    other = _job(tmp_path / "other", *cfg, "seed=1")
    assert other["final_test_rmse"] != whole["final_test_rmse"]


def test_early_stopped_job_resumes_without_training_more(tmp_path):
    cfg = (*DIABETES, "tracking.enabled=false", "trainer.epochs=40", "optimizer.lr=0.3")
    whole = _job(tmp_path, *cfg)
    assert whole["epochs_run"] < 40  # stopped early
    assert _job(tmp_path, *cfg, "resume=true") == whole


def test_resumed_job_is_a_new_mlflow_run_with_the_whole_curve(store, tmp_path, monkeypatch):
    cfg = (*DIABETES, "trainer.patience=0", "trainer.epochs=5", f"tracking.uri={store}")
    undo = _killed_after(monkeypatch, MlflowTracker, 3)
    with pytest.raises(KeyboardInterrupt):
        _job(tmp_path / "c", *cfg)
    undo()
    final = _job(tmp_path / "c", *cfg, "resume=true")
    client = MlflowClient(store)
    killed, resumed = sorted(client.search_runs(
        [client.get_experiment_by_name("diabetes").experiment_id]),
        key=lambda r: r.info.start_time)
    assert killed.info.status != "FINISHED" and resumed.info.status == "FINISHED"
    assert resumed.data.tags["resumed_from_epoch"] == "2"
    steps = [m.step for m in client.get_metric_history(resumed.info.run_id, "val_rmse")]
    assert steps == [1, 2, 3, 4, 5]
    assert resumed.data.metrics["final_test_rmse"] == final["final_test_rmse"]


def test_killed_pairs_job_resumes_to_the_same_final_metrics(tmp_path, monkeypatch,
                                                           fake_olivetti):  # noqa: F811
    cfg = (*TINY_PAIRS, "trainer.epochs=4", "tracking.enabled=false", "device=cpu")
    whole = _job(tmp_path / "whole", *cfg)
    undo = _killed_after(monkeypatch, NullTracker, 3)
    with pytest.raises(KeyboardInterrupt):
        _job(tmp_path / "killed", *cfg)
    undo()
    assert _job(tmp_path / "killed", *cfg, "resume=true") == whole


def test_resume_refuses_other_settings_naming_the_keys(tmp_path):
    cfg = (*DIABETES, "tracking.enabled=false", "trainer.epochs=2")
    _job(tmp_path, *cfg)
    with pytest.raises(CheckpointError, match=r"last\.pt was written with other settings for "
                                              r"optimizer, trainer\.batch_size"):
        _job(tmp_path, *cfg, "optimizer.lr=0.01", "trainer.batch_size=16", "resume=true")


@pytest.mark.parametrize("damage", ["truncated", "random", "pickle"])
def test_a_broken_checkpoint_is_refused_naming_the_file(tmp_path, damage):
    cfg = (*DIABETES, "tracking.enabled=false", "trainer.epochs=2")
    _job(tmp_path, *cfg)
    path = tmp_path / "last.pt"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "random":
        path.write_bytes(torch.randint(0, 256, (5000,), dtype=torch.uint8).numpy().tobytes())
    else:  # a pickle of an arbitrary object: never unpickled
        torch.save({"fingerprint": "x", "obj": Path("/")}, path)
    with pytest.raises(CheckpointError) as e:
        _job(tmp_path, *cfg, "resume=true")
    msg = str(e.value)
    assert str(path) in msg and "trainer.checkpoint_dir" in msg and "\n" not in msg
    assert "weights_only=False" not in msg


def test_the_seeds_of_one_job_resume_each_from_its_own_checkpoint(tmp_path):
    """A sweep groups a condition's seeds into one job (seeds=[...]); with resume=true they
    cannot stack and run one after another, each with its own checkpoint (they share the job's
    folder: one last.pt for all made every seed but the first fail)."""
    from lossbench.app import run_seeds

    cfg = (*DIABETES, "tracking.enabled=false", f"trainer.checkpoint_dir={tmp_path}")
    first = run_seeds(compose_config(*cfg, "seeds=[0,1]", "resume=true"))
    assert not [r for r in first.values() if isinstance(r, Exception)], first
    for seed in (0, 1):
        state = torch.load(tmp_path / f"seed_{seed}" / "last.pt", weights_only=True)
        assert '"seed": %d' % seed in state["fingerprint"]
    again = run_seeds(compose_config(*cfg, "seeds=[0,1]", "resume=true"))
    for name, final in first.items():  # resumed from its own last epoch: nothing left to train
        assert {k: v for k, v in again[name].items() if k not in TIMINGS} == \
            {k: v for k, v in final.items() if k not in TIMINGS}
    alone = _job(tmp_path / "alone", *cfg, "seed=1")
    assert alone == {k: v for k, v in first["diabetes-mse-s1"].items() if k not in TIMINGS}


def test_the_seeds_of_one_job_log_the_params_their_jobs_alone_log(tmp_path, store):
    """The seeds' own checkpoint folders are not in their configs: the report pairs runs by
    seed within a condition, and a per-seed trainer.checkpoint_dir param made every seed of
    the unstackable studies (overflow, sparse_memory, face_verification, wgan) a condition
    of its own, with no pairs to judge."""
    from lossbench.app import run_seeds
    from lossbench.report import condition_keys

    cfg = (*DIABETES, f"tracking.uri={store}", f"trainer.checkpoint_dir={tmp_path}")
    run_seeds(compose_config(*cfg, "seeds=[0,1]", "resume=true"))  # one after another
    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("diabetes").experiment_id])
    assert len(runs) == 2 and {r.data.params["trainer.checkpoint_dir"] for r in runs} == \
        {str(tmp_path)}
    assert condition_keys(runs) == []
    assert sorted(Path(r.data.tags["checkpoint_dir"]).name for r in runs) == ["seed_0", "seed_1"]
