"""The Hydra callbacks of a sweep (conf/config.yaml lists them, in this order):

* :class:`WarmWorkers` starts the joblib launcher's worker processes, and their imports, while
  the sweep's own process is still preparing the store and composing the jobs;
* :class:`MlflowSweepCallback` records the sweep's overrides, prepares the tracking store
  before parallel jobs write to it, and ends the sweep's parent runs.

Hydra instantiates every callback before it calls the first, so this module imports neither
MLflow nor torch: the workers start before this process spends its seconds on MLflow.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from pathlib import Path
from typing import Any, Optional

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from lossbench.sweeper import launcher_workers

log = logging.getLogger(__name__)
JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"


class WarmWorkers(Callback):
    """Hydra callback: at a sweep's start, :func:`warm_workers`; at its end, log (debug)
    the pids of the workers it started."""

    def __init__(self) -> None:
        self.pids: list[int] = []
        self.thread: Optional[threading.Thread] = None

    def __getstate__(self) -> dict:  # the launcher pickles the callbacks into each job
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.thread = warm_workers(config, self.pids)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.thread is not None:
            self.thread.join(timeout=60)
            log.debug("workers started ahead of the jobs: pids %s", sorted(set(self.pids)))


def warm_workers(config: DictConfig, pids: list[int]) -> Optional[threading.Thread]:
    """Start the joblib launcher's workers now, each importing what the sweep's jobs import
    first (:func:`prepare_worker`), in a background thread that appends their pids to
    ``pids``; None for any other launcher.

    Each worker would otherwise start only when the jobs are launched, then spend 8-10 s of
    a 2-core machine importing torch, MLflow and scikit-learn before its first job trains,
    while the sweep's own process had spent its first 5-7 s on MLflow and composing the jobs.
    The workers are joblib's reusable loky executor, created with the launcher's own
    arguments (as Hydra's joblib launcher passes them), so the launcher's jobs run in them:
    an executor created with other arguments would be replaced, not reused."""
    launcher = config.hydra.launcher
    if launcher.get("_target_") != JOBLIB_LAUNCHER:
        return None
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
    from joblib import Parallel, delayed

    kwargs = {k: v for k, v in OmegaConf.to_container(launcher, resolve=True).items()
              if k != "_target_"}
    kwargs["backend"] = "loky"  # as the launcher does
    process_joblib_cfg(kwargs)
    tracking = config.get("tracking")
    uri = str(tracking.uri) if tracking is not None and tracking.get("enabled") else None
    modules = [str(t).rsplit(".", 1)[0] for t in
               (OmegaConf.select(config, f"{g}._target_", default=None) for g in ("data", "model"))
               if t]
    task, workers = config.get("task"), launcher_workers(launcher)

    def warm() -> None:
        try:
            pids.extend(Parallel(**kwargs)(delayed(prepare_worker)(task, uri, modules)
                                           for _ in range(workers)))
        except BaseException as e:  # the jobs start their workers themselves, as before
            log.debug("could not start the workers ahead of the jobs: %s", e)

    thread = threading.Thread(target=warm, name="lossbench-warm-workers", daemon=True)
    thread.start()
    return thread


def prepare_worker(task: Optional[str], uri: Optional[str], modules: list[str]) -> int:
    """In a launcher's worker: import the job's app and task kind, ``modules`` (its data and
    model), ``torch._dynamo`` (an optimizer's first step imports it: 1.9 s) and open the
    tracking store (lossbench.tracking.prepare_store: once per process); return its pid."""
    from lossbench.tasks import task_module

    for name in ("torch._dynamo", "lossbench.app"):
        importlib.import_module(name)
    if task:
        task_module(str(task))
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:  # the job reports a bad target itself
            pass
    if uri:
        from lossbench.tracking import prepare_store

        prepare_store(uri)
    return os.getpid()


class MlflowSweepCallback(Callback):
    """Hydra callback: records the sweep's overrides, prepares the store, ends the sweep's
    parent runs (lossbench.tracking.close_sweep)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from lossbench import tracking
        from lossbench.store import own_http_retries

        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / "sweep_overrides.txt").write_text(" ".join(config.hydra.overrides.task))
        tracking.active_sweep = str(sweep_dir)
        os.environ[tracking.SWEEP_PID_ENV] = str(os.getpid())
        conf = config.get("tracking")
        if conf is not None and conf.get("enabled", False):
            own_http_retries()
            tracking.prepare_store(conf.uri)  # before the launcher starts parallel jobs

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from lossbench import tracking

        conf = config.get("tracking") or {}
        tracking.close_sweep(config.hydra.sweep.dir, retry_s=conf.get("retry_s", 120.0),
                             plots=bool(conf.get("plots", True)))
        tracking.active_sweep = None
