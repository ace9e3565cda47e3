"""MLflow tracking: one run per job, a parent run per Hydra multirun sweep.

Everything goes through :class:`mlflow.MlflowClient` with explicit run ids, so no global
"active run" state leaks between the jobs of a sequential sweep.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Optional, Protocol

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from lossbench.lifecycle import HEARTBEAT_TAG, PID_TAG, process_tags, signal_name
from lossbench.provenance import code_version_tags, data_file_tags, dataset_input
from lossbench.store import (SPOOL_FILE, Spool, StoreUnavailable, check_reachable,
                             own_http_retries, retrying)

log = logging.getLogger(__name__)

PARENT_TAG = "mlflow.parentRunId"
PARENTS_FILE = "mlflow_parents.json"
SWEEP_PID_ENV = "LOSSBENCH_SWEEP_PID"  # the sweep's own process (joblib jobs run in workers)
KILLED_RETRY_S = 10.0  # retry budget for the last writes of a killed run (Slurm waits ~30 s)
# the sweep this process runs (set by lossbench.sweep_callbacks.MlflowSweepCallback), for the
# command to end it KILLED
active_sweep: Optional[str] = None


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


# stores this process has prepared (a stacked job's seeds open one tracker each: preparing
# the store again for each cost 0.37 s per seed under cProfile). A database file removed under
# a running process cannot be prepared again in it: MLflow keeps its engine for the URI.
_PREPARED: set[str] = set()


def prepare_store(uri: str) -> None:
    """Make a SQLite store safe for parallel jobs (joblib workers, several CLIs at once).

    MLflow creates and migrates a new store's tables on first use; several processes doing
    that at once clash (``table _alembic_tmp_... already exists``, failed migrations). Here one
    process at a time (a lock file beside the database) opens the store, and the database is
    switched to write-ahead logging, so readers never block the writer; MLflow's own
    ``busy_timeout`` (20 s) then covers concurrent writers. Other stores: nothing to do.
    Done once per process and database file.
    """
    path = sqlite_path(uri)
    if path is None or uri in _PREPARED:
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
    _PREPARED.add(uri)


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
    """Logs one job to one MLflow run. Every write retries transient store errors for up to
    ``retry_s`` seconds, then goes to the spool in ``spool_dir`` (lossbench.store); the run
    records host, pid and a heartbeat every ``heartbeat_s`` seconds (lossbench.lifecycle).

    Metrics are buffered and sent in batches (one ``log_batch`` per ``FLUSH_SECONDS`` at
    most, up to MLflow's 1000 per request): a synchronous database write per epoch was a
    quarter of a small model's epoch. The run's end flushes them, failed or not."""

    FLUSH_SECONDS = 5.0

    def __init__(self, uri: str, experiment: str, artifact_location: Optional[str] = None,
                 plots: bool = True, system_metrics: bool = False,
                 system_metrics_interval: float = 10.0, retry_s: float = 120.0,
                 heartbeat_s: float = 60.0, spool_dir: Path = Path(".")) -> None:
        own_http_retries()
        check_reachable(uri)
        retrying(lambda: prepare_store(uri), retry_s, f"open the store {uri}")
        self.client = MlflowClient(tracking_uri=uri)
        self.uri = uri
        self.retry_s, self.heartbeat_s = retry_s, heartbeat_s
        self.experiment_id = retrying(
            lambda: get_or_create_experiment(self.client, experiment, artifact_location),
            retry_s, f"experiment {experiment} in {uri}")
        self.plots = plots
        self.system_metrics = system_metrics
        self.system_metrics_interval = system_metrics_interval
        self.run_id: Optional[str] = None
        self.spool_path = Path(spool_dir) / SPOOL_FILE
        self.spool: Optional[Spool] = None
        self._beat = 0.0
        self._pending: list[tuple[str, float, int, int]] = []
        self._flushed = time.monotonic()

    @contextlib.contextmanager
    def start(self, run_name: str, tags: dict[str, str],
              parent_run_id: Optional[str] = None) -> Iterator["MlflowTracker"]:
        """Open a run; it ends FINISHED, FAILED with the reason as tags when the body raises,
        or KILLED when it is interrupted (lossbench.lifecycle). Raises
        :class:`StoreUnavailable` at the end when some of its records went to the spool."""
        if parent_run_id:
            tags = {**tags, PARENT_TAG: parent_run_id}
        tags = {**code_version_tags(), "mlflow.source.name": "lossbench",
                "mlflow.source.type": "LOCAL", **process_tags(),
                HEARTBEAT_TAG: str(int(time.time())), **tags}
        run = retrying(lambda: self.client.create_run(self.experiment_id, run_name=run_name,
                                                      tags=tags),
                       self.retry_s, f"create a run in {self.uri}")
        self.run_id = run.info.run_id
        self._beat = time.monotonic()
        monitor = self._start_system_metrics()
        try:
            yield self
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):  # SIGINT, SIGTERM: no traceback
                self.retry_s = min(self.retry_s, KILLED_RETRY_S)
                status = "KILLED"
                self.set_tags({"failure_reason": f"killed by {signal_name(e)}"})
            else:
                status = "FAILED"
                self.set_tags({"failure_reason": f"{type(e).__name__}: {e}"[:5000]})
                self.log_text(traceback.format_exc(), "traceback.txt")
            raise
        else:
            status = "FINISHED"
        finally:
            self.flush()
            if monitor is not None:
                _stop_system_metrics(monitor)
            end = int(time.time() * 1000)
            self._write("end the run",
                        lambda: self.client.set_terminated(self.run_id, status, end_time=end),
                        lambda spool: spool.append("terminate", status=status, end_time=end))
            if self.spool is not None and status != "FINISHED":
                log.error("%s", self.spool_message())
        if self.spool is not None:
            raise StoreUnavailable(self.spool_message())

    def spool_message(self) -> str:
        return (f"tracking store {self.uri} unavailable: {self.spool.records} records of run "
                f"{self.run_id} are in {self.spool_path}; when the store is back: "
                f"lossbench runs sync {self.spool_path}")

    def _write(self, what: str, call: Callable[[], Any],
               spooled: Callable[[Spool], None]) -> None:
        """``call()`` with retries; once the store has stayed unavailable for the retry
        budget, ``spooled(spool)`` instead, for this and every later write of the run."""
        if self.spool is None:
            try:
                retrying(call, self.retry_s, f"{what} (run {self.run_id})")
                return
            except StoreUnavailable as e:
                self.spool = Spool(self.spool_path, self.uri, self.run_id)
                log.error("tracking store %s unavailable (%s): training goes on, the run's "
                          "records go to %s", self.uri, e, self.spool_path)
        spooled(self.spool)

    def _batch(self, metrics: Sequence[tuple[str, float, int, int]] = (),
               params: Optional[dict[str, str]] = None,
               tags: Optional[dict[str, str]] = None) -> None:
        """One ``log_batch``: metrics as (key, value, timestamp ms, step)."""
        params, tags = params or {}, tags or {}
        self._write("log_batch", lambda: self.client.log_batch(
            self.run_id, metrics=[Metric(*m) for m in metrics],
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()]),
            lambda spool: spool.append("batch", metrics=[list(m) for m in metrics],
                                       params=params, tags=tags))

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
        items = [(k, v[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self._batch(params=dict(items[i:i + 100]))

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Buffer the metrics at ``step``; send the buffer when ``FLUSH_SECONDS`` have
        passed since the last send, with the heartbeat when ``heartbeat_s`` has passed."""
        now = int(time.time() * 1000)
        self._pending += [(k, float(v), now, step) for k, v in metrics.items()]
        if time.monotonic() - self._flushed >= self.FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Send the buffered metrics (with the heartbeat tag when it is due)."""
        pending, self._pending = self._pending, []
        tags = None
        if time.monotonic() - self._beat >= self.heartbeat_s:
            tags, self._beat = {HEARTBEAT_TAG: str(int(time.time()))}, time.monotonic()
        for i in range(0, max(len(pending), 1), 1000):  # MLflow takes at most 1000 per batch
            if pending[i:i + 1000] or tags:
                self._batch(pending[i:i + 1000], tags=tags if i == 0 else None)
        self._flushed = time.monotonic()

    def set_tags(self, tags: dict[str, str]) -> None:
        self._batch(tags={k: str(v) for k, v in tags.items()})

    def log_text(self, text: str, path: str) -> None:
        self._write(f"log {path}", lambda: self.client.log_text(self.run_id, text, path),
                    lambda spool: spool.append("text", text=text, path=path))

    def log_figure(self, fig: Any, path: str) -> None:
        self._write(f"log {path}", lambda: self.client.log_figure(self.run_id, fig, path),
                    lambda spool: spool.figure(fig, path))

    def log_dataset(self, data: Any, name: str, loader: str, files: Sequence[Path]) -> None:
        """The data set as an MLflow dataset input, and the checksums of the files read
        (lossbench.provenance says what each field holds)."""
        from google.protobuf.json_format import MessageToDict

        with warnings.catch_warnings():  # "source can be interpreted in multiple ways"
            warnings.simplefilter("ignore", UserWarning)
            inputs = [dataset_input(data, name, loader, files)]
            self._write("log_inputs", lambda: self.client.log_inputs(self.run_id,
                                                                     datasets=inputs),
                        lambda spool: spool.append("inputs", datasets=[
                            MessageToDict(d.to_proto()) for d in inputs]))
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


def sweep_process_tags() -> dict[str, str]:
    """Host, pid (the sweep's own process: ``$LOSSBENCH_SWEEP_PID``, set by the callback, as
    joblib jobs run in worker processes) and a fresh heartbeat for a sweep's parent run."""
    tags = {**process_tags(), HEARTBEAT_TAG: str(int(time.time()))}
    if os.environ.get(SWEEP_PID_ENV):
        tags[PID_TAG] = os.environ[SWEEP_PID_ENV]
    return tags


def sweep_parent_run(tracker: MlflowTracker, sweep_dir: str) -> str:
    """The parent run of this sweep in the tracker's experiment, created by the first job.

    A sweep over several scenarios spans several experiments: each gets its own parent.
    Jobs may run in parallel processes, hence the lock file in the sweep dir. A sweep
    re-launched into the same sweep dir reopens its parent (RUNNING again); every job
    refreshes the parent's host, pid and heartbeat.
    """
    with _locked(Path(sweep_dir) / PARENTS_FILE) as parents:
        key = f"{tracker.uri}|{tracker.experiment_id}"
        alive = sweep_process_tags()
        if key not in parents:
            overrides_file = Path(sweep_dir) / "sweep_overrides.txt"
            overrides = overrides_file.read_text() if overrides_file.exists() else ""
            tags = {**code_version_tags(), "mlflow.source.name": "lossbench",
                    "mlflow.source.type": "LOCAL", "lossbench.sweep_dir": str(sweep_dir),
                    "lossbench.role": "sweep", "lossbench.sweep_overrides": overrides[:5000],
                    **alive}
            run = retrying(lambda: tracker.client.create_run(
                tracker.experiment_id, run_name=f"sweep {Path(sweep_dir).name}", tags=tags),
                tracker.retry_s, f"create the sweep's parent run in {tracker.uri}")
            parents[key] = run.info.run_id
            return parents[key]
        run_id = parents[key]

        def reopen() -> None:
            run = tracker.client.get_run(run_id)
            if run.info.status != "RUNNING":
                tracker.client.update_run(run_id, "RUNNING")
            if "failure_reason" in run.data.tags:
                tracker.client.delete_tag(run_id, "failure_reason")
            tracker.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in alive.items()])

        retrying(reopen, tracker.retry_s, f"reopen the sweep's parent run {run_id}")
        return run_id


