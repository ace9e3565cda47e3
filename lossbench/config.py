"""Structured-config schemas, registered in Hydra's ConfigStore.

Every YAML option in ``conf/<group>/`` starts from one of these schemas (its defaults list names
``/schema/<group>/<name>``), so OmegaConf rejects unknown keys and wrong types while composing.
Value checks (``lr > 0``, ``0 <= fraction <= 1`` ...) live in ``__post_init__`` and run in
:func:`validate`, before any data is loaded or any model is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf


class ConfigError(ValueError):
    """A configuration value is outside what lossbench accepts."""


def _require(ok: bool, key: str, allowed: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{key}: must be {allowed}, got {value!r}")


# --------------------------------------------------------------------------- data
@dataclass
class DataConf:
    """Every data set: a loader (``_target_``) and the seed its splits are drawn from."""

    _target_: str = MISSING
    # splits are drawn from this seed; by default the run's seed
    split_seed: int = "${seed}"  # type: ignore[assignment]


@dataclass
class TabularDataConf(DataConf):
    """Shared split settings of every table data set."""

    val_fraction: float = 0.15
    test_fraction: float = 0.15

    def __post_init__(self) -> None:
        _require(0.0 < self.val_fraction < 1.0, "data.val_fraction", "in (0, 1)", self.val_fraction)
        _require(0.0 < self.test_fraction < 1.0, "data.test_fraction", "in (0, 1)", self.test_fraction)
        total = self.val_fraction + self.test_fraction
        _require(total < 1.0, "data.val_fraction + data.test_fraction", "< 1", total)


def _check_rate(rate: Optional[float]) -> None:
    _require(rate is None or 0.0 < rate < 1.0, "data.positive_rate", "in (0, 1) or null", rate)


@dataclass
class ClassTableConf(TabularDataConf):
    """A labelled table (Spambase, breast cancer)."""

    num_classes: int = 2
    # subsample positives to this rate in every split (null: keep the data set's own rate)
    positive_rate: Optional[float] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.num_classes >= 2, "data.num_classes", ">= 2", self.num_classes)
        _check_rate(self.positive_rate)


@dataclass
class ImageDataConf(DataConf):
    """MNIST-format images: validation comes out of the source's training split."""

    dataset: str = "mnist"
    num_classes: int = 10
    val_fraction: float = 0.1
    # use at most this many training images (null: all)
    max_train: Optional[int] = None

    def __post_init__(self) -> None:
        datasets = ("mnist", "fashion_mnist", "digits")
        _require(self.dataset in datasets, "data.dataset", f"one of {', '.join(datasets)}",
                 self.dataset)
        _require(0.0 < self.val_fraction < 1.0, "data.val_fraction", "in (0, 1)", self.val_fraction)
        _require(self.max_train is None or self.max_train > 0, "data.max_train", "> 0 or null",
                 self.max_train)


@dataclass
class ImbalancedImagesConf(ImageDataConf):
    """One class against the rest, positives subsampled to ``positive_rate`` in every split."""

    num_classes: int = 2
    positive_class: int = 0
    positive_rate: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.num_classes == 2, "data.num_classes", "2 (one class vs the rest)",
                 self.num_classes)
        _require(0 <= self.positive_class <= 9, "data.positive_class", "a class index 0-9",
                 self.positive_class)
        _check_rate(self.positive_rate)


@dataclass
class PairDataConf(DataConf):
    """Images with identity labels for verification. The protocol is part of the data set:
    training pairs (or triplets) are drawn afresh each epoch, validation and test pairs once."""

    val_fraction: float = 0.2
    # balanced pairs: this fraction of each epoch's training pairs shows the same identity
    positive_fraction: float = 0.5
    # training pairs (or triplets, for a triplet loss) drawn per epoch
    pairs_per_epoch: int = 1024
    # fixed validation / test pairs (positive_fraction of them positive), drawn from split_seed
    eval_pairs: int = 2000

    def __post_init__(self) -> None:
        _require(0.0 < self.val_fraction < 1.0, "data.val_fraction", "in (0, 1)", self.val_fraction)
        _require(0.0 < self.positive_fraction < 1.0, "data.positive_fraction", "in (0, 1)",
                 self.positive_fraction)
        _require(self.pairs_per_epoch > 0, "data.pairs_per_epoch", "> 0", self.pairs_per_epoch)
        _require(self.eval_pairs >= 2, "data.eval_pairs", ">= 2", self.eval_pairs)


