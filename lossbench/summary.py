"""A sweep's parent run as its summary: what MLflow's chart view shows without expanding it.

When a sweep ends, :func:`summarize_sweep` reads the parent's child runs and
:func:`lossbench.tracking.close_sweep` logs the result on the parent (step 0).

**Headline.** A study's children carry ``study.headline`` (e.g. ``final_test_rmse``) and
``study.headline_mode`` as params (``+experiment=<study>``); a plain sweep summarizes the
scenario's monitored metric, ``final_<trainer.monitor>`` (mode ``trainer.monitor_mode``).

**Metric names** (stable; filter and chart on them)::

    <headline>.mean.<loss>[.<condition>]      mean over the finished children
    <headline>.ci_low.<loss>[.<condition>]    95 % t-interval (lossbench.stats.mean_ci);
    <headline>.ci_high.<loss>[.<condition>]   absent with a single child
    <headline>.n.<loss>[.<condition>]         children that make the mean
    children.finished, children.failed

e.g. ``final_test_rmse.mean.huber``, ``final_test_roc_auc.ci_low.bce.sgd``. The loss is the
child's ``loss`` tag (the loss option). **Condition rule:** the sweep's other crossed factors.
Each child records its Hydra overrides (tag ``lossbench.overrides``); every override key other
than ``loss`` and ``seed`` whose value differs between children is a condition key, and the
condition is those keys' values in key order, joined by ``.``, with characters other than
letters, digits, ``_`` and ``-`` written ``_`` (``optimizer=sgd`` -> ``sgd``,
``optimizer.lr=0.003`` -> ``0_003``). The parent's tag ``summary.condition_keys`` names them.

**Failed children:** not FINISHED, or without a finite headline (``|x| >= 1e300`` counts as
not finite: SQLite stores infinities as the largest double). Tags ``lossbench.children``,
``lossbench.finished_children``, ``lossbench.failed_children`` repeat the counts.

**Tags** for a study: ``study.claim``, ``study.headline``, ``study.headline_mode``,
``study.guide_loss``, ``study.arm``, ``study.guide_arm`` (those set), ``study.profile``; always ``summary.headline``,
``summary.headline_mode``, ``summary.condition_keys``.

**Verdict** (a study sweep only, once its parent has ended): ``lossbench.tracking.close_sweep``
adds the report's judgement (``lossbench.report.parent_summary``) as tags ``study.verdict``
(supported / refuted / inconclusive), ``study.claim_id``, ``study.claim_type``,
``study.key_number``, and the study's report section with its figures as artifacts under
``report/`` (``<study>.md``, ``<study>.png``, ``<study>_forest.png``).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Run

from lossbench.stats import mean_ci
from lossbench.tracking import PARENT_TAG

OVERRIDES_TAG = "lossbench.overrides"
NOT_CONDITIONS = ("loss", "seed")
STUDY_TAGS = ("claim", "headline", "headline_mode", "guide_loss", "arm", "guide_arm")
HUGE = 1e300


def children_of(client: MlflowClient, parent: Run) -> list[Run]:
    return client.search_runs([parent.info.experiment_id],
                              f"tags.`{PARENT_TAG}` = '{parent.info.run_id}'",
                              max_results=50000)


def headline_of(children: Sequence[Run]) -> tuple[str, str]:
    """(metric, mode): the study's headline, else ``final_<trainer.monitor>``."""
    for c in children:
        p = c.data.params
        if "study.headline" in p:
            return p["study.headline"], p.get("study.headline_mode", "min")
    for c in children:
        p = c.data.params
        if "trainer.monitor" in p:
            return f"final_{p['trainer.monitor']}", p.get("trainer.monitor_mode", "min")
    return "", "min"


def overrides_of(run: Run) -> dict[str, str]:
    """``"loss=huber seed=3 optimizer=sgd"`` -> ``{"loss": "huber", ...}`` (leading ``+``/``~``
    of a key dropped)."""
    out = {}
    for item in run.data.tags.get(OVERRIDES_TAG, "").split():
        if "=" in item:
            key, value = item.split("=", 1)
            out[key.lstrip("+~")] = value
    return out


def condition_keys(children: Sequence[Run]) -> list[str]:
    """Override keys other than loss and seed whose values differ between the children."""
    overrides = [overrides_of(c) for c in children]
    keys = set().union(*overrides) - set(NOT_CONDITIONS) if overrides else set()
    return sorted(k for k in keys if len({o.get(k) for o in overrides}) > 1)


def _clean(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-]", "_", value)


def label(run: Run, keys: Sequence[str]) -> str:
    """``<loss>[.<condition>]`` of a child (see the module's condition rule)."""
    overrides = overrides_of(run)
    loss = run.data.tags.get("loss") or run.data.params.get("loss_name", "?")
    return ".".join([_clean(loss), *(_clean(overrides.get(k, "none")) for k in keys)])


def usable(run: Run, headline: str) -> bool:
    value = run.data.metrics.get(headline)
    return (run.info.status == "FINISHED" and value is not None and math.isfinite(value)
            and abs(value) < HUGE)


def summarize_sweep(client: MlflowClient, parent_run_id: str) -> dict[str, Any]:
    """``{"metrics": {name: value}, "tags": {name: text}}`` for a sweep's parent run (the
    names in the module docstring). The one hook for the parent's summary: the report's
    verdict tags belong in ``tags`` here."""
    parent = client.get_run(parent_run_id)
    children = children_of(client, parent)
    headline, mode = headline_of(children)
    ok = [c for c in children if headline and usable(c, headline)]
    keys = condition_keys(children)
    by_label: dict[str, list[float]] = defaultdict(list)
    for c in ok:
        by_label[label(c, keys)].append(c.data.metrics[headline])
    metrics: dict[str, float] = {"children.finished": len(ok),
                                 "children.failed": len(children) - len(ok)}
    for name, values in sorted(by_label.items()):
        ci = mean_ci(values)
        metrics[f"{headline}.mean.{name}"] = ci.mean
        metrics[f"{headline}.n.{name}"] = ci.n
        if ci.n > 1:
            metrics[f"{headline}.ci_low.{name}"] = ci.low
            metrics[f"{headline}.ci_high.{name}"] = ci.high
    tags = {"lossbench.children": str(len(children)),
            "lossbench.finished_children": str(len(ok)),
            "lossbench.failed_children": str(len(children) - len(ok)),
            "summary.headline": headline, "summary.headline_mode": mode,
            "summary.condition_keys": ",".join(keys)}
    params = next((c.data.params for c in children if "study.headline" in c.data.params), {})
    for key in STUDY_TAGS:
        if params.get(f"study.{key}") not in (None, "None"):
            tags[f"study.{key}"] = params[f"study.{key}"][:5000]
    if params and "profile" in params:
        tags["study.profile"] = params["profile"]
    return {"metrics": metrics, "tags": tags}
