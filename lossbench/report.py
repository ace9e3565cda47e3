"""``lossbench report``: judge each case study's claim from its runs in MLflow, as Markdown.

A study is one sweep (``lossbench -m +experiment=<study>``): a parent run with one child run
per job. The study's definition (headline, guide's loss, claim and its type) is read from a
child's resolved ``config.yaml`` artifact, validated by :class:`lossbench.study_schema.StudyConf`.
Only complete sweeps (parent ``FINISHED``) are used unless asked otherwise. Per study the
report writes each loss's headline (mean and 95 % t-interval over seeds), a strip/box plot and
a forest plot (PNGs beside the report), and the typed claim test of the guide's loss against
each alternative (:data:`RULE`); it opens with one table of the guide's claims C1-C17.
A 0/1 headline (``study.headline_kind: indicator``, the WGAN study's ``final_collapsed``) is
shown as count, rate and exact interval per loss and judged by Fisher's exact test; studies
whose runs log a ``w1`` history also get W1 over generator steps (``<study>_w1.png``) and the
median/IQR of ``final_w1`` per loss.

Runs are paired by seed within a *condition*: the swept params other than loss and seed
(e.g. the optimizer). Params that follow from the loss (a GAN loss picks its optimizer) or
from the seed (``data.split_seed``) do not make a condition. A study whose arms are not the
losses (``study.arm``, e.g. ``optimizer`` or ``trainer.batch_size``) is judged the same way
with the arm in the loss's place: the arm's values are compared, paired by seed, within each
condition, and the loss (when several are swept) is one of the condition's keys. ``--check REPORT.md`` compares
the per-loss mean rows of the studies in the store with a committed report.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Optional

import numpy as np
from mlflow import MlflowClient
from mlflow.entities import Run
from omegaconf import OmegaConf

from lossbench import stats
from lossbench.study_schema import EXPERIMENTS_DIR, StudyConf
from lossbench.tracking import PARENT_TAG, sqlite_path
from lossbench.tune import SETTINGS_TAG, TUNED_TAG

SEED_KEYS = ("seed", "data.split_seed", "run_name")
# MLflow's SQLite store saves +inf as 1.797e308: a value this large is no value
NOT_A_VALUE = 1e300
GIT_COMMIT_TAG = "mlflow.source.git.commit"
GIT_DIRTY_TAG = "lossbench.git_dirty"
POWER = 0.8
MEANS_HEADER = "| condition | loss | seeds | mean | 95 % CI |"
# an indicator headline's rows: the rate stands where the mean does (--check reads both)
RATE_HEADER = "| condition | loss | runs | rate | count | exact 95 % CI |"
W1_METRIC = "w1"  # a per-step metric history drawn as median/IQR bands when runs log it
# one line per claim of the guide (../shared/guide/CLAIMS.md has them in full)
CLAIMS = {
    "C1": "MSE is sensitive to outliers; MAE is robust to them",
    "C2": "Huber (and Log-Cosh) combine MSE's smoothness with MAE's robustness",
    "C3": "MSE's optimum is the mean, MAE's the median",
    "C4": "BCE goes with sigmoid, CE with softmax; mismatched pairings break training",
    "C5": "at 1 % positives focal loss (α 0.25, γ 2) with Adam is the right choice",
    "C6": "hinge loss cares only about the margin; suits stable boundaries such as spam",
    "C7": "for fixed targets cross-entropy and KL divergence are equivalent",
    "C8": "Wasserstein training works where supports do not overlap; more stable than GAN",
    "C9": "contrastive loss (margin 1.0) suits face recognition",
    "C10": "smooth losses go with Adam, kinked ones (MAE, hinge) with SGD + momentum",
    "C11": "MSE needs standardised features to converge; cross-entropy is less sensitive",
    "C12": "larger batches converge more smoothly; small batches favour Adam",
    "C13": "naive cross-entropy overflows; fused implementations avoid it",
    "C14": "sparse CE avoids the memory of one-hot targets",
    "C15": "a low training loss is not a good model (overfitting)",
    "C16": "inverse-frequency class weights compensate for imbalance",
    "C17": "focal loss reduces the influence of anomalous samples",
    "table": "the scenario table (六): each case study's loss + activation + optimizer",
}


class ReportError(RuntimeError):
    """Nothing to report: unknown experiment or store, no sweep, or a study that does not
    read back."""


def is_value(x: Optional[float]) -> bool:
    """A headline a finished run really reached: finite and below MLflow's stored +inf."""
    return x is not None and math.isfinite(x) and abs(x) < NOT_A_VALUE


# --------------------------------------------------------------------------- reading MLflow
@dataclass
class Study:
    """One complete sweep of one case study, read back from MLflow."""

    experiment: str
    parent: Run
    conf: StudyConf
    profile: str
    runs: list[Run]               # FINISHED children with a finite headline
    failed: int                   # children not FINISHED
    not_a_value: int              # FINISHED children without a finite headline
    skipped_sweeps: int = 0       # newer incomplete sweeps of this study passed over
    skipped_runs: int = 0         # their child runs

    @property
    def name(self) -> str:
        return self.experiment

    @property
    def parent_id(self) -> str:
        return self.parent.info.run_id

    @property
    def headline(self) -> str:
        return self.conf.headline

    @property
    def mode(self) -> str:
        return self.conf.headline_mode

    @property
    def guide_loss(self) -> str:
        return self.conf.guide_loss

    @property
    def arm(self) -> str:
        return self.conf.arm

    def guide_in(self, condition: str) -> Optional[str]:
        """The guide's arm in a condition (the guide's loss when the arms are the losses)."""
        return self.conf.guide_for(condition_parts(condition))

    @property
    def indicator(self) -> bool:
        return self.conf.headline_kind == "indicator"


def _children(client: MlflowClient, exp_id: str, parent_id: str) -> list[Run]:
    return client.search_runs([exp_id], f"tags.`{PARENT_TAG}` = '{parent_id}'",
                              max_results=50000)


def _parents(client: MlflowClient, exp_id: str) -> list[Run]:
    return client.search_runs([exp_id], "tags.`lossbench.role` = 'sweep'",
                              order_by=["attributes.start_time DESC"], max_results=10000)


def settings_of(children: list[Run]) -> str:
    """A sweep's settings (tag ``lossbench.settings`` of its runs): guide (the study's own;
    runs from before the tag), tuned (lossbench tune's best per cell) or trial (tuning)."""
    return next((c.data.tags[SETTINGS_TAG] for c in children if SETTINGS_TAG in c.data.tags),
                "guide")


def read_config(client: MlflowClient, run: Run) -> dict:
    """The run's resolved ``config.yaml`` artifact (logged by every job), as a dict."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run.info.run_id, "config.yaml", tmp)
        except Exception as e:  # noqa: BLE001 - any store error: one line naming the run
            raise ReportError(f"run {run.info.run_id}: cannot read its config.yaml artifact "
                              f"({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
        return OmegaConf.to_container(OmegaConf.load(path))


def study_conf(block: dict, run_id: str) -> StudyConf:
    """Validate a ``study:`` block read back from a run against today's schema."""
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(StudyConf), block))
    except Exception as e:  # noqa: BLE001 - ConfigError or omegaconf's errors: one line
        raise ReportError(f"run {run_id}: its study block does not fit StudyConf "
                          f"({str(e).splitlines()[0]}); re-run the study with this "
                          "lossbench") from None