def supersede(tracker: MlflowTracker, parent_run_id: str, overrides: str) -> None:
    """Detach from the parent the earlier runs of this job (a re-launched sweep: same
    overrides, ``resume=...`` aside, lossbench.outcomes.job_key), so the parent keeps one
    child per job, the latest; each gets the tag ``lossbench.superseded_by``."""
    from lossbench.outcomes import job_key

    key = job_key(overrides)
    children = tracker.client.search_runs(
        [tracker.experiment_id], f"tags.`{PARENT_TAG}` = '{parent_run_id}'", max_results=50000)
    for child in children:
        if (child.info.run_id != tracker.run_id
                and job_key(child.data.tags.get("lossbench.overrides", "")) == key):
            tracker.client.set_tag(child.info.run_id, "lossbench.superseded_by", tracker.run_id)
            tracker.client.delete_tag(child.info.run_id, PARENT_TAG)


def finish_parent(client: MlflowClient, run_id: str, status: Optional[str] = None,
                  reason: str = "") -> str:
    """Log a sweep parent's summary (lossbench.summary) and end it: ``status``, else FAILED
    when every child failed, else FINISHED. Returns the status."""
    from lossbench.summary import summarize_sweep  # reads children; needs scipy (stats)

    summary = summarize_sweep(client, run_id)
    now = int(time.time() * 1000)
    tags = {**summary["tags"], **({"failure_reason": reason} if reason else {})}
    client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0)
                                      for k, v in summary["metrics"].items()],
                     tags=[RunTag(k, v) for k, v in tags.items()])
    finished = int(summary["metrics"]["children.finished"])
    failed = int(summary["metrics"]["children.failed"])
    status = status or ("FAILED" if failed and not finished else "FINISHED")
    client.set_terminated(run_id, status)
    log.info("sweep parent run %s: %d child runs, %d failed", status, finished + failed, failed)
    return status


