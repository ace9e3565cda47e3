"""experiments/: one Hydra experiment per case study (+experiment=<study>), profile=quick|full."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient
from omegaconf import OmegaConf

from lossbench.config import ConfigError, validate
from lossbench.study_schema import EXPERIMENTS_DIR
from tests.conftest import SHARED_DATA, compose_with_hydra

ROOT = Path(__file__).resolve().parents[2]
STUDIES = {  # study -> (headline, guide loss, losses swept)
    "house_price": ("final_test_rmse", "mse", {"mse", "mae", "huber", "log_cosh"}),
    "power_outliers": ("final_test_rmse", "huber", {"mse", "mae", "huber", "log_cosh"}),
    "spam": ("final_test_roc_auc", "bce", {"bce", "hinge", "focal"}),
    "mnist": ("final_test_accuracy", "ce", {"ce", "sparse_ce", "kl_div", "ce_smooth", "brier",
                                            "multi_hinge", "softmax_focal"}),
    "cancer_screening": ("final_test_average_precision", "focal",
                         {"focal", "bce", "weighted_bce"}),
    "face_verification": ("final_test_roc_auc", "contrastive",
                          {"contrastive", "triplet", "cosine_embedding"}),
    "wgan": ("final_collapsed", "wgan", {"wgan", "wgan_gp", "wgan_gp_paper", "gan"}),
    "outliers_mae": ("final_test_rmse", "mae", {"mae", "mse"}),
    "skewed_median": ("final_test_dist_median", "mae", {"mae", "mse"}),
    "skewed_mean": ("final_test_dist_mean", "mse", {"mse", "mae"}),
    "spam_hinge": ("final_test_roc_auc", "hinge", {"hinge", "bce"}),
    "focal_noise": ("final_test_roc_auc", "focal", {"focal", "bce"}),
    "pairing": ("final_test_accuracy", "ce", {"ce", "mismatch_softmax_bce",
                                              "mismatch_sigmoid_ce", "mismatch_mse_logits"}),
    "overflow": ("final_diverged", "bce", {"bce", "naive_bce", "sparse_ce", "naive_ce"}),
    "sparse_memory": ("final_peak_bytes", "sparse_ce", {"sparse_ce", "ce"}),
    "class_weights": ("final_test_balanced_accuracy", "weighted_bce", {"weighted_bce", "bce"}),
}
# studies whose sweep crosses the losses with a share of flipped training labels
LABEL_NOISE = {"spam_hinge": [0.0, 0.1], "focal_noise": [0.0, 0.1, 0.3]}


# studies whose arm is not the loss: study -> (headline, arm, the arm's swept values,
# the guide's arm per condition value (None: study.guide_arm), other swept keys)
ARM_STUDIES = {
    "optimizer_pairing": ("final_test_rmse", "optimizer", {"adam", "sgd"},
                          {"mse": "adam", "mae": "sgd"}, {"loss": {"mse", "mae"}}),
    "standardization": ("final_test_rmse", "data.standardize_features", {"true", "false"},
                        None, {}),
    "batch_size": ("final_roughness_val_rmse", "trainer.batch_size", {"32", "512"}, None,
                   {"optimizer": {"adam", "sgd"}}),
    "overfitting": ("final_test_mae", "trainer.monitor", {"val_rmse", "train_loss"}, None, {}),
}


SEEDS = {"mnist": "range(3)", "face_verification": "range(2)",  # x 5 folds
         "wgan": "range(30)", "overflow": "range(6)"}


compose_study = compose_with_hydra  # (job config, hydra config), like lossbench -m


def test_every_study_has_an_experiment_file():
    assert {p.stem for p in (EXPERIMENTS_DIR / "experiment").glob("*.yaml")} == \
        set(STUDIES) | set(ARM_STUDIES)
    assert {p.stem for p in (EXPERIMENTS_DIR / "profile").glob("*.yaml")} == {"quick", "full"}


@pytest.mark.parametrize("profile", ["quick", "full"])
@pytest.mark.parametrize("study", sorted(STUDIES))
def test_study_composes_validates_and_sweeps_losses_and_seeds(study, profile):
    cfg, hydra_cfg = compose_study(f"+experiment={study}", f"profile={profile}")
    validate(cfg)
    headline, paired, losses = STUDIES[study]
    assert cfg.study.headline == headline and cfg.study.guide_loss == paired
    assert cfg.study.claim and cfg.profile == profile and cfg.name == study
    params = hydra_cfg.sweeper.params
    assert set(params.loss.split(",")) == losses and paired in losses
    assert params.seed == SEEDS.get(study, "range(5)")
    if study == "face_verification":  # every (seed, fold) is one run
        assert params["data.fold"] == "range(5)" and cfg.data.folds == 5
    assert hydra_cfg.launcher._target_.endswith("JoblibLauncher")
    assert hydra_cfg.sweep.dir.startswith(f"multirun/{study}-{profile}/")
    assert cfg.torch_threads == 1  # parallel jobs: one torch thread each
    for loss, opt in cfg.study.optimizer_pairing.items():
        assert loss in losses and opt in params.optimizer.split(",")
    budget = cfg.study.budget[profile]
    job = OmegaConf.to_container(cfg, resolve=True)
    for key, value in budget.items():  # every budget value reaches the job config
        assert any(value in job[group].values() for group in ("trainer", "data", "model")), key
    if "epochs" in budget:  # a patience as long as the budget would never stop a run early
        assert 0 < budget.patience < budget.epochs


@pytest.mark.parametrize("profile", ["quick", "full"])
@pytest.mark.parametrize("study", sorted(ARM_STUDIES))
def test_arm_study_composes_validates_and_sweeps_its_arm(study, profile):
    """A claim study whose arms are not losses: its arm is swept with the guide's value among
    them, every other swept key is a condition, each run logs the headline's kind of metric."""
    cfg, hydra_cfg = compose_study(f"+experiment={study}", f"profile={profile}")
    validate(cfg)
    headline, arm, values, per_condition, others = ARM_STUDIES[study]
    c = cfg.study
    assert c.headline == headline and c.arm == arm and cfg.name == study and c.claim_id
    params = hydra_cfg.sweeper.params
    assert set(str(params[arm]).split(",")) == values
    assert params.seed == "range(5)" and cfg.torch_threads == 1
    for key, swept in others.items():
        assert set(params[key].split(",")) == swept
    assert set(params) == {arm, "seed", *others}
    guides = dict(c.guide_arms) if per_condition else {"*": c.guide_arm}
    assert guides == (per_condition or {"*": c.guide_arm}) and set(guides.values()) <= values
    if headline.startswith(("final_roughness_", "final_train_", "final_gap_")):
        assert cfg.trainer.diagnostics  # lossbench.curves: only logged with diagnostics
    job = OmegaConf.to_container(cfg, resolve=True)
    for key, value in c.budget[profile].items():  # every budget value reaches the job config
        assert any(job[g].get(key) == value for g in ("trainer", "data", "model")), key


