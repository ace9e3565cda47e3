"""A claim from the user: a small YAML file in the user's config dir, judged like a guide's.

    # <config dir>/claims/cauchy_vs_huber.yaml
    study: power_outliers           # the study (+experiment=<study>) whose runs judge it
    claim: "Cauchy is non-inferior to Huber on clean test RMSE, within 0.01."
    claim_type: non_inferiority     # superiority | non_inferiority | equivalence
    margin: 0.01                    # headline units, > 0; only for the latter two
    margin_reason: "..."            # one line: why the margin is this size
    guide_loss: cauchy              # the user's loss (the arm added by +challenger=cauchy)
    claim_against: [huber]          # the alternatives the claim names
    headline: final_test_rmse
    headline_mode: min

:func:`load_claim` reads and checks it (one-line errors naming the file and the key);
:func:`judge_user_claim` judges it on the study's runs with lossbench.stats' typed claims
(per alternative :func:`lossbench.stats.claim_test` on the per-seed paired differences
``guide - alternative``, the family Holm-adjusted by :func:`lossbench.stats.claim_verdict`)
and renders a Markdown section in the form of the report's. ``lossbench report`` calls both;
``python -m lossbench.claims <file>`` judges the latest sweep of the claim's study alone.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Optional

from lossbench import stats
from lossbench.schema import ConfigError

REQUIRED = ("study", "claim", "guide_loss", "claim_against", "headline")


@dataclass(frozen=True)
class UserClaim:
    """A user's claim about their loss (``guide_loss``) against ``claim_against`` in one
    study; the fields mean what :class:`lossbench.study_schema.StudyConf`'s do."""

    study: str
    claim: str
    guide_loss: str
    claim_against: tuple[str, ...]
    headline: str
    headline_mode: str = "min"
    claim_type: str = "superiority"
    margin: Optional[float] = None
    margin_reason: Optional[str] = None
    # a label for the report (the guide's claims are C1..C17)
    claim_id: str = "user"

    def __post_init__(self) -> None:
        def need(ok: bool, key: str, allowed: str, value: Any) -> None:
            if not ok:
                raise ConfigError(f"{key}: must be {allowed}, got {value!r}")

        for key in ("study", "guide_loss", "claim_id"):
            need(isinstance(getattr(self, key), str) and bool(getattr(self, key)), key,
                 "a non-empty name", getattr(self, key))
        need(_one_line(self.claim), "claim", "one non-empty line", self.claim)
        need(isinstance(self.headline, str) and self.headline.startswith("final_"), "headline",
             "a final_* metric name (e.g. final_test_rmse)", self.headline)
        need(self.headline_mode in stats.MODES, "headline_mode", "min (lower is better) or max",
             self.headline_mode)
        need(self.claim_type in stats.CLAIM_TYPES, "claim_type",
             f"one of {', '.join(stats.CLAIM_TYPES)}", self.claim_type)
        need(len(self.claim_against) > 0 and all(isinstance(a, str) and a
                                                 for a in self.claim_against),
             "claim_against", "a non-empty list of loss names", list(self.claim_against))
        need(self.guide_loss not in self.claim_against, "claim_against",
             "alternatives to guide_loss, not guide_loss itself", list(self.claim_against))
        if self.claim_type == "superiority":
            need(self.margin is None, "margin", "null for a superiority claim", self.margin)
        else:
            ok = isinstance(self.margin, (int, float)) and not isinstance(self.margin, bool) \
                and math.isfinite(self.margin) and self.margin > 0
            need(ok, "margin", f"> 0, in {self.headline} units, for a {self.claim_type} claim",
                 self.margin)
            need(_one_line(self.margin_reason), "margin_reason",
                 "one line saying why the margin is this size", self.margin_reason)


def _one_line(text: Any) -> bool:
    return isinstance(text, str) and bool(text.strip()) and "\n" not in text.strip()


