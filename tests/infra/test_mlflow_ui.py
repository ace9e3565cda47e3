"""The MLflow UI in a real headless browser: the experiment page lists lossbench's runs and the
run page shows a metric. Needs Debian's chromium + chromium-driver (skipped without them) and
selenium (pip, the `ui` extra); no driver is downloaded."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lossbench.app import run
from tests.conftest import SHARED_DATA, compose_config
from tests.mlflow_server import free_port, mlflow_server

ROOT = Path(__file__).resolve().parents[2]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                 reason="no chromium + chromedriver (apt-get install -y "
                                        "chromium chromium-driver)")]
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")


def _browser(profile_dir: Path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def _wait_for_text(driver, text: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in driver.find_element("tag name", "body").text:
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not on {driver.current_url} after {timeout:.0f} s; "
                                 f"page text: {driver.find_element('tag name', 'body').text[:2000]!r}")
        time.sleep(1.0)


def test_mlflow_ui_shows_runs_and_a_metric(tmp_path, monkeypatch):
    pytest.importorskip("selenium")
    monkeypatch.chdir(tmp_path)
    with mlflow_server(tmp_path) as url:
        for loss in ("mse", "huber"):
            run(compose_config(f"tracking.uri={url}", "trainer.epochs=2", f"loss={loss}",
                               "tracking.plots=false"))
        client = MlflowClient(url)
        exp = client.get_experiment_by_name("diabetes")
        huber = client.search_runs([exp.experiment_id], "tags.loss = 'huber'")[0]
        rmse = huber.data.metrics["final_test_rmse"]
        driver = _browser(tmp_path / "chromium-profile")
        try:
            driver.get(f"{url}/#/experiments/{exp.experiment_id}/runs")
            _wait_for_text(driver, "diabetes-huber-s0")
            _wait_for_text(driver, "diabetes-mse-s0")
            driver.save_screenshot(str(tmp_path / "experiment_page.png"))
            driver.get(f"{url}/#/experiments/{exp.experiment_id}/runs/{huber.info.run_id}")
            _wait_for_text(driver, "final_test_rmse")
            _wait_for_text(driver, f"{rmse:.2f}"[:4])  # the value, as the UI rounds it
            driver.save_screenshot(str(tmp_path / "run_page.png"))
        finally:
            driver.quit()
    assert (tmp_path / "experiment_page.png").stat().st_size > 10_000


def _start_ui(store: str, cwd: Path, env: dict) -> tuple[subprocess.Popen, list[str]]:
    """``lossbench ui`` on a free port; its printed lines up to the latest study's link."""
    cmd = [sys.executable, "-m", "lossbench", "ui", "--port", str(free_port()),
           f"tracking.uri={store}"]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    for line in proc.stdout:  # the server's own log goes to stderr
        lines.append(line.strip())
        if line.startswith("latest study sweep"):
            return proc, lines
    raise AssertionError(f"lossbench ui printed no study link: {lines}")


def _link(lines: list[str], start: str) -> str:
    return next(line for line in lines if line.startswith(start)).rsplit(": ", 1)[1]


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "scikit_learn_data").exists(), reason="no shared data")
def test_study_dashboard_chart_view_dataset_and_artifact(tmp_path):
    """A cut-down power_outliers study (2 losses x 2 seeds, 2 epochs), then ``lossbench ui``:
    the experiment's chart view shows the headline per loss on the (collapsed) parent run; a
    child run shows its data set and its learning curve. Screenshots in /tmp/ui-shots/."""
    pytest.importorskip("selenium")
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    shots = Path("/tmp/ui-shots")
    shots.mkdir(exist_ok=True)
    store = f"sqlite:///{tmp_path}/mlflow.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sweep = [sys.executable, "-m", "lossbench", "-m", "+experiment=power_outliers",
             "profile=quick", "loss=huber,mse", "seed=range(2)", "hydra.launcher.n_jobs=2",
             "trainer.epochs=2", f"tracking.uri={store}", f"data_dir={SHARED_DATA}",
             "download=false", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    proc = subprocess.run(sweep, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    client = MlflowClient(store)
    exp = client.get_experiment_by_name("power_outliers")
    child = client.search_runs([exp.experiment_id], "tags.loss = 'huber'")[0]
    ui, lines = _start_ui(store, tmp_path, env)
    try:
        runs_url = _link(lines, "experiment power_outliers")
        parent_url = _link(lines, "latest study sweep")
        assert runs_url.endswith(f"/#/experiments/{exp.experiment_id}/runs")
        base = runs_url.split("/#/")[0]
        driver = _browser(tmp_path / "chromium-profile")
        try:
            driver.set_window_size(1400, 2200)  # every chart of the parent's 14 metrics
            driver.get(runs_url + "?compareRunsMode=CHART")
            _wait_for_text(driver, "final_test_rmse.mean.huber")
            _wait_for_text(driver, "final_test_rmse.mean.mse")
            driver.save_screenshot(str(shots / "study_chart_view.png"))
            body = driver.find_element("tag name", "body").text
            assert "sweep " in body and "-s0" not in body  # the parent; children collapsed
            driver.get(parent_url)
            _wait_for_text(driver, "Huber resists outliers")
            driver.save_screenshot(str(shots / "parent_run.png"))
            driver.get(f"{base}/#/experiments/{exp.experiment_id}/runs/{child.info.run_id}")
            _wait_for_text(driver, "california_housing")
            driver.save_screenshot(str(shots / "child_run.png"))
            driver.get(f"{base}/#/experiments/{exp.experiment_id}/runs/{child.info.run_id}"
                       "/artifacts/plots/learning_curve.png")
            _wait_for_text(driver, "learning_curve.png")
            driver.save_screenshot(str(shots / "child_artifacts.png"))
        finally:
            driver.quit()
    finally:
        ui.terminate()
        ui.wait(timeout=30)
    assert (shots / "study_chart_view.png").stat().st_size > 10_000