def _declared(client: MlflowClient, children: list[Run]) -> Optional[tuple[StudyConf, str]]:
    """(study, profile) from a child's config.yaml, or None when the sweep is no study."""
    if not children:
        return None
    first = next((c for c in children if c.info.status == "FINISHED"), children[0])
    cfg = read_config(client, first)
    if not cfg.get("study"):
        return None
    block = dict(cfg["study"])
    if "tune" not in block:  # runs from before study.tune: the study file's reason to skip
        skip = _skip_in_study_file(str(cfg.get("name")))
        if skip:
            block["tune"] = {"skip": f"{skip} (from experiments/experiment/{cfg.get('name')}"
                                     ".yaml: these runs predate study.tune)"}
    return study_conf(block, first.info.run_id), str(cfg.get("profile"))


def _skip_in_study_file(name: str) -> Optional[str]:
    """``study.tune.skip`` as the study's file in this checkout writes it, if it does."""
    path = EXPERIMENTS_DIR / "experiment" / f"{name}.yaml"
    if not path.is_file():
        return None
    return OmegaConf.select(OmegaConf.load(path), "study.tune.skip")


def _study_from(exp_name: str, parent: Run, children: list[Run], conf: StudyConf,
                profile: str) -> Study:
    finished = [c for c in children if c.info.status == "FINISHED"]
    ok = [c for c in finished if is_value(c.data.metrics.get(conf.headline))]
    return Study(exp_name, parent, conf, profile, ok, failed=len(children) - len(finished),
                 not_a_value=len(finished) - len(ok))


def load_studies(client: MlflowClient, experiments: Sequence[str] = (),
                 sweep: str = "latest", include_incomplete: bool = False,
                 settings: str = "guide") -> list[Study]:
    """The studies to report: per experiment (all with study sweeps when none are named),
    the sweep parent ``sweep`` (a run id) or the latest complete (``FINISHED``) sweep whose
    runs declare a study and ran with ``settings`` (guide: the study's own hyper-parameters;
    tuned: lossbench tune's; tuning trials are never a study); newer incomplete sweeps are
    skipped and counted, or used with ``include_incomplete``."""
    if experiments:
        exps = []
        for name in experiments:
            exp = client.get_experiment_by_name(name)
            if exp is None:
                known = sorted(e.name for e in client.search_experiments())
                raise ReportError(f"--experiment {name}: no such MLflow experiment "
                                  f"(known: {', '.join(known) or 'none'})")
            exps.append(exp)
    else:
        exps = client.search_experiments()
    if sweep != "latest":
        parent = client.get_run(sweep)  # raises a clear MlflowException for unknown ids
        if parent.data.tags.get("lossbench.role") != "sweep":
            raise ReportError(f"--sweep {sweep}: run is not a lossbench sweep parent")
        if parent.info.status != "FINISHED" and not include_incomplete:
            raise ReportError(f"--sweep {sweep}: the sweep is {parent.info.status}, not "
                              "complete (add --include-incomplete to use it anyway)")
        exps = [e for e in exps if e.experiment_id == parent.info.experiment_id]
        if not exps:
            raise ReportError(f"--sweep {sweep}: its experiment is not among --experiment")
    studies = []
    for exp in exps:
        parents = _parents(client, exp.experiment_id)
        if sweep != "latest":
            parents = [r for r in parents if r.info.run_id == sweep]
        skipped_sweeps = skipped_runs = 0
        for parent in parents:  # newest first: the first complete sweep that declares a study
            children = _children(client, exp.experiment_id, parent.info.run_id)
            if sweep == "latest" and settings_of(children) != settings:
                continue
            declared = _declared(client, children)
            if declared is None:
                continue
            if parent.info.status != "FINISHED" and not include_incomplete:
                skipped_sweeps, skipped_runs = skipped_sweeps + 1, skipped_runs + len(children)
                continue
            studies.append(replace(_study_from(exp.name, parent, children, *declared),
                                   skipped_sweeps=skipped_sweeps, skipped_runs=skipped_runs))
            break
        else:
            if experiments or sweep != "latest":
                more = (f" ({skipped_sweeps} incomplete, skipped: add --include-incomplete)"
                        if skipped_sweeps else "")
                raise ReportError(f"experiment {exp.name}: no complete sweep with study runs"
                                  f"{more} (run lossbench -m +experiment=<study>)")
    if not studies:
        raise ReportError("no complete study sweeps in this store "
                          "(run lossbench -m +experiment=<study>)")
    return sorted(studies, key=lambda s: s.name)


def load_sweeps(client: MlflowClient, parent_ids: Sequence[str]) -> Study:
    """One study from the children of several sweep parents of one experiment (the rounds of
    ``lossbench study --until-decided``); ``parent`` is the last of them. The study block is
    read from the first parent's runs."""
    if not parent_ids:
        raise ReportError("no sweep parent runs to read")
    parents = [client.get_run(p) for p in parent_ids]
    children = [c for p in parents for c in _children(client, p.info.experiment_id,
                                                      p.info.run_id)]
    declared = _declared(client, _children(client, parents[0].info.experiment_id,
                                           parents[0].info.run_id))
    if declared is None:
        raise ReportError(f"sweep {parent_ids[0]}: its runs declare no study")
    exp = client.get_experiment(parents[-1].info.experiment_id)
    return _study_from(exp.name, parents[-1], children, *declared)


# --------------------------------------------------------------------------- grouping
def _loss(run: Run) -> str:
    return run.data.tags.get("loss") or run.data.params.get("loss_name", "?")


def arm_of(run: Run, arm: str) -> str:
    """The run's value of the study's arm: its loss for ``loss``; else the param ``arm``
    (booleans as YAML writes them, ``true``/``false``), or for a config group with a
    ``_target_`` (``optimizer``) the target's class name, lower-cased (``adam``, ``sgd``)."""
    if arm == "loss":
        return _loss(run)
    params = run.data.params
    if arm in params:
        value = params[arm]
        return value.lower() if value in ("True", "False") else value
    if f"{arm}._target_" in params:
        return params[f"{arm}._target_"].rsplit(".", 1)[-1].lower()
    return "?"


# params that, with the seed, make one replicate (the unit runs are paired by): the identity
# fold of a cross-validated face study is such a key, not a condition
REPLICATE_KEYS = ("data.fold",)


def _seed(run: Run) -> str:
    """The replicate a run belongs to: its seed, plus its fold when the study has folds."""
    seed = run.data.tags.get("seed") or run.data.params.get("seed", "?")
    folds = [f"{k.split('.')[-1]}{run.data.params[k]}" for k in REPLICATE_KEYS
             if run.data.params.get(k) not in (None, "None")]
    return "/".join([seed, *folds])


def _short(key: str, value: str) -> str:
    """``optimizer._target_=torch.optim.SGD`` -> ``optimizer=SGD``."""
    if key.endswith("._target_"):
        return f"{key[:-len('._target_')]}={value.rsplit('.', 1)[-1]}"
    return f"{key}={value}"


