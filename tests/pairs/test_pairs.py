"""Face verification: contrastive loss values and gradients, the pair / triplet sampler,
identity-disjoint splits, verification metrics, the loss mapping and a tiny end-to-end run."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from mlflow import MlflowClient
from sklearn.utils import Bunch

import lossbench.tasks.pairs.data as faces
from lossbench.app import run
from lossbench.config import ConfigError, validate
from lossbench.data import DataNotFoundError
from lossbench.tasks.pairs.data import (identity_folds, lfw_pairs, normalized_splits, olivetti,
                                        pair_data)
from lossbench.tasks.pairs.sampler import PairPool, PairSampler
from lossbench.tasks.pairs.losses import ContrastiveLoss, contrastive_loss
from lossbench.tasks.pairs.models import EmbeddingCNN
from lossbench.tasks.pairs.run import build_loss, loss_spec
from lossbench.tasks.pairs.metrics import best_threshold, equal_error_rate, verification_metrics
from tests.conftest import SHARED_DATA, compose_config
from tests.fakedata import fake_faces

F64 = torch.float64


def _pair(d: float, dim: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Two embeddings at Euclidean distance ``d``."""
    e1 = torch.zeros(1, dim, dtype=F64)
    e2 = torch.zeros(1, dim, dtype=F64)
    e2[0, 0] = d
    return e1, e2


# --------------------------------------------------------------------------- contrastive loss
@pytest.mark.parametrize("d, same, margin, expected", [
    (0.5, 1, 1.0, 0.125),          # d^2 / 2
    (5.0, 1, 1.0, 12.5),
    (0.5, 0, 1.0, 0.125),          # (1 - 0.5)^2 / 2
    (0.5, 0, 2.0, 1.125),          # (2 - 0.5)^2 / 2
    (0.0, 1, 1.0, 0.0),
    (0.0, 0, 1.0, 0.5),            # m^2 / 2
    (1.5, 0, 1.0, 0.0),            # d > m: dissimilar pair costs nothing
    (1.0, 0, 1.0, 0.0),
])
def test_contrastive_loss_hand_values(d, same, margin, expected):
    e1, e2 = _pair(d)
    loss = ContrastiveLoss(margin=margin)(e1, e2, torch.tensor([same]))
    assert loss.item() == pytest.approx(expected, abs=1e-9)


def test_contrastive_loss_on_a_3_4_5_pair_and_reductions():
    e1 = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]], dtype=F64)
    e2 = torch.tensor([[3.0, 4.0], [0.3, 0.4], [0.3, 0.4]], dtype=F64)  # d = 5, 0.5, 0.5
    same = torch.tensor([1, 1, 0])
    per = ContrastiveLoss(margin=1.0, reduction="none")(e1, e2, same)
    torch.testing.assert_close(per, torch.tensor([12.5, 0.125, 0.125], dtype=F64))
    assert ContrastiveLoss(margin=1.0)(e1, e2, same).item() == pytest.approx(12.75 / 3)
    assert ContrastiveLoss(margin=1.0, reduction="sum")(e1, e2, same).item() == pytest.approx(12.75)


@pytest.mark.parametrize("same", [0, 1])
def test_contrastive_gradient_is_finite_at_zero_distance(same):
    e1, e2 = (e.requires_grad_(True) for e in _pair(0.0))
    loss = ContrastiveLoss(margin=1.0)(e1, e2, torch.tensor([same]))
    loss.backward()
    assert torch.isfinite(e1.grad).all() and torch.isfinite(e2.grad).all()
    torch.testing.assert_close(e1.grad, torch.zeros_like(e1))  # no direction at d = 0
    naive = torch.zeros(1, requires_grad=True)
    torch.sqrt(naive).backward()
    assert torch.isinf(naive.grad).all()  # what a bare sqrt of d^2 gives


