"""Schemas of the GAN task kind: 2-D mixtures and images, the generator/critic pairs, the GAN
objectives and the generator-step trainer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from lossbench.schema import DataConf, require


@dataclass
class MixtureDataConf(DataConf):
    """A 2-D mixture of narrow Gaussians, i.e. disjoint supports (lossbench.tasks.gan.toy2d)."""

    _target_: str = "lossbench.tasks.gan.toy2d.gaussian_mixture"
    # ring: n_modes centres on a circle of radius `scale`; grid: a square grid `scale` apart
    layout: str = "ring"
    n_modes: int = 8
    scale: float = 2.0
    std: float = 0.02
    n_train: int = 50000
    # held-out real points the metrics compare against (as many generated points are drawn)
    n_eval: int = 2000

    def __post_init__(self) -> None:
        require(self.layout in ("ring", "grid"), "data.layout", "ring or grid", self.layout)
        require(self.n_modes >= 2, "data.n_modes", ">= 2", self.n_modes)
        if self.layout == "grid":
            side = round(self.n_modes ** 0.5)
            require(side * side == self.n_modes, "data.n_modes", "a square for layout=grid",
                     self.n_modes)
        require(self.scale > 0, "data.scale", "> 0", self.scale)
        require(self.std > 0, "data.std", "> 0", self.std)
        require(self.n_train > 0, "data.n_train", "> 0", self.n_train)
        require(self.n_eval >= 2, "data.n_eval", ">= 2", self.n_eval)


@dataclass
class GanImagesConf(DataConf):
    """MNIST-format images for a generator, scaled to [-1, 1] (lossbench.tasks.gan.images)."""

    _target_: str = "lossbench.tasks.gan.images.images"
    dataset: str = "fashion_mnist"
    # held-out real images (from the test split) the metrics compare against
    n_eval: int = 2000

    def __post_init__(self) -> None:
        datasets = ("mnist", "fashion_mnist")
        require(self.dataset in datasets, "data.dataset", f"one of {', '.join(datasets)}",
                 self.dataset)
        require(self.n_eval >= 2, "data.n_eval", ">= 2", self.n_eval)


@dataclass
class FacesDataConf(DataConf):
    """Faces for a generator, scaled to [-1, 1] (lossbench.tasks.gan.faces): Olivetti from the
    data dir (400 grey faces, 40 people), or CelebA through torchvision."""

    _target_: str = "lossbench.tasks.gan.faces.faces"
    dataset: str = "olivetti"
    # side of the square images: 32 (pooled 2x2 from Olivetti's 64) or 64
    image_size: int = 32
    # held-out real faces (Olivetti: drawn from the 400, not trained on) the metrics compare with
    n_eval: int = 80
    # CelebA: the first this many training images (all 163k would not fit in memory)
    max_images: int = 20000

    def __post_init__(self) -> None:
        require(self.dataset in ("olivetti", "celeba"), "data.dataset", "olivetti or celeba",
                 self.dataset)
        require(self.image_size in (32, 64), "data.image_size", "32 or 64", self.image_size)
        require(2 <= self.n_eval <= (200 if self.dataset == "olivetti" else 20000),
                 "data.n_eval", "in [2, 200] for olivetti (400 faces), [2, 20000] for celeba",
                 self.n_eval)
        require(self.max_images > 0, "data.max_images", "> 0", self.max_images)


@dataclass
class GanMLPConf:
    """MLP generator and critic for 2-D points (lossbench.tasks.gan.models)."""

    _target_: str = "lossbench.tasks.gan.models.mlp_gan"
    latent_dim: int = 2
    hidden: list[int] = field(default_factory=lambda: [128, 128, 128])

    def __post_init__(self) -> None:
        require(self.latent_dim > 0, "model.latent_dim", "> 0", self.latent_dim)
        require(len(self.hidden) > 0 and all(h > 0 for h in self.hidden), "model.hidden",
                 "a non-empty list of positive widths", list(self.hidden))


@dataclass
class DCGANConf:
    """DCGAN-style conv generator and critic for square images, 28x28, 32x32 or 64x64: two,
    three or four stride-2 layers (lossbench.tasks.gan.models)."""

    _target_: str = "lossbench.tasks.gan.models.dcgan"
    latent_dim: int = 64
    # channels of the first critic conv / last generator deconv; the other layer has twice that
    width: int = 32

    def __post_init__(self) -> None:
        require(self.latent_dim > 0, "model.latent_dim", "> 0", self.latent_dim)
        require(self.width > 0, "model.width", "> 0", self.width)


@dataclass
class GanLossConf:
    """A GAN objective (critic and generator losses, lossbench.tasks.gan.losses) and the critic
    updates per generator update it is meant to run with. Default: the standard
    non-saturating GAN (BCE on the critic's logits)."""

    _target_: str = "lossbench.tasks.gan.losses.NonSaturatingGanLoss"
    n_critic: int = 1

    def __post_init__(self) -> None:
        require(self.n_critic >= 1, "loss.n_critic", ">= 1", self.n_critic)


@dataclass
class WganConf(GanLossConf):
    """WGAN (Arjovsky et al. 2017): raw critic scores, weights clipped to [-clip, clip]."""

    _target_: str = "lossbench.tasks.gan.losses.WassersteinLoss"
    n_critic: int = 5
    clip: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.clip > 0, "loss.clip", "> 0", self.clip)


@dataclass
class WganGpConf(GanLossConf):
    """WGAN-GP (Gulrajani et al. 2017): a gradient penalty instead of clipping."""

    _target_: str = "lossbench.tasks.gan.losses.WassersteinGPLoss"
    n_critic: int = 5
    gp_lambda: float = 10.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.gp_lambda >= 0, "loss.gp_lambda", ">= 0", self.gp_lambda)


@dataclass
class GanTrainerConf:
    """The GAN loop (lossbench.tasks.gan.loop): a budget of generator steps, metrics and
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
    # width of its feature layer, the Frechet distance's space (keep it well under the number
    # of held-out images, or the covariances are mostly noise)
    classifier_dim: int = 128

    def __post_init__(self) -> None:
        require(self.steps > 0, "trainer.steps", "> 0", self.steps)
        require(self.batch_size > 0, "trainer.batch_size", "> 0", self.batch_size)
        require(self.eval_every > 0, "trainer.eval_every", "> 0", self.eval_every)
        require(self.checkpoint_every >= 0, "trainer.checkpoint_every", ">= 0",
                 self.checkpoint_every)
        require(0.0 < self.coverage_share <= 1.0, "trainer.coverage_share", "in (0, 1]",
                 self.coverage_share)
        require(self.classifier_epochs > 0, "trainer.classifier_epochs", "> 0",
                 self.classifier_epochs)
        require(self.classifier_dim > 0, "trainer.classifier_dim", "> 0", self.classifier_dim)
        require(self.classifier_max_train > 0, "trainer.classifier_max_train", "> 0",
                 self.classifier_max_train)


SCHEMAS: dict[str, dict[str, type]] = {
    "data": {"mixture_2d": MixtureDataConf, "gan_images": GanImagesConf,
             "gan_faces": FacesDataConf},
    "model": {"gan_mlp": GanMLPConf, "dcgan": DCGANConf},
    "loss": {"gan": GanLossConf, "wgan": WganConf, "wgan_gp": WganGpConf},
    "trainer": {"gan": GanTrainerConf},
}


