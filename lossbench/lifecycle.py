"""How a lossbench process ends, and how to tell that one is gone.

**Signals.** The ``lossbench`` command (:func:`handle_signals`) turns SIGTERM (what
``timeout``, Slurm and ``docker stop`` send) and SIGINT (Ctrl-C) into :class:`Interrupted`, a
``KeyboardInterrupt``: code that catches ``Exception`` lets it through, the run's context
(:meth:`lossbench.tracking.MlflowTracker.start`) ends the run ``KILLED`` with the signal as its
``failure_reason``, the sweep's parent run is ended ``KILLED`` too, and the command exits with
the conventional status 128 + signal number (143 for SIGTERM, 130 for SIGINT). A second signal
of the same kind, while that is written, stops the process at once (the default action).

**Signs of life.** Every run records the host and pid of the process that writes it (tags
``lossbench.host``, ``lossbench.pid``) and a heartbeat (tag ``lossbench.heartbeat``, Unix
seconds) updated with the metrics, at most every ``tracking.heartbeat_s`` seconds.
``lossbench runs`` (lossbench.runs) calls a ``RUNNING`` run stale when its pid is gone on
this host, or its last sign of life is older than ``--stale-after`` seconds.
"""

from __future__ import annotations

import os
import signal
import socket
from typing import Any

HOST_TAG, PID_TAG, HEARTBEAT_TAG = "lossbench.host", "lossbench.pid", "lossbench.heartbeat"
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(KeyboardInterrupt):
    """The process got ``signum``; raised in the main thread by :func:`handle_signals`."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(f"killed by {self.name}")

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


def _raise(signum: int, frame: Any) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second one ends the process at once
    raise Interrupted(signum)


def handle_signals() -> None:
    """SIGTERM and SIGINT raise :class:`Interrupted` in the main thread from now on."""
    for s in SIGNALS:
        signal.signal(s, _raise)


def signal_name(e: BaseException) -> str:
    """The signal behind an interruption (a plain ``KeyboardInterrupt`` is SIGINT)."""
    return getattr(e, "name", "SIGINT")


def host() -> str:
    return socket.gethostname()


def process_tags() -> dict[str, str]:
    """``lossbench.host`` and ``lossbench.pid`` of this process."""
    return {HOST_TAG: host(), PID_TAG: str(os.getpid())}


def alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