def close_sweep(sweep_dir: str, status: Optional[str] = None, reason: str = "",
                retry_s: float = 120.0, plots: bool = True) -> None:
    """End every parent run of a sweep with its summary (:func:`finish_parent`); a store that
    stays unavailable is logged (``lossbench runs cleanup`` ends the parent later). A study
    sweep that ended normally also gets its verdict (tags ``study.verdict``,
    ``study.claim_id``, ``study.claim_type``, ``study.key_number``) and its report section with
    figures (artifacts ``report/``): :func:`_attach_study_report`."""
    own_http_retries()
    path = Path(sweep_dir) / PARENTS_FILE
    if not path.exists():
        return
    with _locked(path) as parents:
        for key, run_id in parents.items():
            uri = key.split("|", 1)[0]
            client = MlflowClient(tracking_uri=uri)
            try:
                ended = retrying(lambda: finish_parent(client, run_id, status, reason),
                                 retry_s, f"end the sweep's parent run {run_id}")
            except StoreUnavailable as e:
                log.error("%s; later: lossbench runs cleanup", e)
                continue
            if ended == "FINISHED" and "study.claim" in client.get_run(run_id).data.tags:
                _attach_study_report(client, run_id, plots)  # judged once it has ended
            exp_id = client.get_run(run_id).info.experiment_id
            log.info("MLflow run: %s", run_link(uri, exp_id, run_id))


