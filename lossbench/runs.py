"""``lossbench runs``: runs whose process is gone, and records the store did not take.

* ``lossbench runs [--stale-after S] [overrides]`` lists the stale runs of the store that a run
  with those overrides uses (``tracking.uri``, as ``lossbench ui`` resolves it): ``RUNNING``
  runs whose process (tags ``lossbench.host``, ``lossbench.pid``) is gone on this host, or
  whose last sign of life (tag ``lossbench.heartbeat``, else the start time; for a sweep's
  parent run, its children's too) is older than S seconds (default 3600). Runs of another host
  are judged by the heartbeat only.
* ``lossbench runs cleanup [...]`` ends those runs ``KILLED`` (tag ``failure_reason`` says
  why), then ends each stale sweep parent whose children are all final ``KILLED`` too, with
  its summary (lossbench.tracking.finish_parent): a sweep cut short is not complete, so
  ``lossbench report`` leaves it out. Re-launching the sweep with ``resume=true`` reopens it.
* ``lossbench runs sync PATH`` replays the spool file PATH, or every ``mlflow_spool.jsonl``
  under the directory PATH (a job's or a sweep's output dir), into its store
  (lossbench.store.sync).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from lossbench.lifecycle import HEARTBEAT_TAG, HOST_TAG, PID_TAG, alive, host

STALE_AFTER_S = 3600.0
ACTIONS = ("list", "cleanup", "sync")


def last_sign_of_life(run: Any) -> float:
    """Unix seconds: the run's heartbeat tag, else its start time."""
    beat = run.data.tags.get(HEARTBEAT_TAG, "")
    start = run.info.start_time / 1000 if run.info.start_time else 0.0
    return max(float(beat) if beat.isdigit() else 0.0, start)


def why_stale(run: Any, now: float, stale_after: float, here: str,
              children: Sequence[Any] = ()) -> Optional[str]:
    """Why a RUNNING run is stale (None: it is not): its process is gone on this host, or no
    sign of life (its own or, for a sweep parent, its children's) for ``stale_after`` s."""
    tags = run.data.tags
    pid = tags.get(PID_TAG, "")
    if tags.get(HOST_TAG) == here and pid.isdigit() and not alive(int(pid)):
        return f"process {pid} on {here} is gone"
    idle = now - max([last_sign_of_life(r) for r in (run, *children)])
    if idle > stale_after:
        return f"no sign of life for {idle / 60:.0f} min"
    return None


def is_parent(run: Any) -> bool:
    return run.data.tags.get("lossbench.role") == "sweep"


def stale_runs(client: Any, stale_after: float) -> list[tuple[Any, str]]:
    """(run, why) for every stale RUNNING run of the store, sweep parents last."""
    from lossbench.summary import children_of

    now, here, out = time.time(), host(), []
    for exp in client.search_experiments():
        for run in client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'",
                                      max_results=50000):
            children = children_of(client, run) if is_parent(run) else ()
            why = why_stale(run, now, stale_after, here, children)
            if why:
                out.append((run, why))
    return sorted(out, key=lambda x: is_parent(x[0]))


def describe(run: Any, why: str) -> str:
    t = run.data.tags
    role = "sweep parent" if is_parent(run) else "run"
    return (f"{run.info.run_id}  {role} {run.info.run_name}  "
            f"{t.get(HOST_TAG, '?')}:{t.get(PID_TAG, '?')}  {why}")


def cleanup(client: Any, stale_after: float) -> list[str]:
    """End the stale runs KILLED, then the stale sweep parents whose children are all final;
    return one line per run."""
    from lossbench.summary import children_of
    from lossbench.tracking import finish_parent

    lines = []
    for run, why in stale_runs(client, stale_after):
        run_id = run.info.run_id
        reason = f"killed: {why} (lossbench runs cleanup)"
        if not is_parent(run):
            client.set_tag(run_id, "failure_reason", reason)
            client.set_terminated(run_id, "KILLED")
            lines.append(f"KILLED {describe(run, why)}")
            continue
        running = [c for c in children_of(client, run) if c.info.status == "RUNNING"]
        if running:
            lines.append(f"left RUNNING ({len(running)} children running) {describe(run, why)}")
        else:
            finish_parent(client, run_id, "KILLED", reason)
            lines.append(f"KILLED {describe(run, why)}")
    return lines


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """``[list | cleanup | sync] [args] [options]``: the action is the first word, if any."""
    action = argv[0] if argv[:1] and argv[0] in ACTIONS else "list"
    argv = argv[1:] if argv[:1] == [action] else argv
    p = argparse.ArgumentParser(prog=f"lossbench runs {action}",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("args", nargs="*",
                   help="list, cleanup: config overrides (tracking.uri=...); sync: PATH")
    p.add_argument("--stale-after", type=float, default=STALE_AFTER_S,
                   help="seconds without a sign of life that make a RUNNING run stale")
    p.add_argument("--retry-s", type=float, default=60.0,
                   help="sync: seconds to retry a store that is unavailable")
    return argparse.Namespace(**vars(p.parse_args(argv)), action=action)


def _error(text: str, status: int) -> int:
    print(f"lossbench runs: error: {text}", file=sys.stderr)
    return status


def main(argv: Sequence[str]) -> int:
    args = parse_args(list(argv))
    from lossbench.store import StoreUnavailable, own_http_retries, spool_files, sync

    own_http_retries()
    if args.action == "sync":
        if len(args.args) != 1:
            return _error("sync takes one PATH (a spool file, or a dir with some)", 2)
        files = spool_files(Path(args.args[0]))
        if not files:
            return _error(f"no mlflow_spool.jsonl at or under {args.args[0]}", 2)
        for f in files:
            try:
                print(f"synced {sync(f, args.retry_s)} records from {f}")
            except StoreUnavailable as e:
                return _error(f"{e}; the records not yet written stay in {f}", 1)
        return 0

    from mlflow import MlflowClient

    from lossbench.tracking import sqlite_path
    from lossbench.ui import tracking_uri

    uri = tracking_uri(args.args)
    db = sqlite_path(uri)
    if db is not None and not db.is_file():
        return _error(f"tracking.uri {uri}: no such database file {db}", 2)
    client = MlflowClient(tracking_uri=uri)
    if args.action == "cleanup":
        lines = cleanup(client, args.stale_after)
    else:
        lines = [describe(run, why) for run, why in stale_runs(client, args.stale_after)]
    print("\n".join(lines) if lines else f"no stale runs in {uri}")
    return 0