def test_contrastive_gradient_matches_the_derivative():
    # similar: d(d^2/2)/de1 = e1 - e2; dissimilar with d < m: -(m - d) (e1 - e2) / d
    e1 = torch.tensor([[0.1, 0.2]], dtype=F64, requires_grad=True)
    e2 = torch.tensor([[0.4, 0.6]], dtype=F64)  # d = 0.5
    diff = (e1 - e2).detach()
    ContrastiveLoss(margin=1.0)(e1, e2, torch.tensor([1])).backward()
    torch.testing.assert_close(e1.grad, diff)
    e1.grad = None
    ContrastiveLoss(margin=1.0)(e1, e2, torch.tensor([0])).backward()
    torch.testing.assert_close(e1.grad, -(1.0 - 0.5) * diff / 0.5)
    e1.grad = None
    ContrastiveLoss(margin=0.4)(e1, e2, torch.tensor([0])).backward()  # d > m
    torch.testing.assert_close(e1.grad, torch.zeros_like(e1))


def test_contrastive_functional_takes_squared_distances():
    out = contrastive_loss(torch.tensor([0.25, 0.25, 4.0]), torch.tensor([1, 0, 0]), margin=1.0)
    torch.testing.assert_close(out, torch.tensor([0.125, 0.125, 0.0]))


def test_loss_configs_and_margin_override():
    loss = build_loss(compose_config("loss=contrastive").loss)
    assert isinstance(loss, ContrastiveLoss) and loss.margin == 1.0
    assert build_loss(compose_config("loss=contrastive", "loss.margin=0.5").loss).margin == 0.5
    cos = build_loss(compose_config("loss=cosine_embedding").loss)
    assert isinstance(cos, torch.nn.CosineEmbeddingLoss) and cos.margin == 0.0
    tri = build_loss(compose_config("loss=triplet").loss)
    assert isinstance(tri, torch.nn.TripletMarginLoss) and (tri.margin, tri.p) == (1.0, 2.0)


@pytest.mark.parametrize("overrides, key", [
    (("loss=contrastive", "loss.margin=-1"), "loss.margin"),
    (("loss=cosine_embedding", "loss.margin=1.5"), "loss.margin"),
    (("loss=triplet", "loss.margin=0"), "loss.margin"),
    (("data.positive_fraction=1.0",), "data.positive_fraction"),
    (("data.image_size=20",), "data.image_size"),
    (("data.fold=5",), "data.fold"),
    (("data.folds=1",), "data.folds"),
    (("model.embedding_dim=0",), "model.embedding_dim"),
])
def test_bad_pair_values_fail_validation_naming_the_key(overrides, key):
    cfg = compose_config("scenario=face_verification", *overrides)
    with pytest.raises(ConfigError, match=key.replace("+", r"\+")):
        validate(cfg)


@pytest.mark.parametrize("overrides, match", [
    (("loss=mse",), "loss=mse does not fit face_verification .* use a pair loss"),
    (("loss=wgan",), "loss=wgan does not fit face_verification"),
    (("model=mlp",), "model=mlp does not fit face_verification"),
    (("data=california",), "data=california does not fit .* data=olivetti, data=lfw_pairs or "
                            "data=mnist_pairs"),
    (("data=lfw_pairs", "loss=triplet"), "loss=triplet needs triplets, but data=lfw_pairs"),
])
def test_unfit_loss_or_data_is_refused_before_loading(store, monkeypatch, overrides, match):
    import lossbench.app as app

    monkeypatch.setattr(app, "load_data", lambda cfg: pytest.fail("data was loaded"))
    cfg = compose_config("scenario=face_verification", f"tracking.uri={store}", *overrides)
    with pytest.raises(ConfigError, match=match):
        app.run(cfg)


def test_face_verification_scenario_is_the_guides_row():
    cfg = compose_config("scenario=face_verification")
    validate(cfg)
    assert (cfg.name, cfg.task, cfg.loss_name) == ("face_verification", "pairs", "contrastive")
    assert cfg.loss.margin == 1.0 and cfg.optimizer._target_ == "torch.optim.Adam"
    assert loss_spec(cfg).examples == "pairs" and loss_spec(cfg).distance == "euclidean"
    assert cfg.data._target_ == "lossbench.tasks.pairs.data.olivetti"
    assert (cfg.trainer.monitor, cfg.trainer.monitor_mode) == ("val_roc_auc", "max")


# --------------------------------------------------------------------------- sampler
LABELS = np.repeat(np.arange(6), [5, 5, 4, 3, 2, 1])  # uneven, one identity with a single image


