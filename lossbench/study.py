"""``lossbench study <name> --until-decided --max-seeds N [--round K] [overrides...]``: run a
case study's seeds in rounds and stop when its claim's comparisons are decided.

Looks are planned up front at K, 2K, ... seeds, the last at N (``plan_looks``); the boundaries
depend on that plan, so it is fixed before the first run. Round k launches
``python -m lossbench -m +experiment=<name> seed=<its K seeds> <overrides>
hydra.sweep.dir=<root>/round-<k>`` (the overrides pass through: profile, data_dir,
tracking.uri, a narrower ``loss=`` ...), then reads the runs of *all* rounds back from the store
(:func:`lossbench.report.load_sweeps`), pairs the guide's loss with each alternative the claim
names by seed (in the claim's condition, as the report does), and judges every comparison still
open at this look with :func:`lossbench.stats.sequential_decision`.

Why the design is valid: :func:`lossbench.stats.sequential_boundaries` spends alpha over the
planned looks with an O'Brien-Fleming-type (Lan-DeMets) spending function and tests each look
at its own share of alpha with the exact t quantile, so by the union bound the chance of a
false "supported" (or a false "refuted") over all looks is at most alpha whatever the looks'
dependence (the simulation test in tests/test_stats.py measures it). A claim against m
alternatives spends alpha / m per comparison (Bonferroni, the report's Holm correction at its
worst), so the claim's false "supported" and false "refuted" stay below alpha too.
A comparison is decided at its first crossing and never re-judged. Superiority tests against 0,
non-inferiority against the study's margin. Equivalence is not sequential here: the rounds run
to N and the comparisons are then judged once by the report's TOST
(:func:`lossbench.stats.equivalence`, at alpha / m). Indicator headlines (``study.headline_kind:
indicator``) are refused.

The verdict printed is the sequential one (supported, refuted, or inconclusive at N);
``lossbench report`` on the same store judges a fixed number of seeds (one look at alpha) and
may word the same data differently.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lossbench import stats
from lossbench.commands import add_sweep_root, command_error, compose_sweep
from lossbench.schema import one_line

PROG = "lossbench study"


def plan_looks(round_size: int, max_seeds: int) -> list[int]:
    """Seed counts of the planned looks: K, 2K, ... and N last (N need not be a multiple)."""
    if round_size < 2:
        raise ValueError(f"--round must be >= 2 (a t-test needs 2 seeds), got {round_size}")
    if max_seeds < round_size:
        raise ValueError(f"--max-seeds must be >= --round ({round_size}), got {max_seeds}")
    looks = list(range(round_size, max_seeds, round_size))
    return looks + [max_seeds]


@dataclass(frozen=True)
class Look:
    """The decisions at one planned look: per comparison its SequentialDecision (or the one
    that decided it at an earlier look), and whether the study stops here."""

    index: int
    n: int
    decisions: dict[str, stats.SequentialDecision]
    done: bool


def judge_look(diffs: dict[str, Sequence[float]], index: int, looks: Sequence[int], mode: str,
               claim_type: str = "superiority", margin: float = 0.0, alpha: float = 0.05,
               earlier: dict[str, stats.SequentialDecision] | None = None) -> Look:
    """Judge each comparison (label -> its first ``looks[index]`` paired differences, guide -
    alternative) at look ``index``, each at alpha / m (m = number of comparisons). A
    comparison decided in ``earlier`` keeps that decision. Done when every comparison is
    decided or this is the last look. Equivalence: ``continue`` until the last look, where
    the decision is the TOST at alpha / m (``t_stat`` = NaN, boundary = the margin)."""
    if claim_type not in stats.CLAIM_TYPES:
        raise ValueError(f"claim_type must be one of {stats.CLAIM_TYPES}, got {claim_type!r}")
    level = alpha / max(len(diffs), 1)
    last = index == len(looks) - 1
    out = {}
    for label, d in diffs.items():
        prev = (earlier or {}).get(label)
        if prev is not None and prev.verdict in (stats.SUPPORTED, stats.REFUTED):
            out[label] = prev
        elif claim_type == "equivalence":
            verdict = (stats.equivalence(d, margin, mode, level).verdict if last
                       else stats.CONTINUE)
            out[label] = stats.SequentialDecision(index, looks[index], float("nan"), margin,
                                                  verdict)
        else:
            m = margin if claim_type == "non_inferiority" else 0.0
            out[label] = stats.sequential_decision(d, index, looks, mode, level, m)
    decided = all(x.verdict in (stats.SUPPORTED, stats.REFUTED) for x in out.values())
    return Look(index, looks[index], out, decided or last)


def claim_verdict(look: Look) -> str:
    """supported: every comparison supported; refuted: any refuted; inconclusive otherwise."""
    verdicts = [x.verdict for x in look.decisions.values()]
    if verdicts and all(v == stats.SUPPORTED for v in verdicts):
        return stats.SUPPORTED
    if stats.REFUTED in verdicts:
        return stats.REFUTED
    return stats.INCONCLUSIVE if look.done else stats.CONTINUE


def look_line(look: Look, looks: Sequence[int]) -> str:
    parts = []
    for label, x in look.decisions.items():
        at = f" (at {x.n} seeds)" if x.n != look.n else ""
        t = "TOST" if x.t_stat != x.t_stat else f"t {x.t_stat:+.3f}"
        parts.append(f"{label}: {t}, boundary ±{x.boundary:.3f}, {x.verdict}{at}")
    return f"look {look.index + 1}/{len(looks)}, {look.n} seeds: " + "; ".join(parts)


# --------------------------------------------------------------------------- running rounds
def compose_study(name: str, overrides: Sequence[str]):  # -> (StudyConf, tracking uri)
    """The study's ``study:`` block and ``tracking.uri`` as a run of this sweep resolves them."""
    from omegaconf import OmegaConf

    from lossbench.report import study_conf

    cfg = compose_sweep([f"+experiment={name}", *overrides])
    if not cfg.get("study"):
        raise ValueError(f"experiment {name}: it declares no study: block")
    block = OmegaConf.to_container(cfg.study, resolve=True)
    return study_conf(block, f"+experiment={name}"), str(cfg.tracking.uri)


