"""The Hydra application: config -> data -> task (model, loss, train loop, metrics) -> MLflow."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from lossbench import outcomes
from lossbench.checkpoint import CheckpointError
from lossbench.data import DataFileError, DataNotFoundError
from lossbench.loop import TrainingDiverged
from lossbench.data.files import recording
from lossbench.config import ConfigError, register_configs, validate
from lossbench.store import StoreUnavailable
from lossbench.tasks import task_module
from lossbench.tune import apply_settings, objective, settings_tags
from lossbench.torchutil import resolve_device, seed_everything
from lossbench.tracking import (MlflowTracker, NullTracker, Tracker, flatten, supersede,
                                sweep_parent_run)

log = logging.getLogger("lossbench")
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def load_data(cfg: DictConfig):
    """Instantiate the data config: the loader gets the data dir and the download switch."""
    try:
        return instantiate(cfg.data, data_dir=cfg.data_dir, download=cfg.download)
    except InstantiationException as e:  # show a missing data set's own message, unwrapped
        if isinstance(e.__cause__, (DataNotFoundError, ConfigError, DataFileError)):
            raise e.__cause__ from None
        raise


def make_tracker(cfg: DictConfig) -> Tracker:
    t = cfg.tracking
    if not t.enabled:
        return NullTracker()
    return MlflowTracker(t.uri, t.experiment, t.artifact_location, plots=t.plots,
                         system_metrics=t.system_metrics,
                         system_metrics_interval=t.system_metrics_interval,
                         retry_s=t.retry_s, heartbeat_s=t.heartbeat_s, spool_dir=run_dir())


def run_dir() -> Path:
    """The job's output dir (Hydra's), else the working directory."""
    if HydraConfig.initialized():
        out = OmegaConf.select(HydraConfig.get(), "runtime.output_dir", default=None,
                               throw_on_missing=False)
        if out:
            return Path(out)
    return Path.cwd()


def job_overrides() -> str:
    """The job's Hydra overrides, e.g. ``loss=mae seed=1`` ("" outside Hydra)."""
    return " ".join(HydraConfig.get().overrides.task) if HydraConfig.initialized() else ""


def job_tags(cfg: DictConfig) -> dict[str, str]:
    """The run's tags: scenario, task, loss option, seed, and the job's Hydra overrides
    (``lossbench.overrides``; a sweep's summary finds its crossed factors there)."""
    tags = {"scenario": cfg.name, "task": cfg.task, "loss": cfg.loss_name, "seed": str(cfg.seed)}
    if HydraConfig.initialized():
        tags["lossbench.overrides"] = job_overrides()[:5000]
    tags.update(settings_tags(cfg))  # lossbench.settings (guide, tuned, trial), tuned values
    return tags


def _sweep_dir() -> Optional[str]:
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return str(HydraConfig.get().sweep.dir)
    return None


def run(cfg: DictConfig) -> dict[str, float]:
    """Run one job end to end; return its final metrics."""
    apply_settings(cfg)  # settings=tuned: this job's tuned values (lossbench.tune)
    validate(cfg)  # fails on bad values before anything is loaded
    task = task_module(cfg.task)
    task.check(cfg)  # a group option that does not fit the task kind, e.g. a GAN loss
    device = resolve_device(cfg.device)  # device=cuda without CUDA: refused before the run
    tracker = make_tracker(cfg)
    sweep_dir = _sweep_dir()
    in_sweep = sweep_dir is not None and not isinstance(tracker, NullTracker)
    parent = sweep_parent_run(tracker, sweep_dir) if in_sweep else None
    try:
        with tracker.start(cfg.run_name, tags=job_tags(cfg), parent_run_id=parent):
            if parent:  # a re-launched sweep: this run replaces the job's earlier ones
                supersede(tracker, parent, job_overrides())
            tracker.log_params(flatten(OmegaConf.to_container(cfg, resolve=True)))
            tracker.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
            if cfg.torch_threads:
                torch.set_num_threads(cfg.torch_threads)
            seed_everything(cfg.seed)
            tracker.set_tags({"device": str(device)})
            log.info("%s on %s", cfg.run_name, device)
            with recording() as files:
                data = load_data(cfg)
            tracker.log_dataset(data, _choice("data"), cfg.data._target_, files)
            final = task.run(cfg, data, device, tracker)
        log.info("%s: %s", cfg.run_name, ", ".join(f"{k}={v:.4g}" for k, v in final.items()
                                                   if k.startswith("final_test")))
    finally:  # where to look, failed or not
        log.info("MLflow run: %s", tracker.link())
    return final


def _choice(group: str) -> str:
    """The option chosen for a config group (e.g. data=california), "" outside Hydra."""
    if HydraConfig.initialized():
        return str(HydraConfig.get().runtime.choices.get(group) or "")
    return ""


register_configs()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def hydra_main(cfg: DictConfig) -> Optional[float]:
    """Entry point: in a sweep a failed job is logged (and its run marked FAILED), its outcome
    recorded (lossbench.outcomes) and the sweep goes on; a single run exits non-zero: 2 with one
    line for a user error, 1 with one line for a diverged run or an unavailable tracking store,
    a traceback for anything else. A re-launched sweep with ``resume=true`` skips the jobs its
    record has as finished."""
    sweep_dir, job = _sweep_dir(), str(cfg.get("run_name", "?"))
    overrides = job_overrides()
    if sweep_dir is not None and cfg.get("resume") and outcomes.finished_before(sweep_dir,
                                                                                 overrides):
        log.info("job %s (%s) already finished in this sweep: skipped", job, overrides)
        outcomes.record(sweep_dir, job, "skipped", overrides=overrides)
        return None
    try:
        final = run(cfg)
    except (ConfigError, DataNotFoundError, DataFileError) as e:
        if sweep_dir is None:  # a user error: its message, not a traceback
            print(f"lossbench: error: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        log.error("job %s failed: %s: %s", job, type(e).__name__, e)
        refused = isinstance(e, ConfigError) and not isinstance(e, CheckpointError)
        outcomes.record(sweep_dir, job, "refused" if refused else "failed", str(e), overrides)
        return None
    except Exception as e:
        if sweep_dir is None:
            if isinstance(e, TrainingDiverged):  # the run is FAILED with its reason
                print(f"lossbench: error: training diverged: {e}; lower optimizer.lr "
                      f"(now {cfg.optimizer.lr:g}) or set trainer.grad_clip", file=sys.stderr)
                raise SystemExit(1) from None
            if isinstance(e, StoreUnavailable):  # before training, or its records spooled
                print(f"lossbench: error: {e}", file=sys.stderr)
                raise SystemExit(1) from None
            raise
        log.error("job %s failed: %s: %s", job, type(e).__name__, e)
        outcomes.record(sweep_dir, job, "failed", f"{type(e).__name__}: {e}", overrides)
        return None
    if sweep_dir is not None:
        outcomes.record(sweep_dir, job, "finished", overrides=overrides)
    return final.get(objective(cfg))  # final_<trainer.monitor>, or what lossbench tune set
