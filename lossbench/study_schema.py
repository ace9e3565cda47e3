"""The study schema: what ``+experiment=<study>`` declares (``StudyConf``) and its tuning stage
(``TuneConf``), read by ``lossbench study``, ``lossbench tune`` and ``lossbench report``; plus the
``experiments/`` config root the study files live in. No torch is imported here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from omegaconf import MISSING, OmegaConf

from lossbench import naming
from lossbench.schema import require

__all__ = ["CLAIM_IDS", "CLAIM_TYPES", "EXPERIMENTS_DIR", "PROFILES", "SETTINGS", "StudyConf",
           "TuneConf"]


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