def _attach_study_report(client: MlflowClient, run_id: str, plots: bool) -> None:
    """The study's verdict tags and report section (lossbench.report.parent_summary) on the
    sweep's parent run. A study that cannot be judged leaves a warning, not a failed sweep."""
    from lossbench import report  # matplotlib, scipy: only when a study sweep ends

    with tempfile.TemporaryDirectory() as tmp:
        try:
            tags = report.parent_summary(client, run_id, Path(tmp), plots=plots)
        except report.ReportError as e:
            log.warning("sweep parent run: no study verdict (%s)", e)
            return
        client.log_artifacts(run_id, tmp, "report")
    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    log.info("study %s (%s): %s", tags["study.claim_id"], tags["study.claim_type"],
             tags["study.verdict"])


def close_interrupted_sweep(e: BaseException) -> None:
    """End the parent runs of the sweep this process runs (if any) KILLED, with the signal."""
    if active_sweep is not None:
        close_sweep(active_sweep, "KILLED", f"killed by {signal_name(e)}", KILLED_RETRY_S)


def _stop_system_metrics(monitor: Any) -> None:
    """Stop MLflow's system-metrics thread, then publish the samples it collected since its
    last publication: MLflow drops them, so a job shorter than
    ``tracking.system_metrics_interval`` would otherwise record no system metrics at all."""
    monitor.finish()
    if any(m.metrics for m in monitor.monitors):
        try:
            monitor.publish_metrics(monitor.aggregate_metrics())
            monitor.mlflow_logger.flush()
        except Exception as e:  # the store is failing: the run's own records matter more
            log.warning("could not log the last system metrics: %s", e)
