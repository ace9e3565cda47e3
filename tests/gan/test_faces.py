"""Faces for the GAN task, the DCGAN at 32x32 / 64x64, the nearest-training-image metric and
panel, the 2-D collapse indicator, the study's W1 bands, and scenario=wgan
end to end on fake Olivetti faces."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mlflow import MlflowClient
from sklearn.utils import Bunch

from lossbench.app import run
from lossbench.config import ConfigError, validate
from lossbench.data.errors import DataNotFoundError
from lossbench.tasks.gan import faces, features, plots, study
from lossbench.tasks.gan import run as gan_task
from lossbench.tasks.gan.metrics import mode_collapse, mode_coverage, nearest_neighbours
from lossbench.tasks.gan.models import dcgan, halvings
from lossbench.tasks.gan.toy2d import mode_centres, sample_mixture
from tests.conftest import compose_config


def fake_faces(people: int = 12, per_person: int = 5, seed: int = 0) -> Bunch:
    """Olivetti-shaped fake faces in [0, 1]: one random 64x64 pattern per person, plus noise."""
    rng = np.random.default_rng(seed)
    base = rng.random((people, 64, 64))
    images = np.repeat(base, per_person, axis=0) + 0.3 * rng.random((people * per_person, 64, 64))
    return Bunch(images=(images / 1.3).astype(np.float32),
                 target=np.repeat(np.arange(people), per_person))


@pytest.fixture
def fake_olivetti(monkeypatch):
    monkeypatch.setattr(faces, "fetch_olivetti_faces", lambda **kw: fake_faces())


# --------------------------------------------------------------------------- data
def test_olivetti_faces_are_pooled_scaled_and_split(fake_olivetti):
    raw = fake_faces()
    d = faces.faces("olivetti", 32, 10, 0, split_seed=3, data_dir="/nowhere", download=False)
    assert d.kind == "images" and d.x_train.shape == (50, 1, 32, 32)
    assert d.x_eval.shape == (10, 1, 32, 32) and d.x_train.dtype == np.float32
    assert d.info["dataset"] == "olivetti" and len(d.y_train) == 50
    # every face is a 2x2 average of the original, mapped from [0, 1] to [-1, 1]
    all_x = np.concatenate([d.x_train, d.x_eval])[:, 0]
    expected = 2 * raw.images.reshape(60, 32, 2, 32, 2).mean(axis=(2, 4)) - 1
    order = lambda a: a[np.lexsort(a.reshape(len(a), -1).T[:5])]  # noqa: E731
    np.testing.assert_allclose(order(all_x), order(expected), atol=1e-6)
    # held out: no eval face is a training face; the split follows split_seed
    train_rows = {r.tobytes() for r in d.x_train}
    assert not any(r.tobytes() in train_rows for r in d.x_eval)
    again = faces.faces("olivetti", 32, 10, 0, split_seed=3, data_dir="/nowhere", download=False)
    np.testing.assert_array_equal(d.x_eval, again.x_eval)
    full = faces.faces("olivetti", 64, 10, 0, split_seed=3, data_dir="/nowhere", download=False)
    assert full.x_train.shape == (50, 1, 64, 64)


def test_olivetti_missing_offline_names_the_folder(tmp_path):
    with pytest.raises(DataNotFoundError, match="Olivetti.*scikit_learn_data"):
        faces.faces("olivetti", 32, 80, 0, 0, str(tmp_path), download=False)


def test_celeba_offline_is_refused_naming_the_folder(tmp_path):
    with pytest.raises(DataNotFoundError, match=f"CelebA not found in {tmp_path}/celeba"):
        faces.faces("celeba", 32, 100, 1000, 0, str(tmp_path), download=False)


# --------------------------------------------------------------------------- models
@pytest.mark.parametrize("size, layers", [(28, 2), (32, 3), (64, 4)])
def test_dcgan_fits_28_32_and_64_pixel_images(size, layers):
    assert halvings(size) == layers
    pair = dcgan((3, size, size), latent_dim=8, width=4)
    imgs = pair.generate(torch.randn(5, 8))
    assert imgs.shape == (5, 3, size, size) and imgs.abs().max() <= 1.0
    assert pair.score(imgs).shape == (5,)
    strided = [m for m in pair.critic.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(strided) == layers and strided[-1].out_channels == 4 << (layers - 1)


# --------------------------------------------------------------------------- nearest neighbours
def test_nearest_training_image_finds_the_copy_and_its_distance():
    gen = torch.Generator().manual_seed(0)
    train = torch.rand(50, 1, 8, 8, generator=gen) * 2 - 1
    copies = train[[7, 3, 41]] + 0.01  # every pixel shifted by 0.01: RMS distance 0.01
    idx, dist = nearest_neighbours(copies, train, chunk=16)  # across chunk borders
    assert idx.tolist() == [7, 3, 41]
    np.testing.assert_allclose(dist.numpy(), 0.01, rtol=1e-6)
    fig = plots.nearest_panel(copies.numpy(), train[idx].numpy(), dist.numpy(), "t")
    assert len(fig.axes) == 6 and fig.axes[0].get_title() == "0.010"
    plots.close(fig)


# --------------------------------------------------------------------------- collapse
def test_collapse_indicator_on_collapsed_healthy_blurry_and_central_generators():
    modes = mode_centres("ring", 8, 2.0)
    rng = np.random.default_rng(0)
    healthy = sample_mixture(modes, 0.02, 1000, rng)
    two_modes = sample_mixture(modes[:2], 0.02, 1000, rng)
    three_modes = sample_mixture(modes[:3], 0.02, 1000, rng)
    blurry = sample_mixture(modes, 0.3, 1000, rng)
    centre = (0.3 * rng.standard_normal((1000, 2))).astype(np.float32)
    assert mode_collapse(healthy, modes) == {"modes_visited": 8.0, "collapsed": 0.0}
    assert mode_collapse(two_modes, modes) == {"modes_visited": 2.0, "collapsed": 1.0}
    assert mode_collapse(three_modes, modes) == {"modes_visited": 3.0, "collapsed": 1.0}
    # blurry but spread over every mode: not collapsed, though hardly any sample is sharp
    assert mode_collapse(blurry, modes) == {"modes_visited": 8.0, "collapsed": 0.0}
    assert mode_coverage(blurry, modes, 0.02)["modes_covered"] == 0
    # a blob in the middle of the ring visits no mode
    assert mode_collapse(centre, modes) == {"modes_visited": 0.0, "collapsed": 1.0}




def test_w1_bands_are_median_and_quartiles_per_step():
    runs = [[(0, 1.0), (10, 0.5)], [(0, 2.0), (10, 0.1)], [(0, 3.0), (10, 0.3)],
            [(0, 4.0), (10, 0.2), (20, 9.0)]]
    b = study.w1_bands({"wgan": runs})["wgan"]
    assert b["step"].tolist() == [0, 10]  # steps every run logged
    np.testing.assert_allclose(b["median"], [2.5, 0.25])
    np.testing.assert_allclose(b["q25"], [1.75, 0.175])
    np.testing.assert_allclose(b["q75"], [3.25, 0.35])
    fig = study.w1_band_figure(study.w1_bands({"wgan": runs, "gan": runs[:2]}), "t", floor=0.05)
    assert len(fig.axes[0].get_lines()) == 3
    plots.close(fig)


# --------------------------------------------------------------------------- configs, end to end
def test_wgan_scenario_defaults_to_olivetti_faces():
    cfg = compose_config("scenario=wgan")
    validate(cfg)
    gan_task.check(cfg)
    assert cfg.data._target_ == "lossbench.tasks.gan.faces.faces"
    assert (cfg.data.dataset, cfg.data.image_size) == ("olivetti", 32)
    assert cfg.model._target_ == "lossbench.tasks.gan.models.dcgan"
    assert cfg.trainer.monitor == "fd" and cfg.trainer.classifier_dim == 32
    assert cfg.run_name == "wgan-olivetti_gan-wgan-s0"
    paper = compose_config("scenario=wgan", "data=gaussians8", "loss=wgan_gp_paper")
    assert list(paper.optimizer.betas) == [0.0, 0.9] and paper.optimizer.lr == 1e-4
    assert paper.loss._target_.endswith("WassersteinGPLoss")
    for bad, key in (("data.image_size=48", "data.image_size"),
                     ("data.n_eval=300", "data.n_eval"), ("data.dataset=lfw", "data.dataset")):
        with pytest.raises(ConfigError, match=key):
            validate(compose_config("scenario=wgan", bad))


TINY_FACES = ("scenario=wgan", "download=false", "trainer.steps=2", "trainer.eval_every=1",
              "trainer.batch_size=8", "trainer.classifier_epochs=2", "trainer.classifier_dim=8",
              "data.n_eval=10", "model.width=4", "model.latent_dim=8")


def test_wgan_on_fake_faces_end_to_end_with_a_cached_face_feature_space(
        store, tmp_path, fake_olivetti, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user_cache"))
    data_dir = tmp_path / "data"
    cfg = (*TINY_FACES, f"data_dir={data_dir}", f"tracking.uri={store}",
           f"trainer.checkpoint_dir={tmp_path}/c")
    final = run(compose_config(*cfg))
    cached = list((data_dir / "lossbench_cache" / "fd_classifier").glob("olivetti-*-d8.pt"))
    assert len(cached) == 1
    client = MlflowClient(store)
    (r,) = client.search_runs([client.get_experiment_by_name("wgan").experiment_id])
    assert r.info.status == "FINISHED" and r.info.run_name == "wgan-olivetti_gan-wgan-s0"
    for key in ("fd", "nn_train_distance", "critic_w_estimate", "gen_classes"):
        assert [m.step for m in client.get_metric_history(r.info.run_id, key)] == [0, 1, 2], key
    m = r.data.metrics
    assert m["final_fd"] == final["final_fd"] > 0 and m["fd_real_floor"] > 0
    assert m["nn_train_distance_real"] > 0 and m["final_nn_train_distance"] > 0
    samples = {a.path for a in client.list_artifacts(r.info.run_id, "samples")}
    assert samples == {"samples/nearest_train.png"} | {
        f"samples/step_{s:06d}.png" for s in (0, 1, 2)}
    # a second run reuses the cached feature classifier: training it again would fail here
    def no_training(*a, **k):
        raise AssertionError("the face feature classifier was trained again")

    monkeypatch.setattr(features, "train_classifier", no_training)
    again = run(compose_config(*cfg, "tracking.enabled=false",
                               f"trainer.checkpoint_dir={tmp_path}/c2"))
    assert again["final_fd"] == pytest.approx(final["final_fd"])
