"""The tuning stage: ``lossbench tune +experiment=<study> [profile=quick] [overrides]`` gives
every arm of a study the same Optuna budget, and ``settings=tuned`` evaluates with the result.

**Cells.** A study sweeps its arm (``study.arm``) crossed with other keys (its conditions) and
the seed. A *cell* is one value of every swept key but the seed and the keys
``study.tune.fixed`` pins (replicates such as ``data.fold``): e.g. ``loss=huber optimizer=adam``.
Each cell is tuned on its own, with the same number of trials (``study.tune.trials[profile]``).

**One cell's search** is one Hydra multirun with Hydra's Optuna sweeper
(``hydra/sweeper=optuna``, TPE seeded with ``study.tune.sampler_seed``, its first
:func:`startup_trials` random, trials asked two at a time) over ``study.tune.space``
plus the arm's ``study.tune.arm_space``; the cell's values, the fixed keys and the tuning seed
``study.tune.seed`` are fixed overrides. Every trial is an ordinary lossbench job
(``settings=trial``: its run and its sweep's parent run are tagged ``lossbench.settings=trial``,
and ``lossbench report`` never judges them) that returns the study's headline on the
VALIDATION split (``objective=final_val_<metric>``; maximised or minimised as
``study.headline_mode`` says). The test split is never looked at.

**The result** per cell (best values, best validation value, trials, the parent run) is written
to ``study.tune.file`` (default ``experiments/tuned/<name>.yaml``, one entry per profile, with the
sampler, its seed and the commit), logged on each cell's parent run (tags ``lossbench.tune.*``
and the file as artifact ``tuned.yaml``). ``lossbench -m +experiment=<study> settings=tuned``
then applies each job's cell values (:func:`apply_settings`) and tags the run with them.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import itertools
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf

from lossbench.commands import add_sweep_root, command_error, compose_sweep, split_overrides
from lossbench.schema import ConfigError, one_line

PROG = "lossbench tune"
SETTINGS_TAG = "lossbench.settings"
TUNED_TAG = "lossbench.tuned"  # lossbench.tuned.values, .trials, .best_value, .file


# --------------------------------------------------------------------------- the rules
def validation_metric(headline: str) -> str:
    """The headline on the validation split: ``final_test_<m>`` -> ``final_val_<m>``."""
    if not headline.startswith("final_test_"):
        raise ConfigError(f"study.headline: {headline} has no validation counterpart "
                          "(final_test_* -> final_val_*); tune it differently or set "
                          "study.tune.skip with the reason")
    return "final_val_" + headline[len("final_test_"):]


def text(value: Any) -> str:
    """A swept value as it is written in an override and in the tuned file."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    return str(getattr(value, "text", value))  # Hydra's QuotedString: its text


def swept_values(params: dict[str, Any]) -> dict[str, list[str]]:
    """Each key of a sweep (``hydra.sweeper.params``) and its values, expanded."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    out = {}
    for key, value in params.items():
        override = parser.parse_overrides([f"{key}={value}"])[0]
        out[key] = ([text(v) for v in override.sweep_iterator()]
                    if override.is_sweep_override() else [override.get_value_element_as_str()])
    return out


def cells(swept: dict[str, list[str]], arm: str, fixed: Sequence[str]) -> list[dict[str, str]]:
    """The cells to tune: every combination of the swept keys but ``seed`` and ``fixed``."""
    if arm not in swept:
        raise ConfigError(f"study.arm: {arm} is not swept (hydra.sweeper.params has "
                          f"{', '.join(swept)})")
    keys = [k for k in swept if k != "seed" and k not in fixed]
    return [dict(zip(keys, combo)) for combo in itertools.product(*(swept[k] for k in keys))]


def startup_trials(trials: int) -> int:
    """TPE's random start: half the trials, at most Optuna's default of 10 (with Optuna's 10
    a quick budget of 8 trials would be a random search)."""
    return min(10, max(1, trials // 2))


def label(cell: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in cell.items())


def tune_file(cfg: DictConfig) -> Path:
    """``study.tune.file``, else ``experiments/tuned/<name>.yaml``."""
    from lossbench.study_schema import EXPERIMENTS_DIR

    path = OmegaConf.select(cfg, "study.tune.file")
    return Path(path) if path else EXPERIMENTS_DIR / "tuned" / f"{cfg.name}.yaml"


# --------------------------------------------------------------------------- settings=tuned
def _job_value(cfg: DictConfig, key: str) -> str:
    """This job's value of a swept key: the option chosen for a group, else the config value."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get(key)
        if choice is not None:
            return str(choice)
    return text(OmegaConf.select(cfg, key))