def condition_keys(runs: Sequence[Run], arm: str = "loss") -> list[str]:
    """Params that vary across the runs but follow neither from the arm (the loss, by
    default) nor from the seed. With another arm, the loss is a condition key (``loss``)
    when the runs have several."""
    keys = set().union(*(r.data.params for r in runs)) if runs else set()
    tuned = {k for r in runs for k in tuned_values(r)}  # set per cell by settings=tuned
    out = []
    for key in sorted(keys):
        if key in SEED_KEYS or key in REPLICATE_KEYS or key.startswith("loss.") \
                or key in ("loss_name",) or key in tuned:
            continue
        if arm != "loss" and (key == arm or key.startswith(f"{arm}.")):
            continue
        values = {r.data.params.get(key) for r in runs}
        if len(values) < 2:
            continue
        per_arm: dict[str, set] = defaultdict(set)
        for r in runs:
            per_arm[arm_of(r, arm)].add(r.data.params.get(key))
        if all(len(v) == 1 for v in per_arm.values()):
            continue  # picked by the arm (e.g. a GAN loss's optimizer)
        out.append(key)
    # a sub-key of a varying _target_ (optimizer.momentum ...) adds nothing to the label
    targets = {k[:-len("._target_")] for k in out if k.endswith("._target_")}
    out = [k for k in out if k.endswith("._target_") or k.split(".", 1)[0] not in targets]
    if arm != "loss" and len({_loss(r) for r in runs}) > 1:
        out.insert(0, "loss")
    return out


def tuned_values(run: Run) -> dict[str, str]:
    """The values ``settings=tuned`` set in the run (tag ``lossbench.tuned.values``)."""
    text = run.data.tags.get(f"{TUNED_TAG}.values", "")
    return dict(p.split("=", 1) for p in text.split() if "=" in p)


def _param(run: Run, key: str) -> str:
    return _loss(run) if key == "loss" else run.data.params.get(key, "?")


def condition_of(run: Run, keys: Sequence[str]) -> str:
    return ", ".join(_short(k, _param(run, k)) for k in keys) or "all"


def condition_parts(condition: str) -> dict[str, str]:
    """``"loss=mse, optimizer=SGD"`` -> ``{"loss": "mse", "optimizer": "SGD"}``."""
    return dict(p.split("=", 1) for p in condition.split(", ") if "=" in p)


def _by_condition(study: Study) -> dict[str, dict[str, dict[str, Run]]]:
    """condition -> arm -> seed (replicate) -> run."""
    keys = condition_keys(study.runs, study.arm)
    out: dict[str, dict[str, dict[str, Run]]] = defaultdict(lambda: defaultdict(dict))
    for r in study.runs:
        out[condition_of(r, keys)][arm_of(r, study.arm)][_seed(r)] = r
    return out


def grouped(study: Study) -> dict[str, dict[str, dict[str, float]]]:
    """condition -> arm (the loss, by default) -> seed -> headline value."""
    return {cond: {loss: {s: r.data.metrics[study.headline] for s, r in runs.items()}
                   for loss, runs in by_loss.items()}
            for cond, by_loss in _by_condition(study).items()}


def wall_seconds(run: Run) -> float:
    """The run's wall time (end - start), NaN while it has no end."""
    end = run.info.end_time
    return (end - run.info.start_time) / 1000 if end else math.nan


def _optimizer(run: Run) -> str:
    return run.data.params.get("optimizer._target_", "?").rsplit(".", 1)[-1].lower()


def code_version(study: Study) -> str:
    """The git commit(s) of the code the runs used and whether the tree was dirty."""
    commits = sorted({r.data.tags.get(GIT_COMMIT_TAG) for r in study.runs} - {None})
    if not commits:
        return "not recorded"
    dirty = {r.data.tags.get(GIT_DIRTY_TAG) for r in study.runs}
    state = ("dirty tree" if "true" in {str(d).lower() for d in dirty}
             else "clean tree" if dirty <= {"false", "False"} else "dirty flag not recorded")
    return ", ".join(f"`{c[:12]}`" for c in commits) + f" ({state})"


# --------------------------------------------------------------------------- comparisons
@dataclass(frozen=True)
class Comparison:
    """The guide's arm against one alternative, runs paired by seed."""

    condition: str
    guide: str
    alternative: str
    test: stats.ClaimTest
    boot: Optional[stats.Interval]   # BCa interval of the mean difference, same level
    p_improve: float
    in_claim: bool
    wall: float                      # seconds per pair of runs (guide + alternative)
    family: int = 1                  # comparisons in the claim's Holm family
    # indicator headline: stats.indicator_test's rates, odds ratio, Fisher p, and runs per side
    fisher: Optional[dict] = None

    def seeds_needed(self) -> Optional[int]:
        """Seeds for 80 % power at the observed effect (equivalence: at the margin, true
        difference 0), at the level each comparison of a Holm family of k needs at worst,
        alpha / k. None when decided, untestable, or the effect cannot reach the claim.
        Indicator headlines: runs per loss, :func:`runs_needed` at the observed rates."""
        t = self.test
        if self.fisher is not None:
            if t.verdict != stats.INCONCLUSIVE:
                return None
            return runs_needed(self.fisher["rate_a"], self.fisher["rate_b"], t.mode,
                               t.alpha / self.family, POWER)
        if t.verdict != stats.INCONCLUSIVE or t.n < 2 or not math.isfinite(t.cohens_dz):
            return None
        sd = abs(t.mean_diff / t.cohens_dz) if t.cohens_dz else math.nan
        alpha = t.alpha / self.family
        if t.claim_type == "superiority":
            return stats.seeds_needed(t.oriented_dz, alpha, POWER)
        if not (math.isfinite(sd) and sd > 0):
            return None
        if t.claim_type == "equivalence":
            return stats.seeds_needed(0.0, alpha, POWER, "equivalence", t.margin / sd)
        return stats.seeds_needed(t.oriented_dz, alpha, POWER, "non_inferiority", t.margin / sd)


def _pair(a: dict[str, Run], b: dict[str, Run], headline: str
          ) -> tuple[list[float], list[float], list[Run]]:
    seeds = sorted(set(a) & set(b), key=lambda s: (len(s), s))
    return ([a[s].data.metrics[headline] for s in seeds],
            [b[s].data.metrics[headline] for s in seeds], [a[s] for s in seeds] +
            [b[s] for s in seeds])


def compare(condition: str, guide: str, alternative: str, x: Sequence[float],
            y: Sequence[float], runs: Sequence[Run], mode: str, claim_type: str = "superiority",
            margin: float = 0.0, alpha: float = 0.05, in_claim: bool = False) -> Comparison:
    """Claim test, BCa interval (at the test's level, 1 - 2 alpha) and P(improvement)."""
    d = stats.paired_differences(x, y)
    test = stats.claim_test(d, mode, claim_type, margin, alpha)
    boot = stats.bootstrap_ci(d, level=1 - 2 * alpha) if d.size >= 2 else None
    p_imp = stats.prob_improvement(x, y, mode) if d.size else math.nan
    wall = 2 * float(np.nanmean([wall_seconds(r) for r in runs])) if runs else math.nan
    return Comparison(condition, guide, alternative, test, boot, p_imp, in_claim, wall)


def runs_needed(rate_guide: float, rate_alt: float, mode: str, alpha: float,
                power: float = POWER) -> Optional[int]:
    """Runs per loss for ``power`` in a one-sided test of two proportions at the observed
    rates (normal approximation: n = (z_a sqrt(2 p q) + z_b sqrt(p1 q1 + p2 q2))^2 / (p1 - p2)^2,
    p the mean rate); None when the guide's rate is not the better one."""
    from scipy.stats import norm

    gain = rate_alt - rate_guide if mode == "min" else rate_guide - rate_alt
    if not gain > 0:
        return None
    pbar = (rate_guide + rate_alt) / 2
    num = (norm.ppf(1 - alpha) * math.sqrt(2 * pbar * (1 - pbar))
           + norm.ppf(power) * math.sqrt(rate_guide * (1 - rate_guide)
                                         + rate_alt * (1 - rate_alt)))
    return math.ceil((num / gain) ** 2)


