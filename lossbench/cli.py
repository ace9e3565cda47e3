"""``lossbench`` console script: runs the Hydra app (``lossbench [overrides]``, ``-m`` sweeps);
``lossbench report [options]`` writes the case-study report (lossbench.report);
``lossbench scenarios --loss ...`` lists where a loss fits (lossbench.scenarios);
``lossbench ui [--host H] [--port P] [overrides]`` serves the MLflow UI on the run's store
(lossbench.ui);
``lossbench study <name> --until-decided --max-seeds N [--round K] [overrides]`` runs a study's
seeds in rounds until its claim is decided (lossbench.study);
``lossbench tune +experiment=<study> [profile=P] [overrides]`` gives every arm of a study the same
Optuna budget and writes the best settings for ``settings=tuned`` (lossbench.tune);
``lossbench runs [cleanup | sync PATH]`` lists stale runs, ends them KILLED, replays a spool
(lossbench.runs).

A config that does not compose (an unknown option, a key the chosen option lacks) is one line
on stderr and exit status 2, like a bad value. A sweep exits 1 when any job failed or was
refused, after one summary line (:mod:`lossbench.outcomes`). SIGTERM or SIGINT ends the run
(and a sweep's parent run) KILLED and exits 128 + the signal number (lossbench.lifecycle)."""

from __future__ import annotations

import atexit
import gc
import os
import sys
import tempfile


def hydra_error_line(ex: BaseException) -> str:
    """One line for a Hydra composition or override error, naming the group or key."""
    from omegaconf.errors import OmegaConfBaseException

    cause = ex.__cause__
    head = str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__
    if isinstance(cause, OmegaConfBaseException) and getattr(cause, "full_key", None):
        where = head.split(":", 1)[0]  # "In 'scenario/spam'"
        group = str(cause.full_key).split(".", 1)[0]
        reason = str(getattr(cause, "msg", cause)).strip().splitlines()[0]
        return (f"{cause.full_key}: {reason} ({where}); the {group} option chosen (on the "
                f"command line or by a data/loss option) does not fit this scenario")
    lines = str(ex).split("Config search path")[0].splitlines()  # "...\n\tbce\n\tce"
    options = [line.strip() for line in lines if line.startswith("\t")]
    text = " ".join(line.strip() for line in lines if line.strip() and line.strip() not in options)
    return text + (f" {', '.join(options)}" if options else "")


def help_text() -> str:
    """``lossbench --help``: the commands and every config group's options, read from the
    config dirs. (Hydra's own help, ``--hydra-help``, lists groups through its ConfigStore, 12 s
    here: it deep-copies the store once per group.)"""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    groups = {d.name: d for d in sorted((root / "conf").iterdir()) if d.is_dir()}
    groups |= {"+experiment": root / "experiments" / "experiment",
               "profile": root / "experiments" / "profile",
               "hydra/launcher": root / "experiments" / "hydra" / "launcher"}
    lines = [f"  {name}: {', '.join(sorted(p.stem for p in path.glob('*.yaml')))}"
             for name, path in groups.items()]
    return "\n".join([
        "lossbench: compare loss functions on real tasks (Hydra app, MLflow tracking).",
        "",
        "usage:",
        "  lossbench [key=value ...]                one run, e.g. scenario=power_outliers loss=mae",
        "  lossbench -m +experiment=<study> ...     a study's sweep (seeds stacked; profile=quick|full)",
        "  lossbench report [--check] ...           the case-study report from the MLflow store",
        "  lossbench study <name> --until-decided   seeds in rounds until the claim is decided",
        "  lossbench scenarios --loss <loss>        where a loss fits",
        "  lossbench runs [cleanup | sync PATH]     stale runs; a spooled run replayed",
        "  lossbench ui                             the MLflow UI on the store",
        "  lossbench --cfg job [key=value ...]      the composed config",
        "  lossbench --hydra-help                   Hydra's own flags",
        "",
        "config groups (option=value; +experiment adds a study):",
        *lines,
    ])


def release_workers() -> None:
    """End the joblib launcher's worker processes once the sweep has returned: every job's
    run is closed and its outcome recorded, so nothing is lost, and waiting for each idle
    worker's own interpreter teardown (torch, MLflow) held every sweep's exit 4 s on 2 cores."""
    loky = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(loky, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)


def main() -> None:
    # at exit, every run is closed and every record written: the interpreter's last garbage
    # collection over torch's, MLflow's and scikit-learn's objects only frees memory the
    # process is about to give back (1.5 s of each exit on 2 cores, 0.3 s with them frozen)
    atexit.register(gc.freeze)
    if any(a in ("--help", "-h") for a in sys.argv[1:2]):
        print(help_text())
        raise SystemExit(0)
    if sys.argv[1:2] == ["report"]:
        from lossbench.report import main as report_main

        raise SystemExit(report_main(sys.argv[2:]))
    if sys.argv[1:2] == ["ui"]:
        from lossbench.ui import main as ui_main

        raise SystemExit(ui_main(sys.argv[2:]))
    if sys.argv[1:2] == ["study"]:
        from lossbench.study import main as study_main

        raise SystemExit(study_main(sys.argv[2:]))
    if sys.argv[1:2] == ["tune"]:
        from lossbench.tune import main as tune_main

        raise SystemExit(tune_main(sys.argv[2:]))
    if sys.argv[1:2] == ["runs"]:
        from lossbench.runs import main as runs_main

        raise SystemExit(runs_main(sys.argv[2:]))
    if sys.argv[1:2] == ["scenarios"]:
        from lossbench.scenarios import main as scenarios_main

        raise SystemExit(scenarios_main(sys.argv[2:]))
    from hydra.errors import ConfigCompositionException, OverrideParseException

    from lossbench import outcomes
    from lossbench.app import hydra_main
    from lossbench.lifecycle import Interrupted, handle_signals

    # let Hydra's own errors reach us (we print them as one line); a job's errors are handled
    # in hydra_main, so this only changes how an unexpected crash's traceback is trimmed
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    fd, record = tempfile.mkstemp(prefix="lossbench-jobs-", suffix=".jsonl")
    os.close(fd)
    os.environ[outcomes.ENV] = record
    handle_signals()
    try:
        try:
            hydra_main()
        except (ConfigCompositionException, OverrideParseException) as e:
            print(f"lossbench: error: {hydra_error_line(e)}", file=sys.stderr)
            release_workers()  # a sweep's workers started ahead of its jobs run none
            raise SystemExit(2) from None
        except Interrupted as e:
            from lossbench.tracking import close_interrupted_sweep

            close_interrupted_sweep(e)
            print(f"lossbench: {e}: the run is KILLED", file=sys.stderr)
            raise SystemExit(e.exit_status) from None
        release_workers()
        status = outcomes.report(record)
    finally:
        os.unlink(record)
    raise SystemExit(status)