@dataclass
class FacesConf(PairDataConf):
    """Olivetti faces, split BY IDENTITY: validation and test people never appear in training."""

    _target_: str = "lossbench.data.faces.olivetti"
    test_fraction: float = 0.2
    # the 64x64 images are average-pooled to this size (64: keep them as they are)
    image_size: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0.0 < self.test_fraction < 1.0, "data.test_fraction", "in (0, 1)",
                 self.test_fraction)
        total = self.val_fraction + self.test_fraction
        _require(total < 1.0, "data.val_fraction + data.test_fraction", "< 1", total)
        _require(self.image_size in (8, 16, 32, 64), "data.image_size", "one of 8, 16, 32, 64",
                 self.image_size)


@dataclass
class PairImagesConf(PairDataConf):
    """MNIST-format images as pairs of same / different class, on the usual image splits."""

    _target_: str = "lossbench.data.faces.mnist_pairs"
    dataset: str = "mnist"
    val_fraction: float = 0.1
    # use at most this many training images (null: all)
    max_train: Optional[int] = 10000

    def __post_init__(self) -> None:
        super().__post_init__()
        datasets = ("mnist", "fashion_mnist", "digits")
        _require(self.dataset in datasets, "data.dataset", f"one of {', '.join(datasets)}",
                 self.dataset)
        _require(self.max_train is None or self.max_train > 0, "data.max_train", "> 0 or null",
                 self.max_train)


@dataclass
class RegressionDataConf(TabularDataConf):
    standardize_target: bool = False
    # outliers injected into the TRAINING targets only; validation and test stay clean
    outlier_fraction: float = 0.0
    outlier_scale_min: float = 5.0
    outlier_scale_max: float = 10.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0.0 <= self.outlier_fraction <= 1.0, "data.outlier_fraction", "in [0, 1]",
                 self.outlier_fraction)
        _require(self.outlier_scale_min > 0, "data.outlier_scale_min", "> 0", self.outlier_scale_min)
        _require(self.outlier_scale_max >= self.outlier_scale_min, "data.outlier_scale_max",
                 f">= data.outlier_scale_min ({self.outlier_scale_min})", self.outlier_scale_max)


# --------------------------------------------------------------------------- model
@dataclass
class MLPConf:
    _target_: str = "lossbench.models.MLP"
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _require(all(h > 0 for h in self.hidden), "model.hidden", "a list of positive widths",
                 list(self.hidden))
        _require(0.0 <= self.dropout < 1.0, "model.dropout", "in [0, 1)", self.dropout)


@dataclass
class CNNConf:
    _target_: str = "lossbench.models.SmallCNN"
    channels: list[int] = field(default_factory=lambda: [16, 32])
    hidden: int = 64
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _require(len(self.channels) == 2 and all(c > 0 for c in self.channels),
                 "model.channels", "two positive channel counts", list(self.channels))
        _require(self.hidden > 0, "model.hidden", "> 0", self.hidden)
        _require(0.0 <= self.dropout < 1.0, "model.dropout", "in [0, 1)", self.dropout)


@dataclass
class EmbeddingCNNConf:
    _target_: str = "lossbench.models.EmbeddingCNN"
    channels: list[int] = field(default_factory=lambda: [16, 32, 64])
    hidden: int = 128
    embedding_dim: int = 32
    # L2-normalise the embedding (distances then lie in [0, 2])
    normalize: bool = False

    def __post_init__(self) -> None:
        _require(len(self.channels) > 0 and all(c > 0 for c in self.channels), "model.channels",
                 "a non-empty list of positive channel counts", list(self.channels))
        _require(self.hidden > 0, "model.hidden", "> 0", self.hidden)
        _require(self.embedding_dim > 0, "model.embedding_dim", "> 0", self.embedding_dim)