def compare_indicator(condition: str, guide: str, alternative: str, x: Sequence[float],
                      y: Sequence[float], runs: Sequence[Run], mode: str, alpha: float = 0.05,
                      in_claim: bool = False) -> Comparison:
    """A superiority claim on a 0/1 headline: Fisher's exact test of the guide's runs ``x``
    against the alternative's ``y`` (unpaired), one-sided in the claim's direction (min: the
    guide's rate is lower) for ``p_value``, the opposite direction for ``p_refute``."""
    better, worse = ("less", "greater") if mode == "min" else ("greater", "less")
    fisher = stats.indicator_test(x, y, better)
    p_refute = stats.indicator_test(x, y, worse)["p"]
    fisher |= {"runs_a": len(x), "runs_b": len(y)}
    verdict = (stats.SUPPORTED if fisher["p"] < alpha else
               stats.REFUTED if p_refute < alpha else stats.INCONCLUSIVE)
    test = stats.ClaimTest("superiority", mode, min(len(x), len(y)), fisher["rate_diff"],
                           math.nan, math.nan, 1 - 2 * alpha, fisher["p"], p_refute, verdict,
                           0.0, alpha, math.nan, reason="Fisher's exact test")
    wall = 2 * float(np.nanmean([wall_seconds(r) for r in runs])) if runs else math.nan
    return Comparison(condition, guide, alternative, test, None,
                      stats.prob_improvement(x, y, mode), in_claim, wall, fisher=fisher)


def in_claim_condition(condition: str, conf: StudyConf) -> bool:
    """With the optimizer swept (arms: losses), the claim is about the guide's optimizer for
    its loss (``study.optimizer_pairing``); with ``study.claim_conditions``, about conditions
    with one of those parts; every condition counts otherwise."""
    parts = condition_parts(condition)
    if conf.claim_conditions and not any(f"{k}={v}" in conf.claim_conditions
                                         for k, v in parts.items()):
        return False
    opt = conf.optimizer_pairing.get(conf.guide_loss) if conf.arm == "loss" else None
    return opt is None or "optimizer" not in parts or parts["optimizer"].lower() == opt


def arm_pairs(study: Study):
    """``(condition, guide, alternative, by_arm, in_claim)`` for the guide's arm against every
    other arm in each condition (sorted), ``by_arm``: arm -> seed -> run of the condition."""
    c = study.conf
    for cond, by_arm in sorted(_by_condition(study).items()):
        guide = study.guide_in(cond)
        if guide not in by_arm:
            continue
        for alt in sorted(by_arm):
            if alt == guide:
                continue
            named = not c.claim_against or alt in c.claim_against
            yield cond, guide, alt, by_arm, named and in_claim_condition(cond, c)


def loss_comparisons(study: Study, alpha: float = 0.05) -> list[Comparison]:
    """The guide's arm (its loss, by default) against every other arm per condition; the
    claim's family (``claim_against`` in the claim's conditions) Holm-adjusted together."""
    c = study.conf
    rows = []
    for cond, guide, alt, by_arm, in_claim in arm_pairs(study):
        if study.indicator:  # unpaired: every run of each arm
            a, b = by_arm[guide].values(), by_arm[alt].values()
            rows.append(compare_indicator(
                cond, guide, alt, [r.data.metrics[c.headline] for r in a],
                [r.data.metrics[c.headline] for r in b], [*a, *b], c.headline_mode,
                alpha, in_claim))
            continue
        x, y, runs = _pair(by_arm[guide], by_arm[alt], c.headline)
        if not x:
            continue
        rows.append(compare(cond, guide, alt, x, y, runs, c.headline_mode,
                            c.claim_type, c.margin or 0.0, alpha, in_claim))
    family = [r for r in rows if r.in_claim]
    adjusted = iter(stats.claim_verdict([r.test for r in family], alpha).comparisons)
    return [replace(r, test=next(adjusted), family=len(family)) if r.in_claim else r
            for r in rows]


def claim_verdict(rows: Sequence[Comparison], alpha: float = 0.05) -> str:
    """The study's verdict from its (already Holm-adjusted) family."""
    return stats.claim_verdict([r.test for r in rows if r.in_claim], alpha).verdict


def optimizer_comparisons(study: Study, alpha: float = 0.05) -> list[Comparison]:
    """Each loss with the guide's optimizer against the same loss with another one
    (superiority, for information: not part of the study's claim). None for a study whose
    arm is not the loss (its own comparisons are these when its arm is the optimizer)."""
    rows = []
    if study.arm != "loss":
        return rows
    by: dict[tuple[str, str], dict[str, Run]] = defaultdict(dict)
    for r in study.runs:
        by[(_loss(r), _optimizer(r))][_seed(r)] = r
    for loss, opt in sorted(study.conf.optimizer_pairing.items()):
        if (loss, opt) not in by:
            continue
        for (other_loss, other_opt), runs in sorted(by.items()):
            if other_loss != loss or other_opt == opt:
                continue
            x, y, paired = _pair(by[(loss, opt)], runs, study.headline)
            if x:
                rows.append(compare(loss, f"{loss} + {opt}", f"{loss} + {other_opt}", x, y,
                                    paired, study.mode, alpha=alpha))
    return rows


# --------------------------------------------------------------------------- Markdown
def _f(x: Optional[float]) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return f"{x:.4g}"


