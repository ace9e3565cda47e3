"""A study whose arms are not the losses (``study.arm``): the report pairs runs by seed within
each condition with the arm in the loss's place; checked against scipy's paired t-test."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow.entities import Metric, Param
from omegaconf import OmegaConf
from scipy import stats as sps

from lossbench import report
from lossbench.study_schema import StudyConf
from lossbench.schema import ConfigError
from lossbench.tracking import PARENT_TAG
from tests.infra.test_report import Store, empty_db  # noqa: F401 - fixture

SEEDS = range(6)
RNG = np.random.default_rng(12)
BASE = RNG.normal(1.0, 0.3, len(SEEDS))  # per seed: pairing removes it


def sweep(store: Store, experiment: str, study: dict,
          runs: dict[tuple[str, tuple], np.ndarray]) -> None:
    """One finished sweep; ``runs``: (loss, ((param, value), ...)) -> the headline per seed."""
    exp_id = store.experiment(experiment)
    parent = store.client.create_run(exp_id, run_name="sweep",
                                     tags={"lossbench.role": "sweep"}).info.run_id
    config = OmegaConf.to_yaml({"name": experiment, "profile": "quick", "study": study})
    for (loss, params), values in runs.items():
        for seed, value in zip(SEEDS, values):
            store.clock += 10_000
            rid = store.client.create_run(exp_id, start_time=store.clock, tags={
                PARENT_TAG: parent, "loss": loss, "seed": str(seed)}).info.run_id
            p = {"seed": str(seed), "loss_name": loss, "loss._target_": f"x.{loss}", **dict(params)}
            store.client.log_batch(rid, metrics=[Metric(study["headline"], float(value), 0, 1)],
                                   params=[Param(k, v) for k, v in p.items()])
            store.client.log_text(rid, config, "config.yaml")
            store.client.set_terminated(rid, "FINISHED", end_time=store.clock + 2000)
    store.client.set_terminated(parent, "FINISHED")


ADAM = (("optimizer._target_", "torch.optim.Adam"), ("optimizer.momentum", "None"))
SGD = (("optimizer._target_", "torch.optim.SGD"), ("optimizer.momentum", "0.9"))


@pytest.fixture(scope="module")
def arms_store(tmp_path_factory, empty_db):  # noqa: F811 - the fixture imported above
    store = Store(tmp_path_factory.mktemp("arms"), empty_db)
    # C10-like: arm optimizer, the guide's optimizer per loss (mse: adam, mae: sgd)
    opt = {"headline": "final_test_rmse", "headline_mode": "min", "arm": "optimizer",
           "guide_arms": {"mse": "adam", "mae": "sgd"}, "claim": "pairings.",
           "claim_id": "C10"}
    def noise():
        return RNG.normal(0, 0.02, len(SEEDS))

    store.opt = {("mse", "adam"): BASE + noise(), ("mse", "sgd"): BASE + 0.05 + noise(),
                 ("mae", "adam"): BASE + 0.06 + noise(), ("mae", "sgd"): BASE + noise()}
    sweep(store, "pairing", opt, {
        (loss, tuple(ADAM if o == "adam" else SGD)): v for (loss, o), v in store.opt.items()})
    # C12-like: arm trainer.batch_size, crossed with the optimizer; the claim in SGD only
    batch = {"headline": "final_roughness", "headline_mode": "min",
             "arm": "trainer.batch_size", "guide_arm": "512", "claim": "big batches.",
             "claim_id": "C12", "claim_conditions": ["optimizer=SGD"]}
    store.batch = {("512", "SGD"): BASE * 0.1, ("32", "SGD"): BASE * 0.1 + 0.2 + noise(),
                   ("512", "Adam"): BASE * 0.1, ("32", "Adam"): BASE * 0.1 + 0.01 + noise()}
    sweep(store, "batch", batch, {
        ("mse", (("trainer.batch_size", b), *(ADAM if o == "Adam" else SGD))): v
        for (b, o), v in store.batch.items()})
    return store


def _studies(store):
    return {s.name: s for s in report.load_studies(store.client)}


def test_arm_optimizer_pairs_by_seed_within_each_loss(arms_store):
    s = _studies(arms_store)["pairing"]
    assert report.condition_keys(s.runs, "optimizer") == ["loss"]  # optimizer.* follow the arm
    assert set(report.grouped(s)) == {"loss=mae", "loss=mse"}
    rows = {(r.condition, r.guide, r.alternative): r for r in report.loss_comparisons(s)}
    assert set(rows) == {("loss=mae", "sgd", "adam"), ("loss=mse", "adam", "sgd")}
    raw = []
    for (cond, guide, alt), r in rows.items():
        loss = cond.split("=")[1]
        x, y = arms_store.opt[(loss, guide)], arms_store.opt[(loss, alt)]
        ref = sps.ttest_rel(x, y, alternative="less")  # min: the guide's arm lower
        assert r.test.n == len(SEEDS) and r.in_claim and r.family == 2
        assert r.test.mean_diff == pytest.approx(np.mean(x - y))
        assert r.test.p_value == pytest.approx(ref.pvalue, rel=1e-9)
        raw.append(r.test.p_value)
    adjusted = sorted(r.test.p_adjusted for r in rows.values())
    assert adjusted[0] == pytest.approx(2 * min(raw))  # Holm over the two losses
    assert report.claim_verdict(list(rows.values())) == "supported"
    assert report.optimizer_comparisons(s) == []  # the arm's own comparisons are these


def test_claim_conditions_and_a_param_arm(arms_store):
    s = _studies(arms_store)["batch"]
    assert report.condition_keys(s.runs, s.arm) == ["optimizer._target_"]
    rows = {r.condition: r for r in report.loss_comparisons(s)}
    assert set(rows) == {"optimizer=SGD", "optimizer=Adam"}
    sgd, adam = rows["optimizer=SGD"], rows["optimizer=Adam"]
    assert (sgd.guide, sgd.alternative) == ("512", "32")
    assert sgd.in_claim and sgd.family == 1 and not adam.in_claim
    x, y = arms_store.batch[("512", "SGD")], arms_store.batch[("32", "SGD")]
    assert sgd.test.p_value == pytest.approx(sps.ttest_rel(x, y, alternative="less").pvalue)
    assert sgd.test.p_adjusted == pytest.approx(sgd.test.p_value)  # a family of one
    assert adam.test.p_adjusted is None


def test_render_names_the_arm(arms_store, tmp_path):
    studies = report.load_studies(arms_store.client)
    text = report.render(studies, tmp_path / "R.md", arms_store.uri, plots=False)
    assert "| condition | optimizer | seeds | mean | 95 % CI |" in text
    assert "| loss=mae | **sgd** | 6 |" in text and "| loss=mse | **adam** | 6 |" in text
    assert "| condition | trainer.batch_size | seeds | mean | 95 % CI |" in text
    assert ("the guide's optimizer (loss=mae: sgd; loss=mse: adam) against adam, sgd in "
            "loss=mae, loss=mse" in text)
    assert "the guide's trainer.batch_size (512) against 32 in optimizer=SGD" in text
    assert "`study.arm`" in text  # the decision rule says how such a study is judged
    # --check reads these tables back like the loss studies'
    assert report.check(studies, text) == []


def test_study_conf_arm_rules():
    def conf(**kw):
        base = {"headline": "final_x", "claim": "c.", "claim_id": "C10"}
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(StudyConf),
                                                   {**base, **kw}))

    assert conf(guide_loss="mse").arm == "loss"
    with pytest.raises(ConfigError, match="study.guide_loss"):
        conf()
    with pytest.raises(ConfigError, match="study.guide_arm"):
        conf(arm="optimizer")
    with pytest.raises(ConfigError, match="study.guide_arm"):
        conf(guide_loss="mse", guide_arm="adam")  # arm=loss: the guide is guide_loss
    with pytest.raises(ConfigError, match="study.claim_against"):
        conf(arm="optimizer", guide_arm="adam", claim_against=["adam"])
    c = conf(arm="optimizer", guide_arm="adam", guide_arms={"mae": "sgd"})
    assert c.guide_for({"loss": "mae"}) == "sgd" and c.guide_for({"loss": "mse"}) == "adam"
