"""The task kinds. Each lives in one package, ``lossbench/tasks/<package>/``, holding its
schema, data loaders, models, the losses torch lacks, its loop, metrics, plots and ``run``.

Adding a task kind: a folder with ``schema.py`` (``SCHEMAS``, no torch import) and a module
with ``check(cfg)`` and ``run(cfg, data, device, tracker) -> final metrics``, plus one line here.
Scenarios are configs: a scenario's ``task:`` picks the kind.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# task kind -> the module with its check() and run()
TASKS: dict[str, str] = {
    "regression": "lossbench.tasks.supervised.regression",
    "classification": "lossbench.tasks.supervised.classification",
    "pairs": "lossbench.tasks.pairs.run",
    "gan": "lossbench.tasks.gan.run",
}


def task_module(task: str) -> ModuleType:
    return importlib.import_module(TASKS[task])


def schema_modules() -> list[str]:
    """The schema module of every task package (each package once)."""
    packages = dict.fromkeys(m.rsplit(".", 1)[0] for m in TASKS.values())
    return [f"{p}.schema" for p in packages]
