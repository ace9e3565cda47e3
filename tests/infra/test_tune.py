"""The tuning stage (lossbench.tune): cells and spaces from a study's config, the tuned file
and ``settings=tuned``, the report's guide's-settings and tuned sections, and (slow) the tune
command end to end: the same Optuna budget per arm, reproducible from the sampler seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient
from omegaconf import OmegaConf

from lossbench import report, tune
from lossbench.config import ConfigError
from lossbench.commands import compose_sweep
from lossbench.study_schema import EXPERIMENTS_DIR
from tests.conftest import compose_with_hydra
from tests.infra.test_report import HOUSE_STUDY, Store

ROOT = Path(__file__).resolve().parents[2]
DATA = Path("/work/shared/data")


def study_config(*overrides: str):
    """A study's job config with its hydra node (the sweep params), as lossbench tune reads it."""
    return compose_sweep(list(overrides), return_hydra_config=True)


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("empty")
    Store(path).client.search_experiments()  # creates the tables once
    return path / "mlflow.db"


# --------------------------------------------------------------------------- the plan
def test_validation_metric_and_swept_values():
    assert tune.validation_metric("final_test_rmse") == "final_val_rmse"
    assert tune.validation_metric("final_test_roc_auc") == "final_val_roc_auc"
    with pytest.raises(ConfigError, match="study.headline: final_collapsed has no validation"):
        tune.validation_metric("final_collapsed")
    swept = tune.swept_values({"loss": "mse,huber", "seed": "range(3)",
                               "data.standardize_features": "true,false",
                               "data.label_noise": "0.0,0.1", "optimizer": "adam"})
    assert swept == {"loss": ["mse", "huber"], "seed": ["0", "1", "2"],
                     "data.standardize_features": ["true", "false"],
                     "data.label_noise": ["0.0", "0.1"], "optimizer": ["adam"]}
    cells = tune.cells({"loss": ["mse", "huber"], "seed": ["0", "1"], "data.fold": ["0", "1"],
                        "optimizer": ["adam", "sgd"]}, "loss", fixed=["data.fold"])
    assert cells == [{"loss": "mse", "optimizer": "adam"}, {"loss": "mse", "optimizer": "sgd"},
                     {"loss": "huber", "optimizer": "adam"}, {"loss": "huber", "optimizer": "sgd"}]
    with pytest.raises(ConfigError, match="study.arm: loss is not swept"):
        tune.cells({"optimizer": ["adam"]}, "loss", [])


def test_plan_gives_every_cell_the_same_budget_and_its_own_space():
    p = tune.plan(study_config("+experiment=house_price", "profile=quick"), [])
    assert p["objective"] == "final_val_rmse" and p["direction"] == "minimize"
    assert p["trials"] == 8 and p["seed"] == 1000 and p["sampler_seed"] == 0
    spaces = {tune.label(c): s for c, s in p["cells"]}
    assert len(spaces) == 8  # 4 losses x 2 optimizers
    assert spaces["loss=mse optimizer=adam"] == {"optimizer.lr": "tag(log, interval(1e-4, 1e-1))"}
    assert spaces["loss=huber optimizer=sgd"]["loss.delta"] == "tag(log, interval(0.1, 5.0))"
    full = tune.plan(study_config("+experiment=house_price", "profile=full"), [])
    assert full["trials"] == 30
    # a narrower sweep on the command line narrows the cells
    narrow = tune.plan(study_config("+experiment=house_price"), ["loss=mse,huber",
                                                                 "optimizer=adam"])
    assert [tune.label(c) for c, _ in narrow["cells"]] == ["loss=mse optimizer=adam",
                                                           "loss=huber optimizer=adam"]
    # maximised headlines; folds are replicates tuned on fold 0, not cells
    face = tune.plan(study_config("+experiment=face_verification"), [])
    assert face["direction"] == "maximize" and face["objective"] == "final_val_roc_auc"
    assert [c for c, _ in face["cells"]] == [{"loss": "contrastive"}, {"loss": "triplet"},
                                             {"loss": "cosine_embedding"}]
    assert face["fixed"] == {"data.fold": "0"}
    # an arm that is no loss: the lr per value of the arm in each condition
    opt = tune.plan(study_config("+experiment=optimizer_pairing"), [])
    assert len(opt["cells"]) == 4 and all(set(s) == {"optimizer.lr"} for _, s in opt["cells"])


