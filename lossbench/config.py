"""The root config: the root, tracking and study schemas, and their registration in Hydra's
ConfigStore together with every task kind's schemas (``lossbench/tasks/<kind>/schema.py``).

Every YAML option in ``conf/<group>/`` starts from one of these schemas (its defaults list names
``/schema/<group>/<name>``), so OmegaConf rejects unknown keys and wrong types while composing.
Value checks (``lr > 0``, ``0 <= fraction <= 1`` ...) live in ``__post_init__`` and run in
:func:`validate`, before any data is loaded or any model is built. No torch is imported here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from lossbench import schema
from lossbench.schema import ConfigError, require
from lossbench.tasks import TASKS, schema_modules

__all__ = ["ConfigError", "LossbenchConf", "StudyConf", "register_configs", "validate"]


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

    def __post_init__(self) -> None:
        require(self.system_metrics_interval > 0, "tracking.system_metrics_interval", "> 0",
                self.system_metrics_interval)



# --------------------------------------------------------------------------- studies
# experiments/ is a second config root (conf/config.yaml's hydra.searchpath names it through
# this resolver): experiments/experiment/<study>.yaml, experiments/profile/{quick,full}.yaml
EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent / "experiments"
if not OmegaConf.has_resolver("lossbench.experiments_dir"):
    OmegaConf.register_new_resolver("lossbench.experiments_dir", lambda: str(EXPERIMENTS_DIR))
PROFILES = ("quick", "full")


@dataclass
class StudyConf:
    """What ``lossbench report`` needs to judge a case study (``+experiment=<study>``): its
    headline metric and direction, the guide's paired loss and claim, and the per-profile
    budget values the experiment file interpolates (``${study.budget.${profile}.epochs}``)."""

    # a final_* metric every job logs, e.g. final_test_rmse
    headline: str = MISSING
    # min: lower is better (RMSE, W1), max: higher is better (average precision, ROC-AUC)
    headline_mode: str = "min"
    # the guide's loss for this scenario; the report compares it with every other swept loss
    paired_loss: str = MISSING
    # the guide's claim, one line
    claim: str = MISSING
    # the alternatives the claim is about (empty: every other swept loss); the study's verdict
    # is judged on these comparisons only, the others are reported for information
    claim_against: list[str] = field(default_factory=list)
    # the guide's optimizer per loss (e.g. {mse: adam, mae: sgd}); with optimizer swept, the
    # report checks each pairing against the other optimizers
    optimizer_pairing: dict[str, str] = field(default_factory=dict)
    # per profile (quick, full): values the experiment interpolates (epochs, steps, ...)
    budget: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require(self.headline.startswith("final_"), "study.headline",
                 "a final_* metric name (e.g. final_test_rmse)", self.headline)
        require(self.headline_mode in ("min", "max"), "study.headline_mode",
                 "min (lower is better) or max", self.headline_mode)
        require(bool(self.paired_loss), "study.paired_loss", "a loss option name",
                 self.paired_loss)
        require(bool(self.claim.strip()) and "\n" not in self.claim.strip(), "study.claim",
                 "one non-empty line", self.claim)
        unknown = sorted(set(self.budget) - set(PROFILES))
        require(not unknown, "study.budget", f"keyed by profile ({', '.join(PROFILES)})",
                 unknown)


DEVICES = ("auto", "cpu", "cuda")


@dataclass
class LossbenchConf:
    """The root config. Groups are typed by their own schemas, hence ``Any`` here."""

    name: str = MISSING
    task: str = MISSING
    # the loss option chosen in the ``loss`` group, and the run's name in MLflow
    loss_name: str = "${hydra:runtime.choices.loss}"
    run_name: str = "${name}-${loss_name}-s${seed}"
    seed: int = 0
    device: str = "auto"
    # CPU threads torch may use (0: torch's default); set it per job in parallel sweeps
    torch_threads: int = 0
    data_dir: str = "${oc.env:LOSSBENCH_DATA_DIR,'~/lossbench_data'}"
    download: bool = True
    data: Any = MISSING
    model: Any = MISSING
    loss: Any = MISSING
    optimizer: Any = MISSING
    # trainer=supervised (TrainerConf: epochs, early stopping) or trainer=gan (GanTrainerConf)
    trainer: Any = MISSING
    tracking: Any = MISSING
    # continue from the last checkpoint in the job's checkpoint dir (task gan)
    resume: bool = False
    # set by +experiment=<study> (experiments/experiment/): what lossbench report judges
    study: Optional[StudyConf] = None
    # the study's budget, set by profile=quick|full (experiments/profile/); null outside studies
    profile: Optional[str] = None

    def __post_init__(self) -> None:
        require(self.profile is None or self.profile in PROFILES, "profile",
                 f"one of {', '.join(PROFILES)} or null", self.profile)
        require(self.task in TASKS, "task", f"one of {', '.join(TASKS)}", self.task)
        ok = self.device in DEVICES or self.device.startswith("cuda:")
        require(ok, "device", "auto, cpu, cuda or cuda:N", self.device)
        require(self.seed >= 0, "seed", ">= 0", self.seed)
        require(self.torch_threads >= 0, "torch_threads", ">= 0 (0: torch's default)",
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
