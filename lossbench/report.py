"""``lossbench report``: judge each case study's claim from its runs in MLflow, as Markdown.

A study is one sweep (``lossbench -m +experiment=<study>``): a parent run with one child run
per job. Each child carries the study's declaration as params (``study.headline``,
``study.headline_mode``, ``study.paired_loss``, ``study.claim``, ``study.optimizer_pairing.*``),
so the report needs nothing but the store. Per study it writes each loss's headline metric
(mean and 95 % t-interval over seeds), a strip/box plot (PNG beside the report), and the paired
comparison of the guide's loss against every alternative (lossbench.stats: verdict rule).

Runs are paired by seed within a *condition*: the swept params other than loss and seed
(e.g. the optimizer). Params that follow from the loss (a GAN loss picks its optimizer) or
from the seed (``data.split_seed``) do not make a condition.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from mlflow import MlflowClient
from mlflow.entities import Run

from lossbench import stats
from lossbench.tracking import PARENT_TAG

SEED_KEYS = ("seed", "data.split_seed", "run_name")
STUDY_KEY = "study.headline"


class ReportError(RuntimeError):
    """Nothing to report: unknown experiment, no sweep, or runs without a study."""


# --------------------------------------------------------------------------- reading MLflow
@dataclass
class Study:
    """One sweep of one case study, read back from MLflow."""

    experiment: str
    parent_id: str
    runs: list[Run]               # FINISHED children that logged the headline
    failed: int                   # children not FINISHED (or missing the headline)
    headline: str
    mode: str
    paired_loss: str
    claim: str
    profile: str
    optimizer_pairing: dict[str, str] = field(default_factory=dict)
    # the alternatives the claim names (empty: all); only they decide the study's verdict
    claim_against: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.experiment


def _children(client: MlflowClient, exp_id: str, parent_id: str) -> list[Run]:
    return client.search_runs([exp_id], f"tags.`{PARENT_TAG}` = '{parent_id}'",
                              max_results=50000)


def _parents(client: MlflowClient, exp_id: str) -> list[Run]:
    return client.search_runs([exp_id], "tags.`lossbench.role` = 'sweep'",
                              order_by=["attributes.start_time DESC"], max_results=10000)


def _study_from(exp_name: str, parent: Run, children: list[Run]) -> Optional[Study]:
    declared = [c for c in children if STUDY_KEY in c.data.params]
    if not declared:
        return None
    p = next((c for c in declared if c.info.status == "FINISHED"), declared[0]).data.params
    headline = p[STUDY_KEY]
    ok = [c for c in declared if c.info.status == "FINISHED" and headline in c.data.metrics
          and math.isfinite(c.data.metrics[headline])]
    pairing = {k.rsplit(".", 1)[1]: v for k, v in p.items()
               if k.startswith("study.optimizer_pairing.")}
    against = p.get("study.claim_against", "[]").strip("[]")
    return Study(experiment=exp_name, parent_id=parent.info.run_id, runs=ok,
                 failed=len(children) - len(ok), headline=headline,
                 mode=p.get("study.headline_mode", "min"), paired_loss=p.get("study.paired_loss", "?"),
                 claim=p.get("study.claim", ""), profile=p.get("profile", "None"),
                 optimizer_pairing=pairing,
                 claim_against=[a.strip(" '\"") for a in against.split(",") if a.strip()])


def load_studies(client: MlflowClient, experiments: Sequence[str] = (),
                 sweep: str = "latest") -> list[Study]:
    """The studies to report: per experiment (all with study sweeps when none are named),
    the sweep parent ``sweep`` (a run id) or the latest sweep whose runs declare a study."""
    if experiments:
        exps = []
        for name in experiments:
            exp = client.get_experiment_by_name(name)
            if exp is None:
                known = sorted(e.name for e in client.search_experiments())
                raise ReportError(f"--experiment {name}: no such MLflow experiment "
                                  f"(known: {', '.join(known) or 'none'})")
            exps.append(exp)
    else:
        exps = client.search_experiments()
    if sweep != "latest":
        parent = client.get_run(sweep)  # raises a clear MlflowException for unknown ids
        if parent.data.tags.get("lossbench.role") != "sweep":
            raise ReportError(f"--sweep {sweep}: run is not a lossbench sweep parent")
        exps = [e for e in exps if e.experiment_id == parent.info.experiment_id]
        if not exps:
            raise ReportError(f"--sweep {sweep}: its experiment is not among --experiment")
    studies = []
    for exp in exps:
        parents = _parents(client, exp.experiment_id)
        if sweep != "latest":
            parents = [r for r in parents if r.info.run_id == sweep]
        for parent in parents:  # newest first: the first sweep that declares a study
            study = _study_from(exp.name, parent,
                                _children(client, exp.experiment_id, parent.info.run_id))
            if study is not None:
                studies.append(study)
                break
        else:
            if experiments or sweep != "latest":
                raise ReportError(f"experiment {exp.name}: no sweep with study runs "
                                  "(run lossbench -m +experiment=<study>)")
    if not studies:
        raise ReportError("no study sweeps in this store (run lossbench -m +experiment=<study>)")
    return sorted(studies, key=lambda s: s.name)


# --------------------------------------------------------------------------- grouping
def _loss(run: Run) -> str:
    return run.data.tags.get("loss") or run.data.params.get("loss_name", "?")


def _seed(run: Run) -> str:
    return run.data.tags.get("seed") or run.data.params.get("seed", "?")


def _short(key: str, value: str) -> str:
    """``optimizer._target_=torch.optim.SGD`` -> ``optimizer=SGD``."""
    if key.endswith("._target_"):
        return f"{key[:-len('._target_')]}={value.rsplit('.', 1)[-1]}"
    return f"{key}={value}"


def condition_keys(runs: Sequence[Run]) -> list[str]:
    """Params that vary across the runs but follow neither from the loss nor from the seed."""
    keys = set().union(*(r.data.params for r in runs)) if runs else set()
    out = []
    for key in sorted(keys):
        if key in SEED_KEYS or key.startswith("loss.") or key in ("loss_name",):
            continue
        values = {r.data.params.get(key) for r in runs}
        if len(values) < 2:
            continue
        per_loss: dict[str, set] = defaultdict(set)
        for r in runs:
            per_loss[_loss(r)].add(r.data.params.get(key))
        if all(len(v) == 1 for v in per_loss.values()):
            continue  # picked by the loss (e.g. a GAN loss's optimizer)
        out.append(key)
    # a sub-key of a varying _target_ (optimizer.momentum ...) adds nothing to the label
    targets = {k[:-len("._target_")] for k in out if k.endswith("._target_")}
    return [k for k in out if k.endswith("._target_") or k.split(".", 1)[0] not in targets]


def condition_of(run: Run, keys: Sequence[str]) -> str:
    return ", ".join(_short(k, run.data.params.get(k, "?")) for k in keys) or "all"


def grouped(study: Study) -> dict[str, dict[str, dict[str, float]]]:
    """condition -> loss -> seed -> headline value."""
    keys = condition_keys(study.runs)
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in study.runs:
        out[condition_of(r, keys)][_loss(r)][_seed(r)] = r.data.metrics[study.headline]
    return out


def _optimizer(run: Run) -> str:
    return run.data.params.get("optimizer._target_", "?").rsplit(".", 1)[-1].lower()


# --------------------------------------------------------------------------- comparisons
@dataclass(frozen=True)
class Row:
    condition: str
    paired: str
    alternative: str
    result: stats.PairedComparison


def _pair(a: dict[str, float], b: dict[str, float]) -> tuple[list[float], list[float]]:
    seeds = sorted(set(a) & set(b), key=lambda s: (len(s), s))
    return [a[s] for s in seeds], [b[s] for s in seeds]


def loss_comparisons(study: Study, alpha: float = 0.05) -> list[Row]:
    rows = []
    for cond, by_loss in sorted(grouped(study).items()):
        if study.paired_loss not in by_loss:
            continue
        for alt in sorted(by_loss):
            if alt == study.paired_loss:
                continue
            x, y = _pair(by_loss[study.paired_loss], by_loss[alt])
            rows.append(Row(cond, study.paired_loss, alt,
                            stats.paired_verdict(x, y, study.mode, alpha)))
    return rows


def optimizer_comparisons(study: Study, alpha: float = 0.05) -> list[Row]:
    """Each loss with the guide's optimizer against the same loss with another one."""
    rows = []
    by: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for r in study.runs:
        by[(_loss(r), _optimizer(r))][_seed(r)] = r.data.metrics[study.headline]
    for loss, opt in sorted(study.optimizer_pairing.items()):
        if (loss, opt) not in by:
            continue
        for (other_loss, other_opt), values in sorted(by.items()):
            if other_loss != loss or other_opt == opt:
                continue
            x, y = _pair(by[(loss, opt)], values)
            rows.append(Row(loss, f"{loss} + {opt}", f"{loss} + {other_opt}",
                            stats.paired_verdict(x, y, study.mode, alpha)))
    return rows


