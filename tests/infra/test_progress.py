"""Progress: a bar only for a single run on a terminal; a sweep's line counts runs by outcome."""

from __future__ import annotations

import io

import pytest

from lossbench import outcomes, progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_only_for_a_single_run_on_a_terminal():
    assert progress.enabled(False, Tty())
    assert not progress.enabled(True, Tty())  # parallel jobs would draw over each other
    assert not progress.enabled(False, io.StringIO())  # a log file, CI


def test_sweep_line_counts_runs_by_outcome_and_estimates_the_rest():
    lines = [{"outcome": "finished"}] * 6 + [{"outcome": "failed"}]
    assert progress.sweep_line(lines, 20, elapsed=70.0) == (
        "sweep: 7/20 runs done (1 failed, 6 finished), 13 to go, ETA 2m10s")
    assert progress.sweep_line([], 3, elapsed=5.0).endswith("3 to go, ETA ?")


def test_each_recorded_outcome_logs_the_sweeps_progress(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(outcomes.ENV, str(tmp_path / "jobs.jsonl"))
    monkeypatch.setenv(progress.TOTAL_ENV, "4")
    monkeypatch.setenv(progress.START_ENV, "0")
    monkeypatch.setattr(progress.time, "time", lambda: 30.0)
    with caplog.at_level("INFO", logger="lossbench"):
        outcomes.record(str(tmp_path / "sweep"), "a-s0", "finished")
        outcomes.record(str(tmp_path / "sweep"), "a-s1", "refused", "bad")
    assert [r.getMessage() for r in caplog.records] == [
        "sweep: 1/4 runs done (1 finished), 3 to go, ETA 1m30s",
        "sweep: 2/4 runs done (1 finished, 1 refused), 2 to go, ETA 0m30s"]


@pytest.mark.parametrize("job, runs", [(["loss=mae", "seed=0"], 1),
                                       (["loss=mae", "seed=0", "seeds=[0,1,2]"], 3)])
def test_a_stacked_job_logs_one_run_per_seed(job, runs):
    from lossbench.sweeper import runs_of

    assert runs_of(job) == runs
