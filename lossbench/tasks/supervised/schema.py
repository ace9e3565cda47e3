"""Schemas of the supervised task kind (regression and classification): its data sets, models
and losses. A supervised loss declares the head it needs, what it consumes and its target
encoding (:class:`LossConf`); :func:`lossbench.tasks.supervised.losses.loss_spec` turns these
declarations into one frozen spec."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

from lossbench.schema import DataConf, check_custom_loss, require


@dataclass
class TabularDataConf(DataConf):
    """Shared split settings of every table data set."""

    val_fraction: float = 0.15
    test_fraction: float = 0.15

    def __post_init__(self) -> None:
        require(0.0 < self.val_fraction < 1.0, "data.val_fraction", "in (0, 1)", self.val_fraction)
        require(0.0 < self.test_fraction < 1.0, "data.test_fraction", "in (0, 1)", self.test_fraction)
        total = self.val_fraction + self.test_fraction
        require(total < 1.0, "data.val_fraction + data.test_fraction", "< 1", total)


def _check_rate(rate: Optional[float]) -> None:
    require(rate is None or 0.0 < rate < 1.0, "data.positive_rate", "in (0, 1) or null", rate)


@dataclass
class ClassTableConf(TabularDataConf):
    """A labelled table (Spambase, breast cancer)."""

    num_classes: int = 2
    # subsample positives to this rate in every split (null: keep the data set's own rate)
    positive_rate: Optional[float] = None
    # share of TRAINING labels flipped to another class (seeded by split_seed); validation and
    # test keep their true labels
    label_noise: float = 0.0
    # subsample positives to this rate in the TRAINING split only; validation and test keep
    # the data set's own rate (null: off; the C16 study sweeps it)
    train_positive_rate: Optional[float] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.num_classes >= 2, "data.num_classes", ">= 2", self.num_classes)
        _check_rate(self.positive_rate)
        require(0.0 <= self.label_noise < 0.5, "data.label_noise", "in [0, 0.5)",
                self.label_noise)
        require(self.train_positive_rate is None or 0.0 < self.train_positive_rate < 1.0,
                "data.train_positive_rate", "in (0, 1) or null", self.train_positive_rate)
        if self.positive_rate is not None or self.train_positive_rate is not None:
            require(self.num_classes == 2, "data.num_classes",
                    "2 when a positive rate is set (positives are class 1)", self.num_classes)
        require(self.positive_rate is None or self.train_positive_rate is None,
                "data.train_positive_rate", "null when data.positive_rate is set (that one "
                "already sets every split's rate)", self.train_positive_rate)


@dataclass
class SyntheticClassesConf(ClassTableConf):
    """Gaussian classes around random centres: as many classes as wanted, every class present
    (the C14 study's 10 to 10,000 classes)."""

    n_samples: int = 10000
    n_features: int = 32
    # the spread of each class around its centre (centres are standard normal)
    noise: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.n_samples >= self.num_classes, "data.n_samples",
                f">= data.num_classes ({self.num_classes}): every class appears",
                self.n_samples)
        require(self.n_features > 0, "data.n_features", "> 0", self.n_features)
        require(self.noise > 0, "data.noise", "> 0", self.noise)


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
        require(self.dataset in datasets, "data.dataset", f"one of {', '.join(datasets)}",
                 self.dataset)
        require(0.0 < self.val_fraction < 1.0, "data.val_fraction", "in (0, 1)", self.val_fraction)
        require(self.max_train is None or self.max_train > 0, "data.max_train", "> 0 or null",
                 self.max_train)


@dataclass
class ImbalancedImagesConf(ImageDataConf):
    """One class against the rest, positives subsampled to ``positive_rate`` in every split."""

    num_classes: int = 2
    positive_class: int = 0
    positive_rate: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.num_classes == 2, "data.num_classes", "2 (one class vs the rest)",
                 self.num_classes)
        require(0 <= self.positive_class <= 9, "data.positive_class", "a class index 0-9",
                 self.positive_class)
        _check_rate(self.positive_rate)


@dataclass
class RegressionDataConf(TabularDataConf):
    standardize_target: bool = False
    # standardize the features with the training split's mean and std (false: raw features,
    # e.g. California's population in the thousands beside its income in $10k)
    standardize_features: bool = True
    # keep at most this many training rows (a random subset: the split is shuffled; null: all)
    max_train: Optional[int] = None
    # outliers injected into the TRAINING targets only; validation and test stay clean
    outlier_fraction: float = 0.0
    outlier_scale_min: float = 5.0
    outlier_scale_max: float = 10.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0.0 <= self.outlier_fraction <= 1.0, "data.outlier_fraction", "in [0, 1]",
                 self.outlier_fraction)
        require(self.max_train is None or self.max_train > 1, "data.max_train", "> 1 or null",
                self.max_train)
        require(self.outlier_scale_min > 0, "data.outlier_scale_min", "> 0", self.outlier_scale_min)
        require(self.outlier_scale_max >= self.outlier_scale_min, "data.outlier_scale_max",
                 f">= data.outlier_scale_min ({self.outlier_scale_min})", self.outlier_scale_max)


