"""Classification data, metrics and end-to-end runs on data the tests write."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn import metrics as skm

from lossbench.app import run
from lossbench.data import DataNotFoundError
from lossbench.schema import ConfigError
from lossbench.tasks.supervised.data import imbalanced_images, spambase, subsample_positives
from lossbench.data.images import load_idx_images, read_idx
from lossbench.tasks.supervised.metrics import classification_metrics, expected_calibration_error, recall_at_precision
from tests.conftest import compose_config
from tests.fakedata import fake_mnist, fake_spambase, write_idx

TINY_CNN = ("model.channels=[4,8]", "model.hidden=16")


# ------------------------------------------------------------------ metrics
def test_ece_by_hand():
    # binary probabilities 0.9 (right), 0.9 (wrong), 0.6 (right), 0.3 -> predicts 0 (right)
    y, p = np.array([1, 0, 1, 0]), np.array([0.9, 0.9, 0.6, 0.3])
    # bins: conf 0.9 x2 (acc 0.5) -> |0.5-0.9|*2/4 ; conf 0.6 (acc 1) -> 0.4/4 ; conf 0.7 -> 0.3/4
    assert expected_calibration_error(y, p) == pytest.approx(0.2 + 0.1 + 0.075)


def test_recall_at_precision():
    y = np.array([1, 1, 0, 1, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    assert recall_at_precision(y, s, 0.9) == pytest.approx(2 / 3)
    assert recall_at_precision(y, s, 0.7) == pytest.approx(1.0)  # precision 3/4 at s >= 0.6


def test_classification_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(y * 0.6 + rng.random(200) * 0.4, 0, 1)
    m = classification_metrics(y, p)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert m["average_precision"] == pytest.approx(skm.average_precision_score(y, p))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, p), rel=1e-6)
    assert m["f1"] == pytest.approx(skm.f1_score(y, p >= 0.5))
    probs = rng.dirichlet(np.ones(4), 100)
    y4 = rng.integers(0, 4, 100)
    m4 = classification_metrics(y4, probs)
    assert m4["accuracy"] == pytest.approx(skm.accuracy_score(y4, probs.argmax(1)))
    assert m4["roc_auc"] == pytest.approx(skm.roc_auc_score(y4, probs, multi_class="ovr"))


def test_undefined_metrics_are_nan_not_a_crash():
    m = classification_metrics(np.zeros(10, dtype=int), np.linspace(0.1, 0.4, 10))
    assert np.isnan(m["roc_auc"]) and np.isnan(m["recall_at_90_precision"])


# ------------------------------------------------------------------ data
def test_read_idx_round_trip(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a-idx3-ubyte.gz", arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "a-idx3-ubyte.gz"), arr)


def test_mnist_with_only_the_test_split_is_carved_into_splits(tmp_path):
    fake_mnist(tmp_path, "MNIST", n_test=300, splits=("t10k",))
    images = load_idx_images("mnist", str(tmp_path), download=False)
    assert "test split only" in images.source
    assert len(images.y_train) + len(images.y_test) == 300


def test_missing_fashion_mnist_offline_says_how_to_get_it(tmp_path, monkeypatch):
    import lossbench.data.images as images

    monkeypatch.setitem(images.IDX_SETS, "fashion_mnist", ("FashionMNIST", ()))  # no Debian dir
    with pytest.raises(DataNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
        load_idx_images("fashion_mnist", str(tmp_path), download=False)


def test_missing_mnist_offline_fails_with_instructions(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load_idx_images("mnist", str(tmp_path), download=False)
    assert str(tmp_path / "MNIST" / "raw") in str(err.value) and "download=true" in str(err.value)


def test_subsample_positives_hits_the_rate():
    y = np.array([1] * 100 + [0] * 990)
    x = np.arange(len(y))
    xs, ys = subsample_positives(x, y, 0.01, np.random.default_rng(0))
    assert ys.sum() == 10 and (ys == 0).sum() == 990
    with pytest.raises(ValueError, match="needs"):
        subsample_positives(x, y, 0.5, np.random.default_rng(0))


def test_imbalanced_images_same_positive_rate_in_every_split(tmp_path):
    fake_mnist(tmp_path, n_train=3000, n_test=1000)
    s = imbalanced_images(str(tmp_path), False, dataset="fashion_mnist", val_fraction=0.2,
                          split_seed=0, positive_class=3, positive_rate=0.05, num_classes=2,
                          max_train=None)
    for part in ("train", "val", "test"):
        y = s.split(part)[1]
        assert set(np.unique(y)) == {0, 1}
        assert y.mean() == pytest.approx(0.05, abs=0.005), part
    assert s.x_train.shape[1:] == (1, 28, 28)


SPAM = dict(val_fraction=0.2, test_fraction=0.2, split_seed=0, num_classes=2, positive_rate=None,
            label_noise=0.0, train_positive_rate=None)


def test_spambase_reads_the_uci_csv_and_stratifies(tmp_path):
    fake_spambase(tmp_path)
    s = spambase(str(tmp_path), False, **SPAM)
    assert s.x_train.shape[1] == 57
    for part in ("train", "val", "test"):
        assert s.split(part)[1].mean() == pytest.approx(0.4, abs=0.02)
    with pytest.raises(DataNotFoundError, match="spambase.data"):
        spambase(str(tmp_path / "empty"), False, **SPAM)


def test_a_loader_refuses_a_class_count_its_labels_do_not_have(tmp_path):
    fake_spambase(tmp_path)
    with pytest.raises(ConfigError, match=r"num_classes: must be 2 \(the classes of spambase"):
        spambase(str(tmp_path), False, **{**SPAM, "num_classes": 3})


# ------------------------------------------------------------------ end to end
def _runs(store, experiment):
    client = MlflowClient(store)
    return client, client.search_runs([client.get_experiment_by_name(experiment).experiment_id])


def test_spam_scenario_end_to_end(tmp_path, store):
    fake_spambase(tmp_path)
    final = run(compose_config("scenario=spam", f"data_dir={tmp_path}", "download=false",
                               "trainer.epochs=3", f"tracking.uri={store}"))
    assert final["final_test_accuracy"] > 0.8
    client, (r,) = _runs(store, "spam")
    for key in ("val_accuracy", "val_balanced_accuracy", "val_f1", "val_precision", "val_recall",
                "val_roc_auc", "val_average_precision", "val_log_loss", "val_ece",
                "val_recall_at_90_precision"):
        assert [m.step for m in client.get_metric_history(r.info.run_id, key)] == [1, 2, 3], key
    # the test split is scored once, at the end, on the restored best weights
    assert "test_accuracy" not in r.data.metrics
    assert r.data.metrics["final_test_recall_at_90_precision"] == \
        pytest.approx(final["final_test_recall_at_90_precision"])
    plots = {a.path for a in client.list_artifacts(r.info.run_id, "plots")}
    assert {"plots/confusion_matrix.png", "plots/precision_recall.png"} <= plots


def test_mnist_scenario_on_bundled_digits_learns(store):
    final = run(compose_config("scenario=mnist", "data=digits", "trainer.epochs=6",
                               "trainer.batch_size=32", "optimizer.lr=0.01",
                               f"tracking.uri={store}", *TINY_CNN))
    assert final["final_test_accuracy"] > 0.7
    client, (r,) = _runs(store, "mnist")
    assert "plots/precision_recall.png" not in {a.path for a in client.list_artifacts(
        r.info.run_id, "plots")}  # multiclass: confusion matrix only


@pytest.mark.parametrize("loss", ["bce", "weighted_bce", "focal", "hinge"])
def test_cancer_screening_learns_with_every_binary_loss(tmp_path, loss):
    fake_mnist(tmp_path, n_train=1500, n_test=500)
    final = run(compose_config("scenario=cancer_screening", f"loss={loss}",
                               f"data_dir={tmp_path}", "download=false", "data.max_train=null",
                               "data.positive_rate=0.05", "trainer.epochs=2",
                               "tracking.enabled=false", *TINY_CNN))
    # at 5 % positives an untrained scorer's average precision is about 0.05; the fake images'
    # positive class is one bright band, which each loss learns in 2 epochs (1.0 for all four)
    assert final["final_test_average_precision"] > 0.9, loss


@pytest.mark.parametrize("loss", ["ce", "sparse_ce", "weighted_ce", "kl_div", "ce_smooth",
                                  "brier", "multi_hinge", "softmax_focal"])
def test_multiclass_losses_train_on_digits(loss):
    final = run(compose_config("scenario=mnist", "data=digits", f"loss={loss}",
                               "trainer.epochs=3", "trainer.batch_size=32", "optimizer.lr=0.01",
                               "tracking.enabled=false", *TINY_CNN))
    assert final["final_test_accuracy"] > 0.5, loss  # chance: 0.1


def test_prior_bias_init_is_logged_with_the_training_rate(tmp_path, store):
    fake_mnist(tmp_path, n_train=1500, n_test=500)
    run(compose_config("scenario=cancer_screening", "loss=bce", f"data_dir={tmp_path}",
                       "download=false", "data.max_train=null", "data.positive_rate=0.05",
                       "trainer.epochs=1", f"tracking.uri={store}", *TINY_CNN))
    _, (r,) = _runs(store, "cancer_screening")
    pi = int(r.data.tags["data.positives_train"]) / int(r.data.tags["data.n_train"])
    assert float(r.data.tags["model.initial_bias"].strip("[]")) == pytest.approx(
        -np.log((1 - pi) / pi), abs=1e-4)


FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(not __import__("os").path.isdir(FASHION), reason="no Debian Fashion-MNIST")
def test_cancer_screening_quick_split_holds_enough_positives_to_score_recall():
    """Recall at 90 % precision needs positives: the quick budget's test split holds >= 90."""
    from tests.infra.test_experiments import compose_study

    cfg, _ = compose_study("+experiment=cancer_screening", "profile=quick", "download=false")
    from hydra.utils import instantiate

    s = instantiate(cfg.data, data_dir="/nonexistent", download=False)  # Debian's copy
    assert s.info["positives_test"] >= 90 and s.info["n_test"] == 9091
    # quick trains on 10,000 images: about 90 positives at 1 %; validation is 10 % of them
    assert s.info["positives_train"] >= 85 and s.info["positives_val"] >= 8
