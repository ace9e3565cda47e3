"""A tiny seeded WGAN run on 8 Gaussians whose W1 must fall below its step-0 value, and must
reproduce its reference metrics (tests/reference/metrics.json; ``pytest --update-reference``
rewrites it)."""

from __future__ import annotations

import pytest

from lossbench.app import run
from tests.conftest import CPU, compose_config, recording

TINY = ("scenario=wgan", "data=gaussians8", "data.n_train=2000", "data.n_eval=500",
        "trainer.steps=100", "trainer.eval_every=50", "trainer.batch_size=64")


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """(final metrics, W1 history) of one tiny run."""
    ckpt = tmp_path_factory.mktemp("gan")
    with pytest.MonkeyPatch.context() as mp:
        log = recording(mp)
        final = run(compose_config(*CPU, *TINY, f"trainer.checkpoint_dir={ckpt}"))
    return final, log.history["w1"]


def test_w1_falls_below_its_step_0_value(job):
    final, w1 = job
    assert [step for step, _ in w1] == [0, 50, 100]
    assert final["final_w1"] == w1[-1][1] < 0.8 * w1[0][1]


def test_tiny_run_matches_reference(job, reference):
    reference.check("wgan_gaussians8", job[0])
