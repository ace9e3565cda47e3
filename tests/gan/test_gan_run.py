"""GAN jobs end to end on small synthetic data: resume determinism, an MLflow run, and the
Frechet-distance classifier's cache."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from mlflow import MlflowClient

from lossbench.app import run
from lossbench.config import ConfigError
from lossbench.tasks.gan.data import GanData
from lossbench.tasks.gan import features
from lossbench.tasks.gan.loop import GanTrainer
from tests.conftest import compose_config

TINY = ("scenario=wgan", "data=gaussians8", "data.n_train=2000", "data.n_eval=100",
        "model.hidden=[16,16]", "trainer.batch_size=32", "trainer.eval_every=4",
        "trainer.checkpoint_every=4")


def _job(ckpt: Path, steps: int, *extra: str) -> dict[str, torch.Tensor]:
    """Run a tiny toy job (no tracking); return the generator's weights from its checkpoint."""
    run(compose_config(*TINY, f"trainer.steps={steps}", f"trainer.checkpoint_dir={ckpt}",
                       "tracking.enabled=false", *extra))
    state = torch.load(ckpt / "last.pt", weights_only=True)
    assert state["trainer"]["step"] == steps
    return {k: v for k, v in state["trainer"]["pair"].items() if k.startswith("generator.")}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("loss", ["wgan", "wgan_gp"])
def test_half_then_resume_gives_the_same_generator_as_one_go(tmp_path, loss):
    whole = _job(tmp_path / "whole", 16, f"loss={loss}")
    _job(tmp_path / "split", 8, f"loss={loss}")
    resumed = _job(tmp_path / "split", 16, f"loss={loss}", "resume=true")
    assert _same(whole, resumed)
    fresh = _job(tmp_path / "other_seed", 16, f"loss={loss}", "seed=1")
    assert not _same(whole, fresh)


def test_interrupted_job_resumes_to_the_same_result(tmp_path, monkeypatch):
    whole = _job(tmp_path / "whole", 12, "loss=gan")
    step = GanTrainer.train_step

    def crash_at_10(self):
        if self.step == 10:
            raise KeyboardInterrupt("simulated kill")
        step(self)

    monkeypatch.setattr(GanTrainer, "train_step", crash_at_10)
    with pytest.raises(KeyboardInterrupt):
        _job(tmp_path / "killed", 12, "loss=gan")
    assert torch.load(tmp_path / "killed" / "last.pt", weights_only=True)["trainer"]["step"] == 8
    monkeypatch.setattr(GanTrainer, "train_step", step)
    assert _same(whole, _job(tmp_path / "killed", 12, "loss=gan", "resume=true"))


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path):
    _job(tmp_path, 4)
    with pytest.raises(ConfigError, match="resume: .*optimizer"):
        _job(tmp_path, 8, "optimizer.lr=0.001", "resume=true")


def test_toy_job_logs_stepped_metrics_samples_and_curves(store, tmp_path):
    final = run(compose_config(*TINY, "trainer.steps=8", f"trainer.checkpoint_dir={tmp_path}/c",
                               f"tracking.uri={store}"))
    client = MlflowClient(store)
    (r,) = client.search_runs([client.get_experiment_by_name("wgan").experiment_id])
    assert r.info.status == "FINISHED" and r.info.run_name == "wgan-gaussians8-wgan-s0"
    assert r.data.params["loss.clip"] == "0.01" and r.data.params["optimizer.lr"] == "5e-05"
    for key in ("critic_w_estimate", "w1", "hq_fraction", "modes_covered"):
        assert [m.step for m in client.get_metric_history(r.info.run_id, key)] == [0, 4, 8], key
    for key in ("loss_critic", "loss_generator", "critic_gap_train"):
        assert [m.step for m in client.get_metric_history(r.info.run_id, key)] == [4, 8], key
    m = r.data.metrics
    assert m["final_w1"] == final["final_w1"] > 0 and m["steps_run"] == 8
    assert m["w1_real_floor"] > 0 and m["hq_fraction_real"] > 0.95
    samples = {a.path for a in client.list_artifacts(r.info.run_id, "samples")}
    assert samples == {f"samples/step_{s:06d}.png" for s in (0, 4, 8)}
    assert {a.path for a in client.list_artifacts(r.info.run_id, "plots")} == {
        "plots/gan_curves.png"}
    assert r.data.tags["checkpoint_dir"] == str(tmp_path / "c")


def _images(n: int = 300, seed: int = 0) -> GanData:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.uniform(-1, 1, size=(n, 1, 28, 28)).astype(np.float32) * 0.2
    for k in range(3):
        x[y == k, :, 8 * k:8 * k + 8, :] += 0.8  # a bright band per class
    return GanData("images", x, x[:60], y_train=y, y_eval=y[:60], info={"dataset": "toy"})


def test_feature_classifier_is_cached_and_falls_back_from_a_read_only_data_dir(tmp_path,
                                                                                monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user_cache"))
    data, cpu = _images(), torch.device("cpu")
    writable = tmp_path / "data"
    writable.mkdir()
    model, meta = features.feature_classifier(data.x_train, data.y_train, "toy", str(writable),
                                              epochs=2, max_train=200, device=cpu, dim=16)
    assert Path(meta["path"]).parent == writable / "lossbench_cache" / "fd_classifier"
    assert meta["val_accuracy"] > 0.9  # the bands are easy
    again, meta2 = features.feature_classifier(data.x_train, data.y_train, "toy", str(writable),
                                               epochs=2, max_train=200, device=cpu, dim=16)
    assert meta2["path"] == meta["path"] and "train_seconds" in meta2
    for k, v in model.state_dict().items():
        assert torch.equal(v, again.state_dict()[k])
    read_only = tmp_path / "ro"
    read_only.mkdir()
    os.chmod(read_only, stat.S_IRUSR | stat.S_IXUSR)
    try:
        _, meta3 = features.feature_classifier(data.x_train, data.y_train, "toy", str(read_only),
                                               epochs=1, max_train=200, device=cpu, dim=16)
    finally:
        os.chmod(read_only, stat.S_IRWXU)
    assert Path(meta3["path"]).parent == tmp_path / "user_cache" / "lossbench" / "fd_classifier"