def tuned_cell(cfg: DictConfig) -> dict[str, Any]:
    """This job's cell from the study's tuned file (with the profile's trials, objective and
    file added). Raises :class:`ConfigError` (one line naming the file) when there is none."""
    if not cfg.get("study"):
        raise ConfigError("settings=tuned: only a study's jobs have tuned settings "
                          "(+experiment=<study>)")
    skip = OmegaConf.select(cfg, "study.tune.skip")
    if skip:
        raise ConfigError(f"settings=tuned: study {cfg.name} is not tuned: {skip}")
    path, profile = tune_file(cfg), cfg.get("profile")
    how = f"run lossbench tune +experiment={cfg.name} profile={profile} first"
    if not path.is_file():
        raise ConfigError(f"settings=tuned: no tuned file {path}; {how}")
    entry = (OmegaConf.to_container(OmegaConf.load(path)) or {}).get(profile)
    if not entry:
        raise ConfigError(f"settings=tuned: {path} has no {profile} profile; {how}")
    for cell in entry.get("cells", []):
        if all(_job_value(cfg, k) == str(v) for k, v in cell["match"].items()):
            return {**cell, "trials": entry["trials"], "objective": entry["objective"],
                    "file": str(path)}
    mine = label({k: _job_value(cfg, k) for k in entry["cells"][0]["match"]}
                 if entry.get("cells") else {})
    raise ConfigError(f"settings=tuned: {path} has no tuned setting for {mine} "
                      f"({profile} profile); {how}")


def apply_settings(cfg: DictConfig) -> None:
    """With ``settings=tuned``: set this job's tuned values (its cell's best) in ``cfg``."""
    if cfg.get("settings", "guide") != "tuned":
        return
    for key, value in tuned_cell(cfg)["values"].items():
        OmegaConf.update(cfg, key, value, merge=False)


def settings_tags(cfg: DictConfig) -> dict[str, str]:
    """The run's settings tag, and with ``settings=tuned`` the values it applied, the trial
    budget, the best validation value and the file (``lossbench.tuned.*``)."""
    settings = str(cfg.get("settings", "guide"))
    tags = {SETTINGS_TAG: settings}
    if settings == "tuned":
        cell = tuned_cell(cfg)
        tags.update({f"{TUNED_TAG}.values": label(cell["values"]),
                     f"{TUNED_TAG}.trials": str(cell["trials"]),
                     f"{TUNED_TAG}.best_value": f"{cell['best_value']:.6g}",
                     f"{TUNED_TAG}.objective": str(cell["objective"]),
                     f"{TUNED_TAG}.file": cell["file"]})
    return tags


def objective(cfg: DictConfig) -> str:
    """The final metric a job returns to its sweeper."""
    return cfg.get("objective") or f"final_{cfg.trainer.monitor}"


# --------------------------------------------------------------------------- the command
RESERVED = ("seed", "settings", "objective", "hydra.sweep.dir", "hydra/sweeper")


