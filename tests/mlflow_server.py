"""A throw-away ``mlflow server`` on loopback (SQL backend + artifact root) for the tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from lossbench.ui import wait_until_up


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mlflow_server(root: Path, timeout: float = 180.0) -> Iterator[str]:
    """Start ``mlflow server`` with ``sqlite:///<root>/server.db`` and artifacts proxied to
    ``<root>/artifacts``; yield its http URL; stop it (by its own pid) afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    cmd = [str(mlflow_bin), "server", "--backend-store-uri", f"sqlite:///{root}/server.db",
           "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1"]
    log = open(root / "mlflow-server.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root,
                            env={**os.environ, "MLFLOW_TRACKING_URI": ""})
    try:
        try:  # the same health poll as `lossbench ui`
            wait_until_up(url, proc, timeout)
        except SystemExit as e:
            raise RuntimeError(f"{e}:\n"
                               + (root / "mlflow-server.log").read_text()[-3000:]) from None
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