@pytest.mark.parametrize("study", sorted(LABEL_NOISE))
def test_label_noise_studies_cross_the_stated_shares_and_validate_at_each(study):
    cfg, hydra_cfg = compose_study(f"+experiment={study}", "profile=quick")
    shares = [float(v) for v in str(hydra_cfg.sweeper.params["data.label_noise"]).split(",")]
    assert shares == LABEL_NOISE[study] and cfg.data.label_noise == 0.0  # default: clean
    assert cfg.trainer.monitor == "val_roc_auc" and cfg.trainer.monitor_mode == "max"
    for share in shares:
        job, _ = compose_study(f"+experiment={study}", f"data.label_noise={share}")
        validate(job)
        assert job.data.label_noise == share
    bad, _ = compose_study(f"+experiment={study}", "data.label_noise=0.5")  # labels inverted
    with pytest.raises(ConfigError, match="data.label_noise"):
        validate(bad)


@pytest.mark.parametrize("override, key", [("data.noise_sigma=0", "data.noise_sigma"),
                                           ("data.noise_scale=-1", "data.noise_scale"),
                                           ("data.n_test=1", "data.n_test")])
def test_bad_skewed_noise_values_fail_naming_the_key(override, key):
    cfg, _ = compose_study("+experiment=skewed_median", override)
    with pytest.raises(ConfigError, match=key):
        validate(cfg)


def test_c3_studies_judge_the_two_halves_on_identical_runs():
    """skewed_median and skewed_mean differ in their study block (and name) only."""
    median, hm = compose_study("+experiment=skewed_median")
    mean, hmean = compose_study("+experiment=skewed_mean")
    for key in ("data", "model", "optimizer", "trainer"):
        assert median[key] == mean[key], key
    assert set(hm.sweeper.params.loss.split(",")) == set(hmean.sweeper.params.loss.split(","))
    assert median.data._target_.endswith("skewed_noise")