def _p(p: Optional[float]) -> str:
    return "–" if p is None or math.isnan(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def _ci(low: float, high: float) -> str:
    return f"[{_f(low)}, {_f(high)}]"


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unknown"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _verdict_cells(r: Comparison) -> tuple[str, str]:
    """A comparison's verdict cell (bold when the claim names it) and Holm-adjusted p's."""
    t = r.test
    verdict = f"**{t.verdict}**" if r.in_claim else f"{t.verdict} (not in the claim)"
    adjusted = (f"{_p(t.p_adjusted)} / {_p(t.p_refute_adjusted)}" if r.in_claim
                and t.p_adjusted is not None else "–")
    return verdict, adjusted


def _indicator_rows(rows: Sequence[Comparison]) -> list[str]:
    out = ["| condition | guide | alternative | runs | rate (guide / alt) "
           "| rate diff (guide − alt) | odds ratio | P(improve) | Fisher p for / against "
           "| Holm-adjusted | verdict |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        t, f = r.test, r.fisher
        verdict, adjusted = _verdict_cells(r)
        out.append(f"| {r.condition} | {r.guide} | {r.alternative} | {f['runs_a']} / "
                   f"{f['runs_b']} | {_f(f['rate_a'])} / {_f(f['rate_b'])} "
                   f"| {_f(t.mean_diff)} | {_f(f['odds_ratio'])} | {_f(r.p_improve)} "
                   f"| {_p(t.p_value)} / {_p(t.p_refute)} | {adjusted} | {verdict} |")
    return out


def _comparison_rows(rows: Sequence[Comparison], first: str, alpha: float) -> list[str]:
    if rows and rows[0].fisher is not None:
        return _indicator_rows(rows)
    level = f"{100 * (1 - 2 * alpha):.0f} %"
    out = [f"| {first} | guide | alternative | pairs | mean diff (guide − alt) | {level} t-CI "
           f"| {level} BCa CI | P(improve) | d_z | p for / against | Holm-adjusted | verdict |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        t = r.test
        boot = _ci(r.boot.low, r.boot.high) if r.boot else "–"
        verdict, adjusted = _verdict_cells(r)
        out.append(f"| {r.condition} | {r.guide} | {r.alternative} | {t.n} | {_f(t.mean_diff)} "
                   f"| {_ci(t.ci_low, t.ci_high)} | {boot} | {_f(r.p_improve)} "
                   f"| {_f(t.cohens_dz)} | {_p(t.p_value)} / {_p(t.p_refute)} "
                   f"| {adjusted} | {verdict} |")
    return out


def _power_lines(rows: Sequence[Comparison], alpha: float) -> list[str]:
    out = []
    for r in rows:
        if r.test.verdict != stats.INCONCLUSIVE:
            continue
        t = r.test
        if r.fisher is not None:
            _indicator_power_line(r, alpha, out)
            continue
        at = "at the margin (true difference 0)" if t.claim_type == "equivalence" else \
             f"at the observed effect (d_z {_f(t.oriented_dz)} in the guide's favour)"
        level = f"α = {_f(alpha / r.family)}" + (f" (α / {r.family}, Holm's strictest step)"
                                                   if r.family > 1 else "")
        need = r.seeds_needed()
        if need is None:
            out.append(f"- {r.condition}, {r.guide} vs {r.alternative}: no number of seeds "
                       f"gives {POWER:.0%} power {at}: the effect does not point towards the "
                       "claim.")
            continue
        extra = max(need - t.n, 0)
        out.append(f"- {r.condition}, {r.guide} vs {r.alternative}: {need} seeds for "
                   f"{POWER:.0%} power {at}, {level}; {extra} more seeds cost about "
                   f"{_duration(extra * r.wall)} of run time ({_f(r.wall / 2)} s per run, "
                   "one job at a time).")
    return out


def _indicator_power_line(r: Comparison, alpha: float, out: list[str]) -> None:
    f = r.fisher
    at = (f"at the observed rates ({r.guide} {_f(f['rate_a'])}, {r.alternative} "
          f"{_f(f['rate_b'])}; normal-approximation two-proportion formula, one-sided, "
          f"α = {_f(alpha / r.family)})")
    need = r.seeds_needed()
    if need is None:
        out.append(f"- {r.condition}, {r.guide} vs {r.alternative}: no number of runs gives "
                   f"{POWER:.0%} power {at}: the rates do not point towards the claim.")
        return
    extra = max(need - min(f["runs_a"], f["runs_b"]), 0)
    out.append(f"- {r.condition}, {r.guide} vs {r.alternative}: {need} runs per loss for "
               f"{POWER:.0%} power {at}; {extra} more per loss cost about "
               f"{_duration(extra * r.wall)} of run time ({_f(r.wall / 2)} s per run).")


RULE = """\
**Decision rule.** Runs are paired by seed within each condition (the swept params other than \
loss and seed, e.g. the optimizer); d = guide's loss − alternative per seed, in the headline's \
units. Each study declares a claim type: **superiority** (one-sided paired t-test, \
H0: the guide is not better), **non-inferiority** (one-sided, H0: the guide is worse by at \
least the margin) or **equivalence** (two one-sided tests, TOST, H0: the difference is at \
least the margin either way); margins are in headline units, with their reason. A comparison \
is **supported** if the test for the claim rejects (p for) at α = {alpha}, **refuted** if the mirror \
test (the alternative better; worse by more than the margin; outside the margin) rejects \
(p against), \
**inconclusive** otherwise; each verdict can be read off the {level} t-interval of the mean \
difference, drawn against 0 and the margin in each study's forest plot. The comparisons a \
claim names (`study.claim_against`, in the guide's optimizer condition when the optimizer is \
swept) form one family: their p-values are Holm-adjusted together, and the claim is \
supported only if every adjusted comparison is, refuted if any is, inconclusive otherwise; \
other comparisons are shown unadjusted, for information. Beside the t-interval: the BCa \
bootstrap interval of the mean difference (`scipy.stats.bootstrap`, same level) and the \
probability of improvement (rliable's: the share of (guide seed, alternative seed) pairs \
where the guide wins, ties half). A run whose headline is not finite (|x| ≥ 1e300: MLflow's \
SQLite store saves +inf as 1.797e308) is a failed run, not a value. For every inconclusive \
comparison the report gives the seeds for {power:.0%} power (paired t, at the observed \
effect; equivalence at the margin) and their run time at the measured seconds per run. \
Means carry a 95 % t-interval over seeds. \
A study whose headline is a per-run 0/1 indicator (`study.headline_kind: indicator`, e.g. the \
WGAN study's `final_collapsed`) is judged unpaired, superiority only: per loss the count, the \
rate and its exact (Clopper-Pearson) 95 % interval; each comparison by Fisher's exact test, \
one-sided in the claim's direction (p for) and in the opposite one (p against), Holm-adjusted \
as above; the runs per loss for {power:.0%} power come from the normal-approximation \
two-proportion formula at the observed rates."""


ARM_RULE = """ \
A study whose arms are not losses (`study.arm`: the optimizer, the batch size, feature \
standardisation, the checkpoint rule ...) is judged the same way with that key in the loss's \
place: d = the guide's value of the arm − another value, paired by seed within each condition \
(the other crossed keys, the loss among them); `study.guide_arms` may name the guide's value \
per condition (e.g. the optimizer per loss) and `study.claim_conditions` the conditions the \
claim is about."""


def _key_number(rows: Sequence[Comparison]) -> str:
    fam = [r for r in rows if r.in_claim]
    return "; ".join(f"Δ{' rate' if r.fisher else ''} vs {r.alternative}{'' if r.condition == 'all' else f' ({r.condition})'}"
                     f" {_f(r.test.mean_diff)}" for r in fam) or "–"


def claims_table(studies: Sequence[Study], verdicts: dict[str, tuple[str, list[Comparison]]]
                 ) -> list[str]:
    """One row per claim of the guide (C1..C17, then the scenario table's studies)."""
    out = ["| claim | the guide says | study | type | verdict | key number (guide − alt) "
           "| seeds |", "|---|---|---|---|---|---|---|"]
    for cid in CLAIMS:
        judged = [s for s in studies if s.conf.claim_id == cid]
        if not judged:
            if cid != "table":
                out.append(f"| {cid} | {CLAIMS[cid]} | no study yet | – | – | – | – |")
            continue
        for s in judged:
            verdict, rows = verdicts[s.name]
            fam = [r.test.n for r in rows if r.in_claim]
            seeds = (str(min(fam)) if fam and min(fam) == max(fam)
                     else f"{min(fam)}-{max(fam)}" if fam else "–")
            kind = s.conf.claim_type.replace("_", "-")
            if s.conf.margin is not None:
                kind += f" (margin {_f(s.conf.margin)})"
            out.append(f"| {cid} | {CLAIMS[cid]} | [{s.name}](#{s.name.lower()}) | {kind} "
                       f"| **{verdict}** | {_key_number(rows)} | {seeds} |")
    return out


def means_header(arm: str) -> str:
    """The per-arm means table's header (``MEANS_HEADER`` when the arms are the losses)."""
    return MEANS_HEADER.replace("| loss |", f"| {arm} |")


def _means_table(s: Study) -> list[str]:
    body = [means_header(s.arm), "|---|---|---|---|---|"]
    for cond, by_loss in sorted(grouped(s).items()):
        guide = s.guide_in(cond)
        for loss in sorted(by_loss, key=lambda l: (l != guide, l)):
            ci = stats.mean_ci(list(by_loss[loss].values()))
            name = f"**{loss}**" if loss == guide else loss
            body.append(f"| {cond} | {name} | {ci.n} | {_f(ci.mean)} | {_ci(ci.low, ci.high)} |")
    return body


def _rate_table(s: Study) -> list[str]:
    """Per loss the indicator's count, rate and exact (Clopper-Pearson) 95 % interval."""
    body = [RATE_HEADER, "|---|---|---|---|---|---|"]
    for cond, by_loss in sorted(grouped(s).items()):
        guide = s.guide_in(cond)
        for loss in sorted(by_loss, key=lambda l: (l != guide, l)):
            r = stats.indicator_rate(list(by_loss[loss].values()))
            name = f"**{loss}**" if loss == guide else loss
            body.append(f"| {cond} | {name} | {int(r['runs'])} | {_f(r['rate'])} "
                        f"| {int(r['collapsed'])} | {_ci(r['ci_low'], r['ci_high'])} |")
    return body


def w1_histories(client: MlflowClient, s: Study) -> dict[str, list[list[tuple[float, float]]]]:
    """loss -> each run's ``w1`` history [(step, value), ...] (runs that log it)."""
    out: dict[str, list] = defaultdict(list)
    for r in s.runs:
        if W1_METRIC in r.data.metrics:
            hist = client.get_metric_history(r.info.run_id, W1_METRIC)
            out[_loss(r)].append(sorted((float(m.step), m.value) for m in hist))
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != s.guide_loss, kv[0])))


