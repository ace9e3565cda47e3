"""Stacked seeds in a sweep (``lossbench -m ... 'seed=range(20)'``; ``stack_seeds=false``: one job per seed).

The jobs of a sweep that differ only in their ``seed=`` override become stacked jobs: the
overrides of the group's first job plus ``seeds=[...]`` (lossbench.app.run_seeds trains them as
one model, one MLflow run per seed under the sweep's parent). A group is split into as many
stacked jobs as keep the launcher's workers busy: ``ceil(workers / groups)`` near-equal chunks
of consecutive seeds, at most one per seed. Hydra runs it as its sweeper ``lossbench``
(``hydra_plugins/lossbench_sweeper``; conf/config.yaml picks it), the basic sweeper otherwise.
"""

from __future__ import annotations

import math
import os
from typing import Any


def launcher_workers(launcher: Any) -> int:
    """How many jobs the launcher runs at once: joblib's ``n_jobs`` (-1: every core, -2: all
    but one ...), else 1."""
    n = launcher.get("n_jobs") if hasattr(launcher, "get") else None
    if n is None:
        return 1
    n = int(n)
    return max(1, n if n > 0 else (os.cpu_count() or 1) + 1 + n)


def _chunks(items: list, n: int) -> list[list]:
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        stop = start + size + (i < extra)
        out.append(items[start:stop])
        start = stop
    return out


def stack_seed_jobs(jobs: list[list[str]], workers: int) -> list[list[str]]:
    """Jobs (each a list of ``key=value`` overrides) grouped by everything but ``seed=``; each
    group becomes stacked jobs ``[<first job's overrides>, "seeds=[s1,s2,...]"]``. A job
    with no ``seed=`` override stays as it is."""
    groups: dict[tuple[str, ...], list[tuple[list[str], str]]] = {}
    alone: list[list[str]] = []
    for job in jobs:
        seed = [o.split("=", 1)[1] for o in job if o.startswith("seed=")]
        if not seed:
            alone.append(job)
            continue
        key = tuple(o for o in job if not o.startswith("seed="))
        groups.setdefault(key, []).append((job, seed[0]))
    per_group = math.ceil(workers / max(len(groups), 1))
    out = []
    for members in groups.values():
        for chunk in _chunks(members, min(per_group, len(members))):
            seeds = ",".join(seed for _, seed in chunk)
            out.append([*chunk[0][0], f"seeds=[{seeds}]"])
    return out + alone


def runs_of(job: list[str]) -> int:
    """How many MLflow runs a job logs: one per seed of ``seeds=[...]``, else one."""
    for o in job:
        if o.startswith("seeds="):
            return len([s for s in o.split("=", 1)[1].strip("[]").split(",") if s.strip()])
    return 1
