"""Structured-config schemas, registered in Hydra's ConfigStore.

Every YAML option in ``conf/<group>/`` starts from one of these schemas (its defaults list names
``/schema/<group>/<name>``), so OmegaConf rejects unknown keys and wrong types while composing.
Value checks (``lr > 0``, ``0 <= fraction <= 1`` ...) live in ``__post_init__`` and run in
:func:`validate`, before any data is loaded or any model is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf


class ConfigError(ValueError):
    """A configuration value is outside what lossbench accepts."""


def _require(ok: bool, key: str, allowed: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{key}: must be {allowed}, got {value!r}")


# --------------------------------------------------------------------------- data
@dataclass
class TabularDataConf:
    """Shared split settings of every table data set."""

    _target_: str = MISSING
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    # splits are drawn from this seed; by default the run's seed
    split_seed: int = "${seed}"  # type: ignore[assignment]

    def __post_init__(self) -> None:
        _require(0.0 < self.val_fraction < 1.0, "data.val_fraction", "in (0, 1)", self.val_fraction)
        _require(0.0 < self.test_fraction < 1.0, "data.test_fraction", "in (0, 1)", self.test_fraction)
        total = self.val_fraction + self.test_fraction
        _require(total < 1.0, "data.val_fraction + data.test_fraction", "< 1", total)


@dataclass
class RegressionDataConf(TabularDataConf):
    standardize_target: bool = False
    # outliers injected into the TRAINING targets only; validation and test stay clean
    outlier_fraction: float = 0.0
    outlier_scale_min: float = 5.0
    outlier_scale_max: float = 10.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0.0 <= self.outlier_fraction <= 1.0, "data.outlier_fraction", "in [0, 1]",
                 self.outlier_fraction)
        _require(self.outlier_scale_min > 0, "data.outlier_scale_min", "> 0", self.outlier_scale_min)
        _require(self.outlier_scale_max >= self.outlier_scale_min, "data.outlier_scale_max",
                 f">= data.outlier_scale_min ({self.outlier_scale_min})", self.outlier_scale_max)


# --------------------------------------------------------------------------- model
@dataclass
class MLPConf:
    _target_: str = "lossbench.models.MLP"
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _require(all(h > 0 for h in self.hidden), "model.hidden", "a list of positive widths",
                 list(self.hidden))
        _require(0.0 <= self.dropout < 1.0, "model.dropout", "in [0, 1)", self.dropout)


# --------------------------------------------------------------------------- losses
def _check_reduction(reduction: str) -> None:
    _require(reduction in ("mean", "sum", "none"), "loss.reduction", "one of mean, sum, none",
             reduction)


@dataclass
class LossConf:
    _target_: str = MISSING
    reduction: str = "mean"

    def __post_init__(self) -> None:
        _check_reduction(self.reduction)


@dataclass
class HuberConf(LossConf):
    _target_: str = "torch.nn.HuberLoss"
    delta: float = 1.5

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.delta > 0, "loss.delta", "> 0", self.delta)


# --------------------------------------------------------------------------- optimizers
@dataclass
class OptimizerConf:
    _target_: str = MISSING
    _partial_: bool = True
    lr: float = 1e-3
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        _require(self.lr > 0, "optimizer.lr", "> 0", self.lr)
        _require(self.weight_decay >= 0, "optimizer.weight_decay", ">= 0", self.weight_decay)


@dataclass
class AdamConf(OptimizerConf):
    _target_: str = "torch.optim.Adam"


@dataclass
class SGDConf(OptimizerConf):
    _target_: str = "torch.optim.SGD"
    lr: float = 1e-2
    momentum: float = 0.9
    nesterov: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0.0 <= self.momentum < 1.0, "optimizer.momentum", "in [0, 1)", self.momentum)


@dataclass
class RMSpropConf(OptimizerConf):
    _target_: str = "torch.optim.RMSprop"
    lr: float = 5e-5
    momentum: float = 0.0
    alpha: float = 0.99

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0.0 <= self.momentum < 1.0, "optimizer.momentum", "in [0, 1)", self.momentum)
        _require(0.0 < self.alpha < 1.0, "optimizer.alpha", "in (0, 1)", self.alpha)


# --------------------------------------------------------------------------- trainer, tracking
@dataclass
class TrainerConf:
    epochs: int = 50
    batch_size: int = 128
    # stop when the monitored validation metric has not improved for this many epochs (0: never)
    patience: int = 10
    monitor: str = "val_rmse"
    monitor_mode: str = "min"
    # clip the gradient norm (0: no clipping)
    grad_clip: float = 0.0

    def __post_init__(self) -> None:
        _require(self.epochs > 0, "trainer.epochs", "> 0", self.epochs)
        _require(self.batch_size > 0, "trainer.batch_size", "> 0", self.batch_size)
        _require(self.patience >= 0, "trainer.patience", ">= 0", self.patience)
        _require(self.monitor_mode in ("min", "max"), "trainer.monitor_mode", "min or max",
                 self.monitor_mode)
        _require(self.grad_clip >= 0, "trainer.grad_clip", ">= 0", self.grad_clip)


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


TASKS = ("regression", "classification", "pairs", "gan")
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
    data_dir: str = "${oc.env:LOSSBENCH_DATA_DIR,'~/lossbench_data'}"
    download: bool = True
    data: Any = MISSING
    model: Any = MISSING
    loss: Any = MISSING
    optimizer: Any = MISSING
    trainer: TrainerConf = field(default_factory=TrainerConf)
    tracking: Any = MISSING

    def __post_init__(self) -> None:
        _require(self.task in TASKS, "task", f"one of {', '.join(TASKS)}", self.task)
        ok = self.device in DEVICES or self.device.startswith("cuda:")
        _require(ok, "device", "auto, cpu, cuda or cuda:N", self.device)
        _require(self.seed >= 0, "seed", ">= 0", self.seed)


SCHEMAS: dict[str, dict[str, type]] = {
    "data": {"regression": RegressionDataConf},
    "model": {"mlp": MLPConf},
    "loss": {"loss": LossConf, "huber": HuberConf},
    "optimizer": {"adam": AdamConf, "sgd": SGDConf, "rmsprop": RMSpropConf},
    "tracking": {"mlflow": TrackingConf},
}


def register_configs() -> None:
    """Put the root schema and each group's schemas into Hydra's ConfigStore."""
    cs = ConfigStore.instance()
    cs.store(name="lossbench_schema", node=LossbenchConf)
    for group, schemas in SCHEMAS.items():
        for name, node in schemas.items():
            cs.store(group=f"schema/{group}", name=name, node=node)


def validate(cfg: DictConfig) -> None:
    """Run every schema's value checks on a composed config, before anything is loaded.

    ``OmegaConf.to_object`` builds the dataclass instances (the group nodes included, as they
    are typed by their own schemas), which is what calls each ``__post_init__``.
    Raises :class:`ConfigError` naming the key and what it allows.
    """
    OmegaConf.to_object(cfg)
