"""GAN: a generator against a critic, trained with a GAN objective (WGAN, WGAN-GP or the
standard non-saturating GAN) for a budget of generator steps.

Every ``trainer.eval_every`` steps the loop's statistics (critic and generator losses, the
gradient penalty, the critic's gap on training batches) and the evaluator's metrics (critic's
Wasserstein estimate; W1, mode coverage and the collapse indicator on points; Frechet
distance, class histogram and distance to the nearest training image on images) are logged
with ``step`` = generator step, with a PNG of the samples. At the end: ``final_*`` of the last
evaluation (``final_collapsed``: the 0/1 collapse indicator on points) and, for images, the
nearest-training-image panel ``samples/nearest_train.png``. Every
``trainer.checkpoint_every`` steps and at the end, generator, critic, optimizers and RNG states
go to the checkpoint dir; ``resume=true`` continues from there to the same result, re-logging
the earlier history into the new MLflow run.
"""

from __future__ import annotations

import logging
import time

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from lossbench import progress
from lossbench.schema import check_group, check_monitor
from lossbench.tasks.gan.data import GanData
from lossbench.tasks.gan import checkpoint, plots
from lossbench.tasks.gan.evaluate import make_evaluator
from lossbench.tasks.gan.loop import GanTrainer
from lossbench.tasks.gan.schema import (DCGANConf, FacesDataConf, GanImagesConf, GanLossConf,
                                        GanMLPConf, GanTrainerConf, MixtureDataConf)
from lossbench.torchutil import place
from lossbench.tracking import Tracker, log_figures

log = logging.getLogger(__name__)
CURVES = {"points": ["critic_w_estimate", "w1", "modes_covered", "modes_visited",
                     "hq_fraction", "loss_critic", "loss_generator"],
          "images": ["critic_w_estimate", "fd", "nn_train_distance", "gen_classes",
                     "gen_class_entropy", "loss_critic", "loss_generator"]}


def check(cfg: DictConfig) -> None:
    """Task gan needs a GAN loop, a GAN objective, GAN data and a generator/critic pair
    (before any data is loaded)."""
    check_group(cfg, "trainer", GanTrainerConf, "use a GAN trainer (trainer=gan_points, "
                "gan_images or gan_faces; the GAN data options pick one)")
    check_group(cfg, "loss", GanLossConf, "use a GAN loss (wgan, wgan_gp, wgan_gp_paper or gan)")
    check_group(cfg, "data", (MixtureDataConf, GanImagesConf, FacesDataConf), "use GAN data "
                "(olivetti_gan, celeba_gan, gaussians8, gaussians25, fashion_mnist_gan or "
                "mnist_gan)")
    check_group(cfg, "model", (GanMLPConf, DCGANConf), "use model=gan_mlp (2-D) or dcgan")
    kind = "points" if issubclass(OmegaConf.get_type(cfg.data), MixtureDataConf) else "images"
    check_monitor(cfg, CURVES[kind])


def build_trainer(cfg: DictConfig, data: GanData, device: torch.device) -> GanTrainer:
    """Models, objective and one optimizer per network, from the config."""
    pair = place(instantiate(cfg.model, sample_shape=data.sample_shape), device)
    loss = instantiate(cfg.loss)
    make_optimizer = instantiate(cfg.optimizer, _convert_="all")  # betas: a tuple, not a ListConfig
    x = torch.as_tensor(data.x_train, device=device)
    return GanTrainer(pair, loss, make_optimizer(pair.generator.parameters()),
                      make_optimizer(pair.critic.parameters()), x, cfg.trainer.batch_size,
                      cfg.seed)


def run(cfg: DictConfig, data: GanData, device: torch.device, tracker: Tracker) -> dict[str, float]:
    tc = cfg.trainer
    trainer = build_trainer(cfg, data, device)
    ckpt_dir, fprint = checkpoint.checkpoint_dir(cfg), checkpoint.fingerprint(cfg)
    state = checkpoint.load(ckpt_dir, fprint) if cfg.resume else None  # refuse early
    evaluator = make_evaluator(cfg, data, trainer.pair, device)
    title = cfg.run_name
    tracker.set_tags({"checkpoint_dir": str(ckpt_dir.resolve()),
                      "data_source": data.info.get("source", "")})
    tracker.log_metrics(evaluator.reference(), step=0)

    history: list[dict[str, float]] = []
    if cfg.resume:
        if state is None:
            log.warning("resume=true but no checkpoint in %s: starting afresh", ckpt_dir)
        else:
            trainer.load_state_dict(state["trainer"])
            checkpoint.set_global_rng_state(state["rng"])
            history = state["history"]
            for h in history:  # the new run gets the whole curve
                tracker.log_metrics({k: v for k, v in h.items() if k != "step"}, step=h["step"])
            tracker.set_tags({"resumed_from_step": str(trainer.step)})
            log.info("resumed from %s at generator step %d", ckpt_dir, trainer.step)

    def evaluate(step: int) -> None:
        scores, samples = evaluator()
        m = trainer.pop_stats() | scores
        history.append({"step": step, **m})
        tracker.log_metrics(m, step=step)
        log_figures(tracker, {f"samples/step_{step:06d}.png":
                              lambda: evaluator.figure(samples, f"{title}, step {step}")})
        log.info("step %d: %s", step, _summary(m))

    if not history:
        evaluate(trainer.step)
    # read once: in a study they are interpolations (${study.budget.${profile}.steps}) that
    # OmegaConf parses again on every access: 3 a step cost 5.5 of 37.6 s under cProfile
    steps, eval_every, checkpoint_every = tc.steps, tc.eval_every, tc.checkpoint_every
    tic = time.perf_counter()
    with progress.bar(steps, cfg.run_name, initial=trainer.step, unit="step") as bar:
        while trainer.step < steps:
            trainer.train_step()
            step = trainer.step
            bar.update(1)
            if step % eval_every == 0 or step == steps:
                evaluate(step)
                bar.set_postfix({k: f"{v:.4g}" for k, v in history[-1].items()
                                 if k in ("w1", "fd")}, refresh=False)
            if (checkpoint_every and step % checkpoint_every == 0) or step == steps:
                checkpoint.save(ckpt_dir, trainer.state_dict(), history, fprint)
    seconds = time.perf_counter() - tic
    if history[-1]["step"] != trainer.step:  # resumed past the budget: score what is there
        evaluate(trainer.step)

    final = {f"final_{k}": v for k, v in history[-1].items() if k != "step"}
    final |= {"steps_run": float(trainer.step), "train_seconds": seconds}
    tracker.log_metrics(final, step=trainer.step)
    log_figures(tracker, {"plots/gan_curves.png":
                          lambda: plots.curves(history, CURVES[data.kind], title)}
                | evaluator.final_figures(evaluator.generate().cpu().numpy(),
                                          f"{title}, step {trainer.step}"))
    log.info("%s after %d generator steps (%.0f s): %s", cfg.run_name, trainer.step, seconds,
             _summary(history[-1]))
    return final


def _summary(m: dict[str, float]) -> str:
    keys = ("critic_w_estimate", "w1", "modes_covered", "modes_visited", "collapsed",
            "hq_fraction", "fd", "nn_train_distance", "gen_classes")
    return ", ".join(f"{k}={m[k]:.4g}" for k in keys if k in m)

