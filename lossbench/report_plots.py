"""The report's figure: one box + strip plot per study of the headline metric per loss."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lossbench import plots  # sets the Agg backend
from lossbench.plots import plt

if TYPE_CHECKING:
    from lossbench.report import Study


def headline_plot(by_condition: dict[str, dict[str, dict[str, float]]], study: "Study",
                  path: Path) -> Path:
    """Boxes of the per-seed headline values for each (condition, loss), the seeds as dots;
    the guide's loss is drawn in a different colour. Returns ``path``."""
    labels, values, paired = [], [], []
    for cond, by_loss in sorted(by_condition.items()):
        for loss in sorted(by_loss, key=lambda l: (l != study.paired_loss, l)):
            labels.append(loss if cond == "all" else f"{loss}\n{cond}")
            values.append(np.asarray(list(by_loss[loss].values()), dtype=float))
            paired.append(loss == study.paired_loss)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(labels) + 1.5), 4.5))
    box = ax.boxplot(values, widths=0.5, patch_artist=True, showfliers=False,
                     medianprops={"color": "black"})
    for patch, is_paired in zip(box["boxes"], paired):
        patch.set_facecolor("#f4a261" if is_paired else "#a8dadc")
    rng = np.random.default_rng(0)
    for i, v in enumerate(values, start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, v.size), v, s=14, color="black", zorder=3)
    ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
    direction = "lower is better" if study.mode == "min" else "higher is better"
    ax.set_ylabel(f"{study.headline} ({direction})")
    ax.set_title(f"{study.name}: {study.headline} per loss (orange: the guide's "
                 f"{study.paired_loss})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plots.close(fig)
    return path
