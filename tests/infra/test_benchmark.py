"""experiments/benchmark.py runs and reports ratios (no timing is asserted)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT, run_python


@pytest.mark.slow
def test_benchmark_smoke(tmp_path):
    out = tmp_path / "bench.json"
    proc = run_python(str(ROOT / "experiments" / "benchmark.py"), "--scenario", "diabetes",
                      "--repeats", "1", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "diabetes" in proc.stdout and "time x" in proc.stdout
    res = json.loads(out.read_text())["diabetes"]
    for side in ("lossbench", "baseline"):
        assert {"seconds", "py_peak_mb", "rss_peak_mb", "import_s"} <= set(res[side])
        assert res[side]["seconds"] > 0 and res[side]["rss_peak_mb"] > 0
    assert res["ratio"]["time"] > 0 and res["ratio"]["rss"] > 0
