"""Verification with a shared-weight embedding network (siamese / triplet): trained on pairs or
triplets of training identities, scored on fixed pairs of validation and test identities
(ROC-AUC, equal error rate, accuracy at the distance threshold chosen on validation, mean
distance of positive and of negative pairs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from lossbench import pair_plots, plots
from lossbench.config import ConfigError
from lossbench.data.faces import EVAL_PARTS, PairData
from lossbench.data.pairs import PairSampler
from lossbench.losses import ContrastiveLoss, build_loss
from lossbench.metrics import prefixed
from lossbench.tracking import Tracker
from lossbench.train_pairs import fit_pairs
from lossbench.verification import best_threshold, verification_metrics

EMBED_BATCH = 1024
PAIR_LOSSES = "contrastive, cosine_embedding or triplet"
Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class EmbeddingLoss:
    """How a loss consumes embeddings: from pairs or triplets, and the distance it trains."""

    examples: str  # "pairs" (with a 1/0 same label) or "triplets" (anchor, positive, negative)
    loss: Callable[[torch.Tensor, Optional[torch.Tensor]], torch.Tensor]
    distance: Distance


def euclidean(e1: torch.Tensor, e2: torch.Tensor) -> torch.Tensor:
    return (e1 - e2).pow(2).sum(-1).sqrt()


def cosine_distance(e1: torch.Tensor, e2: torch.Tensor) -> torch.Tensor:
    return 1.0 - F.cosine_similarity(e1, e2, dim=-1)


def embedding_loss(loss_fn: nn.Module) -> EmbeddingLoss:
    """The one place that maps embeddings ``(b, k, dim)`` to each loss's inputs:

    * contrastive: pair + label 1 (same) / 0 (different); Euclidean distance
    * cosine embedding: pair + label +1 / -1; cosine distance ``1 - cos``
    * triplet margin: anchor, positive, negative; the loss's p-norm distance
    """
    if isinstance(loss_fn, ContrastiveLoss):
        return EmbeddingLoss("pairs", lambda e, same: loss_fn(e[:, 0], e[:, 1], same), euclidean)
    if isinstance(loss_fn, nn.CosineEmbeddingLoss):
        return EmbeddingLoss("pairs", lambda e, same: loss_fn(e[:, 0], e[:, 1], 2 * same - 1),
                             cosine_distance)
    if isinstance(loss_fn, nn.TripletMarginLoss):
        return EmbeddingLoss("triplets", lambda e, _: loss_fn(e[:, 0], e[:, 1], e[:, 2]),
                             lambda e1, e2: F.pairwise_distance(e1, e2, p=loss_fn.p))
    raise ConfigError(f"loss: the pairs task takes {PAIR_LOSSES}, got {type(loss_fn).__name__}")


def check_config(cfg: DictConfig) -> None:
    """Refuse a loss or a data set that has no place in verification, before loading data."""
    if cfg.loss.get("consumes") != "embeddings":
        raise ConfigError(f"loss={cfg.loss_name} does not take embedding pairs; {cfg.name} is a "
                          f"verification (pairs) task: use {PAIR_LOSSES}")
    if "pairs_per_epoch" not in cfg.data:
        raise ConfigError(f"data: {cfg.name} needs images with identity labels: use "
                          "data=olivetti or data=mnist_pairs")


def run(cfg: DictConfig, data: PairData, device: torch.device,
        tracker: Tracker) -> dict[str, float]:
    mapping = embedding_loss(build_loss(cfg.loss))
    s = data.splits
    x = {part: torch.as_tensor(s.split(part)[0], device=device) for part in ("train", *EVAL_PARTS)}
    fixed = {part: (torch.as_tensor(idx, device=device), same)
             for part, (idx, same) in data.eval_pairs.items()}
    model = instantiate(cfg.model, in_shape=s.x_train.shape[1:]).to(device)
    optimizer = instantiate(cfg.optimizer)(model.parameters())
    sampler = PairSampler(s.y_train, seed=cfg.seed)

    def draw(epoch: int) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        if mapping.examples == "triplets":
            return torch.as_tensor(sampler.triplets(data.pairs_per_epoch), device=device), None
        idx, same = sampler.pairs(data.pairs_per_epoch, data.positive_fraction)
        return (torch.as_tensor(idx, device=device),
                torch.as_tensor(same, device=device, dtype=torch.float32))

    @torch.no_grad()
    def embed(images: torch.Tensor) -> torch.Tensor:
        model.eval()
        return torch.cat([model(images[i:i + EMBED_BATCH])
                          for i in range(0, len(images), EMBED_BATCH)])

    def distances(part: str) -> np.ndarray:
        emb, (idx, _) = embed(x[part]), fixed[part]
        return mapping.distance(emb[idx[:, 0]], emb[idx[:, 1]]).cpu().numpy()

    def evaluate(_model: nn.Module) -> dict[str, float]:
        dist = {part: distances(part) for part in EVAL_PARTS}
        threshold = best_threshold(fixed["val"][1], dist["val"])  # chosen on validation only
        out = {"val_threshold": threshold}
        for part in EVAL_PARTS:
            out |= prefixed(part, verification_metrics(fixed[part][1], dist[part], threshold))
        return out

    tc = cfg.trainer
    result = fit_pairs(model, mapping.loss, optimizer, x["train"], draw, epochs=tc.epochs,
                       batch_size=tc.batch_size, patience=tc.patience, monitor=tc.monitor,
                       monitor_mode=tc.monitor_mode, grad_clip=tc.grad_clip, evaluate=evaluate,
                       on_epoch=lambda e, m: tracker.log_metrics(m, step=e))

    final = {f"final_{k}": v for k, v in evaluate(model).items()}
    final |= {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
              "train_seconds": result.seconds}
    tracker.log_metrics(final, step=result.epochs_run)
    tracker.set_tags({f"data.{k}": v for k, v in data.info.items()})

    if tracker.plots:
        title = f"{cfg.name} / {cfg.loss_name} / seed {cfg.seed}"
        fig = plots.learning_curve(result.history, "roc_auc", title)
        tracker.log_figure(fig, "plots/learning_curve.png")
        plots.close(fig)
        fig = pair_plots.roc(fixed["test"][1], distances("test"), f"test pairs: {title}")
        tracker.log_figure(fig, "plots/roc_test.png")
        plots.close(fig)
        fig = pair_plots.embedding_projection(embed(x["test"]).cpu().numpy(), s.y_test,
                                              f"test embeddings (PCA): {title}", seed=cfg.seed)
        tracker.log_figure(fig, "plots/test_embeddings_pca.png")
        plots.close(fig)
    return final
