"""lossbench report on a synthetic MLflow store the test builds itself with MlflowClient."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from lossbench import report
from lossbench.tracking import PARENT_TAG

ROOT = Path(__file__).resolve().parents[2]
SEEDS = range(6)
# per (loss, optimizer): offset added to a per-seed base (the pairing removes the base)
HOUSE = {("mse", "Adam"): 0.0, ("mae", "Adam"): 0.30, ("huber", "Adam"): 0.0,
         ("log_cosh", "Adam"): -0.25,
         ("mse", "SGD"): 0.5, ("mae", "SGD"): 0.1, ("huber", "SGD"): 0.5, ("log_cosh", "SGD"): 0.5}
NOISE = np.array([0.01, -0.02, 0.015, -0.005, 0.02, -0.01])


def _sweep(client: MlflowClient, experiment: str, study: dict[str, str],
           values: dict[tuple[str, str], float], mode: str, failed: int = 0,
           gan_optimizers: bool = False) -> str:
    exp_id = client.create_experiment(experiment)
    parent = client.create_run(exp_id, run_name="sweep", tags={"lossbench.role": "sweep"})
    pid = parent.info.run_id
    base = np.array([3.0, 5.0, 4.0, 6.0, 2.0, 7.0])  # large spread between seeds
    for k, ((loss, opt), offset) in enumerate(values.items()):
        noise = np.roll(NOISE, k) if k else np.zeros_like(NOISE)  # mean 0; none for the first
        for seed in SEEDS:
            if gan_optimizers:  # the loss picks the optimizer: no condition
                opt = {"wgan": "RMSprop", "wgan_gp": "Adam"}[loss]
            run = client.create_run(exp_id, run_name=f"{experiment}-{loss}-s{seed}",
                                    tags={PARENT_TAG: pid, "loss": loss, "seed": str(seed)})
            rid = run.info.run_id
            params = {"seed": str(seed), "data.split_seed": str(seed), "loss_name": loss,
                      "optimizer._target_": f"torch.optim.{opt}", "profile": "quick",
                      "optimizer.momentum": "0.9" if opt == "SGD" else "None",
                      **{f"study.{k}": v for k, v in study.items()}}
            value = base[seed] + offset + noise[seed]
            client.log_batch(rid, metrics=[Metric(study["headline"], float(value), 0, 1)],
                             params=[Param(k, v) for k, v in params.items()
                                     if k != "study.study_paired"])
            client.set_terminated(rid, "FINISHED")
    for i in range(failed):
        run = client.create_run(exp_id, run_name=f"failed-{i}", tags={PARENT_TAG: pid})
        client.log_batch(run.info.run_id, params=[Param("study.headline", study["headline"])])
        client.set_terminated(run.info.run_id, "FAILED")
    client.set_terminated(pid, "FINISHED")
    return pid


@pytest.fixture
def synthetic_store(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    house = {"headline": "final_test_rmse", "headline_mode": "min", "paired_loss": "mse",
             "claim": "MSE wins on clean targets.", "optimizer_pairing.mse": "adam",
             "optimizer_pairing.mae": "sgd", "study_paired": "mse"}
    pid = _sweep(client, "house_price", house, HOUSE, "min", failed=1)
    gan = {"headline": "final_w1", "headline_mode": "min", "paired_loss": "wgan",
           "claim": "WGAN is fine.", "study_paired": "wgan"}
    _sweep(client, "wgan", gan, {("wgan", "x"): 0.0, ("wgan_gp", "x"): -1.0}, "min",
           gan_optimizers=True)
    client.create_experiment("unrelated")
    return uri, client, pid


def test_conditions_come_from_swept_params_not_from_loss_or_seed(synthetic_store):
    uri, client, _ = synthetic_store
    studies = {s.name: s for s in report.load_studies(client)}
    assert set(studies) == {"house_price", "wgan"}
    house, gan = studies["house_price"], studies["wgan"]
    assert house.failed == 1 and len(house.runs) == 8 * len(SEEDS)
    assert report.condition_keys(house.runs) == ["optimizer._target_"]
    assert report.condition_keys(gan.runs) == []  # the optimizer follows the loss
    assert set(report.grouped(house)) == {"optimizer=Adam", "optimizer=SGD"}
    assert house.optimizer_pairing == {"mse": "adam", "mae": "sgd"}


def test_verdicts(synthetic_store):
    _, client, _ = synthetic_store
    house = report.load_studies(client, ["house_price"])[0]
    rows = {(r.condition, r.alternative): r.result for r in report.loss_comparisons(house)}
    assert rows[("optimizer=Adam", "mae")].verdict == "supported"
    assert rows[("optimizer=Adam", "mae")].mean_diff == pytest.approx(-0.30, abs=0.02)
    assert rows[("optimizer=Adam", "huber")].verdict == "inconclusive"
    assert rows[("optimizer=Adam", "log_cosh")].verdict == "not supported"
    assert rows[("optimizer=Adam", "log_cosh")].d_z > 0
    assert rows[("optimizer=SGD", "mae")].verdict == "not supported"
    assert all(r.n == len(SEEDS) for r in rows.values())
    opt = {(r.paired, r.alternative): r.result.verdict
           for r in report.optimizer_comparisons(house)}
    assert opt == {("mse + adam", "mse + sgd"): "supported",
                   ("mae + sgd", "mae + adam"): "supported"}


def test_render_writes_markdown_and_plots(synthetic_store, tmp_path):
    uri, client, pid = synthetic_store
    out = tmp_path / "rep" / "REPORT.md"
    text = report.render(report.load_studies(client), out, uri)
    assert out.read_text() == text
    assert (tmp_path / "rep" / "house_price.png").stat().st_size > 5000
    assert (tmp_path / "rep" / "wgan.png").exists()
    assert "## house_price" in text and "## wgan" in text
    assert "**Claim:** MSE wins on clean targets." in text
    assert pid in text and "1 failed" in text
    assert "| optimizer=Adam | mse | mae | 6 | -0.3" in text
    assert "**not supported**" in text and "ttest_rel" in text
    assert "![final_test_rmse per loss](house_price.png)" in text
    # house_price: one comparison not supported -> the study's verdict
    assert "| [house_price](#house_price) | quick | `final_test_rmse` (lower is better) | mse |" \
           " MSE wins on clean targets. | **not supported** |" in text
    # wgan_gp is better than wgan on W1 in this synthetic store
    assert "| all | wgan | wgan_gp | 6 |" in text


def test_sweep_selection_and_errors(synthetic_store):
    uri, client, pid = synthetic_store
    (s,) = report.load_studies(client, sweep=pid)
    assert s.parent_id == pid and s.name == "house_price"
    with pytest.raises(report.ReportError, match="no such MLflow experiment"):
        report.load_studies(client, ["nope"])
    with pytest.raises(report.ReportError, match="no sweep with study runs"):
        report.load_studies(client, ["unrelated"])


def test_cli_subcommand(synthetic_store, tmp_path):
    uri, _, _ = synthetic_store
    out = tmp_path / "cli" / "R.md"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "lossbench", "report", "--tracking-uri", uri,
           "--experiment", "wgan", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "## wgan" in out.read_text() and "## house_price" not in out.read_text()
    bad = subprocess.run(cmd[:4] + ["--experiment", "nope"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "no such MLflow experiment" in bad.stderr


def test_claim_against_limits_what_decides_the_verdict(tmp_path):
    """A claim that names its alternative (Huber vs MSE) is judged on that comparison only;
    a loss it does not name (MAE beating Huber) is reported but does not decide."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    study = {"headline": "final_test_rmse", "headline_mode": "min", "paired_loss": "huber",
             "claim": "Huber beats MSE.", "claim_against": "['mse']", "study_paired": "huber"}
    _sweep(client, "power_outliers", study,
           {("huber", "x"): 0.0, ("mse", "x"): 0.5, ("mae", "x"): -0.3}, "min")
    (s,) = report.load_studies(client)
    assert s.claim_against == ["mse"]
    text = report.render([s], tmp_path / "r" / "REPORT.md", uri, plots=False)
    assert "| all | huber | mae | 6 | 0.29" in text and "**not supported**" in text
    assert "Huber beats MSE. | **supported** |" in text
    assert "judged against mse only" in text
