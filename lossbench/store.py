"""Tracking-store faults: retry what is transient, check a server before training, spool what
cannot be written, and replay the spool later.

* **Transient errors** (:func:`transient`: a locked or busy SQLite database, a server's 5xx or
  429, a refused or dropped connection) are retried with exponential backoff (1 s, 2 s, ... at
  most 30 s apart) for up to ``tracking.retry_s`` seconds in all (:func:`retrying`); MLflow's
  own HTTP retries are turned off (:func:`own_http_retries`), so that budget is the only one.
  Anything else is raised at once.
* **An http(s) store** is asked for ``/health`` before the run is created
  (:func:`check_reachable`): no answer within :data:`REACH_S` seconds is one line naming the URI.
* **The spool.** When a write still fails after the budget, the job keeps training and every
  later write of its run (metrics with their steps and times, params, tags, texts, figures, the
  data set input, the final status) goes, as one JSON line each, to ``mlflow_spool.jsonl`` in
  the job's output dir (:class:`Spool`); the job then ends with :class:`StoreUnavailable` (one
  line, exit status 1). ``lossbench runs sync <dir or file>`` (:func:`sync`) replays it into
  the store, into the same run, and renames it ``mlflow_spool.jsonl.synced``.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

SPOOL_FILE = "mlflow_spool.jsonl"
REACH_S = 10.0  # how long an http(s) store may take to answer before a run starts
T = TypeVar("T")


class StoreUnavailable(RuntimeError):
    """The tracking store did not answer within the retry budget."""


def own_http_retries() -> None:
    """Turn MLflow's HTTP retries off (unless the user set them): its default is about 4
    minutes of retries per request; :func:`retrying` applies ``tracking.retry_s`` instead."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")


def transient(e: BaseException) -> bool:
    """Worth retrying: an MLflow error with HTTP status 5xx or 429 (a locked SQLite database
    is TEMPORARILY_UNAVAILABLE, 503), SQLite's own "locked" or "busy", a connection error, or
    the race of two jobs creating the same MLflow dataset (SQLite's UNIQUE on datasets)."""
    from mlflow.exceptions import MlflowException

    if isinstance(e, MlflowException):
        if "UNIQUE constraint failed: datasets." in str(e):  # a parallel job logged the same
            return True  # data set between MLflow's get and create: the retry finds it
        status = e.get_http_status_code()
        return status >= 500 or status == 429
    if isinstance(e, sqlite3.OperationalError):
        return "locked" in str(e) or "busy" in str(e)
    return isinstance(e, (ConnectionError, TimeoutError, urllib.error.URLError))


def reason(e: BaseException) -> str:
    """The first line of an error, short."""
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:300]


def retrying(call: Callable[[], T], budget_s: float, what: str) -> T:
    """``call()``, retried with backoff while it fails with a :func:`transient` error, for up
    to ``budget_s`` seconds; then :class:`StoreUnavailable` naming ``what``."""
    deadline, delay = time.monotonic() + budget_s, 1.0
    while True:
        try:
            return call()
        except Exception as e:
            if not transient(e):
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise StoreUnavailable(f"{what}: {reason(e)}") from e
            log.warning("tracking store: %s (%s); retrying for up to %.0f s", what, reason(e),
                        left)
            time.sleep(min(delay, left))
            delay = min(2 * delay, 30.0)


def check_reachable(uri: str, within_s: float = REACH_S) -> None:
    """For an http(s) store: any HTTP answer from ``<uri>/health`` within ``within_s`` seconds
    (an error status counts: the server is there); else :class:`StoreUnavailable` naming
    ``uri``. Other stores: nothing to check."""
    if not uri.startswith(("http://", "https://")):
        return
    deadline = time.monotonic() + within_s
    while True:
        left = deadline - time.monotonic()
        try:
            with urllib.request.urlopen(f"{uri.rstrip('/')}/health",
                                        timeout=max(min(left, 5.0), 0.5)):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, OSError) as e:
            why = reason(getattr(e, "reason", e))  # URLError: the socket's error
            if time.monotonic() + 1.0 > deadline:
                raise StoreUnavailable(f"tracking server {uri} is unreachable ({why}); start it, "
                                       f"or point tracking.uri at a reachable store") from None
            time.sleep(1.0)


# --------------------------------------------------------------------------- the spool
class Spool:
    """The writes of one run that the store did not take, appended to ``path`` as JSON lines
    ``{"uri", "run_id", "op", ...}`` (ops: batch, text, artifact, inputs, terminate).
    Figures are saved beside it (``spool_artifacts/``)."""

    def __init__(self, path: Path, uri: str, run_id: str) -> None:
        self.path, self.uri, self.run_id = path, uri, run_id
        self.records = 0
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, op: str, **fields: Any) -> None:
        line = json.dumps({"uri": self.uri, "run_id": self.run_id, "op": op, **fields})
        with open(self.path, "a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.records += 1

    def figure(self, fig: Any, artifact: str) -> None:
        local = self.path.parent / "spool_artifacts" / self.run_id / artifact
        local.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(local)
        self.append("artifact", file=str(local.resolve()), path=str(Path(artifact).parent))


def spool_files(where: Path) -> list[Path]:
    """``where`` itself (a spool file), or every spool file under the directory ``where``."""
    if where.is_file():
        return [where]
    return sorted(where.rglob(SPOOL_FILE))


def replay(client: Any, record: dict[str, Any]) -> None:
    """Do one spooled write with ``client`` (an MlflowClient on the record's store)."""
    from google.protobuf.json_format import ParseDict
    from mlflow.entities import DatasetInput, Metric, Param, RunTag
    from mlflow.protos.service_pb2 import DatasetInput as DatasetInputProto

    run_id, op = record["run_id"], record["op"]
    if op == "batch":
        client.log_batch(run_id, metrics=[Metric(*m) for m in record.get("metrics", [])],
                         params=[Param(k, v) for k, v in record.get("params", {}).items()],
                         tags=[RunTag(k, v) for k, v in record.get("tags", {}).items()])
    elif op == "text":
        client.log_text(run_id, record["text"], record["path"])
    elif op == "artifact":
        client.log_artifact(run_id, record["file"], record["path"] or None)
    elif op == "inputs":
        client.log_inputs(run_id, datasets=[DatasetInput.from_proto(
            ParseDict(d, DatasetInputProto())) for d in record["datasets"]])
    elif op == "terminate":
        client.set_terminated(run_id, record["status"], end_time=record["end_time"])
    else:
        raise ValueError(f"unknown spool record {op!r}")


def sync(path: Path, budget_s: float = 60.0) -> int:
    """Replay the spool file ``path`` into its store; return the records written. On success
    the file becomes ``<path>.synced``; when the store fails, the records not yet written stay
    in ``path`` (a later sync goes on from there) and :class:`StoreUnavailable` is raised."""
    from mlflow import MlflowClient

    own_http_retries()
    records = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    clients: dict[str, Any] = {}
    for i, record in enumerate(records):
        client = clients.setdefault(record["uri"], MlflowClient(tracking_uri=record["uri"]))
        try:
            retrying(lambda: replay(client, record), budget_s,
                     f"sync {path} into {record['uri']}")
        except BaseException:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in records[i:]))
            os.replace(tmp, path)
            raise
    os.replace(path, path.with_name(path.name + ".synced"))
    return len(records)
