"""A sweep tells the truth: each job's outcome is recorded in the sweep dir, and the command
exits 1 with one summary line when any job failed or was refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lossbench import outcomes

ROOT = Path(__file__).resolve().parents[2]


def test_summary_counts_outcomes_and_gives_the_first_reasons(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(outcomes.ENV, str(tmp_path / "all.jsonl"))
    outcomes.record(str(tmp_path / "sweep"), "a", "finished")
    outcomes.record(str(tmp_path / "sweep"), "b", "refused", "loss=bce does not fit\ndiabetes")
    outcomes.record(str(tmp_path / "sweep"), "c", "failed", "TrainingDiverged: nan at epoch 2")
    assert len((tmp_path / "sweep" / outcomes.FILE).read_text().splitlines()) == 3
    assert outcomes.report(str(tmp_path / "all.jsonl")) == 1
    err = capsys.readouterr().err
    assert err == ("lossbench: sweep: 3 jobs: 1 finished, 1 failed, 1 refused; first reasons: "
                   "b: loss=bce does not fit diabetes | c: TrainingDiverged: nan at epoch 2\n")


def test_an_all_finished_sweep_exits_0_and_no_jobs_is_a_single_run(tmp_path, monkeypatch):
    monkeypatch.setenv(outcomes.ENV, str(tmp_path / "all.jsonl"))
    assert outcomes.report(str(tmp_path / "all.jsonl")) == 0  # nothing recorded: a single run
    outcomes.record(str(tmp_path / "s"), "a", "finished")
    assert outcomes.report(str(tmp_path / "all.jsonl")) == 0


def test_a_sweep_with_a_refused_job_exits_1_and_records_it(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "lossbench", "-m", "loss=mse,bce", "trainer.epochs=1",
         "tracking.enabled=false", "torch_threads=1", f"hydra.sweep.dir={tmp_path}/sweep",
         "hydra/job_logging=disabled", "hydra/hydra_logging=disabled"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lossbench: sweep: 2 jobs: 1 finished, 0 failed, 1 refused; "
                           "first reasons: diabetes-bce-s0: loss=bce"), last
    jobs = [json.loads(x) for x in (tmp_path / "sweep" / outcomes.FILE).read_text().splitlines()]
    assert [(j["job"], j["outcome"]) for j in jobs] == [("diabetes-mse-s0", "finished"),
                                                         ("diabetes-bce-s0", "refused")]
