"""Classification: models emit logits (or raw scores); each loss declares what it consumes
and which target encoding it wants, and this module does the pairing in one place:

| loss declares             | head outputs | loss input            | probabilities for metrics  |
|---------------------------|--------------|-----------------------|----------------------------|
| binary, consumes logits   | 1            | logit                 | sigmoid(logit)             |
| binary, consumes scores   | 1            | raw margin score      | sigmoid(score), a ranking* |
| multiclass, logits        | n_classes    | logits                | softmax(logits)            |
| multiclass, log_probs     | n_classes    | log_softmax(logits)   | softmax(logits)            |
| multiclass, probs         | n_classes    | softmax(logits)       | softmax(logits)            |
| multiclass, scores        | n_classes    | raw class scores      | softmax(scores), a ranking*|
| binary/multiclass, sigmoid| 1/n_classes  | sigmoid(each output)  | as the head's logits above |

(*) hinge scores are not calibrated probabilities: their log loss and ECE say so.
Target encodings: ``binary`` 0/1 floats, ``sign`` -1/+1, ``index`` class ids,
``distribution`` one-hot rows. A pairing that cannot work is refused before any data loads;
the deliberately broken ones (``broken: true``: mismatched pairings, naive formulas) run only
with ``allow_broken_losses=true``, which their studies set.

A loss with ``prior_bias_init`` starts the model's last bias at the training prior
(:func:`init_prior_bias`), so the untrained model already predicts the class frequencies.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import nn
from omegaconf import DictConfig

from lossbench.data.tabular import Splits
from lossbench.loop import batch_generator, once_per_weights
from lossbench.plots import learning_curve
from lossbench.runner import EpochTask, run_epochs, run_title
from lossbench.schema import ConfigError, check_group, check_monitor
from lossbench.tasks.supervised import plots
from lossbench.tasks.supervised.loop import Batches, check_common, epoch_metrics, to_device
from lossbench.tasks.supervised.losses import LossSpec, build_loss, loss_spec
from lossbench.tasks.supervised.metrics import (BINARY_ONLY, CLASSIFICATION,
                                                classification_metrics)
from lossbench.tasks.supervised.schema import ClassTableConf, ImageDataConf
from lossbench.torchutil import in_chunks, place
from lossbench.tracking import Tracker

# images (rows) per forward pass when a split is predicted: a chunk's activations must fit the
# CPU's caches. SmallCNN on 3,000 28x28 images, one thread: 0.57 s in chunks of 128, 1.00 s of
# 1,024, 1.17 s of 4,096 (the same outputs, bit for bit); a GPU does not mind.
EVAL_CHUNK = 128
MULTICLASS_LOSSES = ("ce, sparse_ce, weighted_ce, kl_div, ce_smooth, brier, multi_hinge or "
                     "softmax_focal")


def check(cfg: DictConfig) -> None:
    """Refuse loss/head pairings that cannot work, naming the loss and the alternatives."""
    check_common(cfg)
    check_group(cfg, "data", (ClassTableConf, ImageDataConf), "use labelled classes (spambase, "
                "breast_cancer, mnist, fashion_mnist, digits, cancer_images)")
    spec, k, name = loss_spec(cfg), cfg.data.num_classes, cfg.loss_name
    if spec.consumes == "values":
        raise ConfigError(f"loss={name} is a regression loss (it consumes values); "
                          f"{cfg.name} is a classification task: use bce, weighted_bce, focal, "
                          f"hinge (binary) or {MULTICLASS_LOSSES}")
    if spec.head == "binary" and k != 2:
        raise ConfigError(f"loss={name} needs a binary head (one output), but data has {k} "
                          f"classes: use {MULTICLASS_LOSSES}")
    check_monitor(cfg, epoch_metrics(CLASSIFICATION + (BINARY_ONLY if spec.head == "binary"
                                                       else ())))


def head_size(spec: LossSpec, num_classes: int) -> int:
    return 1 if spec.head == "binary" else num_classes


def encode_target(y: torch.Tensor, encoding: str, num_classes: int) -> torch.Tensor:
    if encoding == "binary":
        return y.float()
    if encoding == "sign":
        return 2.0 * y.float() - 1.0
    if encoding == "index":
        return y.long()
    if encoding == "distribution":
        return F.one_hot(y.long(), num_classes).float()
    raise ValueError(f"unknown target encoding {encoding!r}")


def loss_input(out: torch.Tensor, spec: LossSpec) -> torch.Tensor:
    if spec.head == "binary":
        out = out.squeeze(-1)
    if spec.consumes == "sigmoid":
        return torch.sigmoid(out)
    if spec.consumes == "log_probs":
        return F.log_softmax(out, dim=-1)
    if spec.consumes == "probs":
        return F.softmax(out, dim=-1)
    return out


def prior_bias(y_train: np.ndarray, outputs: int) -> np.ndarray:
    """The output bias at which an untrained model predicts the training prior: one output
    ``b = -log((1 - pi) / pi)`` with ``pi`` the positive rate (Lin et al. 2017), one output per
    class ``b_c = log pi_c`` (softmax then gives ``pi``). A class absent from the training
    split is counted once, so every bias stays finite."""
    if outputs == 1:
        pi = float(np.mean(y_train == 1))
        if not 0.0 < pi < 1.0:
            raise ValueError(f"cannot set the prior bias: the training positive rate is {pi}")
        return np.array([-np.log((1.0 - pi) / pi)])
    counts = np.maximum(np.bincount(y_train, minlength=outputs)[:outputs], 1)
    return np.log(counts / counts.sum())


@torch.no_grad()
def init_prior_bias(model: nn.Module, y_train: np.ndarray) -> np.ndarray:
    """Set the bias of the model's last linear layer (its output) to :func:`prior_bias`."""
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    bias = prior_bias(y_train, last.out_features)
    last.bias.copy_(torch.as_tensor(bias, dtype=last.bias.dtype))
    return bias