def _w1_section(s: Study, client: Optional[MlflowClient], out: Path, plots: bool) -> list[str]:
    """For studies whose runs log a ``w1`` history: per loss the median and IQR of
    ``final_w1`` over runs, and (with plots) W1 against generator step, median and IQR band."""
    runs = [r for r in s.runs if W1_METRIC in r.data.metrics]
    if not runs:
        return []
    final: dict[str, list[float]] = defaultdict(list)
    for r in runs:
        if is_value(r.data.metrics.get(f"final_{W1_METRIC}")):
            final[_loss(r)].append(r.data.metrics[f"final_{W1_METRIC}"])
    body = ["", f"`final_{W1_METRIC}` per loss (the stability side; median and interquartile "
            "range over runs):", "", "| loss | runs | median | IQR |", "|---|---|---|---|"]
    for loss in sorted(final, key=lambda l: (l != s.guide_loss, l)):
        q25, med, q75 = np.percentile(final[loss], [25, 50, 75])
        name = f"**{loss}**" if loss == s.guide_loss else loss
        body.append(f"| {name} | {len(final[loss])} | {_f(med)} | {_ci(q25, q75)} |")
    if plots and client is not None:
        from lossbench import plots as plots_mod
        from lossbench.tasks.gan.study import w1_band_figure, w1_bands

        floors = [r.data.metrics[f"{W1_METRIC}_real_floor"] for r in runs
                  if f"{W1_METRIC}_real_floor" in r.data.metrics]
        fig = w1_band_figure(w1_bands(w1_histories(client, s)),
                             f"{s.name}: W1 over generator steps (median, IQR over seeds)",
                             floor=float(np.median(floors)) if floors else None)
        png = out.parent / f"{s.name}_w1.png"
        fig.savefig(png, dpi=110)
        plots_mod.close(fig)
        body += ["", f"![W1 over generator steps per loss]({png.name})"]
    return body


def _study_section(s: Study, rows: list[Comparison], verdict: str, out: Path, alpha: float,
                   plots: bool, client: Optional[MlflowClient] = None,
                   heading: Optional[str] = None) -> list[str]:
    from lossbench import report_plots

    c = s.conf
    direction = "lower is better" if c.headline_mode == "min" else "higher is better"
    kind = c.claim_type.replace("_", "-")
    runs = [r for by in _by_condition(s).values() for rs in by.values() for r in rs.values()]
    per_run = float(np.nanmean([wall_seconds(r) for r in runs])) if runs else math.nan
    skipped = [f"{s.failed} failed", f"{s.not_a_value} finished without a finite headline"]
    if s.skipped_sweeps:
        skipped.append(f"{s.skipped_sweeps} newer incomplete sweep(s) with "
                       f"{s.skipped_runs} runs")
    fam = [r for r in rows if r.in_claim]
    sweep_dir = s.parent.data.tags.get("lossbench.sweep_dir", "sweep dir not recorded")
    body = ["", f"## {s.name}", "",
            f"**Claim ({c.claim_id}, {kind}):** {c.claim}", ""]
    if c.margin is not None:
        body += [f"**Margin:** {_f(c.margin)} (`{c.headline}` units): {c.margin_reason}", ""]
    if heading:
        body += [f"### {heading}", ""]
    against = ", ".join(sorted({r.alternative for r in fam})) or "–"
    where = sorted({r.condition for r in fam} - {"all"})
    by_cond = sorted({(r.condition, r.guide) for r in fam})
    guides = (", ".join(g for _, g in by_cond) if len({g for _, g in by_cond}) == 1 else
              "; ".join(f"{cond}: {g}" for cond, g in by_cond)) or c.guide_arm or "–"
    guide = c.guide_loss if c.arm == "loss" else f"{c.arm} ({guides})"
    body += [f"**Verdict: {verdict}** (Holm over {len(fam)} comparison(s): the guide's "
             f"{guide} against {against}{' in ' + ', '.join(where) if where else ''}). "
             f"Headline `{c.headline}` ({direction}).", "",
             f"Sweep: parent run `{s.parent_id}` ({sweep_dir}, {s.parent.info.status}), "
             f"profile `{s.profile}`; {len(s.runs)} runs used, "
             f"skipped: {', '.join(skipped)}. Code: {code_version(s)}. "
             f"Wall time {_f(per_run)} s per run.", ""]
    body += _rate_table(s) if s.indicator else _means_table(s)
    if plots and not s.indicator:
        png = report_plots.headline_plot(grouped(s), s, out.parent / f"{s.name}.png")
        forest = report_plots.forest_plot(rows, s, out.parent / f"{s.name}_forest.png", alpha)
        body += ["", f"![{c.headline} per {s.arm}]({png.name})",
                 f"![mean difference per comparison]({forest.name})"]
    if c.arm == "loss":
        body += ["", f"The guide's **{c.guide_loss}** against each alternative:", ""]
    else:
        body += ["", f"The guide's **{c.arm}** ({guides}) against each other value of it, "
                 "paired by seed within each condition:", ""]
    body += _comparison_rows(rows, "condition", alpha)
    power = _power_lines(fam, alpha)
    if power:
        body += ["", "Inconclusive comparisons of the claim, and what would decide them:", "",
                 *power]
    body += _w1_section(s, client, out, plots)
    opt_rows = optimizer_comparisons(s, alpha)
    if opt_rows:
        body += ["", "Optimizer pairing (the guide's optimizer for each loss against the "
                 "others, same loss, superiority, unadjusted, for information):", ""]
        body += _comparison_rows(opt_rows, "loss", alpha)
    return body


