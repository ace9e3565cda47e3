"""The report's figures per study: the headline per arm (box + strip plot; the arms are the
losses unless ``study.arm`` names another swept key), and a forest plot of the mean paired
difference of each comparison against zero and the claim's margin."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lossbench import plots  # sets the Agg backend
from lossbench.plots import plt

if TYPE_CHECKING:
    from lossbench.report import Comparison, Study

VERDICT_COLOURS = {"supported": "#2a9d8f", "refuted": "#e63946", "inconclusive": "#6c757d"}


def headline_plot(by_condition: dict[str, dict[str, dict[str, float]]], study: "Study",
                  path: Path) -> Path:
    """Boxes of the per-seed headline values for each (condition, loss), the seeds as dots;
    the guide's loss is drawn in a different colour. Returns ``path``."""
    labels, values, guide = [], [], []
    for cond, by_loss in sorted(by_condition.items()):
        guide_arm = study.guide_in(cond)
        for loss in sorted(by_loss, key=lambda l: (l != guide_arm, l)):
            labels.append(loss if cond == "all" else f"{loss}\n{cond}")
            values.append(np.asarray(list(by_loss[loss].values()), dtype=float))
            guide.append(loss == guide_arm)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(labels) + 1.5), 4.5))
    box = ax.boxplot(values, widths=0.5, patch_artist=True, showfliers=False,
                     medianprops={"color": "black"})
    for patch, is_guide in zip(box["boxes"], guide):
        patch.set_facecolor("#f4a261" if is_guide else "#a8dadc")
    rng = np.random.default_rng(0)
    for i, v in enumerate(values, start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, v.size), v, s=14, color="black", zorder=3)
    ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
    direction = "lower is better" if study.mode == "min" else "higher is better"
    ax.set_ylabel(f"{study.headline} ({direction})")
    whose = f" {study.guide_loss}" if study.arm == "loss" else ""
    ax.set_title(f"{study.name}: {study.headline} per {study.arm} (orange: the guide's"
                 f"{whose})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plots.close(fig)
    return path


def claim_bounds(study: "Study") -> list[float]:
    """Where the claim's margin lies on the scale of d = guide - alternative: nothing for
    superiority, the side the guide may lose by for non-inferiority, both for equivalence."""
    c = study.conf
    if c.margin is None:
        return []
    if c.claim_type == "equivalence":
        return [-c.margin, c.margin]
    return [c.margin if c.headline_mode == "min" else -c.margin]


def forest_plot(rows: Sequence["Comparison"], study: "Study", path: Path,
                alpha: float = 0.05) -> Path:
    """One line per comparison: the mean difference (guide - alternative) with its
    (1 - 2 alpha) t-interval (thick) and BCa bootstrap interval (thin), coloured by verdict,
    against 0 (solid) and the margin (dashed). Returns ``path``."""
    fig, ax = plt.subplots(figsize=(7.0, 1.2 + 0.45 * max(len(rows), 1)))
    for i, r in enumerate(reversed(rows)):
        t = r.test
        colour = VERDICT_COLOURS.get(t.verdict, "black")
        if r.boot is not None and math.isfinite(r.boot.low):
            ax.plot([r.boot.low, r.boot.high], [i - 0.15] * 2, color=colour, lw=1)
        if math.isfinite(t.ci_low):
            ax.plot([t.ci_low, t.ci_high], [i, i], color=colour, lw=3,
                    alpha=1.0 if r.in_claim else 0.45)
        ax.plot([t.mean_diff], [i], "o", color=colour, ms=6)
    labels = [f"vs {r.alternative}" + ("" if r.condition == "all" else f"\n{r.condition}")
              + ("" if r.in_claim else " (info)") for r in reversed(rows)]
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.axvline(0.0, color="black", lw=1)
    for m in claim_bounds(study):
        ax.axvline(m, color="#e76f51", lw=1, ls="--")
    better = "left" if study.mode == "min" else "right"
    level = f"{100 * (1 - 2 * alpha):.0f} %"
    guide = study.guide_loss if study.arm == "loss" else f"guide's {study.arm}"
    ax.set_xlabel(f"{study.headline}: {guide} − alternative (guide better to the "
                  f"{better}); thick: {level} t-CI, thin: BCa", fontsize=8)
    kind = study.conf.claim_type.replace("_", "-")
    ax.set_title(f"{study.name}: {kind}" + (f", margin {study.conf.margin:g} (dashed)"
                                            if study.conf.margin else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plots.close(fig)
    return path
