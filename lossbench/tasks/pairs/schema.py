"""Schemas of the pairs (verification) task kind: identity-labelled image data, the shared
embedding network and the pair losses. A pair loss declares how it consumes embeddings: from
pairs or triplets, with which label encoding, at which distance (:class:`PairLossConf`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

from lossbench.schema import DataConf, check_custom_loss, require


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
        require(0.0 < self.val_fraction < 1.0, "data.val_fraction", "in (0, 1)", self.val_fraction)
        require(0.0 < self.positive_fraction < 1.0, "data.positive_fraction", "in (0, 1)",
                 self.positive_fraction)
        require(self.pairs_per_epoch > 0, "data.pairs_per_epoch", "> 0", self.pairs_per_epoch)
        require(self.eval_pairs >= 2, "data.eval_pairs", ">= 2", self.eval_pairs)


IMAGE_SIZES = (8, 16, 32, 64)


@dataclass
class FacesConf(PairDataConf):
    """Olivetti faces, cross-validated BY IDENTITY: the people are cut into ``folds`` folds
    (shuffled by ``split_seed``); fold ``fold`` is the test set, validation people are
    ``val_fraction`` of the others. Validation and test people never appear in training; the
    ``folds`` runs of one seed test every person once."""

    _target_: str = "lossbench.tasks.pairs.data.olivetti"
    folds: int = 5
    fold: int = 0
    # of the people outside the test fold (5 folds of 40: 8 test, 8 validation, 24 training)
    val_fraction: float = 0.25
    # the 64x64 images are average-pooled to this size (64: keep them as they are)
    image_size: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.folds >= 2, "data.folds", ">= 2", self.folds)
        require(0 <= self.fold < self.folds, "data.fold", f"in 0..{self.folds - 1} "
                f"(data.folds={self.folds})", self.fold)
        require(self.image_size in IMAGE_SIZES, "data.image_size", "one of 8, 16, 32, 64",
                 self.image_size)


@dataclass
class LFWPairsConf(PairDataConf):
    """LFW View 1 pairs through scikit-learn's ``fetch_lfw_pairs``: training pairs drawn from
    the official training pairs less a ``val_fraction`` kept for validation, tested on the
    official test pairs (fixed pairs: ``positive_fraction`` does not apply)."""

    _target_: str = "lossbench.tasks.pairs.data.lfw_pairs"
    val_fraction: float = 0.2
    # the 62x47 crops are centre-cropped square and resized to this size
    image_size: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.image_size in IMAGE_SIZES, "data.image_size", "one of 8, 16, 32, 64",
                 self.image_size)


@dataclass
class PairImagesConf(PairDataConf):
    """MNIST-format images as pairs of same / different class, on the usual image splits."""

    _target_: str = "lossbench.tasks.pairs.data.mnist_pairs"
    dataset: str = "mnist"
    val_fraction: float = 0.1
    # use at most this many training images (null: all)
    max_train: Optional[int] = 10000

    def __post_init__(self) -> None:
        super().__post_init__()
        datasets = ("mnist", "fashion_mnist", "digits")
        require(self.dataset in datasets, "data.dataset", f"one of {', '.join(datasets)}",
                 self.dataset)
        require(self.max_train is None or self.max_train > 0, "data.max_train", "> 0 or null",
                 self.max_train)


@dataclass
class EmbeddingCNNConf:
    _target_: str = "lossbench.tasks.pairs.models.EmbeddingCNN"
    channels: list[int] = field(default_factory=lambda: [16, 32, 64])
    hidden: int = 128
    embedding_dim: int = 32
    # L2-normalise the embedding (distances then lie in [0, 2])
    normalize: bool = False

    def __post_init__(self) -> None:
        require(len(self.channels) > 0 and all(c > 0 for c in self.channels), "model.channels",
                 "a non-empty list of positive channel counts", list(self.channels))
        require(self.hidden > 0, "model.hidden", "> 0", self.hidden)
        require(self.embedding_dim > 0, "model.embedding_dim", "> 0", self.embedding_dim)


EXAMPLES = ("pairs", "triplets")
LABELS = ("binary", "sign", "none")
DISTANCES = ("euclidean", "cosine", "pnorm")


@dataclass
class PairLossConf:
    """A loss on embeddings and what it declares: the ``examples`` it takes (``pairs`` with a
    same/different label, or ``triplets`` anchor/positive/negative), the pair ``label``
    encoding (``binary`` 1/0, ``sign`` +1/-1, ``none`` for triplets) and the ``distance`` it
    trains (``euclidean``, ``cosine``: 1 - cos, ``pnorm``: the loss's own ``p``), which the
    evaluation then uses too."""

    _target_: str = MISSING
    reduction: str = "mean"
    examples: str = "pairs"
    label: str = "binary"
    distance: str = "euclidean"
    margin: float = 1.0

    def __post_init__(self) -> None:
        require(self.reduction in ("mean", "sum", "none"), "loss.reduction",
                "one of mean, sum, none", self.reduction)
        require(self.examples in EXAMPLES, "loss.examples", " or ".join(EXAMPLES), self.examples)
        require(self.label in LABELS, "loss.label", f"one of {', '.join(LABELS)}", self.label)
        require(self.distance in DISTANCES, "loss.distance", f"one of {', '.join(DISTANCES)}",
                self.distance)
        require((self.examples == "triplets") == (self.label == "none"), "loss.label",
                "none exactly when loss.examples=triplets", self.label)


@dataclass
class ContrastiveConf(PairLossConf):
    _target_: str = "lossbench.tasks.pairs.losses.ContrastiveLoss"

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.margin > 0, "loss.margin", "> 0", self.margin)


@dataclass
class CosineEmbeddingConf(PairLossConf):
    _target_: str = "torch.nn.CosineEmbeddingLoss"
    label: str = "sign"
    distance: str = "cosine"
    margin: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(-1.0 <= self.margin <= 1.0, "loss.margin", "in [-1, 1]", self.margin)


@dataclass
class TripletConf(PairLossConf):
    _target_: str = "torch.nn.TripletMarginLoss"
    examples: str = "triplets"
    label: str = "none"
    distance: str = "pnorm"
    p: float = 2.0
    swap: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.margin > 0, "loss.margin", "> 0", self.margin)
        require(self.p > 0, "loss.p", "> 0", self.p)


@dataclass
class CustomPairLossConf(PairLossConf):
    """Your own pair loss: ``loss=custom_pairs loss._target_=my_pkg.losses.MyPairLoss`` with
    its declarations (by default: pairs with 1/0 labels at the euclidean distance). Like
    torch's pair losses it is called ``loss(emb1, emb2, label)`` (``loss(anchor, positive,
    negative)`` for triplets) and gets ``margin``, ``reduction`` and ``kwargs``."""

    # keyword arguments of the loss's constructor beyond margin and reduction
    kwargs: dict[str, Any] = field(default_factory=dict)
    # the loss: a class or function, importable where lossbench runs (set by the user)
    _target_: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_custom_loss(self._target_, self.kwargs, PairLossConf)


SCHEMAS: dict[str, dict[str, type]] = {
    "data": {"faces": FacesConf, "lfw_pairs": LFWPairsConf, "pair_images": PairImagesConf},
    "model": {"embedding_cnn": EmbeddingCNNConf},
    "loss": {"contrastive": ContrastiveConf, "cosine_embedding": CosineEmbeddingConf,
             "triplet": TripletConf, "custom_pairs": CustomPairLossConf},
}