# --------------------------------------------------------------------------- losses
HEADS = ("any", "binary", "multiclass")
CONSUMES = ("values", "logits", "log_probs", "scores", "embeddings")
TARGETS = ("value", "binary", "sign", "index", "distribution", "pairs")
# declarations, not constructor arguments: lossbench.losses.build_loss leaves them out
LOSS_DECLARATIONS = ("head", "consumes", "target")


@dataclass
class LossConf:
    """A loss and what it declares: the head it needs (one output for ``binary``, one per class
    for ``multiclass``), what it consumes from the model (``values`` for regression, ``logits``,
    ``log_probs`` after log-softmax, raw margin ``scores``) and the target encoding it wants."""

    _target_: str = MISSING
    reduction: str = "mean"
    head: str = "any"
    consumes: str = "values"
    target: str = "value"

    def __post_init__(self) -> None:
        _require(self.reduction in ("mean", "sum", "none", "batchmean"), "loss.reduction",
                 "one of mean, sum, none (batchmean for KL divergence)", self.reduction)
        _require(self.head in HEADS, "loss.head", f"one of {', '.join(HEADS)}", self.head)
        _require(self.consumes in CONSUMES, "loss.consumes", f"one of {', '.join(CONSUMES)}",
                 self.consumes)
        _require(self.target in TARGETS, "loss.target", f"one of {', '.join(TARGETS)}", self.target)


@dataclass
class BinaryLossConf(LossConf):
    head: str = "binary"
    consumes: str = "logits"
    target: str = "binary"


@dataclass
class WeightedBCEConf(BinaryLossConf):
    _target_: str = "torch.nn.BCEWithLogitsLoss"
    # weight of the positive class; null: n_negative / n_positive of the training split
    pos_weight: Optional[float] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.pos_weight is None or self.pos_weight > 0, "loss.pos_weight",
                 "> 0 or null (derived from the training split)", self.pos_weight)


@dataclass
class FocalConf(BinaryLossConf):
    _target_: str = "lossbench.losses.FocalLoss"
    alpha: float = 0.25
    gamma: float = 2.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.alpha == -1 or 0.0 <= self.alpha <= 1.0, "loss.alpha",
                 "in [0, 1] (or -1 for no weighting)", self.alpha)
        _require(self.gamma >= 0, "loss.gamma", ">= 0", self.gamma)


@dataclass
class HingeConf(BinaryLossConf):
    _target_: str = "lossbench.losses.BinaryHingeLoss"
    consumes: str = "scores"
    target: str = "sign"
    margin: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.margin > 0, "loss.margin", "> 0", self.margin)


@dataclass
class MulticlassLossConf(LossConf):
    _target_: str = "torch.nn.CrossEntropyLoss"
    head: str = "multiclass"
    consumes: str = "logits"
    target: str = "index"


@dataclass
class CrossEntropyConf(MulticlassLossConf):
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0.0 <= self.label_smoothing < 1.0, "loss.label_smoothing", "in [0, 1)",
                 self.label_smoothing)


@dataclass
class WeightedCEConf(CrossEntropyConf):
    # per-class weights; null: n / (n_classes * count_c) from the training split ("balanced")
    weight: Optional[list[float]] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.weight is None or all(w > 0 for w in self.weight), "loss.weight",
                 "positive per-class weights or null (derived from the training split)",
                 self.weight)


@dataclass
class HuberConf(LossConf):
    _target_: str = "torch.nn.HuberLoss"
    delta: float = 1.5

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.delta > 0, "loss.delta", "> 0", self.delta)


@dataclass
class EmbeddingLossConf(LossConf):
    """A loss on embeddings of pairs or triplets; lossbench.tasks.pairs maps embeddings to
    its inputs (pair + 1/0 label, pair + +1/-1 label, or anchor/positive/negative)."""

    consumes: str = "embeddings"
    target: str = "pairs"
    margin: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.reduction in ("mean", "sum", "none"), "loss.reduction",
                 "one of mean, sum, none", self.reduction)


