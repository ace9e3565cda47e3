"""MLflow tracking: one run per job, a parent run per Hydra multirun sweep.

Everything goes through :class:`mlflow.MlflowClient` with explicit run ids, so no global
"active run" state leaks between the jobs of a sequential sweep.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import sqlite3
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Optional, Protocol

from hydra.experimental.callback import Callback
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from omegaconf import DictConfig

from lossbench.provenance import code_version_tags, data_file_tags, dataset_input

log = logging.getLogger(__name__)

PARENT_TAG = "mlflow.parentRunId"
PARENTS_FILE = "mlflow_parents.json"


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": 1}, "c": [1, 2]}`` -> ``{"a.b": "1", "c": "[1, 2]"}`` (MLflow params)."""
    if isinstance(tree, dict):
        out: dict[str, str] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: str(tree)}


def get_or_create_experiment(client: MlflowClient, name: str,
                             artifact_location: Optional[str] = None) -> str:
    """Experiment id for ``name``; safe when several processes create it at once."""
    for _ in range(5):
        exp = client.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        try:
            return client.create_experiment(name, artifact_location=artifact_location)
        except MlflowException:  # another job created it in between
            time.sleep(0.2)
    raise RuntimeError(f"could not get or create MLflow experiment {name!r}")


def sqlite_path(uri: str) -> Optional[Path]:
    """The database file of a ``sqlite:///`` tracking URI (None for any other store)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def prepare_store(uri: str) -> None:
    """Make a SQLite store safe for parallel jobs (joblib workers, several CLIs at once).

    MLflow creates and migrates a new store's tables on first use; several processes doing
    that at once clash (``table _alembic_tmp_... already exists``, failed migrations). Here one
    process at a time (a lock file beside the database) opens the store, and the database is
    switched to write-ahead logging, so readers never block the writer; MLflow's own
    ``busy_timeout`` (20 s) then covers concurrent writers. Other stores: nothing to do.
    """
    path = sqlite_path(uri)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)  # create / migrate
        con = sqlite3.connect(path, timeout=60)
        try:
            if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                con.execute("PRAGMA journal_mode=WAL")
        finally:
            con.close()


class Tracker(Protocol):
    """Where a job's run goes: :class:`MlflowTracker`, or :class:`NullTracker` when tracking
    is off. ``plots`` says whether figures are wanted (:func:`log_figures` asks it, nobody
    else)."""

    plots: bool

    def start(self, run_name: str, tags: dict[str, str],
              parent_run_id: Optional[str] = None) -> contextlib.AbstractContextManager: ...

    def log_params(self, params: dict[str, str]) -> None: ...

    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...

    def set_tags(self, tags: dict[str, str]) -> None: ...

    def log_text(self, text: str, path: str) -> None: ...

    def log_figure(self, fig: Any, path: str) -> None: ...

    def log_dataset(self, data: Any, name: str, loader: str, files: Sequence[Path]) -> None: ...

    def link(self) -> str: ...


def run_link(uri: str, experiment_id: str, run_id: str) -> str:
    """Where to see a run: its page on an MLflow server, else the store, experiment and run
    id (``lossbench ui`` with the same ``tracking.uri`` serves the store and prints the page)."""
    if uri.startswith(("http://", "https://")):
        return f"{uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
    return (f"{uri} experiment {experiment_id} run {run_id} "
            f"(browse: lossbench ui tracking.uri={uri})")


def log_figures(tracker: Tracker, figures: dict[str, Callable[[], Any]]) -> None:
    """Build, log and close each figure, when the tracker wants plots (the one place that
    decides; matplotlib is imported only then)."""
    if not tracker.plots or not figures:
        return
    from lossbench.plots import close

    for path, make in figures.items():
        fig = make()
        tracker.log_figure(fig, path)
        close(fig)


class MlflowTracker:
    """Logs one job to one MLflow run.

    Metrics are buffered and sent in batches (one ``log_batch`` per ``FLUSH_SECONDS`` at
    most, up to MLflow's 1000 per request): a synchronous database write per epoch was a
    quarter of a small model's epoch. The run's end flushes them, failed or not."""

    FLUSH_SECONDS = 5.0

    def __init__(self, uri: str, experiment: str, artifact_location: Optional[str] = None,
                 plots: bool = True, system_metrics: bool = False,
                 system_metrics_interval: float = 10.0) -> None:
        prepare_store(uri)
        self.client = MlflowClient(tracking_uri=uri)
        self.uri = uri
        self.experiment_id = get_or_create_experiment(self.client, experiment, artifact_location)
        self.plots = plots
        self.system_metrics = system_metrics
        self.system_metrics_interval = system_metrics_interval
        self.run_id: Optional[str] = None
        self._pending: list[Metric] = []
        self._flushed = time.monotonic()

    @contextlib.contextmanager
    def start(self, run_name: str, tags: dict[str, str],
              parent_run_id: Optional[str] = None) -> Iterator["MlflowTracker"]:
        """Open a run; it ends FINISHED, or FAILED with the reason as tags when the body raises."""
        if parent_run_id:
            tags = {**tags, PARENT_TAG: parent_run_id}
        tags = {**code_version_tags(), "mlflow.source.name": "lossbench",
                "mlflow.source.type": "LOCAL", **tags}
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=tags)
        self.run_id = run.info.run_id
        monitor = self._start_system_metrics()
        try:
            yield self
        except BaseException as e:
            reason = f"{type(e).__name__}: {e}"
            self.client.set_tag(self.run_id, "failure_reason", reason[:5000])
            self.client.log_text(self.run_id, traceback.format_exc(), "traceback.txt")
            status = "FAILED"
            raise
        else:
            status = "FINISHED"
        finally:
            self.flush()
            if monitor is not None:
                monitor.finish()
            self.client.set_terminated(self.run_id, status)

    def _start_system_metrics(self) -> Any:
        """MLflow's system-metrics thread (CPU, memory, disk, network; GPU with pynvml), or
        None when ``tracking.system_metrics`` is off. Metrics are named ``system/...``."""
        if not self.system_metrics:
            return None
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        monitor = SystemMetricsMonitor(self.run_id, tracking_uri=self.uri,
                                       sampling_interval=self.system_metrics_interval)
        monitor.start()
        return monitor

    def log_params(self, params: dict[str, str]) -> None:
        items = [Param(k, v[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=items[i:i + 100])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        now = int(time.time() * 1000)
        self._pending += [Metric(k, float(v), now, step) for k, v in metrics.items()]
        if time.monotonic() - self._flushed >= self.FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Send the buffered metrics."""
        pending, self._pending = self._pending, []
        for i in range(0, len(pending), 1000):  # MLflow takes at most 1000 metrics per batch
            self.client.log_batch(self.run_id, metrics=pending[i:i + 1000])
        self._flushed = time.monotonic()

    def set_tags(self, tags: dict[str, str]) -> None:
        self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_text(self, text: str, path: str) -> None:
        self.client.log_text(self.run_id, text, path)

    def log_figure(self, fig: Any, path: str) -> None:
        self.client.log_figure(self.run_id, fig, path)

    def log_dataset(self, data: Any, name: str, loader: str, files: Sequence[Path]) -> None:
        """The data set as an MLflow dataset input, and the checksums of the files read
        (lossbench.provenance says what each field holds)."""
        with warnings.catch_warnings():  # "source can be interpreted in multiple ways"
            warnings.simplefilter("ignore", UserWarning)
            self.client.log_inputs(self.run_id, datasets=[dataset_input(data, name, loader,
                                                                        files)])
        self.set_tags(data_file_tags(files))

    def link(self) -> str:
        return run_link(self.uri, self.experiment_id, self.run_id or "?")


class NullTracker:
    """Same interface, logs nothing (``tracking.enabled=false``)."""

    plots = False
    run_id = None

    @contextlib.contextmanager
    def start(self, run_name: str, tags: dict[str, str],
              parent_run_id: Optional[str] = None) -> Iterator["NullTracker"]:
        yield self

    def log_params(self, params: dict[str, str]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        pass

    def set_tags(self, tags: dict[str, str]) -> None:
        pass

    def log_text(self, text: str, path: str) -> None:
        pass

    def log_figure(self, fig: Any, path: str) -> None:
        pass

    def log_dataset(self, data: Any, name: str, loader: str, files: Sequence[Path]) -> None:
        pass

    def link(self) -> str:
        return "not tracked (tracking.enabled=false)"


# --------------------------------------------------------------------------- sweeps
@contextlib.contextmanager
def _locked(path: Path) -> Iterator[dict[str, str]]:
    """Read-modify-write ``path`` (JSON) under an exclusive lock shared by all sweep jobs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text()) if path.exists() else {}
        yield data
        path.write_text(json.dumps(data, indent=1))


def sweep_parent_run(tracker: MlflowTracker, sweep_dir: str) -> str:
    """The parent run of this sweep in the tracker's experiment, created by the first job.

    A sweep over several scenarios spans several experiments: each gets its own parent.
    Jobs may run in parallel processes, hence the lock file in the sweep dir.
    """
    with _locked(Path(sweep_dir) / PARENTS_FILE) as parents:
        key = f"{tracker.uri}|{tracker.experiment_id}"
        if key not in parents:
            overrides_file = Path(sweep_dir) / "sweep_overrides.txt"
            overrides = overrides_file.read_text() if overrides_file.exists() else ""
            run = tracker.client.create_run(
                tracker.experiment_id, run_name=f"sweep {Path(sweep_dir).name}",
                tags={**code_version_tags(), "mlflow.source.name": "lossbench",
                      "mlflow.source.type": "LOCAL", "lossbench.sweep_dir": str(sweep_dir),
                      "lossbench.role": "sweep", "lossbench.sweep_overrides": overrides[:5000]})
            parents[key] = run.info.run_id
        return parents[key]


def close_sweep(sweep_dir: str) -> None:
    """End every parent run of a sweep, with its summary (lossbench.summary: the headline per
    loss and condition, the children's outcome) as metrics and tags."""
    from lossbench.summary import summarize_sweep  # reads children; needs scipy (stats)

    path = Path(sweep_dir) / PARENTS_FILE
    if not path.exists():
        return
    with _locked(path) as parents:
        for key, run_id in parents.items():
            uri = key.split("|", 1)[0]
            client = MlflowClient(tracking_uri=uri)
            summary = summarize_sweep(client, run_id)
            now = int(time.time() * 1000)
            client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0)
                                              for k, v in summary["metrics"].items()],
                             tags=[RunTag(k, v) for k, v in summary["tags"].items()])
            finished = int(summary["metrics"]["children.finished"])
            failed = int(summary["metrics"]["children.failed"])
            client.set_terminated(run_id, "FAILED" if failed and not finished else "FINISHED")
            exp_id = client.get_run(run_id).info.experiment_id
            log.info("sweep parent run: %d child runs, %d failed", finished + failed, failed)
            log.info("MLflow run: %s", run_link(uri, exp_id, run_id))


class MlflowSweepCallback(Callback):
    """Hydra callback: records the sweep's overrides and ends its parent runs."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / "sweep_overrides.txt").write_text(" ".join(config.hydra.overrides.task))
        tracking = config.get("tracking")
        if tracking is not None and tracking.get("enabled", False):
            prepare_store(tracking.uri)  # before the launcher starts parallel jobs

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        close_sweep(config.hydra.sweep.dir)
