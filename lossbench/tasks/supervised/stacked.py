"""Stacked seeds: the seeds of one supervised job trained as ONE stacked model (``seeds=[...]``).

Small models are bound by per-step Python and dispatch costs; a stack pays them once for all
seeds. Each seed keeps exactly what it would have alone:

* its model is built by the task's own ``build`` after ``seed_everything(seed)`` (same initial
  weights, same data split, same loss), then the models are stacked with
  :func:`torch.func.stack_module_state`; a chain of ``Flatten``, ``Linear`` and elementwise
  activations (the MLP) runs as batched matrix products (``torch.baddbmm``, one per layer for
  all seeds: 1.3-1.7x faster per step than ``vmap`` measured on 10 seeds of an 8-64-64-1 MLP,
  one CPU thread), any other model through ``vmap(functional_call(...))``;
* its batch order: each epoch every seed draws its permutation from its own generator;
* its gradient: the loss is the sum of the per-seed losses (:func:`_per_seed_loss`), so a
  seed's parameters get only its loss's gradient, and elementwise optimizers (Adam, SGD,
  RMSprop; their multi-tensor ``foreach`` form, the same arithmetic per element in fewer
  calls) keep per-seed state in the stacked tensors; gradient clipping is per seed
  (:func:`clip_per_seed`);
* its early stopping and best-epoch restore: after each epoch's steps the stack is copied back
  into the seeds' own models, which the task scores and :func:`lossbench.loop.end_epoch`
  judges per seed; a stopped seed's slice keeps training harmlessly (its best weights are
  restored at the end) until every seed has stopped;
* its MLflow run (lossbench.app opens one per seed), with the same metrics, figures and
  ``train_seconds`` as the stack's wall time divided by the number of seeds.

A seed whose training loss becomes non-finite fails alone (its run FAILED). Not stacked
(:func:`unstackable` says why; the job's seeds then train one after another in its process):
models with dropout (it draws from the global RNG, so no seed could match its unstacked run),
``resume=true`` (no checkpoints are written), ``trainer.on_diverge=stop`` and
``trainer.measure_steps`` (both judge one model's own weights and steps). Where a stack does
not pay (:func:`stack_does_not_pay`: a convolutional model on a CPU), the built seeds train one
after another in the job, each exactly as alone.
"""

from __future__ import annotations

import copy
import inspect
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Optional, Union

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from lossbench.loop import (FitResult, FitState, TrainingDiverged, end_epoch, epoch_permutation,
                            fit)
from lossbench.runner import EpochTask, finish, prefixed, fit_options
from lossbench.tasks.supervised.loop import Batches
from lossbench.tasks.supervised.losses import LogCoshLoss
from lossbench.tasks.supervised.models import MLP
from lossbench.torchutil import convolutional_on_cpu
from lossbench.tracking import Tracker

log = logging.getLogger(__name__)


def unstackable(cfg: DictConfig) -> str:
    """Why the job's seeds cannot train as one stack seed by seed exactly as alone ("" when
    they can), decided before any data loads."""
    if cfg.model.get("dropout", 0.0) > 0:
        return f"model.dropout={cfg.model.dropout} draws from the global RNG"
    if cfg.resume:
        return "resume=true needs each seed's own checkpoints"
    if cfg.trainer.on_diverge != "raise":
        return f"trainer.on_diverge={cfg.trainer.on_diverge} judges one model's weights"
    if cfg.trainer.measure_steps:
        return "trainer.measure_steps times one model's steps"
    return ""


# elementwise layers a batched chain applies as they are (they hold no parameters)
_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.ELU, nn.SiLU,
                nn.Identity)


def batched_chain(model: nn.Module, params: dict[str, torch.Tensor],
                  ) -> Optional[Callable[[torch.Tensor], torch.Tensor]]:
    """The stacked forward of a model that is a chain: an ``nn.Sequential``, or an
    :class:`~lossbench.tasks.supervised.models.MLP` (whose forward is its ``net``), of
    ``Flatten``, ``Linear`` and elementwise activations: ``x`` of shape (seeds, batch, ...)
    through one ``torch.baddbmm`` per linear layer, reading the stacked ``params`` (so the
    optimizer's updates are seen). None for any other model: only these types are known to
    compute exactly their layers in order (a subclass may not)."""
    prefix, chain = ("net.", model.net) if type(model) is MLP else ("", model)
    if type(chain) is not nn.Sequential:
        return None
    steps: list[Callable[[torch.Tensor], torch.Tensor]] = []
    for name, layer in chain.named_children():
        if type(layer) is nn.Linear:
            w = params[f"{prefix}{name}.weight"]
            b = params.get(f"{prefix}{name}.bias")
            steps.append(lambda h, w=w, b=b: torch.bmm(h, w.transpose(1, 2)) if b is None
                         else torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)))
        elif type(layer) is nn.Flatten and layer.start_dim == 1 and layer.end_dim == -1:
            steps.append(lambda h: h.flatten(2))
        elif type(layer) in _ELEMENTWISE:
            steps.append(layer)
        else:
            return None

    def forward(x: torch.Tensor) -> torch.Tensor:
        for step in steps:
            x = step(x)
        return x

    return forward