def plan(cfg: DictConfig, overrides: Sequence[str]) -> dict[str, Any]:
    """What ``lossbench tune`` will run: the cells, the space of each, trials, objective."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from lossbench.study_schema import StudyConf

    if not cfg.get("study"):
        raise ConfigError(f"{cfg.name}: no study: block (+experiment=<study>)")
    study: StudyConf = OmegaConf.to_object(cfg.study)
    t = study.tune
    if t.skip:
        raise ConfigError(f"study {cfg.name} is not tuned: {t.skip}")
    profile = cfg.profile
    if profile not in t.trials:
        raise ConfigError(f"study.tune.trials: no budget for profile {profile}")
    params = OmegaConf.to_container(cfg.hydra.sweeper.params, resolve=True) or {}
    for o in OverridesParser.create().parse_overrides(list(overrides)):
        # the command line narrows the sweep (loss=mse,huber) or pins a swept key (optimizer=adam)
        if o.is_sweep_override() or o.get_key_element() in params:
            params[o.get_key_element()] = o.input_line.split("=", 1)[1]
    swept = swept_values(params)
    seeds = swept.get("seed", [text(cfg.seed)])
    if str(t.seed) in seeds:
        raise ConfigError(f"study.tune.seed: {t.seed} is an evaluation seed "
                          f"({', '.join(seeds)}); pick one outside them")
    todo = cells(swept, study.arm, list(t.fixed))
    return {"name": cfg.name, "profile": profile, "arm": study.arm, "trials": t.trials[profile],
            "seed": t.seed, "sampler_seed": t.sampler_seed, "fixed": dict(t.fixed),
            "objective": validation_metric(study.headline),
            "direction": "minimize" if study.headline_mode == "min" else "maximize",
            "cells": [(c, {**t.space, **t.arm_space.get(c[study.arm], {})}) for c in todo],
            "file": tune_file(cfg), "uri": str(cfg.tracking.uri),
            "tracking": bool(cfg.tracking.enabled)}


def cell_command(p: dict[str, Any], cell: dict[str, str], space: dict[str, str],
                 overrides: Sequence[str], sweep_dir: Path) -> list[str]:
    """The Optuna multirun of one cell: the cell, fixed keys and seed as fixed overrides,
    the space as the searched ones."""
    return [sys.executable, "-m", "lossbench", "-m", *split_overrides(overrides),
            *(f"{k}={v}" for k, v in {**cell, **p["fixed"]}.items()),
            f"seed={p['seed']}", "settings=trial", f"objective={p['objective']}",
            "hydra/sweeper=optuna", "hydra/sweeper/sampler=tpe",
            f"hydra.sweeper.sampler.seed={p['sampler_seed']}",
            f"hydra.sweeper.sampler.n_startup_trials={startup_trials(p['trials'])}",
            f"hydra.sweeper.n_trials={p['trials']}",
            f"hydra.sweeper.direction={p['direction']}",
            f"hydra.sweeper.study_name='{p['name']}-{p['profile']} {label(cell)}'",
            f"hydra.sweep.dir={sweep_dir}",
            *(f"{k}={v}" for k, v in space.items())]


def _parent(sweep_dir: Path, uri: str) -> Optional[str]:
    from lossbench.tracking import PARENTS_FILE

    path = sweep_dir / PARENTS_FILE
    if not path.is_file():
        return None
    return next((rid for key, rid in json.loads(path.read_text()).items()
                 if key.split("|", 1)[0] == uri), None)


def _client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _failed_trials(client: Any, parent: Optional[str]) -> Optional[int]:
    if client is None or parent is None:
        return None
    metrics = client.get_run(parent).data.metrics
    return int(metrics["children.failed"]) if "children.failed" in metrics else None


def _commit() -> dict[str, str]:
    from lossbench.provenance import code_version_tags

    tags = code_version_tags()
    out = {"commit": tags.get("mlflow.source.git.commit", "unknown")}
    if tags.get("lossbench.git_dirty") == "true":
        out["commit"] += " (dirty)"
    return out


def write_tuned(path: Path, profile: str, entry: dict[str, Any]) -> None:
    """Set the profile's entry in the tuned file (other profiles are kept)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (OmegaConf.to_container(OmegaConf.load(path)) or {}) if path.is_file() else {}
    data[profile] = entry
    head = ("# Written by `lossbench tune` (lossbench/tune.py): per profile, each cell's best "
            "setting\n# on the validation split; `settings=tuned` evaluates with it.\n")
    path.write_text(head + OmegaConf.to_yaml(OmegaConf.create(data)))


