"""``lossbench study --until-decided``: the round/look logic on fake paired differences, the
refusals, and one small end-to-end run on California housing (slow)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lossbench import stats
from lossbench.study import claim_verdict, judge_look, main, plan_looks

ROOT = Path(__file__).resolve().parents[2]
DATA = Path("/work/shared/data")


def run_looks(diffs: dict[str, np.ndarray], looks, **kw):
    """Apply judge_look look by look on the first looks[k] differences, as the CLI does."""
    decisions, out = {}, []
    for k, n in enumerate(looks):
        look = judge_look({lab: d[:n] for lab, d in diffs.items()}, k, looks, "min",
                          earlier=decisions, **kw)
        decisions = look.decisions
        out.append(look)
        if look.done:
            break
    return out


def test_plan_looks_ends_at_max_seeds():
    assert plan_looks(2, 4) == [2, 4]
    assert plan_looks(5, 12) == [5, 10, 12]
    assert plan_looks(5, 5) == [5]
    with pytest.raises(ValueError, match="--round"):
        plan_looks(1, 10)
    with pytest.raises(ValueError, match="--max-seeds"):
        plan_looks(5, 4)


def test_a_clear_effect_stops_at_the_first_look():
    rng = np.random.default_rng(0)
    looks = plan_looks(5, 20)
    # the guide's loss is lower by 1 against both alternatives, noise sd 0.1: t ~ -22 at n 5
    diffs = {"mse vs mae": -1 + 0.1 * rng.standard_normal(20),
             "mse vs huber": -1 + 0.1 * rng.standard_normal(20)}
    seq = run_looks(diffs, looks)
    assert len(seq) == 1 and seq[0].n == 5 and seq[0].done
    assert {x.verdict for x in seq[0].decisions.values()} == {stats.SUPPORTED}
    assert claim_verdict(seq[0]) == stats.SUPPORTED
    # boundaries are those of the plan at alpha / 2 (two comparisons)
    b = stats.sequential_boundaries(looks, 0.025)
    assert seq[0].decisions["mse vs mae"].boundary == pytest.approx(b.t[0])


def test_the_null_runs_to_max_seeds_and_is_inconclusive():
    rng = np.random.default_rng(1)
    looks = plan_looks(5, 20)
    seq = run_looks({"mse vs mae": rng.standard_normal(20)}, looks)
    assert [look.n for look in seq] == [5, 10, 15, 20]
    assert [claim_verdict(look) for look in seq] == [stats.CONTINUE] * 3 + [stats.INCONCLUSIVE]


def test_a_decided_comparison_keeps_its_decision_while_another_continues():
    rng = np.random.default_rng(2)
    looks = plan_looks(5, 15)
    # worse by 1 at first (refuted at look 1); the same seeds later would not change that
    clear = np.concatenate([1 + 0.1 * rng.standard_normal(5), -5 + rng.standard_normal(10)])
    seq = run_looks({"a": clear, "b": rng.standard_normal(15)}, looks)
    assert [look.n for look in seq] == [5, 10, 15]
    final = seq[-1].decisions
    assert final["a"].verdict == stats.REFUTED and final["a"].n == 5
    assert final["b"].verdict == stats.INCONCLUSIVE
    assert claim_verdict(seq[-1]) == stats.REFUTED


def test_non_inferiority_uses_the_margin_and_equivalence_waits_for_n():
    looks = plan_looks(4, 8)
    # guide worse by 0.01 every seed (+ tiny noise), margin 0.1: non-inferior from look 1
    d = 0.01 + 0.001 * np.array([1, -1, 2, -2, 1, -1, 0.5, -0.5])
    ni = run_looks({"x": d}, looks, claim_type="non_inferiority", margin=0.1)
    assert len(ni) == 1 and ni[0].decisions["x"].verdict == stats.SUPPORTED
    sup = run_looks({"x": d}, looks)  # as superiority the guide is worse: refuted
    assert sup[-1].decisions["x"].verdict == stats.REFUTED
    eq = run_looks({"x": d}, looks, claim_type="equivalence", margin=0.1)
    assert [look.n for look in eq] == [4, 8]
    assert eq[0].decisions["x"].verdict == stats.CONTINUE
    assert eq[-1].decisions["x"].verdict == stats.SUPPORTED  # TOST at n = 8


def test_indicator_studies_and_per_round_keys_are_refused(capsys):
    assert main(["wgan", "--until-decided", "--max-seeds", "10", "--round", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "indicator headline (final_collapsed)" in err[0]
    assert main(["house_price", "--until-decided", "--max-seeds", "4", "seed=1"]) == 2
    assert "seed and hydra.sweep.dir are set per round" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not DATA.exists(),
                    reason="needs the real data in /work/shared/data")
def test_until_decided_end_to_end(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "lossbench", "study", "house_price", "--until-decided",
           "--max-seeds", "4", "--round", "2", "profile=quick", "loss=mse,huber",
           "optimizer=adam", "trainer.epochs=2", "tracking.plots=false", "torch_threads=1",
           f"data_dir={DATA}", "download=false", f"tracking.uri=sqlite:///{tmp_path}/s.db"]
    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    looks = re.findall(r"^look (\d)/2, (\d) seeds: mse vs huber: t [-+][\d.]+, "
                       r"boundary ±[\d.]+, (\w+)", res.stdout, re.M)
    assert looks and looks[0][:2] == ("1", "2")
    assert all(v in ("continue", "supported", "refuted", "inconclusive") for *_, v in looks)
    last = looks[-1]
    assert last[2] != "continue" and (last[1] == "4" or last[2] in ("supported", "refuted"))
    assert re.search(r"claim (supported|refuted|inconclusive) after [24] seeds", res.stdout)
    rounds = sorted(p.name for p in (tmp_path / "multirun").glob("*/*/round-*"))
    assert rounds == [f"round-{i + 1}" for i in range(len(looks))]
