"""The root config: the root, tracking and study schemas, and their registration in Hydra's
ConfigStore together with every task kind's schemas (``lossbench/tasks/<kind>/schema.py``).

Every YAML option in ``conf/<group>/`` starts from one of these schemas (its defaults list names
``/schema/<group>/<name>``), so OmegaConf rejects unknown keys and wrong types while composing.
Value checks (``lr > 0``, ``0 <= fraction <= 1`` ...) live in ``__post_init__`` and run in
:func:`validate`, before any data is loaded or any model is built. No torch is imported here.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from lossbench import naming, schema
from lossbench.schema import ConfigError, require
from lossbench.tasks import TASKS, schema_modules

__all__ = ["ConfigError", "LossbenchConf", "StudyConf", "TuneConf", "register_configs",
           "validate"]


@dataclass
class TrackingConf:
    # MLflow tracking URI; the default is a SQLite file in the working directory
    uri: str = "sqlite:///mlflow.db"
    # experiment name; by default the scenario's name
    experiment: str = "${name}"
    # where artifacts of new experiments go (None: MLflow's default, ./mlruns under a local store)
    artifact_location: Optional[str] = None
    # log the learning-curve and scatter PNGs
    plots: bool = True
    enabled: bool = True
    # MLflow's system metrics (system/cpu_utilization_percentage, memory, disk, network; GPU
    # with pynvml) every system_metrics_interval seconds; needs psutil
    system_metrics: bool = False
    system_metrics_interval: float = 10.0
    # seconds to keep retrying a store error that may pass (a locked SQLite database, a
    # server's 5xx or a refused connection); after that the run's records go to
    # <output dir>/mlflow_spool.jsonl (replay: lossbench runs sync) and the job exits 1
    retry_s: float = 120.0
    # update the run's lossbench.heartbeat tag with the metrics at most this often (seconds)
    heartbeat_s: float = 60.0

    def __post_init__(self) -> None:
        require(self.system_metrics_interval > 0, "tracking.system_metrics_interval", "> 0",
                self.system_metrics_interval)
        require(self.retry_s >= 0, "tracking.retry_s", ">= 0", self.retry_s)
        require(self.heartbeat_s >= 0, "tracking.heartbeat_s", ">= 0", self.heartbeat_s)



# --------------------------------------------------------------------------- studies
# experiments/ is a second config root (conf/config.yaml's hydra.searchpath names it through
# this resolver): experiments/experiment/<study>.yaml, experiments/profile/{quick,full}.yaml
EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent / "experiments"
if not OmegaConf.has_resolver("lossbench.experiments_dir"):
    OmegaConf.register_new_resolver("lossbench.experiments_dir", lambda: str(EXPERIMENTS_DIR))
# a study's sweep dir suffix for its settings: "" (guide), "-tuned", "-trial"
if not OmegaConf.has_resolver("lossbench.settings_suffix"):
    OmegaConf.register_new_resolver("lossbench.settings_suffix",
                                    lambda s: "" if s == "guide" else f"-{s}")
PROFILES = ("quick", "full")
naming.register_resolvers()  # lossbench.loss_name, lossbench.arms


CLAIM_TYPES = ("superiority", "non_inferiority", "equivalence")  # as lossbench.stats
# the guide's claims are numbered C1..C17 (../shared/guide/CLAIMS.md); "table" is its
# scenario table (section 六), which pairs each case study with a loss and an optimizer
CLAIM_IDS = (*(f"C{i}" for i in range(1, 18)), "table")


SETTINGS = ("guide", "tuned", "trial")  # a job's hyper-parameters: LossbenchConf.settings
LR_SPACE = "tag(log, interval(1e-4, 1e-1))"  # the learning rate, log-uniform


@dataclass
class TuneConf:
    """The study's tuning stage (``lossbench tune +experiment=<study>``, lossbench.tune): per
    *cell* (one value of the arm in one condition: the other swept keys but the seed) an Optuna
    search (TPE, seed ``sampler_seed``) of ``trials[profile]`` trials over ``space`` plus the
    arm's ``arm_space``, each trial one ordinary job on the tuning ``seed``, scored by the
    headline on the validation split (final_test_* -> final_val_*). Spaces are Hydra sweep
    syntax as the Optuna sweeper reads it: ``tag(log, interval(a, b))`` log-uniform,
    ``interval(a, b)`` uniform, ``choice(...)``. The best setting per cell goes to ``file``;
    ``settings=tuned`` runs the evaluation with it."""

    # why this study is not tuned (one line); null: it is tuned
    skip: Optional[str] = None
    # Optuna trials per cell, per profile (the same for every arm)
    trials: dict[str, int] = field(default_factory=lambda: {"quick": 8, "full": 30})
    # the tuning jobs' seed (their data split too): disjoint from the evaluation seeds
    seed: int = 1000
    # the TPE sampler's seed: the same seed, the same trials
    sampler_seed: int = 0
    # searched for every arm: override key -> search space
    space: dict[str, str] = field(default_factory=lambda: {"optimizer.lr": LR_SPACE})
    # searched for one arm value as well, e.g. {huber: {loss.delta: "interval(0.1, 3.0)"}}
    arm_space: dict[str, dict[str, str]] = field(default_factory=dict)
    # overrides for every tuning job in place of a swept key that is a replicate, not a
    # condition (e.g. data.fold: "0"): not tuned per value
    fixed: dict[str, str] = field(default_factory=dict)
    # where the best settings go (committed); null: experiments/tuned/<name>.yaml
    file: Optional[str] = None

    def __post_init__(self) -> None:
        require(self.skip is None or _one_line(self.skip), "study.tune.skip",
                "null (tuned) or one line saying why the study is not tuned", self.skip)
        unknown = sorted(set(self.trials) - set(PROFILES))
        require(not unknown, "study.tune.trials", f"keyed by profile ({', '.join(PROFILES)})",
                unknown)
        require(all(n >= 1 for n in self.trials.values()), "study.tune.trials",
                "at least 1 trial per profile", dict(self.trials))
        require(self.seed >= 0, "study.tune.seed", ">= 0", self.seed)
        require(bool(self.space) or bool(self.arm_space), "study.tune.space",
                "at least one searched key (e.g. optimizer.lr)", dict(self.space))


@dataclass
class StudyConf:
    """What ``lossbench report`` needs to judge a case study (``+experiment=<study>``): its
    headline metric and direction, the guide's loss, the claim (which of the guide's claims,
    its type and margin), and the per-profile budget values the experiment file interpolates
    (``${study.budget.${profile}.epochs}``).

    Claim types (the tests are in ``lossbench.stats``): ``superiority`` (the guide's loss is
    better), ``non_inferiority`` (not worse by more than ``margin``), ``equivalence`` (within
    ``margin`` either way). A margin is in the headline's units, > 0, given with a one-line
    ``margin_reason``, and only for the latter two.

    **Arms.** A study compares the values of one swept key, ``arm``: the loss (the default;
    the guide's arm is ``guide_loss``), or any other override key (``optimizer``,
    ``trainer.batch_size``, ``data.standardize_features``, ``trainer.monitor`` ...; the guide's
    arm is ``guide_arm``, or per condition ``guide_arms``). Runs are paired by seed within
    each condition: the other crossed keys (the loss among them when it is not the arm)."""

    # a final_* metric every job logs, e.g. final_test_rmse
    headline: str = MISSING
    # min: lower is better (RMSE, W1), max: higher is better (average precision, ROC-AUC)
    headline_mode: str = "min"
    # value: a number per run (mean, t-interval, paired tests); indicator: a 0/1 per run (e.g.
    # final_collapsed): rate, exact interval, Fisher's exact test; superiority claims only
    headline_kind: str = "value"
    # the swept key whose values are the arms the report compares (paired by seed within
    # each condition): loss, or another override key such as optimizer or trainer.batch_size
    arm: str = "loss"
    # the guide's loss for this scenario; with arm=loss the report compares it with every other
    # swept loss (required then; otherwise optional, for information)
    guide_loss: Optional[str] = None
    # with another arm: the guide's value of it (an optimizer option's name, a batch size, true
    # or false ...), compared with every other value of the arm in each condition
    guide_arm: Optional[str] = None
    # ... or the guide's value per condition: a condition's value -> the guide's arm there,
    # e.g. {mse: adam, mae: sgd} for arm=optimizer crossed with the loss; others: guide_arm
    guide_arms: dict[str, str] = field(default_factory=dict)
    # the guide's claim, one line
    claim: str = MISSING
    # which of the guide's claims the study judges: C1..C17 or "table" (the scenario table)
    claim_id: str = MISSING
    claim_type: str = "superiority"
    margin: Optional[float] = None
    margin_reason: Optional[str] = None
    # the alternatives the claim is about (empty: every other swept loss, or arm value); the
    # study's verdict is judged on these comparisons only, the others are reported for
    # information
    claim_against: list[str] = field(default_factory=list)
    # the conditions the claim is about, as the report labels a condition's parts
    # (e.g. optimizer=SGD, trainer.batch_size=16); empty: every condition
    claim_conditions: list[str] = field(default_factory=list)
    # the guide's optimizer per loss (e.g. {mse: adam, mae: sgd}); with optimizer swept, the
    # report checks each pairing against the other optimizers
    optimizer_pairing: dict[str, str] = field(default_factory=dict)
    # per profile (quick, full): values the experiment interpolates (epochs, steps, ...)
    budget: dict[str, Any] = field(default_factory=dict)
    # the tuning stage: trial budget, seeds, search space (lossbench tune)
    tune: TuneConf = field(default_factory=TuneConf)

    def __post_init__(self) -> None:
        require(self.headline.startswith("final_"), "study.headline",
                 "a final_* metric name (e.g. final_test_rmse)", self.headline)
        require(self.headline_mode in ("min", "max"), "study.headline_mode",
                 "min (lower is better) or max", self.headline_mode)
        require(self.headline_kind in ("value", "indicator"), "study.headline_kind",
                "value (a number per run) or indicator (0/1 per run)", self.headline_kind)
        require(bool(self.arm), "study.arm", "the swept key whose values are the arms "
                "(loss, optimizer, trainer.batch_size ...)", self.arm)
        if self.arm == "loss":
            require(bool(self.guide_loss), "study.guide_loss", "a loss option name",
                    self.guide_loss)
            require(self.guide_arm in (None, self.guide_loss), "study.guide_arm",
                    "null (the guide_loss) with arm=loss", self.guide_arm)
            require(not self.guide_arms, "study.guide_arms",
                    "empty with arm=loss (the guide's arm is guide_loss)", self.guide_arms)
        else:
            require(bool(self.guide_arm) or bool(self.guide_arms), "study.guide_arm",
                    f"the guide's value of study.arm={self.arm} (or study.guide_arms per "
                    "condition)", self.guide_arm)
        require(_one_line(self.claim), "study.claim", "one non-empty line", self.claim)
        require(self.claim_id in CLAIM_IDS, "study.claim_id",
                 "one of the guide's claims C1..C17 or table", self.claim_id)
        require(self.claim_type in CLAIM_TYPES, "study.claim_type",
                 f"one of {', '.join(CLAIM_TYPES)}", self.claim_type)
        if self.headline_kind == "indicator":
            require(self.claim_type == "superiority", "study.claim_type",
                    "superiority for an indicator headline (Fisher's exact test)",
                    self.claim_type)
        if self.claim_type == "superiority":
            require(self.margin is None, "study.margin",
                    "null for a superiority claim (a margin is for non_inferiority or "
                    "equivalence)", self.margin)
        else:
            require(self.margin is not None and self.margin > 0, "study.margin",
                    f"> 0, in headline units, for a {self.claim_type} claim", self.margin)
            require(_one_line(self.margin_reason or ""), "study.margin_reason",
                    "one line saying why the margin is this size", self.margin_reason)
        require(self.guide_loss not in self.claim_against or self.arm != "loss",
                "study.claim_against",
                "alternatives to the guide's loss, not the guide's loss itself",
                self.claim_against)
        require(self.guide_arm not in self.claim_against, "study.claim_against",
                "alternatives to the guide's arm, not the guide's arm itself",
                self.claim_against)
        unknown = sorted(set(self.budget) - set(PROFILES))
        require(not unknown, "study.budget", f"keyed by profile ({', '.join(PROFILES)})",
                 unknown)


    def guide_for(self, parts: dict[str, str]) -> Optional[str]:
        """The guide's arm in a condition given as its parts ``{key: value}``: ``guide_loss``
        for arm=loss; else ``guide_arms`` of the first part value it names, else
        ``guide_arm``."""
        if self.arm == "loss":
            return self.guide_loss
        for value in parts.values():
            if value in self.guide_arms:
                return self.guide_arms[value]
        return self.guide_arm


def _one_line(text: str) -> bool:
    return bool(text.strip()) and "\n" not in text.strip()


DEVICES = ("auto", "cpu", "cuda")


@dataclass
class LossbenchConf:
    """The root config. Groups are typed by their own schemas, hence ``Any`` here."""

    name: str = MISSING
    task: str = MISSING
    # the loss's name in MLflow (tag loss, run name): the ``loss`` option chosen, or the class
    # name of its _target_ for loss=custom or an overridden loss._target_ (lossbench.naming)
    loss_name: str = "${lossbench.loss_name:${hydra:runtime.choices.loss}}"
    run_name: str = "${name}-${loss_name}-s${seed}"
    seed: int = 0
    # train these seeds in one job, each seed its own MLflow run with what it would log alone:
    # as ONE stacked model where the task can (regression and classification without dropout,
    # resume, on_diverge=stop or measure_steps; lossbench.tasks.supervised.stacked), else one
    # after another; empty: the job trains `seed` alone
    seeds: list[int] = field(default_factory=list)
    # in a sweep (-m): the jobs that differ only in seed run as stacked jobs (seeds=[...]),
    # as many per condition as keep the launcher's workers busy (lossbench.sweeper);
    # false: one job per seed (the same runs under the same parent)
    stack_seeds: bool = True
    # auto: cuda when available, else cpu
    device: str = "auto"
    # CPU threads torch may use; 0: the cores shared out over the launcher's parallel jobs
    # (cores // joblib n_jobs, at least 1, in a sweep; torch's default for a single run)
    torch_threads: int = 0
    # where data sets live (scikit-learn's data_home is <data_dir>/scikit_learn_data,
    # torchvision's root is <data_dir>); LOSSBENCH_DATA_DIR overrides the default
    data_dir: str = "${oc.env:LOSSBENCH_DATA_DIR,'~/lossbench_data'}"
    # fetch missing data sets when online
    download: bool = True
    data: Any = MISSING
    model: Any = MISSING
    loss: Any = MISSING
    optimizer: Any = MISSING
    # trainer=supervised (TrainerConf: epochs, early stopping) or trainer=gan (GanTrainerConf)
    trainer: Any = MISSING
    tracking: Any = MISSING
    # continue from the last checkpoint in the job's checkpoint dir (every task kind)
    resume: bool = False
    # set by +experiment=<study> (experiments/experiment/): what lossbench report judges
    study: Optional[StudyConf] = None
    # the study's budget, set by profile=quick|full (experiments/profile/); null outside studies
    profile: Optional[str] = None
    # one more loss option swept by a study, +challenger=<loss option> (a study's sweep lists
    # its losses as ${lossbench.arms:huber,mse,...}, which appends it; lossbench.naming)
    challenger: Optional[str] = None
    # let a loss option that declares ``broken: true`` run (deliberately mismatched pairings,
    # naive overflow-prone formulas); only the studies that demonstrate those failures set it
    # (experiments/experiment/pairing.yaml, overflow.yaml); everywhere else they are refused
    allow_broken_losses: bool = False
    # the hyper-parameters a study's jobs use: guide (the study's own), tuned (each cell's
    # best setting from study.tune.file, written by lossbench tune), trial (a tuning job)
    settings: str = "guide"
    # the final metric hydra_main returns to the sweeper (lossbench tune sets it to the
    # headline on the validation split); null: final_<trainer.monitor>
    objective: Optional[str] = None

    def __post_init__(self) -> None:
        require(self.settings in SETTINGS, "settings", " or ".join(SETTINGS), self.settings)
        require(self.objective is None or self.objective.startswith("final_"), "objective",
                "null or a final_* metric", self.objective)
        require(self.profile is None or self.profile in PROFILES, "profile",
                 f"one of {', '.join(PROFILES)} or null", self.profile)
        require(self.task in TASKS, "task", f"one of {', '.join(TASKS)}", self.task)
        ok = self.device in DEVICES or re.fullmatch(r"cuda:\d+", self.device) is not None
        require(ok, "device", "auto, cpu, cuda or cuda:N", self.device)
        require(self.seed >= 0, "seed", ">= 0", self.seed)
        require(all(s >= 0 for s in self.seeds) and len(set(self.seeds)) == len(self.seeds),
                "seeds", "distinct seeds >= 0 (empty: train seed alone)", list(self.seeds))
        require(self.torch_threads >= 0, "torch_threads", ">= 0 (0: shared out over jobs)",
                 self.torch_threads)


def all_schemas() -> dict[str, dict[str, type]]:
    """Every group's schemas: the shared ones, tracking, and each task kind's."""
    out: dict[str, dict[str, type]] = {"tracking": {"mlflow": TrackingConf}}
    for module in (schema, *(importlib.import_module(m) for m in schema_modules())):
        for group, schemas in module.SCHEMAS.items():
            out.setdefault(group, {}).update(schemas)
    return out


def register_configs() -> None:
    """Put the root schema and each group's schemas into Hydra's ConfigStore."""
    cs = ConfigStore.instance()
    cs.store(name="lossbench_schema", node=LossbenchConf)
    # Hydra's basic sweeper that stacks seeds (stack_seeds, on by default; lossbench.sweeper)
    cs.store(group="hydra/sweeper", name="lossbench", provider="lossbench",
             node={"_target_": "hydra_plugins.lossbench_sweeper.StackingSweeper",
                   "max_batch_size": None, "params": None})
    for group, schemas in all_schemas().items():
        for name, node in schemas.items():
            cs.store(group=f"schema/{group}", name=name, node=node)


def validate(cfg: DictConfig) -> None:
    """Run every schema's value checks on a composed config, before anything is loaded.

    ``OmegaConf.to_object`` builds the dataclass instances (the group nodes included, as they
    are typed by their own schemas), which is what calls each ``__post_init__``.
    Raises :class:`ConfigError` naming the key and what it allows.
    """
    OmegaConf.to_object(cfg)