def test_pairs_are_balanced_and_labelled_by_identity():
    idx, same = PairSampler(LABELS, seed=0).pairs(1000, positive_fraction=0.3)
    assert idx.shape == (1000, 2) and same.sum() == 300
    np.testing.assert_array_equal(LABELS[idx[:, 0]] == LABELS[idx[:, 1]], same == 1)
    assert np.all(idx[same == 1, 0] != idx[same == 1, 1])  # never an image with itself
    assert 0 < same[:500].sum() < 300  # shuffled, not all positives first
    assert len(np.unique(LABELS[idx[same == 0]])) == 6  # every identity shows up in negatives


def test_sampler_is_reproducible_by_seed():
    a, b, c = (PairSampler(LABELS, seed=s) for s in (3, 3, 4))
    for _ in range(2):  # epoch after epoch
        (ia, sa), (ib, sb), (ic, _) = a.pairs(200), b.pairs(200), c.pairs(200)
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(sa, sb)
        assert not np.array_equal(ia, ic)
    np.testing.assert_array_equal(a.triplets(50), b.triplets(50))


def test_triplets_have_a_positive_and_a_negative():
    t = PairSampler(LABELS, seed=1).triplets(500)
    a, p, n = LABELS[t[:, 0]], LABELS[t[:, 1]], LABELS[t[:, 2]]
    assert np.all(a == p) and np.all(t[:, 0] != t[:, 1]) and np.all(a != n)
    assert 5 not in a  # the single-image identity cannot anchor a triplet
    assert len(np.unique(t[:, 1])) > 10  # positives vary


def test_sampler_needs_two_identities_and_a_positive():
    with pytest.raises(ValueError, match="2 identities"):
        PairSampler(np.zeros(5), seed=0)
    with pytest.raises(ValueError, match="no positive"):
        PairSampler(np.arange(5), seed=0)


# --------------------------------------------------------------------------- splits
PEOPLE = np.repeat(np.arange(40), 10)


def _people(parts):
    return [set(PEOPLE[p].tolist()) for p in parts]


def test_identity_folds_are_disjoint_and_test_every_person_once():
    tested = []
    for fold in range(5):
        parts = identity_folds(PEOPLE, 5, fold, 0.25, seed=0)
        train, val, test = _people(parts)
        assert (len(train), len(val), len(test)) == (24, 8, 8)
        assert not train & val and not train & test and not val & test  # no person in two
        assert sorted(np.concatenate(parts).tolist()) == list(range(400))  # every image once
        tested.append(test)
    assert set().union(*tested) == set(range(40))  # the folds cover all 40 people ...
    assert sum(len(t) for t in tested) == 40  # ... each in exactly one test fold


def test_the_fold_changes_the_test_people_and_the_seed_fixes_them():
    folds = [_people(identity_folds(PEOPLE, 5, k, 0.25, seed=0))[2] for k in range(5)]
    assert all(folds[i] != folds[j] for i in range(5) for j in range(i + 1, 5))
    again = identity_folds(PEOPLE, 5, 2, 0.25, seed=0)
    for a, b in zip(again, identity_folds(PEOPLE, 5, 2, 0.25, seed=0)):
        np.testing.assert_array_equal(a, b)
    assert _people(identity_folds(PEOPLE, 5, 2, 0.25, seed=1))[2] != folds[2]
    with pytest.raises(ValueError, match="fold must be in 0..4"):
        identity_folds(PEOPLE, 5, 5, 0.25, seed=0)


def test_uneven_folds_and_validation_stay_disjoint():
    labels = np.repeat(np.arange(12), 3)
    sizes = [len(_test) for _test in (set(labels[identity_folds(labels, 5, k, 0.25, 3)[2]])
                                      for k in range(5))]
    assert sorted(sizes) == [2, 2, 2, 3, 3] and sum(sizes) == 12


def test_pair_data_adds_fixed_balanced_eval_pairs_within_each_split():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 4)
    x = rng.random((40, 8, 8)).astype(np.float32)
    parts = identity_folds(labels, 5, 0, 0.25, seed=0)
    s = normalized_splits(x, labels, parts)
    assert s.x_train.shape == (24, 1, 8, 8)
    assert abs(float(s.x_train.mean())) < 1e-5 and abs(float(s.x_train.std()) - 1) < 1e-4
    data = pair_data(s, positive_fraction=0.5, pairs_per_epoch=64, eval_pairs=30, split_seed=0)
    again = pair_data(s, positive_fraction=0.5, pairs_per_epoch=64, eval_pairs=30, split_seed=0)
    for part in ("val", "test"):
        idx, same = data.eval_pairs[part]
        y = s.split(part)[1]
        assert same.sum() == 15 and idx.max() < len(y)
        np.testing.assert_array_equal(y[idx[:, 0]] == y[idx[:, 1]], same == 1)
        np.testing.assert_array_equal(idx, again.eval_pairs[part][0])
    assert data.info["identities_test"] == 2 and data.info["n_train"] == 24


