"""Bring your own loss and claim (issue 14): loss=custom / custom_pairs, a loss option in the
user's config dir, the _target_ checks before data loads, the loss-name rule, where a loss
fits, the challenger arm, user claim files, and the example package end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from lossbench import claims, naming, stats
from lossbench.config import ConfigError, validate
from lossbench.study_schema import EXPERIMENTS_DIR
from lossbench.scenarios import check_fit, loss_overrides, where_it_fits
from lossbench.tasks import task_module
from tests.conftest import SHARED_DATA, compose_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = EXPERIMENTS_DIR / "examples" / "robust_losses"
EXAMPLE_CONF = EXAMPLE / "conf"
CLAIM_FILE = EXAMPLE_CONF / "claims" / "cauchy_vs_huber.yaml"


@pytest.fixture
def example_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))


def checked(*overrides: str):
    cfg = compose_config(*overrides)
    validate(cfg)
    task_module(cfg.task).check(cfg)
    return cfg


# --------------------------------------------------------------------------- loss=custom
def test_custom_loss_defaults_to_a_regression_loss_and_is_named_after_its_class():
    cfg = checked("scenario=power_outliers", "loss=custom",
                  "loss._target_=torch.nn.SmoothL1Loss", "+loss.kwargs.beta=0.5")
    assert (cfg.loss.head, cfg.loss.consumes, cfg.loss.target_encoding) == \
        ("any", "values", "value")
    assert cfg.run_name == "power_outliers-SmoothL1Loss-s0"
    from lossbench.tasks.supervised.losses import build_loss

    loss = build_loss(cfg.loss)
    assert type(loss).__name__ == "SmoothL1Loss" and loss.beta == 0.5


def test_custom_classification_loss_with_its_declarations_fits_spam():
    cfg = checked("scenario=spam", "loss=custom", "loss._target_=torch.nn.BCEWithLogitsLoss",
                  "loss.head=binary", "loss.consumes=logits", "loss.target_encoding=binary")
    assert cfg.loss_name == "BCEWithLogitsLoss"


def test_custom_pair_loss_fits_face_verification():
    cfg = checked("scenario=face_verification", "loss=custom_pairs",
                  "loss._target_=torch.nn.TripletMarginLoss", "loss.examples=triplets",
                  "loss.label=none")
    assert cfg.run_name == "face_verification-TripletMarginLoss-s0"


@pytest.mark.parametrize("overrides, message", [
    (("loss=custom",), "loss._target_: must be your loss's import path"),
    (("loss=custom", "loss._target_=torch.nn.MSELoss", "loss.head=banana"),
     "loss.head: must be one of any, binary, multiclass"),
    (("loss=custom", "loss._target_=torch.nn.MSELoss", "loss.consumes=log_probs"),
     "loss.head: must be multiclass when loss.consumes=log_probs"),
    (("loss=custom", "loss._target_=torch.nn.MSELoss", "+loss.kwargs.reduction=sum"),
     "loss.kwargs.reduction: set it as loss.reduction"),
    (("loss=custom_pairs", "loss._target_=torch.nn.TripletMarginLoss", "loss.examples=triplets"),
     "loss.label: must be none exactly when loss.examples=triplets"),
])
def test_bad_declarations_fail_validation_naming_the_key(overrides, message):
    cfg = compose_config("scenario=power_outliers", *overrides)
    with pytest.raises(ConfigError, match=message.replace("+", r"\+")):
        validate(cfg)


@pytest.mark.parametrize("target, extra, message", [
    ("my_pkg.losses.Nope", (), "loss._target_: cannot import my_pkg.losses.Nope "
                               "(ModuleNotFoundError: No module named 'my_pkg')"),
    ("torch.nn.Nope", (), "loss._target_: cannot import torch.nn.Nope (AttributeError: "),
    ("math.pi", (), "loss._target_: math.pi is not callable"),
    ("torch.nn.SmoothL1Loss", ("+loss.kwargs.betta=1",),
     "loss.kwargs.betta: torch.nn.SmoothL1Loss takes no argument 'betta'"),
    ("robust_losses.Cauchy", ("+loss.kwargs.scael=2",),
     "loss.kwargs.scael: robust_losses.Cauchy takes no argument 'scael' "
     "(its arguments: scale, reduction)"),
])
def test_target_that_does_not_import_or_fit_fails_in_check(example_on_path, target, extra,
                                                           message):
    cfg = compose_config("scenario=power_outliers", "loss=custom", f"loss._target_={target}",
                         *extra)
    validate(cfg)
    with pytest.raises(ConfigError) as err:
        task_module(cfg.task).check(cfg)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_loss_needing_an_argument_the_config_lacks_is_refused():
    cfg = compose_config("scenario=power_outliers", "loss=custom",
                         "loss._target_=torch.nn.functional.huber_loss")
    with pytest.raises(ConfigError, match="loss.kwargs.input: .*huber_loss needs 'input'"):
        task_module(cfg.task).check(cfg)


def test_bad_target_stops_the_app_before_data_loads(store, monkeypatch):
    import lossbench.app as app

    monkeypatch.setattr(app, "load_data", lambda cfg: pytest.fail("data was loaded"))
    cfg = compose_config("loss=custom", "loss._target_=my_pkg.Nope", f"tracking.uri={store}")
    with pytest.raises(ConfigError, match="loss._target_: cannot import my_pkg.Nope"):
        app.run(cfg)


# --------------------------------------------------------------------------- name rule
@pytest.mark.parametrize("choice, target, overrides, name", [
    ("huber", "torch.nn.HuberLoss", ["scenario=power_outliers"], "huber"),
    ("mse", "torch.nn.SmoothL1Loss", ["loss=mse", "loss._target_=torch.nn.SmoothL1Loss"],
     "SmoothL1Loss"),
    ("mse", "torch.nn.SmoothL1Loss", ["++loss._target_=torch.nn.SmoothL1Loss"], "SmoothL1Loss"),
    ("mse", "torch.nn.MSELoss", ["loss.reduction=sum"], "mse"),
    ("custom", "my_pkg.losses.Cauchy", ["loss=custom"], "Cauchy"),
    ("custom", None, ["loss=custom"], "custom"),
    ("cauchy", "robust_losses.Cauchy", ["loss=cauchy"], "cauchy"),  # a user's option
])
def test_loss_name_rule(choice, target, overrides, name):
    assert naming.loss_name(choice, target, overrides) == name


def test_overridden_target_renames_run_tags_and_params():
    cfg = compose_config("scenario=diabetes", "loss=mse", "loss._target_=torch.nn.SmoothL1Loss",
                         "seed=3")
    assert cfg.run_name == "diabetes-SmoothL1Loss-s3" and cfg.loss_name == "SmoothL1Loss"
    assert compose_config("scenario=diabetes", "loss=mse").run_name == "diabetes-mse-s0"


def test_a_loss_option_in_the_users_config_dir_is_named_after_the_option(example_on_path):
    search = f"hydra.searchpath=[file://{EXPERIMENTS_DIR},file://{EXAMPLE_CONF}]"
    cfg = checked("scenario=power_outliers", "loss=cauchy", search)
    assert cfg.loss._target_ == "robust_losses.Cauchy" and cfg.loss.kwargs.scale == 1.0
    assert cfg.run_name == "power_outliers-cauchy-s0"


# --------------------------------------------------------------------------- scenarios
def test_a_regression_loss_fits_the_regression_scenarios_and_studies_only(example_on_path):
    overrides, config_dir = loss_overrides("robust_losses.Cauchy")
    fits = where_it_fits(overrides, config_dir)
    scenarios = {f.name for f in fits if f.kind == "scenario" and f.fits}
    studies = {f.name for f in fits if f.kind == "study" and f.fits}
    assert scenarios == {"diabetes", "house_price", "power_outliers", "skewed_noise"}
    assert studies == {"house_price", "power_outliers", "outliers_mae", "skewed_median",
                       "skewed_mean"}
    refused = {f.name: f.reason for f in fits if f.kind == "scenario" and not f.fits}
    assert set(refused) == {"spam", "mnist", "cancer_screening", "face_verification", "wgan"}
    assert "loss=Cauchy is a regression loss" in refused["spam"]
    assert "(a gan task)" in refused["wgan"]


def test_loss_config_file_and_declarations_select_the_option(example_on_path):
    overrides, config_dir = loss_overrides(loss_config=EXAMPLE_CONF / "loss" / "cauchy.yaml")
    assert overrides == ["loss=cauchy"] and config_dir == EXAMPLE_CONF
    assert check_fit("scenario", "power_outliers", ["scenario=power_outliers", *overrides],
                     config_dir).fits
    pair, _ = loss_overrides("torch.nn.TripletMarginLoss", declarations={
        "examples": "triplets", "label": "none"})
    assert pair[0] == "loss=custom_pairs"
    assert check_fit("scenario", "face_verification",
                     ["scenario=face_verification", *pair]).fits
    assert not check_fit("scenario", "diabetes", ["scenario=diabetes", *pair]).fits
    with pytest.raises(ValueError, match="do not go together"):
        loss_overrides("x.Y", declarations={"head": "binary", "examples": "pairs"})


# --------------------------------------------------------------------------- challenger
def test_arms_append_the_challenger_once():
    assert naming.arms(["huber", "mse"], "cauchy") == "huber,mse,cauchy"
    assert naming.arms(["huber", "mse"], None) == "huber,mse"
    assert naming.arms(["huber", "mse"], "mse") == "huber,mse"


def _study_with_arms(tmp_path: Path) -> Path:
    """power_outliers as it reads once its sweep lists its losses through
    ${lossbench.arms:...} (the change each experiments/experiment/*.yaml takes)."""
    text = (EXPERIMENTS_DIR / "experiment" / "power_outliers.yaml").read_text()
    line = "loss: huber,mse,mae,log_cosh"
    text = text if "lossbench.arms" in text else text.replace(
        line, "loss: ${lossbench.arms:huber,mse,mae,log_cosh}")
    (tmp_path / "experiment").mkdir(parents=True)
    (tmp_path / "experiment" / "po_arms.yaml").write_text(text)
    return tmp_path


def test_challenger_adds_one_arm_to_a_study_sweep(tmp_path, example_on_path):
    from tests.infra.test_experiments import compose_study

    search = f"hydra.searchpath=[file://{EXPERIMENTS_DIR},file://{_study_with_arms(tmp_path)}]"
    cfg, hydra_cfg = compose_study("+experiment=po_arms", "+challenger=cauchy", search)
    assert hydra_cfg.sweeper.params.loss == "huber,mse,mae,log_cosh,cauchy"
    assert hydra_cfg.sweeper.params.seed == "range(5)"  # same seeds
    _, plain = compose_study("+experiment=po_arms", search)
    assert plain.sweeper.params.loss == "huber,mse,mae,log_cosh"


# --------------------------------------------------------------------------- claims
def test_example_claim_file_loads():
    c = claims.load_claim(CLAIM_FILE)
    assert (c.study, c.guide_loss, c.claim_against, c.claim_type, c.margin) == \
        ("power_outliers", "cauchy", ("huber",), "non_inferiority", 0.01)


GOOD = dict(study="power_outliers", claim="Cauchy is not worse than Huber.",
            claim_type="non_inferiority", margin=0.01, margin_reason="1 % of the RMSE.",
            guide_loss="cauchy", claim_against=["huber"], headline="final_test_rmse")


@pytest.mark.parametrize("change, message", [
    ({"claim_type": "better"}, "claim_type: must be one of superiority, non_inferiority"),
    ({"margin": None}, "margin: must be > 0, in final_test_rmse units"),
    ({"margin": -0.1}, "margin: must be > 0"),
    ({"claim_type": "superiority"}, "margin: must be null for a superiority claim"),
    ({"margin_reason": None}, "margin_reason: must be one line"),
    ({"headline": "test_rmse"}, "headline: must be a final_\\* metric"),
    ({"headline_mode": "lower"}, "headline_mode: must be min"),
    ({"claim_against": ["cauchy"]}, "claim_against: must be alternatives to guide_loss"),
    ({"claim_against": []}, "claim_against: must be a non-empty list"),
    ({"claim": "two\nlines"}, "claim: must be one non-empty line"),
    ({"guide_loss": None}, "guide_loss: missing"),
    ({"paired_loss": "x"}, "paired_loss: not a claim field"),
])
def test_bad_claim_files_name_the_file_and_key(tmp_path, change, message):
    import yaml

    data = {k: v for k, v in {**GOOD, **change}.items()}
    path = tmp_path / "claim.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=f"^{path}: {message}"):
        claims.load_claim(path)


def test_judge_user_claim_matches_the_typed_claim_tests():
    claim = claims.claim_from_dict(GOOD)
    rng = np.random.default_rng(0)
    huber = {str(s): 0.60 + 0.01 * rng.standard_normal() for s in range(5)}
    close = {s: v + 0.002 + 0.001 * rng.standard_normal() for s, v in huber.items()}
    far = {s: v + 0.05 + 0.001 * rng.standard_normal() for s, v in huber.items()}
    seeds = sorted(huber)
    for cauchy, verdict in ((close, stats.SUPPORTED), (far, stats.REFUTED)):
        j = claims.judge_user_claim(claim, {"cauchy": cauchy, "huber": huber, "mse": {}})
        ref = stats.non_inferiority([cauchy[s] - huber[s] for s in seeds], "min", 0.01)
        assert j.verdict == ref.verdict == verdict
        assert j.comparisons[0].test.p_value == pytest.approx(ref.p_value)
        assert f"**Verdict:** {verdict}" in j.markdown and "| huber | 5 |" in j.markdown
    missing = claims.judge_user_claim(claim, {"huber": huber})
    assert missing.verdict == stats.INCONCLUSIVE and missing.missing == ("cauchy",)


# --------------------------------------------------------------------------- end to end
@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "scikit_learn_data").exists(), reason="no local data")
def test_example_arm_runs_from_outside_the_repository_and_is_judged(tmp_path):
    """The README's commands, from a directory outside the repository, on a tiny budget."""
    study_dir = _study_with_arms(tmp_path / "studies")
    env = {"PYTHONPATH": f"{ROOT}:{EXAMPLE}", "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "lossbench", "-m", f"--config-dir={EXAMPLE_CONF}",
           f"hydra.searchpath=[file://{EXPERIMENTS_DIR},file://{study_dir}]",
           "+experiment=po_arms", "+challenger=cauchy", "seed=0,1",
           "hydra/launcher=basic", "trainer.epochs=2", "tracking.plots=false",
           f"data_dir={SHARED_DATA}", "download=false",
           "hydra.sweep.dir=sweep", "tracking.uri=sqlite:///mlflow.db"]
    subprocess.run(cmd, cwd=tmp_path, env=env, check=True, capture_output=True, timeout=600)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    exp = client.get_experiment_by_name("power_outliers")
    names = {r.info.run_name for r in client.search_runs([exp.experiment_id])
             if r.data.tags.get("loss") == "cauchy" and r.info.status == "FINISHED"}
    assert names == {"power_outliers-cauchy-s0", "power_outliers-cauchy-s1"}
    out = subprocess.run([sys.executable, "-m", "lossbench.claims", str(CLAIM_FILE),
                          "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db"], cwd=tmp_path,
                         env=env, check=True, capture_output=True, text=True).stdout
    assert "**Claim** (non-inferiority, margin 0.01)" in out and "| huber | 2 |" in out