@dataclass
class ContrastiveConf(EmbeddingLossConf):
    _target_: str = "lossbench.losses.ContrastiveLoss"

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.margin > 0, "loss.margin", "> 0", self.margin)


@dataclass
class CosineEmbeddingConf(EmbeddingLossConf):
    _target_: str = "torch.nn.CosineEmbeddingLoss"
    margin: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(-1.0 <= self.margin <= 1.0, "loss.margin", "in [-1, 1]", self.margin)


@dataclass
class TripletConf(EmbeddingLossConf):
    _target_: str = "torch.nn.TripletMarginLoss"
    p: float = 2.0
    swap: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.margin > 0, "loss.margin", "> 0", self.margin)
        _require(self.p > 0, "loss.p", "> 0", self.p)


# --------------------------------------------------------------------------- optimizers
@dataclass
class OptimizerConf:
    _target_: str = MISSING
    _partial_: bool = True
    lr: float = 1e-3
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        _require(self.lr > 0, "optimizer.lr", "> 0", self.lr)
        _require(self.weight_decay >= 0, "optimizer.weight_decay", ">= 0", self.weight_decay)


@dataclass
class AdamConf(OptimizerConf):
    _target_: str = "torch.optim.Adam"


@dataclass
class SGDConf(OptimizerConf):
    _target_: str = "torch.optim.SGD"
    lr: float = 1e-2
    momentum: float = 0.9
    nesterov: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0.0 <= self.momentum < 1.0, "optimizer.momentum", "in [0, 1)", self.momentum)


@dataclass
class RMSpropConf(OptimizerConf):
    _target_: str = "torch.optim.RMSprop"
    lr: float = 5e-5
    momentum: float = 0.0
    alpha: float = 0.99

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0.0 <= self.momentum < 1.0, "optimizer.momentum", "in [0, 1)", self.momentum)
        _require(0.0 < self.alpha < 1.0, "optimizer.alpha", "in (0, 1)", self.alpha)


# --------------------------------------------------------------------------- trainer, tracking
@dataclass
class TrainerConf:
    epochs: int = 50
    batch_size: int = 128
    # stop when the monitored validation metric has not improved for this many epochs (0: never)
    patience: int = 10
    monitor: str = "val_rmse"
    monitor_mode: str = "min"
    # clip the gradient norm (0: no clipping)
    grad_clip: float = 0.0

    def __post_init__(self) -> None:
        _require(self.epochs > 0, "trainer.epochs", "> 0", self.epochs)
        _require(self.batch_size > 0, "trainer.batch_size", "> 0", self.batch_size)
        _require(self.patience >= 0, "trainer.patience", ">= 0", self.patience)
        _require(self.monitor_mode in ("min", "max"), "trainer.monitor_mode", "min or max",
                 self.monitor_mode)
        _require(self.grad_clip >= 0, "trainer.grad_clip", ">= 0", self.grad_clip)


@dataclass
class TrackingConf:
    # MLflow tracking URI; the default is a SQLite file in the working directory
    uri: str = "sqlite:///mlflow.db"
    # experiment name; by default the scenario's name
    experiment: str = "${name}"
    # where artifacts of new experiments go (None: MLflow's default, ./mlruns under a local store)
    artifact_location: Optional[str] = None
    # log the learning-curve and scatter PNGs
    plots: bool = True
    enabled: bool = True


# --------------------------------------------------------------------------- GAN (task gan)
@dataclass
class MixtureDataConf(DataConf):
    """A 2-D mixture of narrow Gaussians, i.e. disjoint supports (lossbench.data.toy2d)."""

    _target_: str = "lossbench.data.toy2d.gaussian_mixture"
    # ring: n_modes centres on a circle of radius `scale`; grid: a square grid `scale` apart
    layout: str = "ring"
    n_modes: int = 8
    scale: float = 2.0
    std: float = 0.02
    n_train: int = 50000
    # held-out real points the metrics compare against (as many generated points are drawn)
    n_eval: int = 2000

    def __post_init__(self) -> None:
        _require(self.layout in ("ring", "grid"), "data.layout", "ring or grid", self.layout)
        _require(self.n_modes >= 2, "data.n_modes", ">= 2", self.n_modes)
        if self.layout == "grid":
            side = round(self.n_modes ** 0.5)
            _require(side * side == self.n_modes, "data.n_modes", "a square for layout=grid",
                     self.n_modes)
        _require(self.scale > 0, "data.scale", "> 0", self.scale)
        _require(self.std > 0, "data.std", "> 0", self.std)
        _require(self.n_train > 0, "data.n_train", "> 0", self.n_train)
        _require(self.n_eval >= 2, "data.n_eval", ">= 2", self.n_eval)