def test_untuned_studies_and_overlapping_seeds_are_refused():
    with pytest.raises(ConfigError, match="study wgan is not tuned: the headline is a 0/1"):
        tune.plan(study_config("+experiment=wgan"), [])
    with pytest.raises(ConfigError, match="study.tune.seed: 3 is an evaluation seed"):
        tune.plan(study_config("+experiment=house_price", "study.tune.seed=3"), [])
    bad, _ = compose_with_hydra("+experiment=house_price", "study.tune.trials.quick=0")
    with pytest.raises(ConfigError, match="study.tune.trials"):
        OmegaConf.to_object(bad)


def test_tpe_starts_random_on_half_the_trials_at_most_ten():
    assert [tune.startup_trials(n) for n in (1, 2, 6, 8, 30, 50)] == [1, 1, 3, 4, 10, 10]


def test_cell_command_fixes_the_cell_and_searches_the_space(tmp_path):
    p = tune.plan(study_config("+experiment=power_outliers"), [])
    cell, space = next((c, s) for c, s in p["cells"] if c["loss"] == "huber")
    cmd = tune.cell_command(p, cell, space, ["+experiment=power_outliers", "loss=mse,huber",
                                             "trainer.epochs=2"], tmp_path / "cell-0")
    args = cmd[3:]
    assert args[:3] == ["-m", "+experiment=power_outliers", "trainer.epochs=2"]
    for a in ("loss=huber", "seed=1000", "settings=trial", "objective=final_val_rmse",
              "hydra/sweeper=optuna", "hydra.sweeper.sampler.seed=0",
              "hydra.sweeper.n_trials=8", "hydra.sweeper.direction=minimize",
              "hydra.sweeper.sampler.n_startup_trials=4",
              "optimizer.lr=tag(log, interval(1e-4, 1e-1))",
              "loss.delta=tag(log, interval(0.1, 5.0))"):
        assert a in args, a


# --------------------------------------------------------------------------- settings=tuned
def write_tuned(path: Path) -> None:
    tune.write_tuned(path, "quick", {
        "objective": "final_val_rmse", "trials": 5, "cells": [
            {"match": {"loss": "huber"}, "values": {"optimizer.lr": 0.0123, "loss.delta": 0.7},
             "best_value": 0.51},
            {"match": {"loss": "mse"}, "values": {"optimizer.lr": 0.004}, "best_value": 0.55}]})


def test_settings_tuned_applies_the_cells_values_and_tags_them(tmp_path):
    path = tmp_path / "power_outliers.yaml"
    write_tuned(path)
    common = ("+experiment=power_outliers", f"study.tune.file={path}")
    cfg, _ = compose_with_hydra(*common, "loss=huber", "settings=tuned")
    assert cfg.optimizer.lr == 0.01 and cfg.loss.delta == 1.5  # the guide's, until applied
    tune.apply_settings(cfg)
    assert cfg.optimizer.lr == 0.0123 and cfg.loss.delta == 0.7
    OmegaConf.to_object(cfg)  # still validates
    tags = tune.settings_tags(cfg)
    assert tags["lossbench.settings"] == "tuned"
    assert tags["lossbench.tuned.values"] == "optimizer.lr=0.0123 loss.delta=0.7"
    assert tags["lossbench.tuned.trials"] == "5" and tags["lossbench.tuned.file"] == str(path)
    # the default is the guide's settings: nothing applied
    guide, _ = compose_with_hydra(*common, "loss=mse")
    tune.apply_settings(guide)
    assert guide.optimizer.lr == 0.01 and tune.settings_tags(guide) == {
        "lossbench.settings": "guide"}
    # the other profile's entry is kept when one is rewritten
    tune.write_tuned(path, "full", {"trials": 30, "cells": []})
    assert set(OmegaConf.load(path)) == {"quick", "full"}


