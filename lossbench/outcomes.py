"""How each job of a sweep ended, so the sweep's exit status and summary tell the truth.

Every job appends one JSON line ``{"job", "outcome", "reason", "overrides"}`` (outcome:
finished, failed, refused, i.e. stopped by config validation before any data loaded, or
skipped: a re-launched sweep with ``resume=true`` skips the jobs that already finished, found
here by :func:`job_key`) to
``<sweep dir>/jobs.jsonl`` (the sweep's record, kept) and to the file the ``lossbench`` command
names in ``$LOSSBENCH_JOBS`` (read back by :func:`report` when Hydra's multirun returns).
Jobs may run in parallel processes: each line is written under an exclusive lock.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
from pathlib import Path
from typing import Optional

ENV = "LOSSBENCH_JOBS"
FILE = "jobs.jsonl"
OUTCOMES = ("finished", "failed", "refused", "skipped")


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(line + "\n")


def job_key(overrides: str) -> str:
    """A job's identity in its sweep: its Hydra overrides without ``resume=...`` (a re-launch
    adds it) and ``stack_seeds=...`` (how seeds are grouped does not change a job), e.g.
    ``"loss=mae seed=1 resume=true"`` -> ``"loss=mae seed=1"``."""
    return " ".join(o for o in overrides.split()
                    if o.lstrip("+~").split("=", 1)[0] not in ("resume", "stack_seeds"))


def record(sweep_dir: str, job: str, outcome: str, reason: str = "", overrides: str = "") -> None:
    """Append a job's outcome to the sweep dir's record and to ``$LOSSBENCH_JOBS``."""
    line = json.dumps({"job": job, "outcome": outcome, "reason": " ".join(reason.split())[:300],
                       "overrides": job_key(overrides)})
    _append(Path(sweep_dir) / FILE, line)
    if os.environ.get(ENV):
        _append(Path(os.environ[ENV]), line)
        from lossbench.progress import sweep_progress

        progress = sweep_progress(read(os.environ[ENV]))
        if progress:
            logging.getLogger("lossbench").info("%s", progress)


def read(path: str) -> list[dict]:
    """The outcome lines recorded in ``path`` ([] when there is none)."""
    p = Path(path)
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()] if p.exists() else []


def finished_before(sweep_dir: str, overrides: str) -> bool:
    """Whether the sweep dir's record has this job (:func:`job_key`) as finished."""
    key = job_key(overrides)
    return any(x["outcome"] == "finished" and x.get("overrides") == key
               for x in read(str(Path(sweep_dir) / FILE)))


def summary(lines: list[dict]) -> Optional[str]:
    """``sweep: N jobs: a finished, b failed, c refused[, d skipped]; first reasons: ...``
    (None: no jobs)."""
    if not lines:
        return None
    counts = {o: sum(1 for x in lines if x["outcome"] == o) for o in OUTCOMES}
    if not counts["skipped"]:  # only a re-launched sweep skips jobs
        del counts["skipped"]
    reasons = list(dict.fromkeys(f"{x['job']}: {x['reason']}" for x in lines
                                 if x["outcome"] in ("failed", "refused")))[:2]
    text = f"sweep: {len(lines)} jobs: " + ", ".join(f"{n} {o}" for o, n in counts.items())
    return text + (f"; first reasons: {' | '.join(reasons)}" if reasons else "")


def report(path: str) -> int:
    """Print the summary of the jobs recorded in ``path`` (a sweep: one line on stderr);
    return the exit status: 1 when any job failed or was refused, else 0."""
    lines = read(path)
    text = summary(lines)
    if text is None:  # a single run: it raised if it failed
        return 0
    print(f"lossbench: {text}", file=sys.stderr)
    return 1 if any(x["outcome"] in ("failed", "refused") for x in lines) else 0