# --------------------------------------------------------------------------- Markdown
def _f(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return f"{x:.4g}"


def _p(p: float) -> str:
    return "–" if math.isnan(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def _verdict_rows(rows: Sequence[Row], first: str) -> list[str]:
    out = [f"| {first} | paired | alternative | pairs | mean diff (paired − alt) | d_z | p | verdict |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c = r.result
        out.append(f"| {r.condition} | {r.paired} | {r.alternative} | {c.n} | {_f(c.mean_diff)} "
                   f"| {_f(c.d_z)} | {_p(c.p_value)} | **{c.verdict}** |")
    return out


RULE = ("Verdict rule: per condition, runs are paired by seed and the difference "
        "(paired loss − alternative) is tested with a two-sided paired t-test "
        "(`scipy.stats.ttest_rel`). **supported**: the paired loss is better with p < {alpha}; "
        "**not supported**: it is worse with p < {alpha}; **inconclusive**: otherwise. "
        "Effect size: the mean paired difference and Cohen's d_z = mean / sd of the differences. "
        "A study's claim is supported when every comparison it names (`study.claim_against`; "
        "default: every alternative) is, not supported when any of them is, inconclusive "
        "otherwise. Means carry a 95 % t-interval over seeds.")


def render(studies: Sequence[Study], out: Path, tracking_uri: str, alpha: float = 0.05,
           plots: bool = True) -> str:
    """Write the report to ``out`` (PNG plots beside it) and return its text."""
    from lossbench import report_plots

    out.parent.mkdir(parents=True, exist_ok=True)
    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    summary = ["| study | profile | headline | guide's loss | claim | verdict |",
               "|---|---|---|---|---|---|"]
    body: list[str] = []
    for s in studies:
        rows = loss_comparisons(s, alpha)
        judged = [r for r in rows if not s.claim_against or r.alternative in s.claim_against]
        verdict = stats.overall_verdict([r.result.verdict for r in judged])
        direction = "lower is better" if s.mode == "min" else "higher is better"
        summary.append(f"| [{s.name}](#{s.name.lower()}) | {s.profile} | "
                       f"`{s.headline}` ({direction}) | {s.paired_loss} | {s.claim} | "
                       f"**{verdict}** |")
        body += ["", f"## {s.name}", "",
                 f"**Claim:** {s.claim}", "",
                 f"**Verdict:** {verdict}. Headline `{s.headline}` ({direction}); sweep parent "
                 f"run `{s.parent_id}`, profile `{s.profile}`, {len(s.runs)} finished runs"
                 + (f", {s.failed} failed or without the metric" if s.failed else "") + ".", "",
                 "| condition | loss | seeds | mean | 95 % CI |", "|---|---|---|---|---|"]
        for cond, by_loss in sorted(grouped(s).items()):
            for loss in sorted(by_loss, key=lambda l: (l != s.paired_loss, l)):
                ci = stats.mean_ci(list(by_loss[loss].values()))
                name = f"**{loss}**" if loss == s.paired_loss else loss
                body.append(f"| {cond} | {name} | {ci.n} | {_f(ci.mean)} | "
                            f"[{_f(ci.low)}, {_f(ci.high)}] |")
        if plots:
            png = report_plots.headline_plot(grouped(s), s, out.parent / f"{s.name}.png")
            body += ["", f"![{s.headline} per loss]({png.name})"]
        against = (f" The claim is judged against {', '.join(s.claim_against)} only; the "
                   "other rows are for information." if s.claim_against else "")
        body += ["", f"Paired comparison of **{s.paired_loss}** with each alternative.{against}",
                 ""]
        body += _verdict_rows(rows, "condition")
        opt_rows = optimizer_comparisons(s, alpha)
        if opt_rows:
            body += ["", "Optimizer pairing (the guide's optimizer for each loss against the "
                     "others, same loss, paired by seed):", ""]
            body += _verdict_rows(opt_rows, "loss")
    text = "\n".join(["# Loss-function case studies", "",
                      f"Generated by `lossbench report` on {now} from `{tracking_uri}`.", "",
                      RULE.format(alpha=alpha), "", *summary, *body, ""])
    out.write_text(text)
    return text


# --------------------------------------------------------------------------- CLI
def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="lossbench report",
        description="Write a Markdown report (with PNG plots) of the case-study sweeps in an "
                    "MLflow store: per study each loss's headline metric (mean, 95 % CI over "
                    "seeds) and the paired verdict on the guide's claim.")
    ap.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI",
                                                              "sqlite:///mlflow.db"),
                    help="MLflow store (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)")
    ap.add_argument("--experiment", action="append", default=[], metavar="NAME",
                    help="MLflow experiment (= scenario) to report; repeatable (default: every "
                         "experiment with a study sweep)")
    ap.add_argument("--sweep", default="latest",
                    help="a sweep parent run id, or 'latest' (default): each experiment's "
                         "newest sweep with study runs")
    ap.add_argument("--out", default="experiments/REPORT.md", type=Path,
                    help="Markdown file to write; plots go beside it (default: %(default)s)")
    ap.add_argument("--alpha", default=0.05, type=float, help="significance level (0.05)")
    ap.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    return ap.parse_args(list(argv))


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if not 0.0 < args.alpha < 1.0:
        print(f"lossbench report: error: --alpha must be in (0, 1), got {args.alpha}",
              file=sys.stderr)
        return 2
    try:
        studies = load_studies(MlflowClient(tracking_uri=args.tracking_uri), args.experiment,
                               args.sweep)
    except ReportError as e:
        print(f"lossbench report: error: {e}", file=sys.stderr)
        return 2
    render(studies, args.out, args.tracking_uri, args.alpha, plots=not args.no_plots)
    print(f"lossbench report: {len(studies)} studies -> {args.out}")
    return 0
