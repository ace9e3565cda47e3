"""Classification: models emit logits (or raw scores); each loss declares what it consumes
and which target encoding it wants, and this module does the pairing in one place:

| loss declares             | head outputs | loss input            | probabilities for metrics  |
|---------------------------|--------------|-----------------------|----------------------------|
| binary, consumes logits   | 1            | logit                 | sigmoid(logit)             |
| binary, consumes scores   | 1            | raw margin score      | sigmoid(score), a ranking* |
| multiclass, logits        | n_classes    | logits                | softmax(logits)            |
| multiclass, log_probs     | n_classes    | log_softmax(logits)   | softmax(logits)            |

(*) hinge scores are not calibrated probabilities: their log loss and ECE say so.
Target encodings: ``binary`` 0/1 floats, ``sign`` -1/+1, ``index`` class ids,
``distribution`` one-hot rows. A pairing that cannot work is refused before any data loads.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig

from lossbench import plots
from lossbench.config import ConfigError
from lossbench.data.tabular import Splits
from lossbench.losses import build_loss
from lossbench.metrics import classification_metrics
from lossbench.tasks.supervised import log_figures, run_title, to_device, train
from lossbench.tracking import Tracker

EVAL_CHUNK = 4096


def check_config(cfg: DictConfig) -> None:
    """Refuse loss/head pairings that cannot work, naming the loss and the alternatives."""
    loss, k, name = cfg.loss, cfg.data.num_classes, cfg.loss_name
    if loss.consumes == "values":
        raise ConfigError(f"loss={name} is a regression loss (it consumes values); "
                          f"{cfg.name} is a classification task: use bce, weighted_bce, focal, "
                          "hinge (binary) or ce, sparse_ce, weighted_ce, kl_div")
    if loss.consumes == "embeddings":
        raise ConfigError(f"loss={name} compares embeddings of pairs (task pairs, e.g. "
                          f"scenario=face_verification); {cfg.name} is a classification task")
    if loss.head == "binary" and k != 2:
        raise ConfigError(f"loss={name} needs a binary head (one output), but data has {k} "
                          "classes: use ce, sparse_ce, weighted_ce or kl_div")
    if loss.consumes in ("log_probs",) and loss.head != "multiclass":
        raise ConfigError(f"loss={name} consumes log-probabilities, which need a multiclass head")
    if loss.target == "sign" and loss.head != "binary":
        raise ConfigError(f"loss={name} maps labels to -1/+1, which needs a binary head")


def head_size(cfg: DictConfig) -> int:
    return 1 if cfg.loss.head == "binary" else int(cfg.data.num_classes)


def encode_target(y: torch.Tensor, target: str, num_classes: int) -> torch.Tensor:
    if target == "binary":
        return y.float()
    if target == "sign":
        return 2.0 * y.float() - 1.0
    if target == "index":
        return y.long()
    if target == "distribution":
        return F.one_hot(y.long(), num_classes).float()
    raise ValueError(f"unknown target encoding {target!r}")


def loss_input(out: torch.Tensor, cfg_loss: DictConfig) -> torch.Tensor:
    if cfg_loss.head == "binary":
        return out.squeeze(-1)
    if cfg_loss.consumes == "log_probs":
        return F.log_softmax(out, dim=-1)
    return out


def probabilities(out: torch.Tensor, binary: bool) -> torch.Tensor:
    return torch.sigmoid(out.squeeze(-1)) if binary else torch.softmax(out, dim=-1)


def run(cfg: DictConfig, splits: Splits, device: torch.device, tracker: Tracker) -> dict[str, float]:
    check_config(cfg)
    k = int(cfg.data.num_classes)
    binary = cfg.loss.head == "binary"
    tensors = to_device(splits, device)
    model = instantiate(cfg.model, in_shape=splits.x_train.shape[1:],
                        out_features=head_size(cfg)).to(device)
    loss_fn = build_loss(cfg.loss, y_train=splits.y_train, num_classes=k).to(device)
    tracker.set_tags({f"data.{key}": v for key, v in splits.info.items()})

    @torch.no_grad()
    def predict_proba(x: torch.Tensor) -> np.ndarray:
        model.eval()
        chunks = [probabilities(model(x[i:i + EVAL_CHUNK]), binary)
                  for i in range(0, len(x), EVAL_CHUNK)]
        return torch.cat(chunks).double().cpu().numpy()

    final, result = train(
        cfg, model, loss_fn, tensors, tracker,
        train_target=encode_target(tensors["train"][1], cfg.loss.target, k),
        to_loss_input=lambda out: loss_input(out, cfg.loss),
        metrics_of=lambda x, y: classification_metrics(y.cpu().numpy(), predict_proba(x)))

    x_test, y_test = tensors["test"]
    y_true, proba = y_test.cpu().numpy(), predict_proba(x_test)
    pred = (proba >= 0.5).astype(np.int64) if binary else proba.argmax(1)
    title, monitor = run_title(cfg), cfg.trainer.monitor
    headline = monitor.split("_", 1)[1] if "_" in monitor else "log_loss"
    figures = {
        "plots/learning_curve.png": lambda: plots.learning_curve(result.history, headline, title),
        "plots/confusion_matrix.png": lambda: plots.confusion_matrix(y_true, pred, list(range(k)),
                                                                     f"test: {title}"),
    }
    if binary and y_true.any():
        figures["plots/precision_recall.png"] = lambda: plots.precision_recall(
            y_true, proba, f"test: {title}")
    log_figures(tracker, figures)
    return final