@pytest.mark.parametrize("extra, message", [
    (("study.tune.file={missing}",), "settings=tuned: no tuned file {missing}; run lossbench "
                                     "tune +experiment=power_outliers profile=quick first"),
    (("study.tune.file={path}", "loss=mae"), "settings=tuned: {path} has no tuned setting for "
                                             "loss=mae (quick profile)"),
    (("study.tune.file={path}", "profile=full"), "settings=tuned: {path} has no full profile"),
])
def test_settings_tuned_without_a_setting_is_one_line_naming_the_file(tmp_path, extra, message):
    path, missing = tmp_path / "t.yaml", tmp_path / "none.yaml"
    write_tuned(path)
    cfg, _ = compose_with_hydra("+experiment=power_outliers", "loss=huber", "settings=tuned",
                                *(e.format(path=path, missing=missing) for e in extra))
    with pytest.raises(ConfigError) as e:
        tune.apply_settings(cfg)
    assert message.format(path=path, missing=missing) in str(e.value)
    assert "\n" not in str(e.value)


def test_settings_tuned_outside_a_study_is_refused():
    cfg, _ = compose_with_hydra("scenario=diabetes", "settings=tuned")
    with pytest.raises(ConfigError, match="only a study's jobs have tuned settings"):
        tune.apply_settings(cfg)
    wgan, _ = compose_with_hydra("+experiment=wgan", "settings=tuned")
    with pytest.raises(ConfigError, match="settings=tuned: study wgan is not tuned: the headl"):
        tune.apply_settings(wgan)
    bad, _ = compose_with_hydra("settings=best")
    with pytest.raises(ConfigError, match="settings: must be guide or tuned or trial"):
        OmegaConf.to_object(bad)


# --------------------------------------------------------------------------- the report
HOUSE_GUIDE = {("mse", "Adam"): 0.0, ("mae", "Adam"): 0.30, ("huber", "Adam"): 0.0,
               ("log_cosh", "Adam"): -0.25}
HOUSE_TUNED = {("mse", "Adam"): 0.0, ("mae", "Adam"): 0.30, ("huber", "Adam"): 0.2,
               ("log_cosh", "Adam"): 0.25}
TUNED_TAGS = {"lossbench.settings": "tuned", "lossbench.tuned.values": "optimizer.lr=0.003123456789",
              "lossbench.tuned.trials": "8", "lossbench.tuned.objective": "final_val_rmse"}


@pytest.fixture
def tuned_store(tmp_path, empty_db) -> Store:
    """house_price: the guide's sweep (log_cosh wins: refuted), then a tuned sweep (mse wins:
    supported), then a newer tuning sweep (trials, never a study); spam: guide only."""
    store = Store(tmp_path, empty_db)
    store.guide = store.sweep("house_price", HOUSE_STUDY, HOUSE_GUIDE)
    store.tuned = store.sweep("house_price", HOUSE_STUDY, HOUSE_TUNED, tags=TUNED_TAGS)
    store.sweep("house_price", HOUSE_STUDY, {("mse", "Adam"): 9.0},
                tags={"lossbench.settings": "trial"})
    store.sweep("spam", {**HOUSE_STUDY, "headline": "final_test_roc_auc",
                         "headline_mode": "max"},
                {("mse", "Adam"): 0.1, ("mae", "Adam"): 0.0})
    return store


