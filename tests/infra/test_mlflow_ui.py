"""The MLflow UI in a real headless browser: the experiment page lists lossbench's runs and the
run page shows a metric. Needs Debian's chromium + chromium-driver (skipped without them) and
selenium (pip, the `ui` extra); no driver is downloaded."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lossbench.app import run
from tests.conftest import compose_config
from tests.mlflow_server import mlflow_server

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