@dataclass
class SkewedNoiseConf(DataConf):
    """Synthetic 1-d regression with right-skewed (log-normal) noise whose conditional mean
    and median are known (:func:`lossbench.tasks.supervised.data.skewed_noise`): training and
    validation x drawn uniformly, the test split a regular grid of x."""

    n_train: int = 2000
    n_val: int = 500
    n_test: int = 201
    # log-normal shape: noise = scale(x) * (exp(noise_sigma * N(0, 1)) - 1)
    noise_sigma: float = 1.0
    # the noise scale grows linearly from noise_scale / 2 at x = -3 to noise_scale at x = 3
    noise_scale: float = 1.0

    def __post_init__(self) -> None:
        for key in ("n_train", "n_val", "n_test"):
            require(getattr(self, key) >= 2, f"data.{key}", ">= 2", getattr(self, key))
        require(self.noise_sigma > 0, "data.noise_sigma", "> 0", self.noise_sigma)
        require(self.noise_scale > 0, "data.noise_scale", "> 0", self.noise_scale)


@dataclass
class MLPConf:
    _target_: str = "lossbench.tasks.supervised.models.MLP"
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    dropout: float = 0.0

    def __post_init__(self) -> None:
        require(all(h > 0 for h in self.hidden), "model.hidden", "a list of positive widths",
                 list(self.hidden))
        require(0.0 <= self.dropout < 1.0, "model.dropout", "in [0, 1)", self.dropout)


@dataclass
class CNNConf:
    _target_: str = "lossbench.tasks.supervised.models.SmallCNN"
    channels: list[int] = field(default_factory=lambda: [16, 32])
    hidden: int = 64
    dropout: float = 0.0

    def __post_init__(self) -> None:
        require(len(self.channels) == 2 and all(c > 0 for c in self.channels),
                 "model.channels", "two positive channel counts", list(self.channels))
        require(self.hidden > 0, "model.hidden", "> 0", self.hidden)
        require(0.0 <= self.dropout < 1.0, "model.dropout", "in [0, 1)", self.dropout)


# --------------------------------------------------------------------------- losses
HEADS = ("any", "binary", "multiclass")
CONSUMES = ("values", "logits", "log_probs", "probs", "sigmoid", "scores")
TARGETS = ("value", "binary", "sign", "index", "distribution")


@dataclass
class LossConf:
    """A loss and what it declares: the head it needs (one output for ``binary``, one per class
    for ``multiclass``), what it consumes from the model (``values`` for regression, ``logits``,
    ``log_probs`` after log-softmax, ``probs`` after softmax, ``sigmoid`` probabilities of each
    output, raw margin ``scores``) and the target encoding it wants. ``prior_bias_init`` starts
    the classifier's output bias at the training prior, so the untrained model predicts the
    class frequencies (Lin et al. 2017: b = -log((1 - pi) / pi) for one output; b_c = log pi_c
    for one output per class). ``broken`` marks a deliberately wrong loss (a mismatched
    activation pairing, a naive overflow-prone formula) that runs only where a study that
    demonstrates the failure sets ``allow_broken_losses=true``."""

    _target_: str = MISSING
    reduction: str = "mean"
    head: str = "any"
    consumes: str = "values"
    target_encoding: str = "value"
    prior_bias_init: bool = False
    broken: bool = False

    def __post_init__(self) -> None:
        require(self.reduction in ("mean", "sum", "none", "batchmean"), "loss.reduction",
                 "one of mean, sum, none (batchmean for KL divergence)", self.reduction)
        require(self.head in HEADS, "loss.head", f"one of {', '.join(HEADS)}", self.head)
        require(self.consumes in CONSUMES, "loss.consumes", f"one of {', '.join(CONSUMES)}",
                 self.consumes)
        require(self.target_encoding in TARGETS, "loss.target_encoding",
                f"one of {', '.join(TARGETS)}", self.target_encoding)
        if self.consumes in ("log_probs", "probs"):
            require(self.head == "multiclass", "loss.head",
                    f"multiclass when loss.consumes={self.consumes}", self.head)
        if self.target_encoding == "sign":
            require(self.head == "binary", "loss.head",
                    "binary when loss.target_encoding=sign (-1/+1 labels)", self.head)
        if self.consumes == "values":
            require(self.head == "any" and self.target_encoding == "value", "loss.head",
                    "any, with target_encoding=value, for a loss that consumes values",
                    self.head)
            require(not self.prior_bias_init, "loss.prior_bias_init",
                    "false for a regression loss (there is no class prior)",
                    self.prior_bias_init)


@dataclass
class BinaryLossConf(LossConf):
    head: str = "binary"
    consumes: str = "logits"
    target_encoding: str = "binary"


@dataclass
class WeightedBCEConf(BinaryLossConf):
    _target_: str = "torch.nn.BCEWithLogitsLoss"
    # weight of the positive class; null: n_negative / n_positive of the training split
    pos_weight: Optional[float] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.pos_weight is None or self.pos_weight > 0, "loss.pos_weight",
                 "> 0 or null (derived from the training split)", self.pos_weight)