def render(studies: Sequence[Study], out: Path, tracking_uri: str, alpha: float = 0.05,
           plots: bool = True, tuned: Optional[dict[str, Study]] = None) -> str:
    """Write the report to ``out`` (PNG plots beside it) and return its text. Each study's
    section is its guide's-settings sweep, then the tuned one (``tuned``: study name -> its
    ``settings=tuned`` sweep, :func:`tuned_studies`) or why there is none."""
    out.parent.mkdir(parents=True, exist_ok=True)
    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    verdicts, body, changes = {}, [], []
    client = MlflowClient(tracking_uri=tracking_uri) if plots else None
    for s in studies:
        rows = loss_comparisons(s, alpha)
        verdicts[s.name] = (claim_verdict(rows, alpha), rows)
        body += _study_section(s, rows, verdicts[s.name][0], out, alpha, plots, client,
                               heading="guide's settings")
        t = (tuned or {}).get(s.name)
        body += tuned_section(s, t, verdicts[s.name][0], alpha)
        if t is not None:
            changes.append((s.name, verdicts[s.name][0], claim_verdict(
                loss_comparisons(t, alpha), alpha)))
    text = "\n".join(["# Loss-function case studies", "",
                      f"Generated by `lossbench report` on {now} from `{tracking_uri}`.", "",
                      "## The guide's claims", "",
                      *claims_table(studies, verdicts), "", *tuning_summary(changes),
                      RULE.format(alpha=alpha, level=f"{100 * (1 - 2 * alpha):.0f} %",
                                  power=POWER)
                      + (ARM_RULE if any(s.arm != "loss" for s in studies) else ""),
                      *body, ""])
    out.write_text(text)
    return text


def parent_summary(client: MlflowClient, parent_id: str, out_dir: Path,
                   alpha: float = 0.05, plots: bool = True) -> dict[str, str]:
    """The study a finished sweep ran, judged as ``lossbench report`` judges it, for its parent
    run (``lossbench.tracking.close_sweep``): writes ``<study>.md`` (the report's section with
    the decision rule) and its figures into ``out_dir`` and returns the parent's verdict tags
    ``study.verdict`` (supported / refuted / inconclusive), ``study.claim_id``,
    ``study.claim_type`` and ``study.key_number`` (the guide's mean difference against each
    alternative the claim names). Raises :class:`ReportError` when the sweep is no study."""
    parent = client.get_run(parent_id)
    if settings_of(_children(client, parent.info.experiment_id, parent_id)) == "trial":
        raise ReportError("a tuning sweep (settings=trial, lossbench tune): its trials are "
                          "not judged")
    s = load_sweeps(client, [parent_id])
    rows = loss_comparisons(s, alpha)
    verdict = claim_verdict(rows, alpha)
    body = _study_section(s, rows, verdict, out_dir / "REPORT.md", alpha, plots,
                          client if plots else None)
    rule = RULE.format(alpha=alpha, level=f"{100 * (1 - 2 * alpha):.0f} %", power=POWER)
    (out_dir / f"{s.name}.md").write_text("\n".join([*body, "", rule, ""]))
    return {"study.verdict": verdict, "study.claim_id": s.conf.claim_id,
            "study.claim_type": s.conf.claim_type,
            "study.key_number": _key_number([r for r in rows if r.in_claim])[:5000]}


# --------------------------------------------------------------------------- tuned settings
def tuned_studies(client: MlflowClient, studies: Sequence[Study]) -> dict[str, Study]:
    """Per study its latest complete ``settings=tuned`` sweep in the same profile, if any."""
    out = {}
    for s in studies:
        try:
            t = load_studies(client, [s.name], settings="tuned")[0]
        except ReportError:
            continue
        if t.profile == s.profile:
            out[s.name] = t
    return out


def _tuned_cells(t: Study) -> dict[tuple[str, str], tuple[str, str]]:
    """(condition, arm) -> (tuned values, trials) as the runs' tags record them."""
    out = {}
    for cond, by_arm in _by_condition(t).items():
        for arm, runs in by_arm.items():
            tags = next(iter(runs.values())).data.tags
            out[(cond, arm)] = (_short_values(tags.get(f"{TUNED_TAG}.values", "?")),
                                tags.get(f"{TUNED_TAG}.trials", "?"))
    return out


def _short_values(values: str) -> str:
    """``key=value ...`` with each float to 4 significant digits, for reading (the tuned file
    and the run's tag keep every digit)."""
    def short(item: str) -> str:
        key, _, value = item.partition("=")
        try:
            return f"{key}={float(value):.4g}" if "." in value or "e" in value else item
        except ValueError:
            return item
    return " ".join(short(item) for item in values.split())


def tuned_section(s: Study, t: Optional[Study], verdict: str, alpha: float) -> list[str]:
    """The study's tuned section: each arm's tuned values and trial budget, its headline
    beside the guide's settings', the comparisons and verdict with the tuned settings, and
    whether tuning changed the verdict; or why there is none."""
    body = ["", "### tuned", ""]
    if s.conf.tune.skip:
        return body + [f"Not tuned: {s.conf.tune.skip}"]
    if t is None:
        return body + [f"Not tuned in this profile: no complete `settings=tuned` sweep of "
                       f"{s.name} ({s.profile} profile) in this store (`lossbench tune "
                       f"+experiment={s.name} profile={s.profile}`, then `lossbench -m "
                       f"+experiment={s.name} profile={s.profile} settings=tuned`)."]
    rows = loss_comparisons(t, alpha)
    tuned_verdict = claim_verdict(rows, alpha)
    cells = _tuned_cells(t)
    trials = sorted({n for _, n in cells.values()})
    objective = next((r.data.tags.get(f"{TUNED_TAG}.objective") for r in t.runs), None)
    body += [f"Each {s.arm}'s best setting from `lossbench tune` ({' / '.join(trials)} Optuna "
             f"trials (TPE) per {s.arm} and condition, scored by `{objective}` on the "
             "validation split, on tuning seeds apart from these), evaluated as above: sweep "
             f"parent `{t.parent_id}` ({t.parent.data.tags.get('lossbench.sweep_dir', '?')}, "
             f"{t.parent.info.status}); {len(t.runs)} runs used, skipped: {t.failed} failed, "
             f"{t.not_a_value} finished without a finite headline.", "",
             f"| condition | {s.arm} | guide's settings: mean | tuned: seeds | tuned: mean "
             "| tuned: 95 % CI | tuned values | trials |",
             "|---|---|---|---|---|---|---|---|"]
    mine, theirs = grouped(s), grouped(t)
    for cond in sorted(theirs):
        guide = t.guide_in(cond)
        for arm in sorted(theirs[cond], key=lambda a: (a != guide, a)):
            ci = stats.mean_ci(list(theirs[cond][arm].values()))
            before = mine.get(cond, {}).get(arm)
            values, n = cells.get((cond, arm), ("?", "?"))
            name = f"**{arm}**" if arm == guide else arm
            body.append(f"| {cond} | {name} | {_f(float(np.mean(list(before.values())))) if before else '–'} "
                        f"| {ci.n} | {_f(ci.mean)} | {_ci(ci.low, ci.high)} | {values} | {n} |")
    body += ["", f"With the tuned settings, the guide's {s.arm} against each alternative:", "",
             *_comparison_rows(rows, "condition", alpha), "",
             f"**Verdict with tuned settings: {tuned_verdict}.** " + (
                 f"**Tuning changed the verdict: {verdict} -> {tuned_verdict}.**"
                 if tuned_verdict != verdict else
                 f"Tuning did not change the verdict ({verdict}).")]
    return body


