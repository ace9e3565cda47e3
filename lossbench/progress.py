"""Progress on long work, with tqdm (small, no dependencies of its own, already installed with
Optuna; rich would bring a whole terminal-rendering stack for one bar).

* :func:`bar`: a single run's progress, one tick per epoch (GAN: per generator step), the
  monitored metric beside it and tqdm's ETA. Off when stderr is not a terminal and inside a
  sweep (parallel jobs would draw over each other; they print :func:`sweep_line` instead).
* :func:`sweep_line`: after each job of a sweep, ``sweep: 7/20 runs done (6 finished,
  1 failed), 13 to go, ETA 2m10s`` from the sweep's outcome record (lossbench.outcomes)
  and the total the sweeper announced (:data:`TOTAL_ENV`, :data:`START_ENV`).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Optional

TOTAL_ENV = "LOSSBENCH_SWEEP_RUNS"  # set by the sweeper: how many runs the sweep has
START_ENV = "LOSSBENCH_SWEEP_START"  # and when it started (time.time())


def in_sweep() -> bool:
    """Whether this process runs a job of a Hydra multirun (-m)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def enabled(sweep: bool, stream: Any = None) -> bool:
    """A bar only for a single run whose stderr is a terminal."""
    stream = sys.stderr if stream is None else stream
    return not sweep and hasattr(stream, "isatty") and stream.isatty()


def bar(total: int, desc: str, initial: int = 0, unit: str = "epoch"):
    """A tqdm bar over ``total`` ticks, disabled (a no-op) when :func:`enabled` says no."""
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=False,
                disable=not enabled(in_sweep()), dynamic_ncols=True)


def eta(done: int, total: int, elapsed: float) -> Optional[float]:
    """Seconds left at the pace so far (None before the first run is done)."""
    return elapsed / done * (total - done) if done else None


def _clock(seconds: Optional[float]) -> str:
    if seconds is None:
        return "?"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def sweep_line(outcomes: list[dict], total: int, elapsed: float) -> str:
    """The sweep's progress after a job: runs done by outcome, runs to go, the ETA."""
    counts: dict[str, int] = {}
    for line in outcomes:
        counts[line["outcome"]] = counts.get(line["outcome"], 0) + 1
    done = sum(counts.values())
    parts = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    return (f"sweep: {done}/{total} runs done ({parts}), {max(total - done, 0)} to go, "
            f"ETA {_clock(eta(done, total, elapsed))}")


def announce(runs: int) -> None:
    """The sweeper's part: how many runs the sweep will log, and its start (jobs inherit
    the environment)."""
    os.environ[TOTAL_ENV] = str(runs)
    os.environ[START_ENV] = str(time.time())


def sweep_progress(outcomes: list[dict]) -> Optional[str]:
    """:func:`sweep_line` when the sweeper announced the sweep, else None."""
    total, start = os.environ.get(TOTAL_ENV), os.environ.get(START_ENV)
    if not total or not start:
        return None
    return sweep_line(outcomes, int(total), time.time() - float(start))
