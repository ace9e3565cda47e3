"""``lossbench scenarios``: where a loss fits. Each scenario (``conf/scenario/*``) and each
study (``experiments/experiment/*``) is composed with the loss and checked as a run would be
before its data loads (the schemas' value checks, then the task kind's ``check(cfg)``):

    lossbench scenarios --loss my_pkg.losses.MyLoss                 # a regression loss
    lossbench scenarios --loss my_pkg.losses.MyLoss --head binary --consumes logits \\
        --target-encoding binary                                   # a binary classifier's
    lossbench scenarios --loss my_pkg.losses.MyPairLoss --examples triplets --label none
    lossbench scenarios --loss-config my_conf/loss/cauchy.yaml      # a loss option file

``--loss`` with supervised declarations (or none) composes ``loss=custom``, with pair
declarations ``loss=custom_pairs``; ``--loss-config <dir>/loss/<name>.yaml`` composes
``loss=<name>`` with ``<dir>`` on Hydra's search path. Exit status 0 when the loss fits
somewhere, 1 when it fits nowhere, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from lossbench.study_schema import EXPERIMENTS_DIR

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
SUPERVISED = ("head", "consumes", "target_encoding")
PAIRS = ("examples", "label", "distance")


@dataclass(frozen=True)
class Fit:
    kind: str          # "scenario" or "study"
    name: str
    task: Optional[str]
    fits: bool
    reason: str        # why not (one line), empty when it fits


def loss_overrides(loss: Optional[str] = None, loss_config: Optional[Path] = None,
                   declarations: Optional[dict[str, str]] = None,
                   kwargs: Optional[dict[str, str]] = None) -> tuple[list[str], Optional[Path]]:
    """The overrides that put the loss into a composition, and the config dir to search
    (``--loss-config``). Raises ValueError on a usage error."""
    declarations = {k: v for k, v in (declarations or {}).items() if v is not None}
    if (loss is None) == (loss_config is None):
        raise ValueError("give exactly one of --loss <import path> or --loss-config <yaml>")
    if loss_config is not None:
        if declarations or kwargs:
            raise ValueError("--loss-config: the file holds the declarations and kwargs")
        loss_config = Path(loss_config).resolve()
        if loss_config.suffix != ".yaml" or loss_config.parent.name != "loss":
            raise ValueError(f"--loss-config {loss_config}: must be <config dir>/loss/<name>.yaml")
        if not loss_config.is_file():
            raise ValueError(f"--loss-config {loss_config}: no such file")
        return [f"loss={loss_config.stem}"], loss_config.parent.parent
    pair = [k for k in declarations if k in PAIRS]
    supervised = [k for k in declarations if k in SUPERVISED]
    if pair and supervised:
        raise ValueError(f"--{pair[0]} (a pair loss's) and --{supervised[0]} (a supervised "
                         "loss's) do not go together")
    option = "custom_pairs" if pair else "custom"
    out = [f"loss={option}", f"loss._target_={loss}"]
    out += [f"loss.{k}={v}" for k, v in declarations.items()]
    out += [f"+loss.kwargs.{k}={v}" for k, v in (kwargs or {}).items()]
    return out, None


def _compose(overrides: list[str], config_dir: Optional[Path]):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    if config_dir is not None:
        paths = ",".join(f"file://{p}" for p in (EXPERIMENTS_DIR, config_dir))
        overrides = [*overrides, f"hydra.searchpath=[{paths}]"]
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def check_fit(kind: str, name: str, overrides: list[str],
              config_dir: Optional[Path] = None) -> Fit:
    """Compose ``overrides`` and run what a run runs before its data loads."""
    from lossbench.config import register_configs, validate
    from lossbench.tasks import task_module

    register_configs()
    task = None
    try:
        cfg = _compose(overrides, config_dir)
        task = cfg.task
        validate(cfg)
        task_module(cfg.task).check(cfg)
    except Exception as e:  # every refusal (schema, composition, task) is a reason
        lines = [line for line in str(e).splitlines() if line.strip()]
        return Fit(kind, name, task, False, lines[0] if lines else type(e).__name__)
    return Fit(kind, name, task, True, "")


def where_it_fits(overrides: list[str], config_dir: Optional[Path] = None) -> list[Fit]:
    """Every scenario, then every study whose arms are losses (``study.arm``, default loss: a
    study comparing optimizers or batch sizes has no loss arm to add), with the loss
    (:func:`loss_overrides`)."""
    from omegaconf import OmegaConf

    out = [check_fit("scenario", p.stem, [f"scenario={p.stem}", *overrides], config_dir)
           for p in sorted((CONF_DIR / "scenario").glob("*.yaml"))]
    out += [check_fit("study", p.stem, [f"+experiment={p.stem}", *overrides], config_dir)
            for p in sorted((EXPERIMENTS_DIR / "experiment").glob("*.yaml"))
            if (OmegaConf.load(p).get("study") or {}).get("arm", "loss") == "loss"]
    return out


def render(fits: Sequence[Fit], option: Optional[str]) -> str:
    lines = []
    for kind, title in (("scenario", "scenarios"), ("study", "studies")):
        lines.append(f"{title}:")
        for f in (f for f in fits if f.kind == kind):
            verdict = "fits" if f.fits else "no  "
            lines.append(f"  {verdict} {f.name:<18} {f.task or '?':<14} {f.reason}".rstrip())
    studies = [f.name for f in fits if f.kind == "study" and f.fits]
    if studies:
        arm = option or "<your loss option: <config dir>/loss/<name>.yaml, see README>"
        lines += ["", "add it as one more arm of a study (same seeds and budget):"]
        lines += [f"  lossbench -m +experiment={s} +challenger={arm}" for s in studies]
    return "\n".join(lines)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="lossbench scenarios",
        description="List the scenarios and studies a loss fits: each is composed with the "
                    "loss and checked before any data loads.")
    ap.add_argument("--loss", metavar="IMPORT_PATH", help="your loss, e.g. my_pkg.losses.MyLoss")
    ap.add_argument("--loss-config", type=Path, metavar="YAML",
                    help="a loss option file, <config dir>/loss/<name>.yaml")
    for key in SUPERVISED + PAIRS:
        ap.add_argument(f"--{key.replace('_', '-')}", dest=key,
                        help=f"the loss's {key} declaration (see loss=custom / custom_pairs)")
    ap.add_argument("--kwarg", action="append", default=[], metavar="KEY=VALUE",
                    help="a keyword argument of the loss's constructor; repeatable")
    return ap.parse_args(list(argv))


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    try:
        bad = [kv for kv in args.kwarg if "=" not in kv]
        if bad:
            raise ValueError(f"--kwarg {bad[0]}: must be KEY=VALUE")
        overrides, config_dir = loss_overrides(
            args.loss, args.loss_config, {k: getattr(args, k) for k in SUPERVISED + PAIRS},
            dict(kv.split("=", 1) for kv in args.kwarg))
    except ValueError as e:
        print(f"lossbench scenarios: error: {e}", file=sys.stderr)
        return 2
    fits = where_it_fits(overrides, config_dir)
    print(render(fits, args.loss_config.stem if args.loss_config else None))
    return 0 if any(f.fits for f in fits) else 1
