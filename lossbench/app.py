"""The Hydra application: config -> data -> task (model, loss, train loop, metrics) -> MLflow.

torch, scikit-learn and MLflow are imported where a job first needs them, not here: Hydra
imports this module for ``lossbench --cfg job`` too, which needs none of them."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from lossbench import outcomes, progress
from lossbench.config import ConfigError, register_configs, validate
from lossbench.data.errors import DataFileError, DataNotFoundError
from lossbench.tasks import task_module
from lossbench.tune import apply_settings, objective, settings_tags

if TYPE_CHECKING:
    import torch

    from lossbench.tracking import Tracker

log = logging.getLogger("lossbench")
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def load_data(cfg: DictConfig):
    """Instantiate the data config: the loader gets the data dir and the download switch."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        return instantiate(cfg.data, data_dir=cfg.data_dir, download=cfg.download)
    except InstantiationException as e:  # show a missing data set's own message, unwrapped
        if isinstance(e.__cause__, (DataNotFoundError, ConfigError, DataFileError)):
            raise e.__cause__ from None
        raise


def make_tracker(cfg: DictConfig) -> Tracker:
    from lossbench.tracking import MlflowTracker, NullTracker

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


def job_overrides(seed: Optional[int] = None) -> str:
    """The job's Hydra overrides, e.g. ``loss=mae seed=1`` ("" outside Hydra). For one
    ``seed`` of a stacked job: the overrides its job alone would have had (``seeds=``
    dropped, ``seed=`` its own, in the same place)."""
    if not HydraConfig.initialized():
        return ""
    overrides = list(HydraConfig.get().overrides.task)
    if seed is not None:
        own = f"seed={seed}"
        overrides = [own if o.startswith("seed=") else o for o in overrides
                     if not o.startswith("seeds=")]
        overrides += [] if own in overrides else [own]
    return " ".join(overrides)


def job_tags(cfg: DictConfig, stacked: bool = False) -> dict[str, str]:
    """The run's tags: scenario, task, loss option, seed, and the job's Hydra overrides
    (``lossbench.overrides``; a sweep's summary finds its crossed factors there; a seed of a
    ``stacked`` job gets those of its job alone)."""
    tags = {"scenario": cfg.name, "task": cfg.task, "loss": cfg.loss_name, "seed": str(cfg.seed)}
    if HydraConfig.initialized():
        tags["lossbench.overrides"] = job_overrides(cfg.seed if stacked else None)[:5000]
    tags.update(settings_tags(cfg))  # lossbench.settings (guide, tuned, trial), tuned values
    return tags