class Stack:
    """Several models of one architecture as one: stacked parameters (seed first), a batched
    forward (:func:`batched_chain` where the model allows, else ``vmap``), and
    :meth:`unstack` to copy the parameters back into each seed's own model."""

    def __init__(self, models: Sequence[nn.Module]) -> None:
        self.models = list(models)
        self.params, self.buffers = stack_module_state(self.models)
        chain = batched_chain(self.models[0], self.params)
        if chain is not None:
            self._forward = lambda p, b, x: chain(x)
            return
        base = copy.deepcopy(self.models[0]).to("meta")
        self._forward = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(self.params, self.buffers, x)

    @torch.no_grad()
    def unstack(self) -> None:
        stacked = {**self.params, **self.buffers}
        for i, model in enumerate(self.models):
            model.load_state_dict({k: v[i] for k, v in stacked.items()})


def stacked_losses(stack: Stack, runs: Sequence[Batches],
                   ) -> Callable[[int], Iterator[tuple[torch.Tensor, int]]]:
    """``epoch -> (per-seed batch losses (seeds,), batch size)``: each seed's batches come
    from its own permutation (drawn from its own generator, as alone), all seeds at once:
    each epoch gathers every seed's rows in its own order once, and the steps take
    consecutive slices of that. With :func:`_per_seed_loss` and the optimizer's ``foreach``
    form, a step of 10 seeds of house_price's MLP took 23 % less time than with a gather
    per step, a ``vmap``-ed loss and the per-tensor optimizer (best of 5, one thread)."""
    x = torch.stack([b.x for b in runs])
    target = torch.stack([b.target for b in runs])
    rows = torch.arange(len(runs), device=x.device)[:, None]
    n, size = x.shape[1], runs[0].batch_size
    per_seed = _per_seed_loss(runs)

    def losses(_epoch: int) -> Iterator[tuple[torch.Tensor, int]]:
        order = torch.stack([epoch_permutation(n, b.generator, x.device) for b in runs])
        xs, ts = x[rows, order], target[rows, order]
        for start in range(0, n, size):
            batch = xs[:, start:start + size].contiguous()  # (a view was 5 % slower)
            yield per_seed(stack(batch), ts[:, start:start + size]), batch.shape[1]

    return losses


# torch losses whose "mean" is the plain mean of a per-example loss when they hold no weights
# (class weights and pos_weight are buffers: such a loss takes the per-seed loop)
_PER_EXAMPLE = (nn.MSELoss, nn.L1Loss, nn.HuberLoss, nn.SmoothL1Loss, LogCoshLoss,
                nn.BCEWithLogitsLoss, nn.CrossEntropyLoss)


