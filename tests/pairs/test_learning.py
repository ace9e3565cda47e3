"""A tiny seeded face-verification run that must learn and reproduce its reference metrics
(tests/reference/metrics.json; ``pytest --update-reference`` rewrites it)."""

from __future__ import annotations

import pytest

import lossbench.tasks.pairs.data as faces
from lossbench.app import run
from tests.conftest import CPU, compose_config
from tests.fakedata import fake_faces

TINY = ("scenario=face_verification", "download=false", "trainer.epochs=8",
        "trainer.patience=0", "trainer.batch_size=32", "optimizer.lr=0.003",
        "data.pairs_per_epoch=512", "data.eval_pairs=200", "data.image_size=16",
        "model.channels=[4,8]", "model.hidden=16")


def _run(*overrides: str) -> dict[str, float]:
    # faces whose nuisance patterns outweigh identity: an untrained network scores ~0.65
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(faces, "fetch_olivetti_faces",
                   lambda **kw: fake_faces(people=20, per_person=6, nuisance=3))
        return run(compose_config(*CPU, *TINY, *overrides))


@pytest.fixture(scope="module")
def final() -> dict[str, float]:
    return _run()


@pytest.fixture(scope="module")
def final64() -> dict[str, float]:
    """The reference run, in float64: in float32 its 8 epochs amplify rounding into test
    accuracies of 0.535 to 0.585 (200 pairs) by the CPU's convolution kernels (oneDNN's, by
    ISA and memory layout); in float64 channels-last and the default layout, one thread or
    two, agree to 7 digits."""
    return _run("trainer.dtype=float64")


def test_tiny_run_learns(final):
    # 4 unseen test people (fold 0 of 5) make the test AUC noisy (0.63-0.80 over folds, an
    # untrained network ~0.53-0.65); the 4 validation people are scored every epoch
    assert final["final_test_roc_auc"] > 0.6 and final["final_val_roc_auc"] > 0.8
    assert final["final_test_pos_dist"] < final["final_test_neg_dist"]


def test_tiny_run_matches_reference(final64, reference):
    reference.check("face_verification", final64)
