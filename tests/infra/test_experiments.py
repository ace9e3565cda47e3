"""experiments/: one Hydra experiment per case study (+experiment=<study>), profile=quick|full."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient
from omegaconf import OmegaConf

from lossbench.config import EXPERIMENTS_DIR, ConfigError, validate
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
    "pairing": ("final_test_accuracy", "ce", {"ce", "mismatch_softmax_bce",
                                              "mismatch_sigmoid_ce", "mismatch_mse_logits"}),
    "overflow": ("final_diverged", "bce", {"bce", "naive_bce", "sparse_ce", "naive_ce"}),
    "sparse_memory": ("final_peak_bytes", "sparse_ce", {"sparse_ce", "ce"}),
    "class_weights": ("final_test_balanced_accuracy", "weighted_bce", {"weighted_bce", "bce"}),
}


SEEDS = {"mnist": "range(3)", "face_verification": "range(2)",  # x 5 folds
         "wgan": "range(30)", "overflow": "range(6)"}


compose_study = compose_with_hydra  # (job config, hydra config), like lossbench -m


def test_every_study_has_an_experiment_file():
    assert {p.stem for p in (EXPERIMENTS_DIR / "experiment").glob("*.yaml")} == set(STUDIES)
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


def test_quick_budgets_are_smaller():
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