def probabilities(out: torch.Tensor, binary: bool) -> torch.Tensor:
    return torch.sigmoid(out.squeeze(-1)) if binary else torch.softmax(out, dim=-1)


def run(cfg: DictConfig, splits: Splits, device: torch.device, tracker: Tracker) -> dict[str, float]:
    task = build(cfg, splits, device, tracker)
    final = run_epochs(cfg, task, tracker)
    if cfg.trainer.measure_steps:
        memory = target_memory(task.batches.target, final["final_step_peak_bytes"])
        tracker.log_metrics(memory, step=final["epochs_run"])
        final |= memory
    return final


def build(cfg: DictConfig, splits: Splits, device: torch.device, tracker: Tracker) -> EpochTask:
    """The model (initialized from the global RNG, seeded by the job), its batches and scores;
    tags the prior bias and the data's class counts."""
    spec, k = loss_spec(cfg), int(cfg.data.num_classes)
    binary = spec.head == "binary"
    dtype = getattr(torch, cfg.trainer.dtype)
    tensors = to_device(splits, device, cfg.trainer.dtype)
    x_train, y_train = tensors["train"]
    model = place(instantiate(cfg.model, in_shape=splits.x_train.shape[1:],
                              out_features=head_size(spec, k)), device, dtype)
    if spec.prior_bias_init:
        bias = init_prior_bias(model, splits.y_train)
        tracker.set_tags({"model.initial_bias": np.array2string(bias, precision=4)})
    loss_fn = build_loss(cfg.loss, y_train=splits.y_train, num_classes=k).to(device, dtype)
    tracker.set_tags({f"data.{key}": v for key, v in splits.info.items()})

    @torch.no_grad()
    def predict_proba(x: torch.Tensor) -> np.ndarray:
        model.eval()
        return probabilities(in_chunks(model, x, EVAL_CHUNK), binary).double().cpu().numpy()

    proba = once_per_weights(model, predict_proba, {p: xy[0] for p, xy in tensors.items()})

    def score(part: str) -> dict[str, float]:
        return classification_metrics(tensors[part][1].cpu().numpy(), proba(part))

    def figures(result) -> dict:
        """The figure builders; they read the test predictions the final scores made."""
        y_true = tensors["test"][1].cpu().numpy()
        title, monitor = run_title(cfg), cfg.trainer.monitor
        headline = monitor.split("_", 1)[1] if "_" in monitor else "log_loss"

        def test_proba() -> np.ndarray:
            return proba("test")

        def test_pred() -> np.ndarray:
            return (test_proba() >= 0.5).astype(np.int64) if binary else test_proba().argmax(1)

        out = {
            "plots/learning_curve.png": lambda: learning_curve(result.history, headline, title),
            "plots/confusion_matrix.png": lambda: plots.confusion_matrix(
                y_true, test_pred(), list(range(k)), f"test: {title}"),
        }
        if binary and y_true.any():
            out["plots/precision_recall.png"] = lambda: plots.precision_recall(
                y_true, test_proba(), f"test: {title}")
        return out

    target = encode_target(y_train, spec.target_encoding, k)
    batches = Batches(x_train, target.to(dtype) if target.is_floating_point() else target,
                      loss_fn, lambda out: loss_input(out, spec), cfg.trainer.batch_size,
                      batch_generator(cfg.seed, device))
    return EpochTask(model, batches.epoch_losses(model), score, figures,
                     rngs={"batches": batches.generator}, batches=batches)


def target_memory(targets: torch.Tensor, step_peak_bytes: float) -> dict[str, float]:
    """``final_target_bytes``: the encoded training targets the run holds throughout (one-hot
    rows: n x classes x 4 bytes; class indices: n x 8); ``final_peak_bytes``: those plus a
    step's peak (:mod:`lossbench.stepcost`), the part of training's peak memory that the
    target encoding can change (model, features and optimizer state are the same for every
    loss, so a difference of ``final_peak_bytes`` is the difference of the true peaks)."""
    held = float(targets.element_size() * targets.nelement())
    return {"final_target_bytes": held, "final_peak_bytes": held + step_peak_bytes}