def claim_from_dict(data: Mapping[str, Any]) -> UserClaim:
    """Build and check a :class:`UserClaim`; unknown and missing keys are named."""
    known = [f.name for f in fields(UserClaim)]
    for key in data:
        if key not in known:
            raise ConfigError(f"{key}: not a claim field (fields: {', '.join(known)})")
    for key in REQUIRED:
        if data.get(key) is None:
            raise ConfigError(f"{key}: missing (required: {', '.join(REQUIRED)})")
    against = data["claim_against"]
    values = dict(data, claim_against=tuple(against) if isinstance(against, (list, tuple))
                  else (against,))
    return UserClaim(**values)


def load_claim(path: "str | Path") -> UserClaim:
    """Read a claim file; every error is one line starting with the file's path."""
    from omegaconf import OmegaConf

    path = Path(path)
    try:
        data = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except Exception as e:  # missing file, YAML syntax
        raise ConfigError(f"{path}: cannot read a claim ({type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else ''})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a claim is a mapping of fields, got {type(data).__name__}")
    try:
        return claim_from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


# --------------------------------------------------------------------------- judging
@dataclass(frozen=True)
class Comparison:
    alternative: str
    seeds: tuple[str, ...]
    test: stats.ClaimTest  # Holm-adjusted over the claim's alternatives


@dataclass(frozen=True)
class Judgement:
    claim: UserClaim
    verdict: str
    comparisons: tuple[Comparison, ...]
    missing: tuple[str, ...]  # named losses with no runs (the guide's or alternatives)
    markdown: str


def _seed_key(seed: str) -> tuple[int, str]:
    return (len(seed), seed)


def judge_user_claim(claim: UserClaim, values: Mapping[str, Mapping[str, float]],
                     alpha: float = 0.05) -> Judgement:
    """Judge ``claim`` on ``values`` (loss -> seed -> headline value): per alternative the
    paired differences ``guide - alternative`` over their common seeds, tested by
    :func:`lossbench.stats.claim_test`; the family by :func:`lossbench.stats.claim_verdict`
    (Holm; supported only when every alternative is, refuted when any is). A named loss
    without runs makes the claim inconclusive."""
    guide = values.get(claim.guide_loss, {})
    tests, missing = [], []
    if not guide:
        missing.append(claim.guide_loss)
    for alt in claim.claim_against:
        other = values.get(alt, {})
        if not other:
            missing.append(alt)
            continue
        seeds = sorted(set(guide) & set(other), key=_seed_key)
        diffs = stats.paired_differences([guide[s] for s in seeds], [other[s] for s in seeds])
        tests.append((alt, tuple(seeds), stats.claim_test(
            diffs, claim.headline_mode, claim.claim_type, claim.margin or 0.0, alpha)))
    family = stats.claim_verdict([t for _, _, t in tests], alpha)
    comparisons = tuple(Comparison(alt, seeds, adjusted)
                        for (alt, seeds, _), adjusted in zip(tests, family.comparisons))
    verdict = stats.INCONCLUSIVE if missing else family.verdict
    judged = Judgement(claim, verdict, comparisons, tuple(missing), markdown="")
    return replace(judged, markdown=render_markdown(judged, values))


def _f(x: Optional[float]) -> str:
    if x is None or math.isnan(x):
        return "–"
    return f"{x:.4g}"


