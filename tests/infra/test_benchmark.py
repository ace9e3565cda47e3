"""experiments/benchmark.py runs and reports ratios (no timing is asserted), and its
hand-written twins of the pairs and GAN kinds do lossbench's work: from the same seed they
end on lossbench's final metrics."""

from __future__ import annotations

import importlib.util
import json

import pytest

import lossbench.app as app
from tests.conftest import CPU, ROOT, SHARED_DATA, compose_config, run_python

OLIVETTI = SHARED_DATA / "scikit_learn_data" / "olivetti_py3.pkz"
needs_olivetti = pytest.mark.skipif(not OLIVETTI.exists(), reason=f"no {OLIVETTI}")


def _bench_module():
    spec = importlib.util.spec_from_file_location("benchmark",
                                                  ROOT / "experiments" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_rows(tmp_path, rows: list[str], *extra: str) -> dict:
    out = tmp_path / "bench.json"
    args = [a for row in rows for a in ("--scenario", row)]
    proc = run_python(str(ROOT / "experiments" / "benchmark.py"), *args, "--repeats", "1",
                      "--data-dir", str(SHARED_DATA), "--out", str(out), *extra, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "time x" in proc.stdout
    results = json.loads(out.read_text())
    assert list(results) == rows
    for name, res in results.items():
        assert name in proc.stdout
        for side in ("lossbench", "baseline"):
            assert {"seconds", "py_peak_mb", "rss_peak_mb", "import_s"} <= set(res[side])
            assert res[side]["seconds"] > 0 and res[side]["rss_peak_mb"] > 0
        assert res["ratio"]["time"] > 0 and res["ratio"]["rss"] > 0
    return results


@pytest.mark.slow
def test_benchmark_smoke(tmp_path):
    _run_rows(tmp_path, ["diabetes"])


# the quick rows (pairs-digits, wgan-points-50) run in .ci/run's `benchmark.py --quick`; these
# are the full table's rows of the pairs and GAN kinds, on small budgets
@pytest.mark.slow
@needs_olivetti
def test_benchmark_pairs_row(tmp_path):
    results = _run_rows(tmp_path, ["face_verification"], "--set", "data.pairs_per_epoch=128")
    assert "data.pairs_per_epoch=128" in results["face_verification"]["overrides"]


@pytest.mark.slow
@needs_olivetti
def test_benchmark_gan_rows(tmp_path):
    small = ["trainer.steps=2", "trainer.eval_every=2", "data.n_eval=100"]
    results = _run_rows(tmp_path, ["wgan_points", "wgan_faces"],
                        *(a for o in small for a in ("--set", o)))
    for res in results.values():  # the row's budget replaced, not repeated
        assert [o for o in res["overrides"] if o.startswith("trainer.steps=")] == \
            ["trainer.steps=2"]
        assert "trainer.epochs=1" not in res["overrides"]


TWIN_CASES = {
    # row, its small budget, the final metrics the twin must reproduce
    "pairs": ("pairs-digits", ["data.pairs_per_epoch=256", "data.eval_pairs=300"],
              ["val_pos_dist", "val_neg_dist", "test_pos_dist", "test_neg_dist"]),
    "wgan": ("wgan-points-50", ["trainer.steps=4", "trainer.eval_every=4", "data.n_eval=300",
                                "data.n_train=3000"], ["critic_w_estimate", "w1"]),
    "wgan_gp": ("wgan-points-50", ["loss=wgan_gp", "trainer.steps=3", "trainer.eval_every=3",
                                   "data.n_eval=300", "data.n_train=3000"],
                ["critic_w_estimate", "w1"]),
    "gan": ("wgan-points-50", ["loss=gan", "trainer.steps=3", "trainer.eval_every=3",
                               "data.n_eval=300", "data.n_train=3000"],
            ["critic_w_estimate", "w1"]),
    "wgan_faces": ("wgan_faces", ["trainer.steps=2", "trainer.eval_every=2", "model.width=8",
                                  "trainer.classifier_epochs=2"],
                   ["critic_w_estimate", "fd", "nn_train_distance"]),
}


@pytest.mark.parametrize("case", list(TWIN_CASES))
def test_twin_ends_on_lossbench_metrics(case, tmp_path, monkeypatch):
    row, budget, keys = TWIN_CASES[case]
    if row == "wgan_faces" and not OLIVETTI.exists():
        pytest.skip(f"no {OLIVETTI}")
    monkeypatch.chdir(tmp_path)  # the GAN's checkpoint dir
    bench = _bench_module()
    args = bench.argparse.Namespace(threads=1, seed=3, data_dir=str(SHARED_DATA),
                                    set=[*budget, *CPU])
    overrides = bench._overrides(args, {**bench.FULL, **bench.QUICK}[row])
    final = app.run(compose_config(*overrides))
    cfg = compose_config(*overrides)
    twin = bench.TWINS[cfg.task]()(cfg)
    for key in keys:
        assert twin[key] == pytest.approx(final[f"final_{key}"], rel=1e-5, abs=1e-7), key


@pytest.mark.slow
def test_time_studies_times_each_study_and_says_how_far_a_stopped_one_got(tmp_path):
    """experiments/time_studies.py: a study that runs to the end has every job finished and
    its devices named; one stopped by its cap says so, with its log kept."""
    def run(*args: str):
        out = tmp_path / "times.md"
        proc = run_python(str(ROOT / "experiments" / "time_studies.py"), "--profile", "quick",
                          "--data-dir", str(SHARED_DATA), "--set", "download=false",
                          "--set", "seed=0", "--set", "trainer.epochs=1",
                          "--work", str(tmp_path / "w"), "--out", str(out), *args,
                          cwd=tmp_path, timeout=600)
        return proc, [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")], \
            out.read_text()

    proc, rows, table = run("--study", "outliers_mae")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert rows == [{"study": "outliers_mae", "status": "0", "wall_s": rows[0]["wall_s"],
                     "finished": 2, "jobs": 2, "devices": "cpu"}]  # mae, mse: one seed each
    assert "| outliers_mae | 0 |" in table and "| 2 of 2 | cpu |" in table
    proc, rows, table = run("--study", "power_outliers", "--cap", "3")
    assert proc.returncode == 1
    assert rows[0]["status"] == "stopped at 3 s" and rows[0]["finished"] == 0
    assert "| power_outliers | stopped at 3 s |" in table
    assert (tmp_path / "w" / "logs" / "power_outliers.log").exists()


def test_time_studies_marks_what_the_budget_did_not_reach(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("time_studies",
                                                  ROOT / "experiments" / "time_studies.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module.studies()) == {p.stem for p in (ROOT / "experiments" / "experiment")
                                     .glob("*.yaml")}
    assert module.studies()[0] == "overflow"
    calls = []

    def fake(study, args, work, cap):
        calls.append((study, cap))
        module.time.sleep(1.0)
        return {"study": study, "status": f"stopped at {cap:.0f} s", "wall_s": cap,
                "finished": 1, "jobs": 3, "devices": "cuda"}

    monkeypatch.setattr(module, "time_study", fake)
    out = tmp_path / "t.md"
    rc = module.main(["--study", "a", "--study", "b", "--budget", "1.5", "--cap", "50",
                      "--work", str(tmp_path), "--out", str(out)])
    assert rc == 1
    assert [c[0] for c in calls] == ["a"] and 1.0 < calls[0][1] <= 1.5  # capped by budget
    table = out.read_text()
    assert "| a | stopped at 1 s |" in table and "| 1 of 3 | cuda |" in table
    assert "| b | not run (budget spent) |" in table
    # a row counts finished jobs among those the sweep recorded, and the devices named
    sweep = tmp_path / "sweeps" / "c"
    sweep.mkdir(parents=True)
    jobs = [("c-s0", "finished"), ("c-s1", "failed"), ("c-s2", "refused"), ("c-s3", "finished")]
    (sweep / "jobs.jsonl").write_text(
        "".join(json.dumps({"job": j, "outcome": o}) + "\n" for j, o in jobs))
    log = "[..] - c-s0 on cuda:0\n[..] - c-s3 on cpu\n[..] on cuda:0"
    assert module.outcome(sweep, log) == {"finished": 2, "jobs": 4, "devices": "cpu,cuda:0"}
    assert module.outcome(tmp_path / "none", "") == {"finished": 0, "jobs": 0, "devices": "-"}