@dataclass
class GanImagesConf(DataConf):
    """MNIST-format images for a generator, scaled to [-1, 1] (lossbench.data.gan_images)."""

    _target_: str = "lossbench.data.gan_images.images"
    dataset: str = "fashion_mnist"
    # held-out real images (from the test split) the metrics compare against
    n_eval: int = 2000

    def __post_init__(self) -> None:
        datasets = ("mnist", "fashion_mnist")
        _require(self.dataset in datasets, "data.dataset", f"one of {', '.join(datasets)}",
                 self.dataset)
        _require(self.n_eval >= 2, "data.n_eval", ">= 2", self.n_eval)


@dataclass
class GanMLPConf:
    """MLP generator and critic for 2-D points (lossbench.gan.models)."""

    _target_: str = "lossbench.gan.models.mlp_gan"
    latent_dim: int = 2
    hidden: list[int] = field(default_factory=lambda: [128, 128, 128])

    def __post_init__(self) -> None:
        _require(self.latent_dim > 0, "model.latent_dim", "> 0", self.latent_dim)
        _require(len(self.hidden) > 0 and all(h > 0 for h in self.hidden), "model.hidden",
                 "a non-empty list of positive widths", list(self.hidden))


@dataclass
class DCGANConf:
    """DCGAN-style conv generator and critic for 28x28 images (lossbench.gan.models)."""

    _target_: str = "lossbench.gan.models.dcgan"
    latent_dim: int = 64
    # channels of the first critic conv / last generator deconv; the other layer has twice that
    width: int = 32

    def __post_init__(self) -> None:
        _require(self.latent_dim > 0, "model.latent_dim", "> 0", self.latent_dim)
        _require(self.width > 0, "model.width", "> 0", self.width)


@dataclass
class GanLossConf:
    """A GAN objective (critic and generator losses, lossbench.gan.losses) and the critic
    updates per generator update it is meant to run with. Default: the standard
    non-saturating GAN (BCE on the critic's logits)."""

    _target_: str = "lossbench.gan.losses.NonSaturatingGanLoss"
    n_critic: int = 1

    def __post_init__(self) -> None:
        _require(self.n_critic >= 1, "loss.n_critic", ">= 1", self.n_critic)


@dataclass
class WganConf(GanLossConf):
    """WGAN (Arjovsky et al. 2017): raw critic scores, weights clipped to [-clip, clip]."""

    _target_: str = "lossbench.gan.losses.WassersteinLoss"
    n_critic: int = 5
    clip: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.clip > 0, "loss.clip", "> 0", self.clip)


@dataclass
class WganGpConf(GanLossConf):
    """WGAN-GP (Gulrajani et al. 2017): a gradient penalty instead of clipping."""

    _target_: str = "lossbench.gan.losses.WassersteinGPLoss"
    n_critic: int = 5
    gp_lambda: float = 10.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.gp_lambda >= 0, "loss.gp_lambda", ">= 0", self.gp_lambda)


@dataclass
class AdamBetasConf(AdamConf):
    """Adam with its moment decay rates, which GAN recipes set (0.5, 0.9), (0.5, 0.999) ..."""

    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(len(self.betas) == 2 and all(0.0 <= b < 1.0 for b in self.betas),
                 "optimizer.betas", "two values in [0, 1)", list(self.betas))