def tuning_summary(changes: Sequence[tuple[str, str, str]]) -> list[str]:
    """One paragraph under the claims table: the verdicts tuning changed (study, guide's
    settings -> tuned), when any study has a tuned sweep."""
    if not changes:
        return []
    changed = [f"{name}: {a} -> {b}" for name, a, b in changes if a != b]
    return [f"Tuned settings (`lossbench tune`, each study's `### tuned` section): "
            f"{len(changes)} stud{'y' if len(changes) == 1 else 'ies'} evaluated tuned; "
            + (f"tuning changed the verdict of {'; '.join(changed)}." if changed
               else "tuning changed no verdict."), ""]


# --------------------------------------------------------------------------- --check
def mean_rows(studies: Sequence[Study]) -> dict[tuple[str, str, str], tuple[int, float]]:
    """(study, condition, loss) -> (seeds, mean headline): the rows ``--check`` compares
    (an indicator's mean is its rate)."""
    out = {}
    for s in studies:
        for cond, by_loss in grouped(s).items():
            for loss, values in by_loss.items():
                out[(s.name, cond, loss)] = (len(values), float(np.mean(list(values.values()))))
    return out


def parse_mean_rows(text: str) -> dict[tuple[str, str, str], tuple[int, str]]:
    """The per-loss mean rows of a report's text, the mean as printed."""
    out, study, inside = {}, None, False
    for line in text.splitlines():
        if line.startswith("## "):
            study, inside = line[3:].strip(), False
        elif line.strip() in (MEANS_HEADER, RATE_HEADER) or _is_means_header(line.strip()):
            inside = True
        elif inside and not line.startswith("|"):
            inside = False
        elif inside and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            out[(study, cells[0], cells[1].strip("*"))] = (int(cells[2]), cells[3])
    return out


def _is_means_header(line: str) -> bool:
    """A means table's header with any arm in the loss's place."""
    cells = [c.strip() for c in line.strip("|").split("|")]
    return line.startswith("| condition |") and cells[2:] == ["seeds", "mean", "95 % CI"]


def _same(value: float, printed: str) -> bool:
    """``value`` prints as ``printed`` up to rounding: within half a unit of its last digit."""
    try:
        exact = Decimal(printed)
    except ArithmeticError:
        return False
    ulp = 10.0 ** exact.as_tuple().exponent
    return abs(value - float(exact)) <= 0.5 * ulp * (1 + 1e-9)


def check(studies: Sequence[Study], committed: str) -> list[str]:
    """Differences between the studies' mean rows and a committed report's (empty: same)."""
    mine, theirs = mean_rows(studies), parse_mean_rows(committed)
    diffs = []
    for s in studies:
        keys = sorted({k for k in (*mine, *theirs) if k[0] == s.name})
        if not any(k in theirs for k in keys):
            diffs.append(f"{s.name}: not in the committed report")
            continue
        for key in keys:
            label = f"{key[0]} / {key[1]} / {key[2]}"
            if key not in theirs:
                diffs.append(f"{label}: in the store, not in the committed report")
            elif key not in mine:
                diffs.append(f"{label}: in the committed report, not in the store")
            elif mine[key][0] != theirs[key][0] or not _same(mine[key][1], theirs[key][1]):
                diffs.append(f"{label}: store {mine[key][0]} seeds, mean {_f(mine[key][1])}; "
                             f"committed {theirs[key][0]} seeds, mean {theirs[key][1]}")
    return diffs


# --------------------------------------------------------------------------- CLI
def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="lossbench report",
        description="Write a Markdown report (with PNG plots) of the case-study sweeps in an "
                    "MLflow store: the guide's claims, per study each loss's headline metric "
                    "(mean, 95 % CI over seeds) and the typed paired verdict on the claim.")
    ap.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI",
                                                              "sqlite:///mlflow.db"),
                    help="MLflow store (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    ap.add_argument("--experiment", action="append", default=[], metavar="NAME",
                    help="MLflow experiment (= scenario) to report; repeatable (default: every "
                         "experiment with a study sweep)")
    ap.add_argument("--sweep", default="latest",
                    help="a sweep parent run id, or 'latest' (default): each experiment's "
                         "newest complete sweep with study runs")
    ap.add_argument("--include-incomplete", action="store_true",
                    help="also use sweeps whose parent run is not FINISHED (interrupted)")
    ap.add_argument("--out", default="experiments/REPORT.md", type=Path,
                    help="Markdown file to write; plots go beside it (default: %(default)s)")
    ap.add_argument("--check", type=Path, metavar="REPORT.md",
                    help="write nothing; compare the per-loss mean rows of the studies in the "
                         "store with this committed report, exit 1 when any differs")
    ap.add_argument("--claim", type=Path, action="append", default=[], metavar="FILE",
                    help="a user's claim file (lossbench.claims): print its verdict on the "
                         "latest sweep of its study instead of writing the report; repeatable")
    ap.add_argument("--alpha", default=0.05, type=float, help="significance level (0.05)")
    ap.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    return ap.parse_args(list(argv))


def _error(message: str) -> int:
    print(f"lossbench report: error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if not 0.0 < args.alpha < 0.5:
        return _error(f"--alpha must be in (0, 0.5), got {args.alpha}")
    db = sqlite_path(args.tracking_uri)
    if db is not None and not db.is_file():
        return _error(f"--tracking-uri {args.tracking_uri}: no such database file {db}")
    if args.check is not None and not args.check.is_file():
        return _error(f"--check {args.check}: no such file")
    if args.claim:
        from lossbench import claims

        status = 0
        for path in args.claim:
            status = max(status, claims.main([str(path), "--tracking-uri", args.tracking_uri,
                                              "--alpha", str(args.alpha)]))
        return status
    try:
        studies = load_studies(MlflowClient(tracking_uri=args.tracking_uri), args.experiment,
                               args.sweep, args.include_incomplete)
    except ReportError as e:
        return _error(str(e))
    for s in studies:
        print(f"lossbench report: {s.name}: sweep {s.parent_id} ({s.parent.info.status}), "
              f"{len(s.runs)} runs used; skipped {s.failed} failed, {s.not_a_value} without a "
              f"finite headline, {s.skipped_sweeps} incomplete newer sweep(s) "
              f"({s.skipped_runs} runs)")
    if args.check is not None:
        diffs = check(studies, args.check.read_text())
        for d in diffs:
            print(f"lossbench report --check: differs: {d}")
        n = len(mean_rows(studies))
        print(f"lossbench report --check: {len(diffs)} difference(s) over {n} mean rows of "
              f"{len(studies)} studies against {args.check}")
        return 1 if diffs else 0
    tuned = tuned_studies(MlflowClient(tracking_uri=args.tracking_uri), studies)
    render(studies, args.out, args.tracking_uri, args.alpha, plots=not args.no_plots,
           tuned=tuned)
    print(f"lossbench report: {len(studies)} studies -> {args.out}")
    return 0