def run_round(name: str, seeds: Sequence[int], overrides: Sequence[str], sweep_dir: Path) -> int:
    cmd = [sys.executable, "-m", "lossbench", "-m", f"+experiment={name}",
           "seed=" + ",".join(map(str, seeds)), *overrides, f"hydra.sweep.dir={sweep_dir}"]
    print(f"{PROG}: round: {' '.join(cmd[1:])}", flush=True)
    return subprocess.run(cmd, check=False).returncode


def sweep_parents(sweep_dir: Path) -> list[str]:
    """The sweep parent run ids a round created (lossbench.tracking.PARENTS_FILE)."""
    from lossbench.tracking import PARENTS_FILE

    path = sweep_dir / PARENTS_FILE
    return list(json.loads(path.read_text()).values()) if path.is_file() else []


def claim_diffs(study, n: int) -> dict[str, np.ndarray]:
    """label -> guide - alternative per seed (seed order), for the alternatives the claim
    names in the claim's condition(s); raises ValueError when a pair has not n seeds."""
    from lossbench import report

    c = study.conf
    out = {}
    for cond, guide, alt, by_arm, in_claim in report.arm_pairs(study):
        if not in_claim:
            continue
        x, y, _ = report._pair(by_arm[guide], by_arm[alt], c.headline)
        label = f"{guide} vs {alt}" + (f" [{cond}]" if cond != "all" else "")
        if len(x) != n:
            raise ValueError(f"{label}: {len(x)} paired seeds with a finite headline, the "
                             f"look is planned at {n}; a failed run breaks the design")
        out[label] = stats.paired_differences(x, y)
    if not out:
        raise ValueError(f"no run of the guide's {c.arm} paired with an alternative")
    return out


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    ap = argparse.ArgumentParser(
        prog=PROG, description="Run a case study's seeds in rounds until its claim is decided "
        "(group-sequential, O'Brien-Fleming alpha spending over planned looks); other "
        "arguments are Hydra overrides passed to every round.")
    ap.add_argument("name", help="the study (experiments/experiment/<name>.yaml)")
    ap.add_argument("--until-decided", action="store_true", required=True,
                    help="stop when every comparison the claim names is decided")
    ap.add_argument("--max-seeds", type=int, required=True, metavar="N",
                    help="the last planned look (seeds 0..N-1 at most)")
    ap.add_argument("--round", type=int, default=5, metavar="K",
                    help="seeds per round: looks at K, 2K, ..., N (default: 5)")
    ap.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    add_sweep_root(ap, "round", "multirun/<name>-until-decided/<timestamp>")
    return ap.parse_known_args(list(argv))


def _error(message: str) -> int:
    return command_error(PROG, message)


def main(argv: Sequence[str]) -> int:
    args, overrides = parse_args(argv)
    if any(o.lstrip("+~").split("=", 1)[0] in ("seed", "hydra.sweep.dir") for o in overrides):
        return _error("seed and hydra.sweep.dir are set per round; leave them out")
    try:
        looks = plan_looks(args.round, args.max_seeds)
        stats.sequential_boundaries(looks, args.alpha)
        conf, uri = compose_study(args.name, overrides)
    except Exception as e:  # noqa: BLE001 - a bad plan or config: one line
        return _error(one_line(e))
    if conf.headline_kind == "indicator":
        return _error(f"{args.name}: an indicator headline ({conf.headline}) is judged by "
                      "Fisher's exact test; --until-decided supports value headlines only")
    from mlflow import MlflowClient

    from lossbench.report import ReportError, load_sweeps

    root = (args.sweep_root or Path("multirun") / f"{args.name}-until-decided"
            / _dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")).resolve()
    guide = conf.guide_loss if conf.arm == "loss" else (conf.guide_arm or conf.guide_arms)
    print(f"{PROG}: {args.name}: {conf.claim_type} of {conf.arm} {guide} on {conf.headline} "
          f"({conf.headline_mode}), looks at {looks} seeds, alpha {args.alpha}, store {uri}")
    parents: list[str] = []
    decisions: dict[str, stats.SequentialDecision] = {}
    look = None
    for k, n in enumerate(looks):
        seeds = range(looks[k - 1] if k else 0, n)
        sweep_dir = root / f"round-{k + 1}"
        rc = run_round(args.name, seeds, overrides, sweep_dir)
        if rc != 0:
            return _error(f"round {k + 1} (seeds {seeds.start}..{n - 1}) exited with status "
                          f"{rc}; see its output above")
        parents += sweep_parents(sweep_dir)
        try:
            study = load_sweeps(MlflowClient(tracking_uri=uri), parents)
            diffs = claim_diffs(study, n)
        except (ReportError, ValueError) as e:
            return _error(str(e))
        look = judge_look(diffs, k, looks, conf.headline_mode, conf.claim_type,
                          conf.margin or 0.0, args.alpha, decisions)
        decisions = look.decisions
        print(look_line(look, looks), flush=True)
        if look.done:
            break
    assert look is not None
    print(f"{PROG}: {args.name}: claim {claim_verdict(look)} after {look.n} seeds "
          f"(sequential, {len(looks)} planned looks up to {looks[-1]}, alpha {args.alpha}; "
          f"`lossbench report` judges a fixed n and may word it differently); sweeps "
          f"{', '.join(parents)} under {root}")
    return 0