@dataclass
class GanTrainerConf:
    """The GAN loop (lossbench.gan.loop): a budget of generator steps, metrics and
    checkpoints every so many of them."""

    steps: int = 2000
    batch_size: int = 256
    eval_every: int = 250
    # save generator, critic, optimizer and RNG states every so many steps (0: at the end only)
    checkpoint_every: int = 500
    # null: <hydra output dir>/checkpoints (./checkpoints outside Hydra)
    checkpoint_dir: Optional[str] = None
    # the final metric a sweep returns: w1 (2-D) or fd (images)
    monitor: str = "w1"
    # a mode (class) counts as covered with >= this share of a uniform mode's samples
    coverage_share: float = 0.2
    # the Frechet-distance feature classifier (images; trained once, then cached)
    classifier_epochs: int = 3
    classifier_max_train: int = 20000

    def __post_init__(self) -> None:
        _require(self.steps > 0, "trainer.steps", "> 0", self.steps)
        _require(self.batch_size > 0, "trainer.batch_size", "> 0", self.batch_size)
        _require(self.eval_every > 0, "trainer.eval_every", "> 0", self.eval_every)
        _require(self.checkpoint_every >= 0, "trainer.checkpoint_every", ">= 0",
                 self.checkpoint_every)
        _require(0.0 < self.coverage_share <= 1.0, "trainer.coverage_share", "in (0, 1]",
                 self.coverage_share)
        _require(self.classifier_epochs > 0, "trainer.classifier_epochs", "> 0",
                 self.classifier_epochs)
        _require(self.classifier_max_train > 0, "trainer.classifier_max_train", "> 0",
                 self.classifier_max_train)


GAN_SCHEMAS: dict[str, dict[str, type]] = {
    "data": {"mixture_2d": MixtureDataConf, "gan_images": GanImagesConf},
    "model": {"gan_mlp": GanMLPConf, "dcgan": DCGANConf},
    "loss": {"gan": GanLossConf, "wgan": WganConf, "wgan_gp": WganGpConf},
    "optimizer": {"adam_betas": AdamBetasConf},
    "trainer": {"gan": GanTrainerConf},
}


# --------------------------------------------------------------------------- studies
# experiments/ is a second config root (conf/config.yaml's hydra.searchpath names it through
# this resolver): experiments/experiment/<study>.yaml, experiments/profile/{quick,full}.yaml
EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent / "experiments"
if not OmegaConf.has_resolver("lossbench.experiments_dir"):
    OmegaConf.register_new_resolver("lossbench.experiments_dir", lambda: str(EXPERIMENTS_DIR))
PROFILES = ("quick", "full")


@dataclass
class StudyConf:
    """What ``lossbench report`` needs to judge a case study (``+experiment=<study>``): its
    headline metric and direction, the guide's paired loss and claim, and the per-profile
    budget values the experiment file interpolates (``${study.budget.${profile}.epochs}``)."""

    # a final_* metric every job logs, e.g. final_test_rmse
    headline: str = MISSING
    # min: lower is better (RMSE, W1), max: higher is better (average precision, ROC-AUC)
    headline_mode: str = "min"
    # the guide's loss for this scenario; the report compares it with every other swept loss
    paired_loss: str = MISSING
    # the guide's claim, one line
    claim: str = MISSING
    # the alternatives the claim is about (empty: every other swept loss); the study's verdict
    # is judged on these comparisons only, the others are reported for information
    claim_against: list[str] = field(default_factory=list)
    # the guide's optimizer per loss (e.g. {mse: adam, mae: sgd}); with optimizer swept, the
    # report checks each pairing against the other optimizers
    optimizer_pairing: dict[str, str] = field(default_factory=dict)
    # per profile (quick, full): values the experiment interpolates (epochs, steps, ...)
    budget: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require(self.headline.startswith("final_"), "study.headline",
                 "a final_* metric name (e.g. final_test_rmse)", self.headline)
        _require(self.headline_mode in ("min", "max"), "study.headline_mode",
                 "min (lower is better) or max", self.headline_mode)
        _require(bool(self.paired_loss), "study.paired_loss", "a loss option name",
                 self.paired_loss)
        _require(bool(self.claim.strip()) and "\n" not in self.claim.strip(), "study.claim",
                 "one non-empty line", self.claim)
        unknown = sorted(set(self.budget) - set(PROFILES))
        _require(not unknown, "study.budget", f"keyed by profile ({', '.join(PROFILES)})",
                 unknown)


