"""``lossbench --help``: the commands and every config group's options, without composing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lossbench import cli

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_option_of_every_group_and_every_study(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["lossbench", "--help"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    lines = dict(line.strip().split(": ", 1) for line in out.splitlines()
                 if line.startswith("  ") and ": " in line and not line.strip().startswith("lossbench"))
    for group in ("data", "loss", "model", "optimizer", "scenario", "trainer"):
        assert lines[group].split(", ") == sorted(p.stem for p in (ROOT / "conf" / group).glob("*.yaml"))
    assert "power_outliers" in lines["+experiment"].split(", ")
    assert lines["profile"] == "full, quick"
    assert "lossbench -m +experiment=<study>" in out


def test_the_app_module_imports_no_heavy_library():
    """Hydra imports lossbench.app for every command, ``--cfg job`` included: torch, MLflow,
    scikit-learn, scipy (the report's statistics), matplotlib and numpy load where a job
    first needs them. scipy.stats came in through lossbench.tune -> lossbench.study ->
    lossbench.stats and cost 0.85 s per process (1.30 s -> 0.45 s for the import)."""
    import subprocess

    heavy = ["torch", "mlflow", "sklearn", "scipy", "matplotlib", "numpy", "optuna"]
    code = ("import sys, lossbench.app; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
