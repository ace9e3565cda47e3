"""The schema pieces every task kind shares: the config error, the value check, the data base,
the optimizers and the epoch trainer. Schema modules import no torch (the CLI stays light).

Rule for defaults: a value is written once. A schema's dataclass holds the defaults that all of
its options share; an option's YAML (``conf/<group>/<name>.yaml``) holds only what differs
from its schema. Loader, model and loss signatures take what the config gives and repeat no
default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING


class ConfigError(ValueError):
    """A configuration value is outside what lossbench accepts."""


def one_line(e: BaseException) -> str:
    """An error as one line, for a command's ``error:`` message (its first line, or its type)."""
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def require(ok: bool, key: str, allowed: str, value: Any) -> None:
    """Raise :class:`ConfigError` naming ``key`` and what it allows unless ``ok``."""
    if not ok:
        raise ConfigError(f"{key}: must be {allowed}, got {value!r}")


@dataclass
class DataConf:
    """Every data set: a loader (``_target_``) and the seed its splits are drawn from."""

    _target_: str = MISSING
    # splits are drawn from this seed; by default the run's seed
    split_seed: int = "${seed}"  # type: ignore[assignment]



# --------------------------------------------------------------------------- optimizers
@dataclass
class OptimizerConf:
    _target_: str = MISSING
    _partial_: bool = True
    lr: float = 1e-3
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        require(self.lr > 0, "optimizer.lr", "> 0", self.lr)
        require(self.weight_decay >= 0, "optimizer.weight_decay", ">= 0", self.weight_decay)


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
        require(0.0 <= self.momentum < 1.0, "optimizer.momentum", "in [0, 1)", self.momentum)


@dataclass
class RMSpropConf(OptimizerConf):
    _target_: str = "torch.optim.RMSprop"
    lr: float = 5e-5
    momentum: float = 0.0
    alpha: float = 0.99

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0.0 <= self.momentum < 1.0, "optimizer.momentum", "in [0, 1)", self.momentum)
        require(0.0 < self.alpha < 1.0, "optimizer.alpha", "in (0, 1)", self.alpha)


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
    # save model, optimizer, loop and RNG states every so many epochs (0: at the end only)
    checkpoint_every: int = 1
    # null: <hydra output dir>/checkpoints (./checkpoints outside Hydra)
    checkpoint_dir: Optional[str] = None
    # also log diagnostics at the end (lossbench.curves): the training split's scores
    # (final_train_*), the gaps final_gap_* = test - train, and the roughness of the
    # train-loss and monitored curves (final_roughness_*); supervised kinds
    diagnostics: bool = False
    # when the training loss or a weight stops being finite: raise (the run fails) or stop
    # (the run finishes on its best epoch's weights and logs final_diverged 0/1, the C13 study)
    on_diverge: str = "raise"
    # after training, time this many more steps and profile one's memory (final_step_seconds,
    # final_step_peak_bytes; lossbench.stepcost, the C14 study); 0: measure nothing
    measure_steps: int = 0
    # floating-point type of the model and the data (supervised, pairs): float32, or float64
    # (slower; for checks that need exact arithmetic, e.g. stacked against unstacked seeds)
    dtype: str = "float32"

    def __post_init__(self) -> None:
        require(self.epochs > 0, "trainer.epochs", "> 0", self.epochs)
        require(self.batch_size > 0, "trainer.batch_size", "> 0", self.batch_size)
        require(self.patience >= 0, "trainer.patience", ">= 0", self.patience)
        require(self.monitor_mode in ("min", "max"), "trainer.monitor_mode", "min or max",
                 self.monitor_mode)
        require(self.grad_clip >= 0, "trainer.grad_clip", ">= 0", self.grad_clip)
        require(self.checkpoint_every >= 0, "trainer.checkpoint_every", ">= 0",
                 self.checkpoint_every)
        require(self.on_diverge in ("raise", "stop"), "trainer.on_diverge",
                "raise (the run fails) or stop (it finishes and logs final_diverged)",
                self.on_diverge)
        require(self.measure_steps >= 0, "trainer.measure_steps", ">= 0 (0: none)",
                self.measure_steps)
        require(self.dtype in ("float32", "float64"), "trainer.dtype", "float32 or float64",
                self.dtype)



@dataclass
class AdamBetasConf(AdamConf):
    """Adam with its moment decay rates, which GAN recipes set (0.5, 0.9), (0.5, 0.999) ..."""

    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.betas) == 2 and all(0.0 <= b < 1.0 for b in self.betas),
                 "optimizer.betas", "two values in [0, 1)", list(self.betas))



SCHEMAS: dict[str, dict[str, type]] = {
    "optimizer": {"adam": AdamConf, "sgd": SGDConf, "rmsprop": RMSpropConf,
                  "adam_betas": AdamBetasConf},
    "trainer": {"epochs": TrainerConf},
}


def chosen(cfg: Any, group: str) -> str:
    """The option chosen for ``group`` (Hydra's runtime choices), for messages."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get(group)
        if choice:
            return str(choice)
    return "?"


def check_group(cfg: Any, group: str, base: "type | tuple[type, ...]", need: str) -> None:
    """Refuse ``cfg[group]`` unless its schema (the dataclass its option was composed from)
    is ``base`` or a subclass: e.g. a GAN loss in a regression scenario. ``need`` says what
    fits. Runs on the composed config, before any data loads."""
    from omegaconf import OmegaConf

    schema_type = OmegaConf.get_type(cfg[group])
    if not (isinstance(schema_type, type) and issubclass(schema_type, base)):
        raise ConfigError(f"{group}={chosen(cfg, group)} does not fit {cfg.name} "
                          f"(a {cfg.task} task): {need}")


def check_monitor(cfg: Any, logged: "list[str] | tuple[str, ...]") -> None:
    """Refuse a ``trainer.monitor`` the task does not log (``logged``), before any training."""
    require(cfg.trainer.monitor in logged, "trainer.monitor",
            f"a metric {cfg.name} logs ({', '.join(logged)})", cfg.trainer.monitor)


def check_custom_loss(target: str, kwargs: Any, declared: type) -> None:
    """A user's loss (``loss=custom``): its ``_target_`` is set, and ``loss.kwargs`` repeats no
    key the loss schema ``declared`` already has."""
    require(bool(target), "loss._target_",
            "your loss's import path, e.g. loss._target_=my_pkg.losses.MyLoss", target)
    for key in sorted(set(kwargs) & set(declared.__dataclass_fields__)):
        raise ConfigError(f"loss.kwargs.{key}: set it as loss.{key}, not in loss.kwargs")