def _log_parent(client: Any, parent: str, cell: dict[str, Any], trials: int,
                path: Path) -> None:
    client.set_tag(parent, SETTINGS_TAG, "trial")
    for key, value in {"lossbench.tune.cell": label(cell["match"]),
                       "lossbench.tune.best": label(cell["values"]),
                       "lossbench.tune.best_value": f"{cell['best_value']:.6g}",
                       "lossbench.tune.trials": str(trials)}.items():
        client.set_tag(parent, key, value)
    client.log_artifact(parent, str(path))


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    ap = argparse.ArgumentParser(
        prog=PROG, description="Tune a study: per cell (arm x condition) the same number of "
        "Optuna trials (TPE, fixed sampler seed) over the study's study.tune space, scored by "
        "the headline on the validation split; writes the best settings to study.tune.file. "
        "Other arguments are Hydra overrides (+experiment=<study> is required).")
    add_sweep_root(ap, "cell", "multirun/<name>-<profile>-trial/<timestamp>")
    return ap.parse_known_args(list(argv))


def _error(message: str) -> int:
    return command_error(PROG, message)


def main(argv: Sequence[str]) -> int:
    args, overrides = parse_args(argv)
    if not any(o.startswith("+experiment=") for o in overrides):
        return _error("name the study: lossbench tune +experiment=<study> [profile=quick]")
    taken = [o for o in overrides if o.lstrip("+~").split("=", 1)[0] in RESERVED]
    if taken:
        return _error(f"{', '.join(taken)}: set by lossbench tune (study.tune); leave out")
    try:
        # the config its jobs compose, with the hydra node (the sweep params)
        p = plan(compose_sweep(overrides, return_hydra_config=True), overrides)
    except Exception as e:  # noqa: BLE001 - a config the study cannot tune: one line
        return _error(one_line(e))
    root = (args.sweep_root or Path("multirun") / f"{p['name']}-{p['profile']}-trial"
            / _dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")).resolve()
    print(f"{PROG}: {p['name']} ({p['profile']}): {len(p['cells'])} cell(s) x {p['trials']} "
          f"trials, {p['direction']} {p['objective']}, seed {p['seed']}, TPE sampler seed "
          f"{p['sampler_seed']}; sweeps under {root}", flush=True)
    done, parents = [], []
    for k, (cell, space) in enumerate(p["cells"]):
        sweep_dir = root / f"cell-{k}"
        cmd = cell_command(p, cell, space, overrides, sweep_dir)
        print(f"{PROG}: cell {k + 1}/{len(p['cells'])} ({label(cell)}): {' '.join(cmd[3:])}",
              flush=True)
        rc = subprocess.run(cmd, check=False).returncode
        results = sweep_dir / "optimization_results.yaml"
        if not results.is_file():
            return _error(f"cell {label(cell)}: its Optuna sweep wrote no {results} "
                          f"(exit status {rc}); see its output above")
        best = OmegaConf.to_container(OmegaConf.load(results))
        parent = _parent(sweep_dir, p["uri"]) if p["tracking"] else None
        failed = _failed_trials(_client(p["uri"]) if parent else None, parent)
        done.append({"match": dict(cell), "values": dict(best["best_params"]),
                     "best_value": float(best["best_value"]),
                     "failed_trials": failed, "mlflow_parent_run": parent,
                     "sweep_dir": str(sweep_dir)})
        parents.append(parent)
        print(f"{PROG}: cell {label(cell)}: best {p['objective']} {best['best_value']:.6g} at "
              f"{label(best['best_params'])}" + (f" ({failed} failed trial(s))" if failed
                                                 else ""), flush=True)
    entry = {**_commit(), "date": _dt.datetime.now().isoformat(timespec="seconds"),
             "arm": p["arm"], "objective": p["objective"], "direction": p["direction"],
             "trials": p["trials"], "seed": p["seed"], "sampler": "TPESampler",
             "startup_trials": startup_trials(p["trials"]),
             "sampler_seed": p["sampler_seed"], "fixed": p["fixed"],
             "space": {label(c): s for c, s in p["cells"]}, "cells": done}
    write_tuned(p["file"], p["profile"], entry)
    for cell, parent in zip(done, parents):
        if parent:
            _log_parent(_client(p["uri"]), parent, cell, p["trials"], p["file"])
    print(f"{PROG}: {p['name']} ({p['profile']}): {len(done)} cell(s) tuned -> {p['file']}; "
          f"evaluate with: lossbench -m +experiment={p['name']} profile={p['profile']} "
          "settings=tuned")
    return 0