def job_threads() -> int:
    """``torch_threads=0``: in a sweep, the cores shared out over the launcher's parallel
    jobs (at least 1 each: on a busy 2-core machine 2 threads per job were 5-40x slower than
    1); 0 (torch's default, every core) for a single run."""
    if _sweep_dir() is None:
        return 0
    from lossbench.sweeper import launcher_workers

    workers = launcher_workers(HydraConfig.get().launcher)
    return max(1, (os.cpu_count() or 1) // workers)


def _sweep_dir() -> Optional[str]:
    return str(HydraConfig.get().sweep.dir) if progress.in_sweep() else None


def run(cfg: DictConfig, stacked: bool = False) -> dict[str, float]:
    """Run one job end to end; return its final metrics. ``stacked``: ``cfg`` is one seed of
    a stacked job (:func:`seed_configs`), tagged with the overrides its job alone would have."""
    from lossbench.torchutil import resolve_device
    from lossbench.tracking import NullTracker, supersede, sweep_parent_run

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
        with tracker.start(cfg.run_name, tags=job_tags(cfg, stacked), parent_run_id=parent):
            if parent:  # a re-launched sweep: this run replaces the job's earlier ones
                supersede(tracker, parent, job_overrides(cfg.seed if stacked else None))
            data = start_job(cfg, tracker, device)
            final = task.run(cfg, data, device, tracker)
        log_final(cfg, final)
    finally:  # where to look, failed or not
        log.info("MLflow run: %s", tracker.link())
    return final


def start_job(cfg: DictConfig, tracker: Tracker, device: torch.device):
    """A job's first steps in its open run: params, config, threads, seeding, data; returns
    the data."""
    import torch

    from lossbench.data.files import recording
    from lossbench.torchutil import seed_everything
    from lossbench.tracking import flatten

    tracker.log_params(flatten(OmegaConf.to_container(cfg, resolve=True)))
    tracker.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
    threads = cfg.torch_threads or job_threads()
    if threads:
        torch.set_num_threads(threads)
    seed_everything(cfg.seed)
    tracker.set_tags({"device": str(device)})
    log.info("%s on %s", cfg.run_name, device)
    with recording() as files:
        data = load_data(cfg)
    tracker.log_dataset(data, _choice("data"), cfg.data._target_, files)
    return data


def log_final(cfg: DictConfig, final: dict[str, float]) -> None:
    log.info("%s: %s", cfg.run_name, ", ".join(f"{k}={v:.4g}" for k, v in final.items()
                                               if k.startswith("final_test")))


def seed_configs(cfg: DictConfig) -> list[DictConfig]:
    """One config per seed of a stacked job (``seeds=[...]``): ``seed`` set, ``seeds`` empty,
    so each seed's params and run name are those of its job alone."""
    out = []
    for seed in cfg.seeds:
        one = cfg.copy()
        one.seed, one.seeds = seed, []
        out.append(one)
    return out


@contextlib.contextmanager
def _runs(cfgs: list[DictConfig], trackers: list[Tracker],
          parent: Optional[str]) -> Iterator[list[Optional[BaseException]]]:
    """One open run per seed. The body puts each seed's error (or None) into the yielded
    list: a run ends FINISHED, or FAILED with its own error; all FAILED when the body raises."""
    opened, errors = [], [None] * len(cfgs)
    try:
        for c, tracker in zip(cfgs, trackers):
            run_cm = tracker.start(c.run_name, tags=job_tags(c, stacked=True),
                                   parent_run_id=parent)
            run_cm.__enter__()
            opened.append(run_cm)
        yield errors
    except BaseException:
        for run_cm in opened:
            run_cm.__exit__(*sys.exc_info())
        raise
    for run_cm, error in zip(opened, errors):
        if error is None:
            run_cm.__exit__(None, None, None)
            continue
        try:
            raise error
        except BaseException:
            run_cm.__exit__(*sys.exc_info())


def run_seeds(cfg: DictConfig) -> dict[str, "dict[str, float] | Exception"]:
    """Run a job's seeds (``seeds=[...]``): as one stacked model
    (:mod:`lossbench.tasks.supervised.stacked`) where the task kind can stack them exactly,
    else one after another in this process, each as its own job would run (one start-up for
    all). One MLflow run per seed; return per run name its final metrics or the error that
    ended that seed alone."""
    from lossbench.torchutil import resolve_device
    from lossbench.tracking import NullTracker, supersede, sweep_parent_run

    apply_settings(cfg)  # settings=tuned: the job's tuned values, the same for every seed
    validate(cfg)
    task = task_module(cfg.task)
    cfgs = seed_configs(cfg)
    why = "" if hasattr(task, "build") else f"the {cfg.task} kind has no stacked trainer"
    if not why:
        from lossbench.tasks.supervised import stacked

        why = stacked.unstackable(cfg)
    if why:
        log.info("seeds %s train one after another: %s", list(cfg.seeds), why)
        return {str(c.run_name): _seed_alone(c) for c in cfgs}
    task.check(cfgs[0])
    device = resolve_device(cfg.device)
    trackers = [make_tracker(c) for c in cfgs]
    sweep_dir = _sweep_dir()
    in_sweep = sweep_dir is not None and not isinstance(trackers[0], NullTracker)
    parent = sweep_parent_run(trackers[0], sweep_dir) if in_sweep else None
    try:
        with _runs(cfgs, trackers, parent) as errors:
            if parent:  # a re-launched sweep: these runs replace the seeds' earlier ones
                for c, tr in zip(cfgs, trackers):
                    supersede(tr, parent, job_overrides(c.seed))
            tasks = [task.build(c, start_job(c, tr, device), device, tr)
                     for c, tr in zip(cfgs, trackers)]
            for tr in trackers:
                tr.set_tags({"lossbench.stacked_seeds": " ".join(map(str, cfg.seeds))})
            outcome = stacked.run_stacked(cfg, tasks, trackers)
            for i, result in enumerate(outcome):
                errors[i] = result if isinstance(result, Exception) else None
        for c, result in zip(cfgs, outcome):
            if not isinstance(result, Exception):
                log_final(c, result)
    finally:
        for c, tr in zip(cfgs, trackers):
            log.info("MLflow run of %s: %s", c.run_name, tr.link())
    return {c.run_name: result for c, result in zip(cfgs, outcome)}


def _seed_alone(cfg: DictConfig) -> "dict[str, float] | Exception":
    """One seed of a job that cannot stack, run as its own job would (the same config and
    params), its checkpoints in its own folder (:func:`lossbench.checkpoint.seed_folder`): its
    final metrics, or the error that ended it (an interruption ends the whole job)."""
    from lossbench.checkpoint import seed_folder

    try:
        with seed_folder(cfg.seed):
            return run(cfg, stacked=True)
    except Exception as e:  # the seed's run is FAILED with its reason; the next seed goes on
        return e


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
    a traceback for anything else. A stacked job (``seeds=[...]``) records one outcome per
    seed. A re-launched sweep with ``resume=true`` skips the jobs (seeds) its record has as
    finished."""
    sweep_dir = _sweep_dir()
    stacked = bool(cfg.get("seeds"))  # a stacked job: one run (and outcome) per seed
    cfgs = seed_configs(cfg) if stacked else [cfg]
    jobs = {str(c.get("run_name", "?")): job_overrides(c.seed if stacked else None)
            for c in cfgs}
    if sweep_dir is not None and cfg.get("resume"):
        done = [job for job, o in jobs.items() if outcomes.finished_before(sweep_dir, o)]
        for job in done:
            log.info("job %s (%s) already finished in this sweep: skipped", job, jobs[job])
            outcomes.record(sweep_dir, job, "skipped", overrides=jobs.pop(job))
        if not jobs:
            return None
        if stacked and done:
            cfg.seeds = [c.seed for c in cfgs if str(c.run_name) in jobs]
    try:
        finals = run_seeds(cfg) if stacked else {next(iter(jobs)): run(cfg)}
    except Exception as e:
        for job, overrides in jobs.items():
            _failed(cfg, sweep_dir, job, e, overrides)
        return None
    diverged = False
    for job, final in finals.items():
        if isinstance(final, Exception):  # one seed of a stacked job diverged, alone
            try:
                _failed(cfg, sweep_dir, job, final, jobs[job])
            except SystemExit:  # not in a sweep: the other seeds' runs finish first
                diverged = True
        elif sweep_dir is not None:
            outcomes.record(sweep_dir, job, "finished", overrides=jobs[job])
    if diverged:
        raise SystemExit(1)
    done_finals = [f for f in finals.values() if not isinstance(f, Exception)]
    if not done_finals:
        return None
    value = done_finals[0].get(objective(cfg))  # final_<trainer.monitor>, or lossbench tune's
    if value is None:
        log.error("objective %s is not among the job's final metrics (%s)", objective(cfg),
                  ", ".join(sorted(done_finals[0])))
    return value


def _failed(cfg: DictConfig, sweep_dir: Optional[str], job: str, e: Exception,
            overrides: str) -> None:
    """A failed job: in a sweep, log and record its outcome; alone, exit as
    :func:`hydra_main` says (re-raising what is not a user error, a divergence or an
    unavailable store)."""
    from lossbench.checkpoint import CheckpointError
    from lossbench.loop import TrainingDiverged
    from lossbench.store import StoreUnavailable

    if isinstance(e, (ConfigError, DataNotFoundError, DataFileError)):
        if sweep_dir is None:  # a user error: its message, not a traceback
            print(f"lossbench: error: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        log.error("job %s failed: %s: %s", job, type(e).__name__, e)
        refused = isinstance(e, ConfigError) and not isinstance(e, CheckpointError)
        outcomes.record(sweep_dir, job, "refused" if refused else "failed", str(e), overrides)
        return
    if sweep_dir is None:
        if isinstance(e, TrainingDiverged):  # the run is FAILED with its reason
            print(f"lossbench: error: training diverged: {e}; lower optimizer.lr "
                  f"(now {cfg.optimizer.lr:g}) or set trainer.grad_clip", file=sys.stderr)
            raise SystemExit(1) from None
        if isinstance(e, StoreUnavailable):  # before training, or its records spooled
            print(f"lossbench: error: {e}", file=sys.stderr)
            raise SystemExit(1) from None
        raise e
    log.error("job %s failed: %s: %s", job, type(e).__name__, e)
    outcomes.record(sweep_dir, job, "failed", f"{type(e).__name__}: {e}", overrides)
