"""Verification with a shared-weight embedding network (siamese / triplet): trained on pairs or
triplets of training identities, scored on fixed pairs of validation and test identities
(ROC-AUC, equal error rate, accuracy at the distance threshold chosen on validation, mean
distance of positive and of negative pairs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from lossbench.loop import once_per_weights
from lossbench.plots import learning_curve
from lossbench.runner import EpochTask, run_epochs, run_title
from lossbench.schema import ConfigError, TrainerConf, check_group, check_monitor
from lossbench.tasks.pairs import plots
from lossbench.tasks.pairs.data import EVAL_PARTS, PairData
from lossbench.tasks.pairs.loop import pair_losses
from lossbench.tasks.pairs.metrics import VERIFICATION, best_threshold, verification_metrics
from lossbench.tasks.pairs.sampler import PairPool, PairSampler
from lossbench.tasks.pairs.schema import (EmbeddingCNNConf, LFWPairsConf, PairDataConf,
                                          PairLossConf)
from lossbench.targets import check_loss_target, loss_kwargs
from lossbench.torchutil import in_chunks, place
from lossbench.tracking import Tracker

# images per forward pass when a split is embedded: the activations must fit the CPU's caches
# (EmbeddingCNN on 400 64x64 faces, one thread: 0.51 s in batches of 64, 0.96 s of 1,024; the
# same outputs, bit for bit)
EMBED_BATCH = 64
PAIR_LOSSES = ("contrastive, cosine_embedding, triplet or your own: loss=custom_pairs "
               "loss._target_=...")


@dataclass(frozen=True)
class PairLossSpec:
    """What a pair loss declares (:class:`PairLossConf`), read once: ``examples`` (pairs or
    triplets), the pair ``label`` encoding (binary 1/0, sign +1/-1, none) and the ``distance``
    it trains, which evaluation uses too (``pnorm`` with the loss's ``p``)."""

    examples: str
    label: str
    distance: str
    p: Optional[float]  # the p-norm of distance=pnorm (the loss's own ``p``), else None

    def distance_fn(self, e1: torch.Tensor, e2: torch.Tensor) -> torch.Tensor:
        if self.distance == "cosine":
            return 1.0 - F.cosine_similarity(e1, e2, dim=-1)
        if self.distance == "pnorm":
            return F.pairwise_distance(e1, e2, p=self.p)
        return (e1 - e2).pow(2).sum(-1).sqrt()

    def batch_loss(self, loss_fn: torch.nn.Module, emb: torch.Tensor,
                   same: Optional[torch.Tensor]) -> torch.Tensor:
        """The loss of embeddings ``(b, k, dim)``: a pair with its label, or a triplet."""
        if self.examples == "triplets":
            return loss_fn(emb[:, 0], emb[:, 1], emb[:, 2])
        label = same if self.label == "binary" else 2 * same - 1
        return loss_fn(emb[:, 0], emb[:, 1], label)


DECLARATIONS = ("examples", "label", "distance")


def loss_spec(cfg: DictConfig) -> PairLossSpec:
    check_group(cfg, "loss", PairLossConf, f"use a pair loss: {PAIR_LOSSES}")
    check_loss_target(cfg.loss, DECLARATIONS)
    p = loss_kwargs(cfg.loss, DECLARATIONS).get("p") if cfg.loss.distance == "pnorm" else None
    if cfg.loss.distance == "pnorm" and p is None:
        raise ConfigError("loss.p: distance=pnorm needs the loss's p-norm (loss.p)")
    return PairLossSpec(**{k: cfg.loss[k] for k in DECLARATIONS}, p=p)


def build_loss(cfg_loss: DictConfig) -> torch.nn.Module:
    """Instantiate a pair loss without its declarations (a custom loss's kwargs spread in)."""
    return instantiate({"_target_": cfg_loss._target_, **loss_kwargs(cfg_loss, DECLARATIONS)})


def check(cfg: DictConfig) -> None:
    """Refuse a loss, data set, model or trainer that has no place in verification."""
    spec = loss_spec(cfg)
    check_group(cfg, "data", PairDataConf, "use face or image pairs: data=olivetti, "
                "data=lfw_pairs or data=mnist_pairs")
    if spec.examples == "triplets" and isinstance(OmegaConf.get_type(cfg.data), type) \
            and issubclass(OmegaConf.get_type(cfg.data), LFWPairsConf):
        raise ConfigError(f"loss={cfg.loss_name} needs triplets, but data=lfw_pairs comes as "
                          "fixed pairs without identities: use contrastive or cosine_embedding")
    check_group(cfg, "model", EmbeddingCNNConf, "use model=embedding_cnn")
    check_group(cfg, "trainer", TrainerConf, "use trainer=supervised (epochs, early stopping)")
    check_monitor(cfg, ["train_loss", *(f"val_{k}" for k in ("threshold", *VERIFICATION))])
    if cfg.trainer.diagnostics:
        raise ConfigError("trainer.diagnostics: must be false for verification (its training "
                          "identities have no fixed pairs to score)")


def run(cfg: DictConfig, data: PairData, device: torch.device,
        tracker: Tracker) -> dict[str, float]:
    spec = loss_spec(cfg)
    loss_fn = build_loss(cfg.loss)
    s = data.splits
    dtype = getattr(torch, cfg.trainer.dtype)  # float64: the reference run's exact arithmetic
    x = {part: torch.as_tensor(s.split(part)[0], device=device, dtype=dtype)
         for part in ("train", *EVAL_PARTS)}
    fixed = {part: (torch.as_tensor(idx, device=device), same)
             for part, (idx, same) in data.eval_pairs.items()}
    model = place(instantiate(cfg.model, in_shape=s.x_train.shape[1:]), device, dtype)
    sampler = (PairSampler(s.y_train, seed=cfg.seed) if data.train_pairs is None
               else PairPool(*data.train_pairs, seed=cfg.seed))

    def draw(epoch: int) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        if spec.examples == "triplets":
            return torch.as_tensor(sampler.triplets(data.pairs_per_epoch), device=device), None
        idx, same = sampler.pairs(data.pairs_per_epoch, data.positive_fraction)
        return (torch.as_tensor(idx, device=device),
                torch.as_tensor(same, device=device, dtype=dtype))

    @torch.no_grad()
    def embed(images: torch.Tensor) -> torch.Tensor:
        model.eval()
        return in_chunks(model, images, EMBED_BATCH)

    embedded = once_per_weights(model, embed, x)  # the final scores and figures share them

    def distances(part: str) -> np.ndarray:
        emb, (idx, _) = embedded(part), fixed[part]
        return spec.distance_fn(emb[idx[:, 0]], emb[idx[:, 1]]).cpu().numpy()

    def score(part: str) -> dict[str, float]:
        dist_val = distances("val")
        threshold = best_threshold(fixed["val"][1], dist_val)  # chosen on validation only
        dist = dist_val if part == "val" else distances(part)
        out = verification_metrics(fixed[part][1], dist, threshold)
        return {"threshold": threshold, **out} if part == "val" else out

    def figures(result) -> dict:
        title = run_title(cfg)
        return {
            "plots/learning_curve.png": lambda: learning_curve(result.history, "roc_auc", title),
            "plots/roc_test.png": lambda: plots.roc(fixed["test"][1], distances("test"),
                                                    f"test pairs: {title}"),
            "plots/test_embeddings_pca.png": lambda: plots.embedding_projection(
                embedded("test").cpu().numpy(), s.y_test, f"test embeddings (PCA): {title}",
                seed=cfg.seed),
        }

    tracker.set_tags({f"data.{k}": v for k, v in data.info.items()})
    losses = pair_losses(model, lambda emb, same: spec.batch_loss(loss_fn, emb, same),
                         x["train"], draw, batch_size=cfg.trainer.batch_size)
    return run_epochs(cfg, EpochTask(model, losses, score, figures, rngs={"pairs": sampler.rng}),
                      tracker)