TASKS = ("regression", "classification", "pairs", "gan")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class LossbenchConf:
    """The root config. Groups are typed by their own schemas, hence ``Any`` here."""

    name: str = MISSING
    task: str = MISSING
    # the loss option chosen in the ``loss`` group, and the run's name in MLflow
    loss_name: str = "${hydra:runtime.choices.loss}"
    run_name: str = "${name}-${loss_name}-s${seed}"
    seed: int = 0
    device: str = "auto"
    # CPU threads torch may use (0: torch's default); set it per job in parallel sweeps
    torch_threads: int = 0
    data_dir: str = "${oc.env:LOSSBENCH_DATA_DIR,'~/lossbench_data'}"
    download: bool = True
    data: Any = MISSING
    model: Any = MISSING
    loss: Any = MISSING
    optimizer: Any = MISSING
    # trainer=supervised (TrainerConf: epochs, early stopping) or trainer=gan (GanTrainerConf)
    trainer: Any = MISSING
    tracking: Any = MISSING
    # continue from the last checkpoint in the job's checkpoint dir (task gan)
    resume: bool = False
    # set by +experiment=<study> (experiments/experiment/): what lossbench report judges
    study: Optional[StudyConf] = None
    # the study's budget, set by profile=quick|full (experiments/profile/); null outside studies
    profile: Optional[str] = None

    def __post_init__(self) -> None:
        _require(self.profile is None or self.profile in PROFILES, "profile",
                 f"one of {', '.join(PROFILES)} or null", self.profile)
        _require(self.task in TASKS, "task", f"one of {', '.join(TASKS)}", self.task)
        ok = self.device in DEVICES or self.device.startswith("cuda:")
        _require(ok, "device", "auto, cpu, cuda or cuda:N", self.device)
        _require(self.seed >= 0, "seed", ">= 0", self.seed)
        _require(self.torch_threads >= 0, "torch_threads", ">= 0 (0: torch's default)",
                 self.torch_threads)


SCHEMAS: dict[str, dict[str, type]] = {
    "data": {"regression": RegressionDataConf, "class_table": ClassTableConf,
             "images": ImageDataConf, "imbalanced_images": ImbalancedImagesConf,
             "faces": FacesConf, "pair_images": PairImagesConf},
    "model": {"mlp": MLPConf, "cnn": CNNConf, "embedding_cnn": EmbeddingCNNConf},
    "loss": {"loss": LossConf, "huber": HuberConf, "binary": BinaryLossConf,
             "weighted_bce": WeightedBCEConf, "focal": FocalConf, "hinge": HingeConf,
             "multiclass": MulticlassLossConf, "cross_entropy": CrossEntropyConf,
             "weighted_ce": WeightedCEConf,
             "contrastive": ContrastiveConf, "cosine_embedding": CosineEmbeddingConf,
             "triplet": TripletConf},
    "optimizer": {"adam": AdamConf, "sgd": SGDConf, "rmsprop": RMSpropConf},
    "tracking": {"mlflow": TrackingConf},
}


SCHEMAS["trainer"] = {"supervised": TrainerConf}
for _group, _schemas in GAN_SCHEMAS.items():
    SCHEMAS.setdefault(_group, {}).update(_schemas)


def register_configs() -> None:
    """Put the root schema and each group's schemas into Hydra's ConfigStore."""
    cs = ConfigStore.instance()
    cs.store(name="lossbench_schema", node=LossbenchConf)
    for group, schemas in SCHEMAS.items():
        for name, node in schemas.items():
            cs.store(group=f"schema/{group}", name=name, node=node)


def validate(cfg: DictConfig) -> None:
    """Run every schema's value checks on a composed config, before anything is loaded.

    ``OmegaConf.to_object`` builds the dataclass instances (the group nodes included, as they
    are typed by their own schemas), which is what calls each ``__post_init__``.
    Raises :class:`ConfigError` naming the key and what it allows.
    """
    OmegaConf.to_object(cfg)