def _per_seed_loss(runs: Sequence[Batches],
                   ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``(outputs, targets)`` of shape (seeds, batch, ...) -> each seed's batch loss (seeds,).

    * a loss that holds tensors (e.g. a pos_weight from each seed's labels): each seed's own
      loss module on its own slice;
    * a loss whose mean is the plain mean of a per-example loss (:data:`_PER_EXAMPLE`, mean
      reduction, no weights): the same loss unreduced on all seeds' rows at once (the task's
      ``to_loss_input`` sees a batch of rows, as alone), then each seed's mean, in fewer
      operations than vmap dispatches;
    * any other loss (the seeds' losses are the same function): one ``vmap``-ed call.
    """
    first = runs[0]
    if any(_has_tensors(b.loss_fn) for b in runs):
        return lambda out, y: torch.stack([b.loss_fn(b.to_loss_input(o), t)
                                           for b, o, t in zip(runs, out, y)])
    fn = first.loss_fn
    if type(fn) in _PER_EXAMPLE and fn.reduction == "mean":  # a weight is a buffer: above
        unreduced = copy.copy(fn)
        unreduced.reduction = "none"

        def per_example_means(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            seeds = out.shape[0]
            per_example = unreduced(first.to_loss_input(out.flatten(0, 1)), y.flatten(0, 1))
            return per_example.reshape(seeds, -1).mean(1)

        return per_example_means
    return vmap(lambda o, t: fn(first.to_loss_input(o), t))


def _has_tensors(module: object) -> bool:
    """Whether a loss holds tensors (parameters, buffers) that may differ between seeds."""
    return isinstance(module, nn.Module) and any(
        True for _ in (*module.parameters(), *module.buffers()))


@torch.no_grad()
def clip_per_seed(params: Sequence[torch.Tensor], max_norm: float) -> None:
    """:func:`torch.nn.utils.clip_grad_norm_` for each seed's slice of stacked parameters."""
    grads = [p.grad for p in params if p.grad is not None]
    norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads], dim=1)
    coef = (max_norm / (torch.linalg.vector_norm(norms, dim=1) + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(-1, *[1] * (g.dim() - 1)))


def fit_stack(stack: Stack, optimizer: torch.optim.Optimizer,
              epoch_losses: Callable[[int], Iterator[tuple[torch.Tensor, int]]], *,
              epochs: int, patience: int, monitor: str, monitor_mode: str, grad_clip: float,
              evaluate: Sequence[Callable[[], dict[str, float]]],
              on_epoch: Sequence[Callable[[int, dict[str, float]], None]],
              ) -> list[Union[FitResult, TrainingDiverged]]:
    """:func:`lossbench.loop.fit` for a stack: one optimizer step per batch for all seeds,
    then per seed (``evaluate[i]``, ``on_epoch[i]``) the same end of epoch as alone; the
    seeds' own models end with their best epoch's weights. Returns per seed its result, or
    the :class:`TrainingDiverged` that ended it."""
    states = [FitState(best=math.inf if monitor_mode == "min" else -math.inf,
                       best_weights=copy.deepcopy(m.state_dict())) for m in stack.models]
    failed: dict[int, TrainingDiverged] = {}
    tic = time.perf_counter()
    for epoch in range(1, epochs + 1):
        live = [i for i, s in enumerate(states) if not s.stopped]
        if not live:
            break
        total, count = None, 0
        for losses, size in epoch_losses(epoch):
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            if grad_clip > 0:
                clip_per_seed(list(stack.params.values()), grad_clip)
            optimizer.step()
            weighted = losses.detach() * size
            total = weighted if total is None else total + weighted
            count += size
        train_loss = (total / count).tolist()  # one device sync per epoch
        stack.unstack()
        for i in live:
            try:
                end_epoch(states[i], epoch, train_loss[i], stack.models[i], patience=patience,
                          monitor=monitor, monitor_mode=monitor_mode, evaluate=evaluate[i],
                          on_epoch=on_epoch[i])
            except TrainingDiverged as e:
                failed[i], states[i].stopped = e, True
    share = (time.perf_counter() - tic) / len(states)
    results: list[Union[FitResult, TrainingDiverged]] = []
    for i, (s, model) in enumerate(zip(states, stack.models)):
        model.load_state_dict(s.best_weights)
        results.append(failed.get(i) or FitResult(history=s.history, best_epoch=s.best_epoch,
                                                  epochs_run=s.epoch, seconds=share))
    return results


def stack_does_not_pay(model: nn.Module) -> str:
    """Why seeds of this model train one after another although they could stack, "" when a
    stack pays. On a CPU a convolutional model is compute-bound, and its stack (``vmap``:
    grouped convolutions, in the default layout) took 46 ms per seed-step where the seeds'
    own models in channels-last layout (:func:`lossbench.torchutil.place`) took 22-25 ms one
    after another (SmallCNN on 28x28 images, batch 128, 5 seeds, one thread)."""
    if convolutional_on_cpu(model, next(model.parameters()).device):
        return "a convolutional model on a CPU trains faster alone (channels-last layout)"
    return ""


def run_stacked(cfg: DictConfig, tasks: Sequence[EpochTask], trackers: Sequence[Tracker],
                ) -> list[Union[dict[str, float], TrainingDiverged]]:
    """Train the seeds' tasks (built by the task kind's ``build``, one per seed) as one
    stack with ``cfg.optimizer`` and ``cfg.trainer`` (one after another where
    :func:`stack_does_not_pay`); log each seed's ``train_loss`` and ``val_*`` per epoch and its
    ``final_*`` metrics and figures into its own tracker, as
    :func:`lossbench.runner.run_epochs` does alone. Returns per seed its final metrics, or
    the error that ended it."""
    why = stack_does_not_pay(tasks[0].model)
    if why:
        log.info("seeds %s train one after another: %s", list(cfg.seeds), why)
        return [_fit_alone(cfg, t, tr) for t, tr in zip(tasks, trackers)]
    stack = Stack([t.model for t in tasks])
    make = instantiate(cfg.optimizer)
    foreach = {"foreach": True} if "foreach" in inspect.signature(make).parameters else {}
    optimizer = make(list(stack.params.values()), **foreach)
    results = fit_stack(
        stack, optimizer, stacked_losses(stack, [t.batches for t in tasks]),
        **fit_options(cfg.trainer),
        evaluate=[lambda t=t: prefixed("val", t.score("val")) for t in tasks],
        on_epoch=[lambda e, m, tr=tr: tr.log_metrics(m, step=e) for tr in trackers])
    return [r if isinstance(r, TrainingDiverged) else finish(cfg, t, tr, r, r.epochs_run)
            for r, t, tr in zip(results, tasks, trackers)]


def _fit_alone(cfg: DictConfig, task: EpochTask, tracker: Tracker,
               ) -> Union[dict[str, float], TrainingDiverged]:
    """One seed's task trained as :func:`lossbench.runner.run_epochs` trains it (the same
    optimizer, loop and logging; no checkpoints, as in a stack): its final metrics, or the
    divergence that ended it."""
    optimizer = instantiate(cfg.optimizer)(task.model.parameters())
    try:
        result = fit(task.model, optimizer, task.epoch_losses, **fit_options(cfg.trainer),
                     evaluate=lambda: prefixed("val", task.score("val")),
                     on_epoch=lambda e, m: tracker.log_metrics(m, step=e))
    except TrainingDiverged as e:
        return e
    return finish(cfg, task, tracker, result, result.epochs_run)