def test_quick_budgets_are_smaller():
    for study in ARM_STUDIES:
        quick, _ = compose_study(f"+experiment={study}", "profile=quick")
        full, _ = compose_study(f"+experiment={study}", "profile=full")
        assert quick.trainer.epochs < full.trainer.epochs, study
    for study in STUDIES:
        quick, _ = compose_study(f"+experiment={study}", "profile=quick")
        full, _ = compose_study(f"+experiment={study}", "profile=full")
        size = "steps" if study == "wgan" else "epochs"
        assert quick.trainer[size] < full.trainer[size], study
    quick, _ = compose_study("+experiment=mnist", "profile=quick")
    full, _ = compose_study("+experiment=mnist", "profile=full")
    assert quick.data.dataset == full.data.dataset == "fashion_mnist"  # offline from Debian
    assert quick.data.max_train == 5000 and full.data.max_train is None  # full: all 54,000


def test_normal_runs_have_no_study():
    cfg, _ = compose_study()
    assert cfg.study is None and cfg.profile is None
    validate(cfg)


@pytest.mark.parametrize("override, key", [
    ("study.headline_mode=lower", "study.headline_mode"),
    ("study.headline=test_rmse", "study.headline"),
    ("+study.budget.huge.epochs=1", "study.budget"),
    ("study.claim_type=better", "study.claim_type"),
    ("study.claim_id=C18", "study.claim_id"),
    ("study.claim_type=equivalence", "study.margin"),  # a margin is required
    ("study.margin=0.01", "study.margin"),              # ... and only with a margin type
])
def test_bad_study_values_fail_naming_the_key(override, key):
    cfg, _ = compose_study("+experiment=house_price", override)
    with pytest.raises(ConfigError, match=key):
        validate(cfg)


def test_experiment_files_share_one_base():
    """The sweep dir, launcher, profile default and seeds are written once, in the base."""
    for path in (EXPERIMENTS_DIR / "experiment").glob("*.yaml"):
        text = path.read_text()
        assert "- /study_base" in text, path.name
        for line in ("seed: range(5)", "hydra/launcher", "/profile:", "sweep:"):
            assert line not in text, (path.name, line)


def test_unknown_study_key_is_rejected():
    with pytest.raises(Exception, match="headlin"):
        compose_study("+experiment=house_price", "study.headlin=x")


def test_experiment_resolves_from_any_working_directory(tmp_path):
    cmd = [sys.executable, "-m", "lossbench", "+experiment=house_price", "profile=quick",
           "--cfg", "hydra"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "seed: range(5)" in proc.stdout and "JoblibLauncher" in proc.stdout


@pytest.mark.skipif(not (SHARED_DATA / "scikit_learn_data").exists(), reason="no shared data")
def test_tiny_study_sweep_then_report(tmp_path):
    """A cut-down house_price study (2 losses x 2 seeds x 1 epoch, 2 parallel jobs) on the real
    data, then ``lossbench report`` on its store."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    store = f"sqlite:///{tmp_path}/mlflow.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "lossbench", "-m", "+experiment=house_price", "profile=quick",
           "loss=mse,mae", "optimizer=adam",  # the command line narrows the study sweep
           "seed=range(2)", "hydra.launcher.n_jobs=2", "trainer.epochs=1",
           "tracking.plots=false", f"tracking.uri={store}", f"data_dir={SHARED_DATA}",
           "download=false", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("house_price").experiment_id])
    children = [r for r in runs if r.data.tags.get("lossbench.role") != "sweep"]
    assert len(runs) == 5 and all(r.info.status == "FINISHED" for r in runs)
    assert {r.data.params["study.guide_loss"] for r in children} == {"mse"}
    assert {r.data.params["torch_threads"] for r in children} == {"1"}
    out = tmp_path / "report" / "REPORT.md"
    rep = subprocess.run([sys.executable, "-m", "lossbench", "report", "--tracking-uri", store,
                          "--out", str(out)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert rep.returncode == 0, rep.stderr[-3000:]
    text = out.read_text()
    assert "## house_price" in text and "| all | mse | mae | 2 |" in text
    assert (out.parent / "house_price.png").exists()