def test_report_shows_guide_and_tuned_sections_and_the_changed_verdict(tuned_store, tmp_path):
    studies = report.load_studies(tuned_store.client)
    assert {s.name: s.parent_id for s in studies}["house_price"] == tuned_store.guide
    tuned = report.tuned_studies(tuned_store.client, studies)
    assert set(tuned) == {"house_price"} and tuned["house_price"].parent_id == tuned_store.tuned
    hp = next(s for s in studies if s.name == "house_price")
    assert report.claim_verdict(report.loss_comparisons(hp)) == "refuted"
    assert report.claim_verdict(report.loss_comparisons(tuned["house_price"])) == "supported"
    text = report.render(studies, tmp_path / "REPORT.md", tuned_store.uri, plots=False,
                         tuned=tuned)
    hp_text = text.split("## house_price")[1].split("## spam")[0]
    assert hp_text.index("### guide's settings") < hp_text.index("### tuned")
    assert "**Tuning changed the verdict: refuted -> supported.**" in hp_text
    assert "8 Optuna trials (TPE) per loss" in hp_text and "`final_val_rmse`" in hp_text
    guide_row, row = (next(line for line in part.splitlines()
                           if line.startswith("| all | log_cosh |"))
                      for part in hp_text.split("### tuned"))
    guide_mean = guide_row.split("|")[4].strip()  # | condition | loss | seeds | mean | CI |
    assert row.startswith(f"| all | log_cosh | {guide_mean} | 6 | ")  # side by side
    assert row.endswith("| optimizer.lr=0.003123 | 8 |")
    assert "tuning changed the verdict of house_price: refuted -> supported." in text
    spam_text = text.split("## spam")[1]
    assert "### tuned" in spam_text and "Not tuned in this profile" in spam_text
    # the guide's verdict and mean rows are the same as without tuned runs (--check agrees)
    plain = report.render(studies, tmp_path / "plain.md", tuned_store.uri, plots=False)
    assert "[house_price](#house_price) | superiority | **refuted** |" in text
    assert report.parse_mean_rows(text) == report.parse_mean_rows(plain)
    assert report.check(studies, text) == []
    # the tuning sweep is no study: its parent gets no verdict
    trial_parent = next(r.info.run_id for r in tuned_store.client.search_runs(
        [tuned_store.client.get_experiment_by_name("house_price").experiment_id],
        "tags.`lossbench.role` = 'sweep'") if r.info.run_id not in (tuned_store.guide,
                                                                     tuned_store.tuned))
    with pytest.raises(report.ReportError, match="a tuning sweep"):
        report.parent_summary(tuned_store.client, trial_parent, tmp_path, plots=False)


def test_report_says_why_a_study_is_not_tuned(tmp_path, empty_db):
    store = Store(tmp_path, empty_db)
    store.sweep("house_price", {**HOUSE_STUDY, "tune": {"skip": "no validation split"}},
                HOUSE_GUIDE)
    studies = report.load_studies(store.client)
    text = report.render(studies, tmp_path / "R.md", store.uri, plots=False, tuned={})
    assert "### tuned\n\nNot tuned: no validation split" in text


def test_runs_from_before_study_tune_give_the_study_files_reason(tmp_path, empty_db):
    """Runs whose study block predates ``study.tune`` are not called untuned for want of a
    tuning sweep: the reason comes from the study's file, and the report says so."""
    store = Store(tmp_path, empty_db)
    store.sweep("overflow", HOUSE_STUDY, HOUSE_GUIDE)   # named as a study that skips tuning
    studies = report.load_studies(store.client)
    skip = OmegaConf.load(EXPERIMENTS_DIR / "experiment" / "overflow.yaml").study.tune.skip
    assert studies[0].conf.tune.skip.startswith(skip)
    text = report.render(studies, tmp_path / "R.md", store.uri, plots=False, tuned={})
    assert (f"### tuned\n\nNot tuned: {skip} (from experiments/experiment/overflow.yaml: "
            "these runs predate study.tune)") in text
    # a study whose file tunes it, run before study.tune: still "not tuned in this profile"
    store.sweep("power_outliers", HOUSE_STUDY, HOUSE_GUIDE)
    studies = report.load_studies(store.client, ["power_outliers"])
    assert studies[0].conf.tune.skip is None