FACES = dict(split_seed=0, folds=5, fold=0, val_fraction=0.25, image_size=32,
             positive_fraction=0.5, pairs_per_epoch=64, eval_pairs=100)
LFW = dict(split_seed=0, val_fraction=0.2, image_size=16, positive_fraction=0.5,
           pairs_per_epoch=64, eval_pairs=1000)


def test_missing_olivetti_offline_is_a_clear_error(tmp_path):
    with pytest.raises(DataNotFoundError, match="olivetti_py3.pkz") as err:
        olivetti(str(tmp_path), False, **FACES)
    assert str(tmp_path / "scikit_learn_data") in str(err.value)


def test_missing_lfw_pairs_offline_is_a_clear_error(tmp_path):
    with pytest.raises(DataNotFoundError, match="LFW pairs .*lfw_home") as err:
        lfw_pairs(str(tmp_path), False, **LFW)
    assert "download=true" in str(err.value)


def fake_lfw(subset: str, n: int, seed: int) -> Bunch:
    """LFW-pairs-shaped fake data: (n, 2, 62, 47) pairs in [0, 1], half of them same-person."""
    rng = np.random.default_rng(seed)
    people = rng.random((n, 62, 47))
    same = (np.arange(n) % 2).astype(np.int64)
    other = np.where(same[:, None, None] == 1, people, rng.random((n, 62, 47)))
    pairs = np.stack([people, other + 0.1 * rng.random((n, 62, 47))], axis=1)
    return Bunch(pairs=pairs.astype(np.float32), target=same)


@pytest.fixture
def fake_lfw_pairs(monkeypatch):
    sizes = {"train": 60, "test": 30}
    monkeypatch.setattr(faces, "fetch_lfw_pairs", lambda subset, resize, **kw:
                        fake_lfw(subset, sizes[subset], seed=len(subset)))


def test_lfw_pairs_keep_the_official_pairs_and_carve_validation(fake_lfw_pairs, tmp_path):
    data = lfw_pairs(str(tmp_path), False, **LFW)
    s = data.splits
    assert s.x_train.shape == (2 * 48, 1, 16, 16) and s.x_test.shape == (2 * 30, 1, 16, 16)
    train_idx, train_same = data.train_pairs
    assert len(train_idx) == 48 and train_same.sum() == pytest.approx(24, abs=6)
    val_idx, val_same = data.eval_pairs["val"]
    assert len(val_idx) == 12 and val_idx.max() == len(s.y_val) - 1
    np.testing.assert_array_equal(data.eval_pairs["test"][1].sum(), 15)
    # a positive pair holds the same picture (up to noise), a negative one does not
    t = s.x_test[data.eval_pairs["test"][0]]
    gap = np.abs(t[:, 0] - t[:, 1]).mean(axis=(1, 2, 3))
    assert gap[data.eval_pairs["test"][1] == 1].max() < gap[data.eval_pairs["test"][1] == 0].min()
    pool = PairPool(train_idx, train_same, seed=0)
    idx, same = pool.pairs(40)
    assert len(set(map(tuple, idx.tolist()))) == 40  # without replacement from 48
    with pytest.raises(ValueError, match="no identities"):
        pool.triplets(4)


def test_face_verification_on_lfw_pairs_trains(store, fake_lfw_pairs):
    final = run(compose_config(*TINY, "data=lfw_pairs", "tracking.enabled=false"))
    assert final["final_test_roc_auc"] > 0.8  # same-picture pairs are easy


@pytest.mark.skipif(not (SHARED_DATA / "scikit_learn_data" / "olivetti_py3.pkz").exists(),
                    reason="no offline Olivetti copy")
