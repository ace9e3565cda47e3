"""One module per task kind; each exposes ``run(cfg, data, device, tracker) -> final metrics``.

Scenarios are configs: a scenario picks a task kind, and that kind's module does the rest.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def task_module(task: str) -> ModuleType:
    return importlib.import_module(f"lossbench.tasks.{task}")