# --------------------------------------------------------------------------- end to end
def run_tune(tmp_path: Path, name: str, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "lossbench", "tune", "+experiment=power_outliers",
           "loss=huber,mse", "data.max_train=200", "trainer.epochs=2", "torch_threads=1",
           "tracking.plots=false", "hydra/launcher=basic", f"data_dir={DATA}", "download=false",
           "study.tune.trials.quick=2", f"study.tune.file={tmp_path / name}",
           "--sweep-root", str(tmp_path / f"sweeps-{name}"), *extra]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "scikit_learn_data").is_dir(), reason="needs /work/shared/data")
def test_tune_end_to_end_equal_trials_reproducible_and_evaluated_tuned(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    first = run_tune(tmp_path, "a.yaml", f"tracking.uri={uri}")
    assert first.returncode == 0, first.stderr[-3000:]
    again = run_tune(tmp_path, "b.yaml", "tracking.enabled=false")
    assert again.returncode == 0, again.stderr[-3000:]
    a, b = (OmegaConf.to_container(OmegaConf.load(tmp_path / f)) for f in ("a.yaml", "b.yaml"))
    entry = a["quick"]
    assert entry["trials"] == 2 and entry["sampler_seed"] == 0 and entry["seed"] == 1000
    assert entry["objective"] == "final_val_rmse" and entry["commit"]
    cells = {c["match"]["loss"]: c for c in entry["cells"]}
    assert set(cells) == {"huber", "mse"}
    assert set(cells["huber"]["values"]) == {"optimizer.lr", "loss.delta"}
    assert set(cells["mse"]["values"]) == {"optimizer.lr"}
    for c in cells.values():  # inside the declared space
        assert 1e-4 <= c["values"]["optimizer.lr"] <= 1e-1
    assert 0.1 <= cells["huber"]["values"]["loss.delta"] <= 5.0
    # the sampler seed makes it reproducible: the same best values and scores twice
    assert [c["values"] for c in entry["cells"]] == [c["values"] for c in b["quick"]["cells"]]
    assert [c["best_value"] for c in entry["cells"]] == [c["best_value"]
                                                         for c in b["quick"]["cells"]]
    # MLflow: one parent per cell, tagged as tuning, with the same number of trial runs
    client = MlflowClient(uri)
    for c in cells.values():
        parent = client.get_run(c["mlflow_parent_run"])
        assert parent.data.tags["lossbench.settings"] == "trial"
        assert parent.data.tags["lossbench.tune.trials"] == "2"
        assert parent.data.tags["lossbench.tune.best"] == tune.label(c["values"])
        kids = client.search_runs([parent.info.experiment_id],
                                  f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
        assert len(kids) == 2 and {k.data.tags["lossbench.settings"] for k in kids} == {"trial"}
        assert {k.data.params["seed"] for k in kids} == {"1000"}
    with pytest.raises(report.ReportError, match="no complete study sweeps"):
        report.load_studies(client)  # tuning trials are never the study's sweep
    # settings=tuned: the run's resolved params are the tuned values
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ev = subprocess.run([sys.executable, "-m", "lossbench", "+experiment=power_outliers",
                         "loss=huber", "settings=tuned", f"study.tune.file={tmp_path / 'a.yaml'}",
                         "data.max_train=200", "trainer.epochs=1", "torch_threads=1",
                         "tracking.plots=false", f"data_dir={DATA}", "download=false",
                         f"tracking.uri={uri}"], cwd=tmp_path, env=env, capture_output=True,
                        text=True, timeout=600)
    assert ev.returncode == 0, ev.stderr[-3000:]
    (run,) = client.search_runs([parent.info.experiment_id],
                                "tags.`lossbench.settings` = 'tuned'")
    assert float(run.data.params["optimizer.lr"]) == cells["huber"]["values"]["optimizer.lr"]
    assert float(run.data.params["loss.delta"]) == cells["huber"]["values"]["loss.delta"]
    assert run.data.params["settings"] == "tuned"