def test_real_olivetti_test_people_are_never_seen_in_training():
    tested = set()
    for fold in range(5):
        s = olivetti(str(SHARED_DATA), False, **{**FACES, "fold": fold}).splits
        assert (len(set(s.y_train)), len(set(s.y_val)), len(set(s.y_test))) == (24, 8, 8)
        assert not set(s.y_test) & set(s.y_train) and not set(s.y_val) & set(s.y_train)
        assert not set(s.y_test) & set(s.y_val) and s.x_test.shape == (80, 1, 32, 32)
        tested |= set(s.y_test.tolist())
    assert tested == set(range(40))


# --------------------------------------------------------------------------- metrics
def test_eer_auc_and_threshold_by_hand():
    same = np.array([1, 1, 0, 0])
    assert equal_error_rate(same, np.array([0.1, 0.2, 0.3, 0.4])) == 0.0
    assert equal_error_rate(same, np.array([0.4, 0.3, 0.2, 0.1])) == 1.0
    # sorted 0.1 P, 0.2 N, 0.3 P, 0.4 N: FPR = FNR = 0.5 between 0.2 and 0.3
    assert equal_error_rate(same, np.array([0.1, 0.3, 0.2, 0.4])) == pytest.approx(0.5)
    # a tie at 0.3 makes the ROC step diagonal, from (FPR 0, FNR .5) to (.5, 0): EER .25
    assert equal_error_rate(same, np.array([0.1, 0.3, 0.3, 0.5])) == pytest.approx(0.25)
    dist = np.array([0.1, 0.2, 0.3, 0.4])
    assert best_threshold(same, dist) == pytest.approx(0.2)
    m = verification_metrics(same, dist, threshold=0.2)
    assert m == pytest.approx({"roc_auc": 1.0, "eer": 0.0, "accuracy": 1.0, "pos_dist": 0.15,
                               "neg_dist": 0.35})
    assert verification_metrics(same, dist, threshold=0.35)["accuracy"] == 0.75


# --------------------------------------------------------------------------- model, mapping
def test_embedding_cnn_shared_weights_and_normalisation():
    torch.manual_seed(0)
    x = torch.randn(5, 1, 16, 16)
    model = EmbeddingCNN((1, 16, 16), embedding_dim=7, channels=[4, 8], hidden=16,
                         normalize=True)
    emb = model(x)
    assert emb.shape == (5, 7)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(5))
    torch.testing.assert_close(model(x[:2]), emb[:2])  # one network: same image, same embedding
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 7)  # any size >= 8x8


