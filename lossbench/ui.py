"""``lossbench ui [--host H] [--port P] [overrides]``: the MLflow UI on the store a run would use.

The store is ``tracking.uri`` of the root config composed with the given overrides, exactly
as a run resolves it (``lossbench ui tracking.uri=sqlite:///x.db``, ``+experiment=...``). A
local store (SQLite, a folder) gets ``mlflow server`` on ``--host`` (127.0.0.1) and
``--port`` (5000); an ``http(s)://`` store is already a server, so only its links are printed.
The links: each experiment's runs table (``#/experiments/<id>/runs``, which opens on the
training runs even when MLflow's global view is set to GenAI) and the latest study sweep's
parent run (its summary: lossbench.summary). Neither torch nor the MLflow client is imported
before they are needed, so the command starts fast.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def tracking_uri(overrides: Sequence[str]) -> str:
    """``tracking.uri`` of the root config composed with ``overrides`` (as ``lossbench`` runs)."""
    from hydra import compose, initialize_config_dir

    from lossbench.config import register_configs

    register_configs()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides))
    return str(cfg.tracking.uri)


def links(uri: str, base_url: str) -> list[str]:
    """One line per experiment with runs (its runs table), then the latest study sweep's
    parent run."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    base = base_url.rstrip("/")
    lines, latest = [], None
    for exp in sorted(client.search_experiments(), key=lambda e: e.name):
        if not client.search_runs([exp.experiment_id], max_results=1):
            continue
        lines.append(f"experiment {exp.name}: {base}/#/experiments/{exp.experiment_id}/runs")
        sweeps = client.search_runs([exp.experiment_id],
                                    "tags.`lossbench.role` = 'sweep' and tags.`study.claim` != ''",
                                    order_by=["attributes.start_time DESC"], max_results=1)
        if sweeps and (latest is None or sweeps[0].info.start_time > latest.info.start_time):
            latest = sweeps[0]
    if latest is not None:
        lines.append(f"latest study sweep ({latest.info.run_name}, "
                     f"{latest.data.tags.get('study.headline', '')} per loss): "
                     f"{base}/#/experiments/{latest.info.experiment_id}/runs/"
                     f"{latest.info.run_id}")
    if not lines:
        lines.append(f"no runs in {uri} yet: {base}/")
    return lines


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"lossbench ui: mlflow server exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"lossbench ui: mlflow server not up on {url} after {timeout:.0f} s")
        time.sleep(0.5)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lossbench ui", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default: loopback)")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--timeout", type=float, default=180.0,
                   help="seconds to wait for the server to come up")
    p.add_argument("overrides", nargs="*", help="config overrides, e.g. tracking.uri=...")
    return p.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    uri = tracking_uri(args.overrides)
    if uri.startswith(("http://", "https://")):
        print(f"{uri} is an MLflow server already; its pages:")
        print("\n".join(links(uri, uri)), flush=True)
        return 0
    from lossbench.tracking import prepare_store

    prepare_store(uri)  # a new SQLite store: created and migrated once, before the server reads
    url = f"http://{args.host}:{args.port}"
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    cmd = [str(mlflow_bin) if mlflow_bin.exists() else "mlflow", "server",
           "--backend-store-uri", uri, "--host", args.host, "--port", str(args.port),
           "--workers", "1"]
    proc = subprocess.Popen(cmd, env={**os.environ, "MLFLOW_TRACKING_URI": uri})
    # SIGTERM (kill, a test's terminate()) ends through the finally below, which stops the
    # server too; Python's default would leave it running with no parent
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        wait_until_up(url, proc, args.timeout)
        print(f"MLflow UI for {uri} on {url} (Ctrl-C stops it):")
        print("\n".join(links(uri, url)), flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
