"""Scoring a generator every so many steps, on a fixed noise batch (the same at every
evaluation and across a resume, so curves compare like with like; it never touches the
training loop's RNG).

Every evaluation gives the critic's Wasserstein estimate ``E[D(real)] - E[D(fake)]`` on
held-out real samples (for the standard GAN, the same gap in logits), plus, for points, the
exact W1 to the held-out sample, mode coverage and the collapse indicator, and for images the
Frechet distance in a classifier's feature space, the histogram of the classes it assigns to
generated images and the distance of generated images to their nearest training image.
:meth:`Evaluator.reference` gives what real data scores (the floor of each metric);
:meth:`Evaluator.final_figures` the figures made once, at the end (the nearest-training-image
panel).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from omegaconf import DictConfig

from lossbench.tasks.gan.data import GanData
from lossbench.tasks.gan import features, metrics, plots
from lossbench.tasks.gan.models import GanPair

NOISE_SEED_OFFSET = 7919
# generated images whose nearest training image is searched at each evaluation
NN_SAMPLES = 256
# pairs in the nearest-training-image panel
PANEL_SAMPLES = 8


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[None]:
    """Eval mode (batch norm uses its running statistics and updates nothing), then back."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)


class Evaluator:
    def __init__(self, data: GanData, pair: GanPair, device: torch.device, seed: int,
                 share: float) -> None:
        self.data, self.pair, self.device, self.share = data, pair, device, share
        gen = torch.Generator().manual_seed(seed + NOISE_SEED_OFFSET)
        self.noise = torch.randn(len(data.x_eval), pair.latent_dim, generator=gen).to(device)
        self.x_eval = torch.as_tensor(data.x_eval, device=device)

    def generate(self) -> torch.Tensor:
        with eval_mode(self.pair):
            return features.apply(self.pair.generator, self.noise)

    def critic_estimate(self, fake: torch.Tensor) -> float:
        with eval_mode(self.pair):
            real_scores = features.apply(self.pair.critic, self.x_eval)
            fake_scores = features.apply(self.pair.critic, fake)
        return float(real_scores.mean() - fake_scores.mean())

    def __call__(self) -> tuple[dict[str, float], np.ndarray]:
        """Metrics of the current generator, and its samples (numpy)."""
        fake = self.generate()
        out = {"critic_w_estimate": self.critic_estimate(fake)}
        samples = fake.cpu().numpy()
        return out | self.sample_metrics(samples), samples

    def sample_metrics(self, samples: np.ndarray) -> dict[str, float]:
        raise NotImplementedError

    def reference(self) -> dict[str, Any]:
        raise NotImplementedError

    def figure(self, samples: np.ndarray, title: str) -> Figure:
        raise NotImplementedError

    def final_figures(self, samples: np.ndarray, title: str) -> dict[str, Any]:
        """Artifact path -> figure builder, logged once after training."""
        return {}


class PointsEvaluator(Evaluator):
    def sample_metrics(self, samples: np.ndarray) -> dict[str, float]:
        out = {"w1": metrics.wasserstein1_exact(samples, self.data.x_eval)}
        out |= metrics.mode_coverage(samples, self.data.modes, self.data.std, self.share)
        return out | metrics.mode_collapse(samples, self.data.modes, self.share)

    def reference(self) -> dict[str, Any]:
        """W1 between two real samples of this size; coverage of the real sample."""
        other = self.data.x_train[:len(self.data.x_eval)]
        cov = metrics.mode_coverage(self.data.x_eval, self.data.modes, self.data.std, self.share)
        return {"w1_real_floor": metrics.wasserstein1_exact(other, self.data.x_eval),
                "hq_fraction_real": cov["hq_fraction"]}

    def figure(self, samples: np.ndarray, title: str) -> Figure:
        return plots.points(self.data.x_eval, samples, self.data.modes, title)


class ImagesEvaluator(Evaluator):
    def __init__(self, data: GanData, pair: GanPair, device: torch.device, seed: int,
                 share: float, classifier: features.FeatureCNN,
                 classifier_meta: dict[str, Any]) -> None:
        super().__init__(data, pair, device, seed, share)
        self.classifier, self.classifier_meta = classifier, classifier_meta
        self.num_classes = int(data.y_train.max()) + 1
        self.real_features = self._features(self.x_eval)
        self.x_train = torch.as_tensor(data.x_train, device=device)

    def nearest_train(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return metrics.nearest_neighbours(x, self.x_train)

    def _features(self, x: torch.Tensor) -> np.ndarray:
        return features.apply(self.classifier.features, x).double().cpu().numpy()

    def sample_metrics(self, samples: np.ndarray) -> dict[str, float]:
        x = torch.as_tensor(samples, device=self.device)
        out = {"fd": metrics.frechet_distance(self._features(x), self.real_features)}
        out["nn_train_distance"] = float(self.nearest_train(x[:NN_SAMPLES])[1].mean())
        pred = features.apply(self.classifier, x).argmax(1).cpu().numpy()
        return out | metrics.class_histogram(pred, self.num_classes, self.share)

    def reference(self) -> dict[str, Any]:
        """FD between as many real training images and the held-out ones; classifier accuracy;
        the held-out images' distance to their nearest training image (what an image the
        generator did not copy scores)."""
        other = torch.as_tensor(self.data.x_train[:len(self.data.x_eval)], device=self.device)
        nn_real = self.nearest_train(self.x_eval[:NN_SAMPLES])[1]
        return {"fd_real_floor": metrics.frechet_distance(self._features(other),
                                                          self.real_features),
                "fd_classifier_val_accuracy": self.classifier_meta["val_accuracy"],
                "nn_train_distance_real": float(nn_real.mean())}

    def figure(self, samples: np.ndarray, title: str) -> Figure:
        return plots.image_grid(samples[:64], title)

    def final_figures(self, samples: np.ndarray, title: str) -> dict[str, Any]:
        x = torch.as_tensor(samples[:PANEL_SAMPLES], device=self.device)
        idx, dist = self.nearest_train(x)
        nearest = self.data.x_train[idx.cpu().numpy()]
        return {"samples/nearest_train.png": lambda: plots.nearest_panel(
            samples[:PANEL_SAMPLES], nearest, dist.cpu().numpy(), title)}


def make_evaluator(cfg: DictConfig, data: GanData, pair: GanPair,
                   device: torch.device) -> Evaluator:
    tc = cfg.trainer
    if data.kind == "points":
        return PointsEvaluator(data, pair, device, cfg.seed, tc.coverage_share)
    classifier, meta = features.feature_classifier(
        data.x_train, data.y_train, data.info.get("dataset", "images"), cfg.data_dir,
        epochs=tc.classifier_epochs, max_train=tc.classifier_max_train, device=device,
        dim=tc.classifier_dim)
    return ImagesEvaluator(data, pair, device, cfg.seed, tc.coverage_share, classifier, meta)