FOCAL_NORMALIZE = ("mean", "positives")


@dataclass
class FocalConf(BinaryLossConf):
    _target_: str = "lossbench.tasks.supervised.losses.FocalLoss"
    alpha: float = 0.25
    gamma: float = 2.0
    # what reduction=mean divides the summed loss by: the number of examples (torchvision's
    # mean) or the batch's positives, at least 1 (Lin et al. 2017)
    normalize: str = "mean"

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.alpha == -1 or 0.0 <= self.alpha <= 1.0, "loss.alpha",
                 "in [0, 1] (or -1 for no weighting)", self.alpha)
        require(self.gamma >= 0, "loss.gamma", ">= 0", self.gamma)
        require(self.normalize in FOCAL_NORMALIZE, "loss.normalize",
                f"one of {', '.join(FOCAL_NORMALIZE)}", self.normalize)
        require(self.normalize == "mean" or self.reduction == "mean", "loss.reduction",
                "mean when loss.normalize=positives", self.reduction)


@dataclass
class HingeConf(BinaryLossConf):
    _target_: str = "lossbench.tasks.supervised.losses.BinaryHingeLoss"
    consumes: str = "scores"
    target_encoding: str = "sign"
    margin: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.margin > 0, "loss.margin", "> 0", self.margin)


@dataclass
class MulticlassLossConf(LossConf):
    _target_: str = "torch.nn.CrossEntropyLoss"
    head: str = "multiclass"
    consumes: str = "logits"
    target_encoding: str = "index"


@dataclass
class CrossEntropyConf(MulticlassLossConf):
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0.0 <= self.label_smoothing < 1.0, "loss.label_smoothing", "in [0, 1)",
                 self.label_smoothing)


@dataclass
class WeightedCEConf(CrossEntropyConf):
    # per-class weights; null: n / (n_classes * count_c) from the training split ("balanced")
    weight: Optional[list[float]] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.weight is None or all(w > 0 for w in self.weight), "loss.weight",
                 "positive per-class weights or null (derived from the training split)",
                 self.weight)


@dataclass
class BrierConf(MulticlassLossConf):
    """Squared error between softmax probabilities and one-hot targets, summed over classes."""

    _target_: str = "lossbench.tasks.supervised.losses.BrierLoss"
    consumes: str = "probs"
    target_encoding: str = "distribution"


@dataclass
class MultiHingeConf(MulticlassLossConf):
    """``torch.nn.MultiMarginLoss`` (Crammer-Singer style, one term per wrong class) on raw
    class scores."""

    _target_: str = "torch.nn.MultiMarginLoss"
    consumes: str = "scores"
    margin: float = 1.0
    p: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.margin > 0, "loss.margin", "> 0", self.margin)
        require(self.p in (1, 2), "loss.p", "1 or 2", self.p)


@dataclass
class SoftmaxFocalConf(MulticlassLossConf):
    """Multi-class focal loss ``-(1 - p_t)^gamma log p_t`` on softmax probabilities."""

    _target_: str = "lossbench.tasks.supervised.losses.SoftmaxFocalLoss"
    gamma: float = 2.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.gamma >= 0, "loss.gamma", ">= 0", self.gamma)


@dataclass
class HuberConf(LossConf):
    _target_: str = "torch.nn.HuberLoss"
    delta: float = 1.5

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.delta > 0, "loss.delta", "> 0", self.delta)


@dataclass
class CustomLossConf(LossConf):
    """Your own supervised loss: ``loss=custom loss._target_=my_pkg.losses.MyLoss`` (or a
    ``loss/<name>.yaml`` in your config dir starting from ``/schema/loss/custom``). It declares
    what :class:`LossConf` declares (by default: a regression loss on values) and passes
    ``reduction`` and ``kwargs`` to its ``_target_``."""

    # keyword arguments of the loss's constructor, e.g. {scale: 1.0}
    kwargs: dict[str, Any] = field(default_factory=dict)
    # the loss: a class or function, importable where lossbench runs (set by the user)
    _target_: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_custom_loss(self._target_, self.kwargs, LossConf)


SCHEMAS: dict[str, dict[str, type]] = {
    "data": {"regression": RegressionDataConf, "skewed_noise": SkewedNoiseConf,
             "class_table": ClassTableConf, "synthetic_classes": SyntheticClassesConf,
             "images": ImageDataConf, "imbalanced_images": ImbalancedImagesConf},
    "model": {"mlp": MLPConf, "cnn": CNNConf},
    "loss": {"loss": LossConf, "huber": HuberConf, "binary": BinaryLossConf,
             "weighted_bce": WeightedBCEConf, "focal": FocalConf, "hinge": HingeConf,
             "multiclass": MulticlassLossConf, "cross_entropy": CrossEntropyConf,
             "weighted_ce": WeightedCEConf, "brier": BrierConf, "multi_hinge": MultiHingeConf,
             "softmax_focal": SoftmaxFocalConf, "custom": CustomLossConf},
}
