"""``lossbench`` console script: runs the Hydra app (``lossbench [overrides]``, ``-m`` sweeps);
``lossbench report [options]`` writes the case-study report (lossbench.report);
``lossbench scenarios --loss ...`` lists where a loss fits (lossbench.scenarios)."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["report"]:
        from lossbench.report import main as report_main

        raise SystemExit(report_main(sys.argv[2:]))
    if sys.argv[1:2] == ["scenarios"]:
        from lossbench.scenarios import main as scenarios_main

        raise SystemExit(scenarios_main(sys.argv[2:]))
    from lossbench.app import hydra_main

    hydra_main()
