"""The root config: the root and tracking schemas (the study schema is
``lossbench.study_schema``), and their registration in Hydra's
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
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from lossbench import schema
from lossbench.schema import ConfigError, require
from lossbench.study_schema import PROFILES, SETTINGS, StudyConf
from lossbench.tasks import TASKS, schema_modules

__all__ = ["ConfigError", "LossbenchConf", "register_configs", "validate"]


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
