"""``lossbench`` console script: runs the Hydra app (``lossbench [overrides]``, ``-m`` sweeps);
``lossbench report [options]`` writes the case-study report (lossbench.report);
``lossbench ui [--host H] [--port P] [overrides]`` serves the MLflow UI on the run's store
(lossbench.ui)."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["report"]:
        from lossbench.report import main as report_main

        raise SystemExit(report_main(sys.argv[2:]))
    if sys.argv[1:2] == ["ui"]:
        from lossbench.ui import main as ui_main

        raise SystemExit(ui_main(sys.argv[2:]))
    from lossbench.app import hydra_main

    hydra_main()
