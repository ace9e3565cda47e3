"""``lossbench`` console script: runs the Hydra app (``lossbench [overrides]``, ``-m`` sweeps)."""

from __future__ import annotations


def main() -> None:
    from lossbench.app import hydra_main

    hydra_main()
