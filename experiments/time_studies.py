"""Time each case study's sweep: the table of study wall times (README, "On a GPU").

Runs ``lossbench -m +experiment=<study> profile=<profile>`` for each study in turn (cheapest
first by default), each in its own process, stopped after ``--cap`` seconds or when the
``--budget`` for all of them is spent, and writes one row per study: the exit status, the wall
time, the jobs finished out of those recorded (``<sweep dir>/jobs.jsonl``) and the devices the
runs reported. A study stopped by its cap shows how far it got; one not started says so.

Usage (from anywhere; device=auto in the full profile picks CUDA when there is one):
    python experiments/time_studies.py --profile full --data-dir ../shared/data --out t.md
    python experiments/time_studies.py --study house_price --study mnist --cap 600 \\
        --set download=false --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's lossbench, as the sweeps it starts use
from lossbench import outcomes  # noqa: E402 - the sweep record's reader

# roughly cheapest first (quick profile, 2 cores), so a budget covers as many as it can
ORDER = ["overflow", "sparse_memory", "skewed_median", "skewed_mean", "standardization",
         "outliers_mae", "power_outliers", "batch_size", "overfitting", "optimizer_pairing",
         "house_price", "spam_hinge", "spam", "focal_noise", "class_weights",
         "face_verification", "mnist", "pairing", "cancer_screening", "wgan"]


def studies() -> list[str]:
    """Every study in experiments/experiment/, in ORDER where listed, then by name."""
    names = sorted(p.stem for p in (ROOT / "experiments" / "experiment").glob("*.yaml"))
    return [s for s in ORDER if s in names] + [s for s in names if s not in ORDER]


def command(study: str, profile: str, work: Path, data_dir: str, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "lossbench", "-m", f"+experiment={study}", f"profile={profile}",
            f"data_dir={data_dir}", f"tracking.uri=sqlite:///{work / 'studies.db'}",
            f"hydra.sweep.dir={work / 'sweeps' / study}", *extra]


def outcome(sweep_dir: Path, log: str) -> dict[str, object]:
    """Jobs finished and recorded (jobs.jsonl), and the devices the runs logged."""
    lines = outcomes.read(str(sweep_dir / outcomes.FILE))
    devices = sorted(set(re.findall(r" on (cuda(?::\d+)?|cpu|mps)\b", log)))
    return {"finished": sum(x["outcome"] == "finished" for x in lines), "jobs": len(lines),
            "devices": ",".join(devices) or "-"}


def time_study(study: str, args: argparse.Namespace, work: Path, cap: float) -> dict[str, object]:
    cmd = command(study, args.profile, work, args.data_dir, args.set)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))}
    tic = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                              timeout=cap)
        status, log = str(proc.returncode), proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        status = f"stopped at {cap:.0f} s"
        log = "".join(x.decode() if isinstance(x, bytes) else (x or "")
                      for x in (e.stdout, e.stderr))
    (work / "logs").mkdir(exist_ok=True)
    (work / "logs" / f"{study}.log").write_text(log)
    return {"study": study, "status": status, "wall_s": round(time.perf_counter() - tic, 1),
            **outcome(work / "sweeps" / study, log)}


def table(rows: list[dict[str, object]]) -> str:
    out = ["| study | exit | wall s | jobs finished | devices |", "|---|---|---|---|---|"]
    for r in rows:
        if r["status"] == "not run":
            out.append(f"| {r['study']} | not run (budget spent) | - | - | - |")
        else:
            out.append(f"| {r['study']} | {r['status']} | {r['wall_s']} | "
                       f"{r['finished']} of {r['jobs']} | {r['devices']} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--study", action="append", help="repeatable; default: every study")
    ap.add_argument("--profile", default="full")
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--cap", type=float, default=1800.0, help="seconds per study")
    ap.add_argument("--budget", type=float, default=float("inf"), help="seconds for all")
    ap.add_argument("--set", action="append", default=[], help="an override for every sweep")
    ap.add_argument("--work", help="sweep dirs, store and logs (default: a temporary dir)")
    ap.add_argument("--out", help="also write the Markdown table here")
    args = ap.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="lossbench-times-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    start, rows = time.perf_counter(), []
    for study in args.study or studies():
        left = args.budget - (time.perf_counter() - start)
        if left < 1:
            rows.append({"study": study, "status": "not run"})
            continue
        rows.append(time_study(study, args, work, min(args.cap, left)))
        print(json.dumps(rows[-1]), flush=True)
    text = table(rows)
    print(text + f"(sweeps, store and logs in {work})")
    if args.out:
        Path(args.out).write_text(text)
    return 0 if all(r["status"] == "0" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