def _p(p: Optional[float]) -> str:
    if p is None or math.isnan(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def render_markdown(j: Judgement, values: Mapping[str, Mapping[str, float]]) -> str:
    """The claim's section: the claim, its verdict, each loss's mean over seeds, and each
    comparison with its (1 - 2 alpha) interval and Holm-adjusted p-values."""
    c = j.claim
    direction = "lower is better" if c.headline_mode == "min" else "higher is better"
    kind = c.claim_type.replace("_", "-")
    margin = f", margin {c.margin:g}" if c.margin is not None else ""
    label = "" if c.claim_id == "user" else f" {c.claim_id}"
    lines = [f"## {c.study}: user claim{label}", "",
             f"**Claim** ({kind}{margin}): {c.claim}", ""]
    if c.margin_reason:
        lines += [f"**Margin:** {c.margin_reason}", ""]
    lines.append(f"**Verdict:** {j.verdict}. Headline `{c.headline}` ({direction}); "
                 f"{c.guide_loss} against {', '.join(c.claim_against)}.")
    if j.missing:
        lines += ["", f"No runs of {', '.join(j.missing)}: add the arm "
                  f"(`lossbench -m +experiment={c.study} +challenger=<loss>`)."]
    lines += ["", "| loss | seeds | mean | 95 % CI |", "|---|---|---|---|"]
    for loss in (c.guide_loss, *c.claim_against):
        if values.get(loss):
            ci = stats.mean_ci(list(values[loss].values()))
            name = f"**{loss}**" if loss == c.guide_loss else loss
            lines.append(f"| {name} | {ci.n} | {_f(ci.mean)} | [{_f(ci.low)}, {_f(ci.high)}] |")
    if j.comparisons:
        level = j.comparisons[0].test.ci_level
        lines += ["", f"| alternative | pairs | mean diff ({c.guide_loss} − alt) | "
                  f"{level:.0%} CI | p | p (Holm) | verdict |", "|---|---|---|---|---|---|---|"]
        for cmp in j.comparisons:
            t = cmp.test
            lines.append(f"| {cmp.alternative} | {t.n} | {_f(t.mean_diff)} | "
                         f"[{_f(t.ci_low)}, {_f(t.ci_high)}] | {_p(t.p_value)} | "
                         f"{_p(t.p_adjusted)} | **{t.verdict}** |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- reading MLflow
def latest_sweep_values(client: Any, experiment: str, headline: str
                        ) -> dict[str, dict[str, float]]:
    """loss -> seed -> headline of the FINISHED runs of ``experiment``'s newest sweep
    (tags ``loss`` and ``seed``, as lossbench logs them). A loss with two runs for one seed
    (a swept condition, e.g. the optimizer) is refused: ``lossbench report`` pairs those."""
    from lossbench.tracking import PARENT_TAG

    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise ConfigError(f"study: no MLflow experiment {experiment!r} in this store")
    parents = client.search_runs([exp.experiment_id], "tags.`lossbench.role` = 'sweep'",
                                 order_by=["attributes.start_time DESC"], max_results=1)
    if not parents:
        raise ConfigError(f"study: experiment {experiment!r} has no sweep "
                          f"(run lossbench -m +experiment={experiment})")
    children = client.search_runs(
        [exp.experiment_id], f"tags.`{PARENT_TAG}` = '{parents[0].info.run_id}'",
        max_results=50000)
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for r in children:
        value = r.data.metrics.get(headline)
        if r.info.status != "FINISHED" or value is None or not math.isfinite(value):
            continue
        loss, seed = r.data.tags.get("loss", "?"), r.data.tags.get("seed", "?")
        if seed in out[loss]:
            raise ConfigError(f"study: {experiment}'s sweep has several {loss} runs for seed "
                              f"{seed} (a swept condition): judge it with lossbench report")
        out[loss][seed] = value
    return dict(out)


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m lossbench.claims",
                                 description="Judge a user's claim file on the latest sweep "
                                             "of its study in an MLflow store.")
    ap.add_argument("claim", type=Path, help="the claim YAML file")
    ap.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI",
                                                              "sqlite:///mlflow.db"))
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args(list(argv))
    from mlflow import MlflowClient

    try:
        claim = load_claim(args.claim)
        values = latest_sweep_values(MlflowClient(tracking_uri=args.tracking_uri),
                                     claim.study, claim.headline)
    except ConfigError as e:
        print(f"lossbench claims: error: {e}", file=sys.stderr)
        return 2
    print(judge_user_claim(claim, values, args.alpha).markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
