"""What the study commands share (``lossbench study``, ``lossbench tune``): the config a
sweep's jobs compose, the ``--sweep-root`` option and the one-line error. Kept apart from
:mod:`lossbench.study`, which loads scipy for its statistics: ``lossbench.app`` imports
:mod:`lossbench.tune`, and through it this module, for every run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def split_overrides(overrides: Sequence[str]) -> list[str]:
    """The overrides that compose a single config (sweep overrides such as ``loss=a,b`` are
    left out: they only narrow the sweep)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(overrides))
    return [o.input_line for o in parsed if not o.is_sweep_override()]


def compose_sweep(overrides: Sequence[str], return_hydra_config: bool = False):
    """The config a job of this sweep composes (its sweep values aside: see
    :func:`split_overrides`); with ``return_hydra_config`` the hydra node too (sweep params)."""
    from hydra import compose, initialize_config_dir

    from lossbench.config import register_configs
    from lossbench.ui import CONF_DIR

    register_configs()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=split_overrides(overrides),
                       return_hydra_config=return_hydra_config)


def add_sweep_root(ap: argparse.ArgumentParser, each: str, default: str) -> None:
    """A study command's ``--sweep-root``: one sweep dir per ``each`` under it."""
    ap.add_argument("--sweep-root", type=Path, default=None,
                    help=f"one sweep dir per {each} under it (default: {default})")


def command_error(prog: str, message: str) -> int:
    """Print a command's one-line error; its exit status (2, a user error)."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2
