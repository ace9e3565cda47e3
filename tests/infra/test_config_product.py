"""Every combination of scenario x loss x data x model x trainer (x device) options either
composes and validates, or is refused with one line naming the offending group or key, before
any data loads; never another exception. The options are read from conf/*/.

The full product has about 30 000 combinations, and one composition takes 0.2-1.5 s on the
CI machine, so the product is sampled: the fast tests take the combinations the issue names
plus 40 drawn (seeded) from the whole product; the slow ones (``-m slow``) vary one group at a
time around every scenario (every option of every group with every scenario) and draw 400
more. Then real single runs (``python -m lossbench``) check the exit status and stderr.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.errors import ConfigCompositionException, OverrideParseException

from lossbench.app import CONF_DIR
from lossbench.cli import hydra_error_line
from lossbench.config import ConfigError, validate
from lossbench.tasks import task_module
from lossbench.tasks.pairs.metrics import VERIFICATION, verification_metrics
from lossbench.tasks.supervised.metrics import (BINARY_ONLY, CLASSIFICATION, REGRESSION,
                                                classification_metrics, regression_metrics)
from lossbench.torchutil import resolve_device
from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[2]
GROUPS = ("scenario", "loss", "data", "model", "trainer")
OPTIONS = {g: sorted(p.stem for p in (CONF_DIR / g).glob("*.yaml")) for g in GROUPS}
OPTIONS["device"] = ["auto", "cpu", "cuda", "cuda:0", "cuda:x"]
NAMES_A_KEY = re.compile(r"\b(scenario|loss|data|model|trainer|optimizer|device)[=.:/]")

ISSUE = [  # the combinations issue 10 found broken
    ("scenario=diabetes", "loss=wgan"), ("scenario=spam", "data=california"),
    ("scenario=diabetes", "trainer=gan_points"), ("scenario=diabetes", "model=dcgan"),
    ("scenario=diabetes", "trainer.monitor=val_accuracy"), ("scenario=house_price", "data=spambase"),
    ("scenario=spam", "data=gaussians8"), ("scenario=wgan", "data=diabetes"),
    ("scenario=face_verification", "loss=mse"), ("scenario=mnist", "data=olivetti"),
    ("scenario=wgan", "trainer.monitor=fd"), ("scenario=spam", "trainer.monitor=val_rmse"),
    ("device=cuda:x",), ("device=cuda",), ("loss=msee",),
]


def outcome(overrides: tuple[str, ...]) -> str:
    """``ok`` or ``refused`` (asserting the refusal is one line naming a group or key); any
    other exception propagates and fails the test."""
    try:
        cfg = compose_config(*overrides)
    except (ConfigCompositionException, OverrideParseException) as e:
        message = hydra_error_line(e)
    else:
        try:
            validate(cfg)
            task_module(cfg.task).check(cfg)
            resolve_device(cfg.device)
            return "ok"
        except ConfigError as e:
            message = str(e)
    assert "\n" not in message and NAMES_A_KEY.search(message), (overrides, message)
    return "refused"


def product_sample(n: int, seed: int) -> list[tuple[str, ...]]:
    rng = random.Random(seed)
    return [tuple(f"{g}={rng.choice(OPTIONS[g])}" for g in (*GROUPS, "device")) for _ in range(n)]


def one_group_at_a_time() -> list[tuple[str, ...]]:
    return [(f"scenario={s}", f"{g}={o}") for s in OPTIONS["scenario"]
            for g in (*GROUPS[1:], "device") for o in OPTIONS[g]]


@pytest.mark.parametrize("overrides", ISSUE + product_sample(40, seed=10), ids=" ".join)
def test_combination_validates_or_is_refused_in_one_line(overrides):
    outcome(overrides)


@pytest.mark.slow
@pytest.mark.wide
@pytest.mark.parametrize("overrides", one_group_at_a_time() + product_sample(400, seed=11),
                         ids=" ".join)
def test_combination_validates_or_is_refused_in_one_line_wide(overrides):
    outcome(overrides)


@pytest.mark.parametrize("overrides, expected", [
    (("scenario=diabetes", "loss=wgan"), "refused"),
    (("scenario=house_price", "data=spambase"), "refused"),
    (("scenario=diabetes", "trainer.monitor=val_accuracy"), "refused"),
    (("device=cuda:x",), "refused"),
    (("scenario=spam", "trainer.monitor=val_recall_at_90_precision"), "ok"),
    (("scenario=mnist", "data=digits", "trainer.monitor=val_recall_at_90_precision"), "refused"),
    (("scenario=face_verification", "trainer.monitor=val_threshold"), "ok"),
    (("scenario=wgan", "data=mnist_gan"), "ok"),  # the data option picks its trainer
    (("scenario=house_price", "data=diabetes"), "ok"),
    (("device=cpu",), "ok"),
    (("device=cuda",), "ok" if torch.cuda.is_available() else "refused"),
])
def test_known_outcomes(overrides, expected):
    assert outcome(overrides) == expected


def test_the_monitorable_names_are_what_the_metric_functions_return():
    import numpy as np

    y, p = np.array([0, 1, 0, 1]), np.array([0.2, 0.7, 0.4, 0.9])
    assert tuple(regression_metrics(y * 1.0, p)) == REGRESSION
    assert set(classification_metrics(y, p)) == set(CLASSIFICATION + BINARY_ONLY)
    assert set(classification_metrics(y, np.stack([1 - p, p], 1))) == set(CLASSIFICATION)
    assert tuple(verification_metrics(y, 1 - p, 0.5)) == VERIFICATION


# --------------------------------------------------------------------------- real single runs
def lossbench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOSSBENCH_DATA_DIR": str(tmp_path / "data")}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, "-m", "lossbench", *args, "torch_threads=1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return lines[0]


SLOW = pytest.mark.slow  # a subprocess takes 5 s on a quiet machine, 45 s on a busy CI one


@pytest.mark.parametrize("overrides, names", [
    pytest.param(("scenario=diabetes", "loss=wgan"), "loss=wgan", marks=SLOW),
    pytest.param(("scenario=spam", "data=california"), "data=california", marks=SLOW),
    (("scenario=diabetes", "trainer=gan_points"), "trainer.epochs"),
    pytest.param(("scenario=diabetes", "model=dcgan"), "model=dcgan", marks=SLOW),
    (("scenario=diabetes", "trainer.monitor=val_accuracy"), "trainer.monitor"),
    pytest.param(("device=cuda:x",), "device", marks=SLOW),
    pytest.param(("loss=msee",), "loss/msee", marks=SLOW),
])
def test_refused_single_run_exits_2_with_one_line(tmp_path, overrides, names):
    proc = lossbench(tmp_path, *overrides, f"tracking.uri=sqlite:///{tmp_path}/m.db")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert line.startswith("lossbench: error: ") and names in line, line
    assert not (tmp_path / "m.db").exists()  # refused before any MLflow run


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_refused_before_the_mlflow_run(tmp_path):
    proc = lossbench(tmp_path, "device=cuda", f"tracking.uri=sqlite:///{tmp_path}/m.db")
    assert proc.returncode == 2 and "device=cuda" in one_error_line(proc)
    assert not (tmp_path / "m.db").exists()


def test_divergence_is_one_line_with_the_epoch_and_hint_and_a_failed_run(tmp_path):
    proc = lossbench(tmp_path, "optimizer.lr=1e6", "trainer.epochs=5",
                     f"tracking.uri=sqlite:///{tmp_path}/m.db", "tracking.plots=false",
                     "hydra/job_logging=disabled")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("lossbench:")]
    assert re.search(r"at epoch \d", line) and "lower optimizer.lr" in line, line
    with sqlite3.connect(tmp_path / "m.db") as db:
        assert db.execute("select status from runs").fetchall() == [("FAILED",)]
