"""lossbench report on synthetic MLflow stores the tests build themselves with MlflowClient:
each child run logs a resolved ``config.yaml`` artifact, as every lossbench job does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from omegaconf import OmegaConf

from lossbench import report, stats
from lossbench.study_schema import CLAIM_IDS, CLAIM_TYPES
from lossbench.tracking import PARENT_TAG

ROOT = Path(__file__).resolve().parents[2]
SEEDS = range(6)
BASE = np.array([3.0, 5.0, 4.0, 6.0, 2.0, 7.0])  # large spread between seeds: pairing removes it
NOISE = np.array([0.01, -0.02, 0.015, -0.005, 0.02, -0.01])  # mean 0.01 / 6
# per (loss, optimizer): offset added to the per-seed base
HOUSE = {("mse", "Adam"): 0.0, ("mae", "Adam"): 0.30, ("huber", "Adam"): 0.0,
         ("log_cosh", "Adam"): -0.25,
         ("mse", "SGD"): 0.5, ("mae", "SGD"): 0.1, ("huber", "SGD"): 0.5, ("log_cosh", "SGD"): 0.5}
HOUSE_STUDY = {"headline": "final_test_rmse", "headline_mode": "min", "guide_loss": "mse",
               "claim": "MSE wins on clean targets.", "claim_id": "table",
               "optimizer_pairing": {"mse": "adam", "mae": "sgd"}}
STORED_INF = 1.7976931348623157e308  # what MLflow's SQLite store makes of +inf


class Store:
    """A synthetic store: sweeps of fake child runs, each with params, tags, the headline
    metric, a config.yaml artifact, and start/end times 3 s apart. ``template``: an empty
    store to copy (MLflow creates a new database's tables slowly)."""

    def __init__(self, tmp_path: Path, template: Path | None = None) -> None:
        if template is not None:
            shutil.copy(template, tmp_path / "mlflow.db")
        self.uri = f"sqlite:///{tmp_path}/mlflow.db"
        self.client = MlflowClient(self.uri)
        self.artifacts = tmp_path / "artifacts"
        self.clock = 1_700_000_000_000

    def experiment(self, name: str) -> str:
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        return self.client.create_experiment(name, artifact_location=str(self.artifacts / name))

    def sweep(self, experiment: str, study: dict, values: dict[tuple[str, str], float],
              seeds=SEEDS, failed: int = 0, finish: bool = True, gan_optimizers: bool = False,
              override: dict[tuple[str, int], float] | None = None,
              tags: dict[str, str] | None = None) -> str:
        exp_id = self.experiment(experiment)
        self.clock += 10_000_000
        parent = self.client.create_run(exp_id, run_name="sweep", start_time=self.clock,
                                        tags={"lossbench.role": "sweep",
                                              "lossbench.sweep_dir": f"multirun/{experiment}"})
        pid = parent.info.run_id
        config = OmegaConf.to_yaml({"name": experiment, "profile": "quick", "study": study})
        for k, ((loss, opt), offset) in enumerate(values.items()):
            noise = np.roll(NOISE, k) if k else np.zeros_like(NOISE)
            for seed in seeds:
                if gan_optimizers:  # the loss picks the optimizer: no condition
                    opt = {"wgan": "RMSprop", "wgan_gp": "Adam", "gan": "Adam"}[loss]
                self.clock += 10_000
                run = self.client.create_run(
                    exp_id, run_name=f"{experiment}-{loss}-s{seed}", start_time=self.clock,
                    tags={PARENT_TAG: pid, "loss": loss, "seed": str(seed), **(tags or {})})
                rid = run.info.run_id
                params = {"seed": str(seed), "data.split_seed": str(seed), "loss_name": loss,
                          "optimizer._target_": f"torch.optim.{opt}",
                          "optimizer.momentum": "0.9" if opt == "SGD" else "None"}
                value = (override or {}).get((loss, seed),
                                             BASE[seed % 6] + offset + noise[seed % 6])
                self.client.log_batch(rid, metrics=[Metric(study["headline"], float(value), 0, 1)],
                                      params=[Param(k, v) for k, v in params.items()])
                self.client.log_text(rid, config, "config.yaml")
                self.client.set_terminated(rid, "FINISHED", end_time=self.clock + 3000)
        for i in range(failed):
            run = self.client.create_run(exp_id, run_name=f"failed-{i}", tags={PARENT_TAG: pid})
            self.client.log_text(run.info.run_id, config, "config.yaml")
            self.client.set_terminated(run.info.run_id, "FAILED")
        if finish:
            self.client.set_terminated(pid, "FINISHED")
        return pid


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("empty")
    Store(path).client.search_experiments()  # creates the tables
    return path / "mlflow.db"


@pytest.fixture
def store(tmp_path, empty_db) -> Store:
    return Store(tmp_path, empty_db)


@pytest.fixture(scope="module")
def house(tmp_path_factory, empty_db) -> Store:
    """Built once per module (a loaded 2-core machine writes SQLite slowly); tests that add
    sweeps use their own ``store``."""
    store = Store(tmp_path_factory.mktemp("house"), empty_db)
    store.pid = store.sweep("house_price", HOUSE_STUDY, HOUSE, failed=1,
                            tags={"mlflow.source.git.commit": "0123456789abcdef" * 2 + "01234567",
                                  "lossbench.git_dirty": "false"})
    store.sweep("wgan", {"headline": "final_w1", "headline_mode": "min", "guide_loss": "wgan",
                         "claim": "WGAN beats GAN on W1.", "claim_id": "C8",
                         "claim_against": ["gan"]},
                {("wgan", "x"): 0.0, ("wgan_gp", "x"): -1.0, ("gan", "x"): 1.0},
                gan_optimizers=True)
    store.client.create_experiment("unrelated")
    return store


def test_study_definition_comes_from_the_config_artifact(house):
    studies = {s.name: s for s in report.load_studies(house.client)}
    assert set(studies) == {"house_price", "wgan"}
    hp, gan = studies["house_price"], studies["wgan"]
    assert hp.conf.guide_loss == "mse" and hp.conf.claim_type == "superiority"
    assert hp.conf.optimizer_pairing == {"mse": "adam", "mae": "sgd"}
    assert hp.profile == "quick" and hp.failed == 1 and len(hp.runs) == 8 * len(SEEDS)
    assert gan.conf.claim_against == ["gan"] and gan.conf.claim_id == "C8"
    assert report.condition_keys(hp.runs) == ["optimizer._target_"]
    assert report.condition_keys(gan.runs) == []  # the optimizer follows the loss
    assert set(report.grouped(hp)) == {"optimizer=Adam", "optimizer=SGD"}


def test_holm_family_verdicts_and_adjusted_p(house):
    (hp,) = report.load_studies(house.client, ["house_price"])
    rows = {(r.condition, r.alternative): r for r in report.loss_comparisons(hp)}
    # the claim is judged in the guide's optimizer condition (mse: adam), against every loss
    family = [rows[("optimizer=Adam", alt)] for alt in ("huber", "log_cosh", "mae")]
    assert all(r.in_claim and r.family == 3 for r in family)
    assert not any(r.in_claim for (cond, _), r in rows.items() if cond == "optimizer=SGD")
    verdicts = {r.alternative: r.test.verdict for r in family}
    assert verdicts == {"mae": "supported", "huber": "inconclusive", "log_cosh": "refuted"}
    assert report.claim_verdict(list(rows.values())) == "refuted"
    mae = rows[("optimizer=Adam", "mae")].test
    assert mae.mean_diff == pytest.approx(-0.30, abs=0.02) and mae.n == len(SEEDS)
    # Holm: the adjusted p-values are holm() of the raw ones, the smallest multiplied by 3
    raw = [r.test.p_value for r in family]
    np.testing.assert_allclose([r.test.p_adjusted for r in family], stats.holm(raw))
    assert min(r.test.p_adjusted for r in family) == pytest.approx(3 * min(raw))
    # SGD condition: reported unadjusted; mse is worse there by 0.4 against mae
    sgd_mae = rows[("optimizer=SGD", "mae")]
    assert sgd_mae.test.verdict == "refuted" and sgd_mae.test.p_adjusted is None
    assert sgd_mae.test.mean_diff == pytest.approx(0.4, abs=0.02)
    assert sgd_mae.p_improve == pytest.approx(stats.prob_improvement(
        [BASE[s] + 0.5 for s in SEEDS], [BASE[s] + 0.1 for s in SEEDS], "min"), abs=0.1)
    opt = {(r.guide, r.alternative): r.test.verdict for r in report.optimizer_comparisons(hp)}
    assert opt == {("mse + adam", "mse + sgd"): "supported",
                   ("mae + sgd", "mae + adam"): "supported"}


def test_render_tables_intervals_power_and_plots(house, tmp_path):
    out = tmp_path / "rep" / "REPORT.md"
    studies = report.load_studies(house.client)
    text = report.render(studies, out, house.uri)
    assert out.read_text() == text
    assert (tmp_path / "rep" / "house_price.png").stat().st_size > 5000
    assert (tmp_path / "rep" / "house_price_forest.png").stat().st_size > 5000
    assert "![mean difference per comparison](wgan_forest.png)" in text
    # the opening table: every claim of the guide, the judged ones with their verdict
    assert "| C1 | MSE is sensitive to outliers; MAE is robust to them | no study yet |" in text
    assert sum(line.startswith("| C") for line in text.splitlines()) == 17
    assert set(report.CLAIMS) == set(CLAIM_IDS) and stats.CLAIM_TYPES == CLAIM_TYPES
    assert "| C8 | " in text and "[wgan](#wgan) | superiority | **supported** | Δ vs gan -1.002 " \
                                 "| 6 |" in text
    assert "[house_price](#house_price) | superiority | **refuted** |" in text
    # a comparison row: t-interval, BCa interval, P(improve), p for / against, Holm
    hp = next(s for s in studies if s.name == "house_price")
    mae = next(r for r in report.loss_comparisons(hp)
               if (r.condition, r.alternative) == ("optimizer=Adam", "mae"))
    t = mae.test
    row = next(line for line in text.splitlines()
               if line.startswith("| optimizer=Adam | mse | mae | 6 |"))
    assert f"[{t.ci_low:.4g}, {t.ci_high:.4g}]" in row and f"| {mae.p_improve:.4g} |" in row
    assert f"[{mae.boot.low:.4g}, {mae.boot.high:.4g}]" in row
    assert mae.boot.low < t.mean_diff < mae.boot.high < 0
    assert "/ 1.000 |" in row and "**supported**" in row  # p against = 1
    # the inconclusive comparison states its seeds at alpha / 3 and their run time (3 s/run)
    huber = next(r for r in report.loss_comparisons(hp)
                 if (r.condition, r.alternative) == ("optimizer=Adam", "huber"))
    need = stats.seeds_needed(huber.test.oriented_dz, 0.05 / 3, 0.8)
    line = next(l for l in text.splitlines() if l.startswith("- optimizer=Adam, mse vs huber"))
    if need is None:
        assert "no number of seeds" in line
    else:
        assert f"{need} seeds for 80% power" in line and "3 s per run" in line
    assert "Code: `0123456789ab` (clean tree)" in text and "Code: not recorded" in text
    assert "1 failed" in text and f"parent run `{house.pid}`" in text
    assert "Holm-adjusted" in text and "TOST" in text


def test_typed_claims_equivalence_and_non_inferiority(store, tmp_path):
    """CE and KL identical on every seed: equivalence supported (exact); a loss 0.002 worse
    with a 0.005 margin: non-inferior; 0.02 worse: refuted."""
    ident = {("ce", "x"): 0.0, ("kl_div", "x"): 0.0}
    store.sweep("mnist", {"headline": "final_test_accuracy", "headline_mode": "max",
                          "guide_loss": "ce", "claim": "CE equals KL.", "claim_id": "C7",
                          "claim_type": "equivalence", "margin": 0.005,
                          "margin_reason": "half a point"},
                ident, override={("kl_div", s): BASE[s] for s in SEEDS} |
                {("ce", s): BASE[s] for s in SEEDS})
    store.sweep("spam", {"headline": "final_test_roc_auc", "headline_mode": "max",
                         "guide_loss": "bce", "claim": "BCE as good.", "claim_id": "table",
                         "claim_type": "non_inferiority", "margin": 0.005,
                         "margin_reason": "half a point"},
                {("bce", "x"): 0.0, ("hinge", "x"): 0.002, ("focal", "x"): 0.02},
                override={(loss, s): BASE[s] / 10 + off + NOISE[(s + k) % 6] / 1000
                          for k, (loss, off) in enumerate((("bce", 0.0), ("hinge", 0.002),
                                                           ("focal", 0.02)))
                          for s in SEEDS})
    studies = {s.name: s for s in report.load_studies(store.client)}
    (eq,) = report.loss_comparisons(studies["mnist"])
    assert eq.test.verdict == "supported" and eq.test.mean_diff == 0
    ni = {r.alternative: r.test for r in report.loss_comparisons(studies["spam"])}
    assert ni["hinge"].verdict == "supported" and ni["focal"].verdict == "refuted"
    assert ni["hinge"].mean_diff == pytest.approx(-0.002, abs=1e-4)
    text = report.render(list(studies.values()), tmp_path / "r" / "R.md", store.uri,
                         plots=False)
    assert "**Claim (C7, equivalence):** CE equals KL." in text
    assert "**Margin:** 0.005 (`final_test_accuracy` units): half a point" in text
    assert "| equivalence (margin 0.005) | **supported** |" in text
    assert "non-inferiority (margin 0.005) | **refuted** |" in text


def test_a_stored_infinity_is_a_failed_run(store):
    """Huber beats MSE by 0.5 on six seeds; a seventh Huber run 'finished' at +inf (stored
    as 1.797e308) is a failed run, not a value that swamps the mean."""
    study = {"headline": "final_test_rmse", "headline_mode": "min", "guide_loss": "huber",
             "claim": "Huber beats MSE.", "claim_id": "C2", "claim_against": ["mse"]}
    store.sweep("power_outliers", study, {("huber", "x"): 0.0, ("mse", "x"): 0.5},
                seeds=range(7), override={("huber", 6): STORED_INF})
    (s,) = report.load_studies(store.client)
    assert s.not_a_value == 1 and len(s.runs) == 13
    (row,) = report.loss_comparisons(s)
    assert row.test.n == 6 and row.test.verdict == "supported"
    assert row.test.mean_diff == pytest.approx(-0.5, abs=0.03)
    assert report.mean_rows([s])[("power_outliers", "all", "huber")][0] == 6
    assert not report.is_value(STORED_INF) and not report.is_value(float("nan"))
    assert report.is_value(1e299)


def test_incomplete_sweeps_are_skipped_unless_asked(store):
    """A newer sweep whose parent is still RUNNING (Ctrl-C) is passed over and counted."""
    pair = {("mse", "Adam"): 0.0, ("mae", "Adam"): 0.3}
    study = {**HOUSE_STUDY, "optimizer_pairing": {}}
    done = store.sweep("house_price", study, pair, seeds=range(3))
    newer = store.sweep("house_price", study, pair, seeds=range(1), finish=False)
    (s,) = report.load_studies(store.client, ["house_price"])
    assert s.parent_id == done and (s.skipped_sweeps, s.skipped_runs) == (1, 2)
    assert len(s.runs) == 6
    (s,) = report.load_studies(store.client, ["house_price"], include_incomplete=True)
    assert s.parent_id == newer and len(s.runs) == 2
    with pytest.raises(report.ReportError, match="not complete"):
        report.load_studies(store.client, sweep=newer)
    text = report.render(report.load_studies(store.client, ["house_price"]),
                         store.artifacts.parent / "r" / "R.md", store.uri, plots=False)
    assert "1 newer incomplete sweep(s) with 2 runs" in text


def test_sweep_selection_and_errors(house):
    (s,) = report.load_studies(house.client, sweep=house.pid)
    assert s.parent_id == house.pid and s.name == "house_price"
    with pytest.raises(report.ReportError, match="no such MLflow experiment"):
        report.load_studies(house.client, ["nope"])
    with pytest.raises(report.ReportError, match="no complete sweep with study runs"):
        report.load_studies(house.client, ["unrelated"])


def test_an_old_study_block_is_refused_in_one_line(store):
    old = {"headline": "final_w1", "headline_mode": "min", "paired_loss": "wgan",
           "claim": "old."}
    store.sweep("wgan", old, {("wgan", "x"): 0.0, ("gan", "x"): 1.0}, gan_optimizers=True)
    with pytest.raises(report.ReportError, match="does not fit StudyConf.*paired_loss"):
        report.load_studies(store.client)


def test_check_finds_a_changed_mean(house, tmp_path, capsys):
    out = tmp_path / "REPORT.md"
    assert report.main(["--tracking-uri", house.uri, "--out", str(out), "--no-plots"]) == 0
    text = out.read_text()
    studies = report.load_studies(house.client)
    assert report.check(studies, text) == []
    rows = report.parse_mean_rows(text)
    assert len(rows) == len(report.mean_rows(studies)) == 8 + 3
    n, printed = rows[("house_price", "optimizer=Adam", "mae")]
    exact = report.mean_rows(studies)[("house_price", "optimizer=Adam", "mae")][1]
    assert n == 6 and printed == f"{exact:.4g}"
    # a number changed in its last printed digit is caught; its own rounding is not
    bumped = f"{float(printed) + 0.001:.4g}"
    changed = text.replace(f"| optimizer=Adam | mae | 6 | {printed} |",
                           f"| optimizer=Adam | mae | 6 | {bumped} |")
    assert changed != text
    assert report.check(studies, changed) == [
        f"house_price / optimizer=Adam / mae: store 6 seeds, mean {printed}; committed 6 "
        f"seeds, mean {bumped}"]
    assert report._same(0.57449, "0.5745") and not report._same(0.57439, "0.5745")
    (tmp_path / "changed.md").write_text(changed)
    capsys.readouterr()
    assert report.main(["--tracking-uri", house.uri, "--check", str(out)]) == 0
    assert report.main(["--tracking-uri", house.uri, "--check",
                        str(tmp_path / "changed.md")]) == 1
    assert "differs: house_price / optimizer=Adam / mae" in capsys.readouterr().out
    only_wgan = text[:text.index("## house_price")] + text[text.index("## wgan"):]
    assert report.check(studies, only_wgan) == ["house_price: not in the committed report"]


def test_cli_refuses_a_missing_store_and_reports_one_experiment(house, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    missing = tmp_path / "typo" / "mlflow.db"
    bad = subprocess.run([sys.executable, "-m", "lossbench", "report", "--tracking-uri",
                          f"sqlite:///{missing}"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 2 and not missing.exists()
    assert bad.stderr.strip().splitlines() == [
        f"lossbench report: error: --tracking-uri sqlite:///{missing}: no such database "
        f"file {missing}"]
    out = tmp_path / "cli" / "R.md"
    assert report.main(["--tracking-uri", house.uri, "--experiment", "wgan", "--out",
                        str(out), "--no-plots"]) == 0
    assert "## wgan" in out.read_text() and "## house_price" not in out.read_text()
    assert report.main(["--tracking-uri", house.uri, "--experiment", "nope"]) == 2


def test_seeds_needed_per_claim_type_and_margin_lines():
    """Equivalence: power at the margin with true difference 0; non-inferiority: at the
    observed effect shifted by the margin; both in sd units of the paired differences, at
    alpha / family size."""
    d = np.array([0.004, -0.003, 0.006, -0.001, 0.002])  # sd ~0.0037, margin 0.005
    sd = d.std(ddof=1)
    eq = report.compare("all", "ce", "kl", d, np.zeros(5), [], "max", "equivalence", 0.005)
    assert eq.test.verdict == "inconclusive"
    assert eq.seeds_needed() == stats.seeds_needed(0.0, 0.05, 0.8, "equivalence", 0.005 / sd)
    ni = report.compare("all", "bce", "hinge", d - 0.004, np.zeros(5), [], "max",
                        "non_inferiority", 0.005)
    assert ni.test.verdict == "inconclusive"
    pair = replace(ni, family=2)
    assert pair.seeds_needed() == stats.seeds_needed(
        ni.test.oriented_dz, 0.025, 0.8, "non_inferiority", 0.005 / sd) > ni.seeds_needed()
    decided = report.compare("all", "a", "b", d + 1, np.zeros(5), [], "max")
    assert decided.test.verdict == "supported" and decided.seeds_needed() is None

    def study(kind, mode, margin):
        conf = report.StudyConf(headline="final_x", headline_mode=mode, guide_loss="a",
                                claim="c", claim_id="C1", claim_type=kind, margin=margin,
                                margin_reason=None if margin is None else "r")
        return SimpleNamespace(conf=conf)

    from lossbench.report_plots import claim_bounds
    assert claim_bounds(study("superiority", "min", None)) == []
    assert claim_bounds(study("non_inferiority", "max", 0.01)) == [-0.01]  # guide may lose 0.01
    assert claim_bounds(study("non_inferiority", "min", 0.01)) == [0.01]
    assert claim_bounds(study("equivalence", "max", 0.01)) == [-0.01, 0.01]


# --------------------------------------------------------------------------- indicator headline
C8_STUDY = {"headline": "final_collapsed", "headline_mode": "min", "headline_kind": "indicator",
            "guide_loss": "wgan", "claim": "WGAN collapses less often.", "claim_id": "C8",
            "claim_against": ["gan", "wgan_gp"]}
COLLAPSED = {"wgan": {0}, "wgan_gp": {0, 1}, "gan": set(range(7))}  # seeds that collapse of 10


def test_indicator_study_fisher_holm_rates_and_w1_figure(store, tmp_path):
    """0/1 headline over 10 runs per loss: wgan 1, wgan_gp 2, gan 7 collapse. Fisher's exact
    one-sided p of each comparison equals scipy's, Holm over the two named ones; wgan vs gan is
    supported, vs wgan_gp inconclusive (claim inconclusive, with runs for 80 % power); the W1
    histories give the median/IQR figure and the final_w1 table."""
    from scipy.stats import binomtest, fisher_exact

    seeds = range(10)
    store.sweep("wgan", C8_STUDY, {(loss, "x"): 0.0 for loss in COLLAPSED}, seeds=seeds,
                gan_optimizers=True,
                override={(loss, s): float(s in bad) for loss, bad in COLLAPSED.items()
                          for s in seeds})
    for run in store.client.search_runs([store.experiment("wgan")],
                                        f"tags.`{PARENT_TAG}` != ''"):
        scale = {"wgan": 1.0, "wgan_gp": 2.0, "gan": 4.0}[run.data.tags["loss"]]
        w1 = [scale * (1 + int(run.data.tags["seed"]) / 10) / (1 + k) for k in range(3)]
        store.client.log_batch(run.info.run_id, metrics=[
            *(Metric("w1", v, 0, 50 * k) for k, v in enumerate(w1)),
            Metric("final_w1", w1[-1], 0, 100), Metric("w1_real_floor", 0.05, 0, 0)])
    (s,) = report.load_studies(store.client)
    assert s.indicator and len(s.runs) == 30
    rows = {r.alternative: r for r in report.loss_comparisons(s)}
    gan, gp = rows["gan"], rows["wgan_gp"]
    assert gan.test.p_value == pytest.approx(
        fisher_exact([[1, 9], [7, 3]], alternative="less").pvalue, rel=1e-12)
    assert gan.test.p_refute == pytest.approx(
        fisher_exact([[1, 9], [7, 3]], alternative="greater").pvalue, rel=1e-12)
    assert gp.test.p_value == pytest.approx(
        fisher_exact([[1, 9], [2, 8]], alternative="less").pvalue, rel=1e-12)
    np.testing.assert_allclose([gan.test.p_adjusted, gp.test.p_adjusted],
                               stats.holm([gan.test.p_value, gp.test.p_value]))
    assert gan.test.verdict == "supported" and gp.test.verdict == "inconclusive"
    assert gan.test.mean_diff == pytest.approx(-0.6) and gan.family == 2
    assert report.claim_verdict(list(rows.values())) == "inconclusive"
    # Fleiss' two-proportion sample size, 0.1 vs 0.2, one-sided 0.025, power 0.8: 199 per arm
    assert gp.seeds_needed() == report.runs_needed(0.1, 0.2, "min", 0.025) == 199
    assert gan.seeds_needed() is None  # decided

    out = tmp_path / "rep" / "REPORT.md"
    text = report.render([s], out, store.uri)
    ci = binomtest(1, 10).proportion_ci(method="exact")
    assert report.RATE_HEADER in text and report.MEANS_HEADER not in text
    assert f"| all | **wgan** | 10 | 0.1 | 1 | [{ci.low:.4g}, {ci.high:.4g}] |" in text
    assert "| all | gan | 10 | 0.7 | 7 |" in text
    assert "| C8 | " in text and "| **inconclusive** | Δ rate vs gan -0.6; Δ rate vs " \
                                 "wgan_gp -0.1 | 10 |" in text
    assert f"| {report._p(gan.test.p_value)} / {report._p(gan.test.p_refute)} |" in text
    line = next(l for l in text.splitlines() if l.startswith("- all, wgan vs wgan_gp"))
    assert "199 runs per loss for 80% power" in line and "normal-approximation" in line
    assert "Fisher's exact test" in text
    # W1: median/IQR of final_w1 per loss (gan: 4 (1 + s/10) / 3 over s = 0..9) and the figure
    q25, med, q75 = np.percentile([4 * (1 + s / 10) / 3 for s in seeds], [25, 50, 75])
    assert f"| gan | 10 | {med:.4g} | [{q25:.4g}, {q75:.4g}] |" in text
    assert (tmp_path / "rep" / "wgan_w1.png").stat().st_size > 5000
    assert "![W1 over generator steps per loss](wgan_w1.png)" in text
    assert not (tmp_path / "rep" / "wgan_forest.png").exists()
    # --check reads the rate rows as the mean rows
    assert report.check([s], text) == []
    assert report.parse_mean_rows(text)[("wgan", "all", "gan")] == (10, "0.7")
    assert report.check([s], text.replace("| gan | 10 | 0.7 |", "| gan | 10 | 0.6 |")) != []


def test_indicator_verdict_words_and_schema():
    """Refuted when the opposite one-sided Fisher test rejects (lower is better and the guide
    collapses more); under max the same rates support the claim; inconclusive and no run
    count when the rates are equal."""
    from scipy.stats import fisher_exact

    guide, alt = [1.0] * 9 + [0.0], [1.0] + [0.0] * 9
    refuted = report.compare_indicator("all", "a", "b", guide, alt, [], "min")
    assert refuted.test.verdict == "refuted"
    assert refuted.test.p_refute == pytest.approx(
        fisher_exact([[9, 1], [1, 9]], alternative="greater").pvalue)
    assert report.compare_indicator("all", "a", "b", guide, alt, [], "max").test.verdict \
        == "supported"
    same = report.compare_indicator("all", "a", "b", guide, guide, [], "min")
    assert same.test.verdict == "inconclusive" and same.seeds_needed() is None
    with pytest.raises(Exception, match="study.claim_type: must be superiority"):
        report.study_conf({**C8_STUDY, "claim_type": "non_inferiority", "margin": 0.1,
                           "margin_reason": "r"}, "r1")
    with pytest.raises(Exception, match="study.headline_kind"):
        report.study_conf({**C8_STUDY, "headline_kind": "binary"}, "r1")