def test_pair_loss_specs_map_labels_triplets_and_distances():
    torch.manual_seed(0)
    e = torch.randn(6, 3, 4)
    same = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    spec = loss_spec(compose_config("scenario=face_verification"))
    contrastive = ContrastiveLoss(margin=1.0)
    assert spec.examples == "pairs"
    torch.testing.assert_close(spec.batch_loss(contrastive, e[:, :2], same),
                               contrastive(e[:, 0], e[:, 1], same))
    torch.testing.assert_close(spec.distance_fn(e[:, 0], e[:, 1]), (e[:, 0] - e[:, 1]).norm(dim=-1))
    spec = loss_spec(compose_config("scenario=face_verification", "loss=cosine_embedding"))
    cos = torch.nn.CosineEmbeddingLoss()
    torch.testing.assert_close(spec.batch_loss(cos, e[:, :2], same),
                               cos(e[:, 0], e[:, 1], torch.tensor([1, -1, 1, -1, 1, -1])))
    torch.testing.assert_close(spec.distance_fn(e[:, 0], e[:, 1]),
                               1 - torch.nn.functional.cosine_similarity(e[:, 0], e[:, 1], dim=-1))
    spec = loss_spec(compose_config("scenario=face_verification", "loss=triplet", "loss.p=1"))
    tri = torch.nn.TripletMarginLoss(p=1.0)
    assert spec.examples == "triplets"
    torch.testing.assert_close(spec.batch_loss(tri, e, None), tri(e[:, 0], e[:, 1], e[:, 2]))
    torch.testing.assert_close(spec.distance_fn(e[:, 0], e[:, 1]),
                               (e[:, 0] - e[:, 1]).abs().sum(-1), atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------------------- end to end
TINY = ("scenario=face_verification", "trainer.epochs=2", "trainer.patience=0",
        "data.pairs_per_epoch=64", "data.eval_pairs=40", "data.image_size=16",
        "model.channels=[4,8]", "model.hidden=16", "trainer.batch_size=32", "download=false")


@pytest.fixture
def fake_olivetti(monkeypatch):
    monkeypatch.setattr(faces, "fetch_olivetti_faces", lambda **kw: fake_faces())


def test_face_verification_end_to_end_into_mlflow(store, fake_olivetti):
    final = run(compose_config(*TINY, f"tracking.uri={store}", "seed=1"))
    assert 0.0 <= final["final_test_roc_auc"] <= 1.0 and 0.0 <= final["final_test_eer"] <= 1.0
    client = MlflowClient(store)
    exp = client.get_experiment_by_name("face_verification")
    (r,) = client.search_runs([exp.experiment_id])
    assert r.info.status == "FINISHED" and r.info.run_name == "face_verification-contrastive-s1"
    assert r.data.params["loss.margin"] == "1.0" and r.data.params["task"] == "pairs"
    assert r.data.tags["data.identities_disjoint"] == "True"
    assert r.data.params["data.fold"] == "0" and r.data.params["data.folds"] == "5"
    for key in ("train_loss", "val_roc_auc", "val_eer", "val_accuracy", "val_pos_dist",
                "val_neg_dist", "val_threshold"):
        assert [m.step for m in client.get_metric_history(r.info.run_id, key)] == [1, 2], key
    assert "test_roc_auc" not in r.data.metrics  # the test pairs are scored once, at the end
    for key in ("final_test_roc_auc", "final_test_eer", "final_test_accuracy",
                "final_val_roc_auc", "best_epoch"):
        assert key in r.data.metrics
    plots = {a.path for a in client.list_artifacts(r.info.run_id, "plots")}
    assert plots == {"plots/learning_curve.png", "plots/roc_test.png",
                     "plots/test_embeddings_pca.png"}


@pytest.mark.parametrize("loss", ["triplet", "cosine_embedding"])
def test_comparison_losses_run_and_are_reproducible(fake_olivetti, loss):
    cfg = (*TINY, f"loss={loss}", "tracking.enabled=false", "device=cpu")
    first, second = run(compose_config(*cfg)), run(compose_config(*cfg))
    timings = {"train_seconds": first["train_seconds"],
               "seconds_per_epoch": first["seconds_per_epoch"]}
    assert first == pytest.approx({**second, **timings})


def test_contrastive_functional_has_no_default_margin():
    # the margin comes from the config (loss.margin), written once in its schema
    with pytest.raises(TypeError, match="margin"):
        contrastive_loss(torch.tensor([0.25]), torch.tensor([0]))
    torch.testing.assert_close(contrastive_loss(torch.tensor([0.25]), torch.tensor([0]), 1.0),
                               torch.tensor([0.125]))  # (1 - 0.5)^2 / 2


def test_best_threshold_weighs_positives_and_negatives_by_count():
    same = np.array([1, 1, 0, 0, 0])
    dist = np.array([0.1, 0.3, 0.2, 0.6, 0.7])
    # accept d <= 0.1: 4/5 (best, the smaller of a tie); 0.2: 3/5; 0.3: 4/5; 0.6: 3/5
    assert best_threshold(same, dist) == pytest.approx(0.1)
    same = np.array([1, 1, 1, 1, 0])
    dist = np.array([0.1, 0.2, 0.3, 0.9, 0.4])
    # d <= 0.3: 4/5 (best); d <= 0.9: 4/5 too but larger; d <= 0.4: 3/5
    assert best_threshold(same, dist) == pytest.approx(0.3)


def _eer_brute_force(same, dist, steps=20001):
    """Walk the ROC polyline finely; the EER is FPR where |FNR - FPR| is smallest."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(same, -dist)
    t = np.linspace(0, 1, steps)[:, None]
    f = (fpr[:-1] + t * np.diff(fpr)).ravel()
    n = (1 - (tpr[:-1] + t * np.diff(tpr))).ravel()
    return f[np.argmin(np.abs(n - f))]


@pytest.mark.parametrize("seed", range(4))
def test_eer_is_where_the_roc_crosses_fnr_equals_fpr(seed):
    rng = np.random.default_rng(seed)
    same = rng.integers(0, 2, 30)
    dist = rng.random(30) + 0.3 * (1 - same)
    assert equal_error_rate(same, dist) == pytest.approx(_eer_brute_force(same, dist), abs=1e-3)
