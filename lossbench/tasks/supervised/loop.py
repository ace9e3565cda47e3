"""The supervised kind's batches: whole splits on the device, each epoch a seeded permutation
of the training rows sliced into batches, one loss per batch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from omegaconf import DictConfig

from lossbench.data.tabular import Splits
from lossbench.loop import batch_indices
from lossbench.schema import TrainerConf, check_group
from lossbench.tasks.supervised.schema import CNNConf, MLPConf

Tensors = dict[str, tuple[torch.Tensor, torch.Tensor]]


def check_common(cfg: DictConfig) -> None:
    """What both supervised kinds need: an epoch trainer and an MLP or CNN."""
    check_group(cfg, "trainer", TrainerConf, "use trainer=supervised (epochs, early stopping)")
    check_group(cfg, "model", (MLPConf, CNNConf), "use model=mlp or model=cnn")


def epoch_metrics(names: "tuple[str, ...]") -> list[str]:
    """What the epoch loop logs per epoch, hence what ``trainer.monitor`` may name."""
    return ["train_loss", *(f"val_{n}" for n in names)]


def to_device(splits: Splits, device: torch.device, dtype: str = "float32") -> Tensors:
    """The splits as tensors on ``device``, floating arrays as ``dtype`` (trainer.dtype)."""
    def tensor(a) -> torch.Tensor:
        t = torch.as_tensor(a, device=device)
        return t.to(getattr(torch, dtype)) if t.is_floating_point() else t

    return {part: tuple(tensor(a) for a in splits.split(part)) for part in ("train", "val", "test")}


@dataclass
class Batches:
    """One run's training rows and loss as whole tensors: what :func:`epoch_losses` slices a
    permutation of, and what stacked seeds stack (:mod:`lossbench.tasks.supervised.stacked`)."""

    x: torch.Tensor
    target: torch.Tensor
    loss_fn: Callable
    to_loss_input: Callable[[torch.Tensor], torch.Tensor]
    batch_size: int
    generator: torch.Generator

    def epoch_losses(self, model: torch.nn.Module) -> Callable[[int], Iterator[tuple[torch.Tensor, int]]]:
        return epoch_losses(model, self.loss_fn, self.x, self.target, batch_size=self.batch_size,
                            generator=self.generator, to_loss_input=self.to_loss_input)


def epoch_losses(model: torch.nn.Module, loss_fn: Callable, x: torch.Tensor, target: torch.Tensor,
                 *, batch_size: int, generator: torch.Generator,
                 to_loss_input: Callable[[torch.Tensor], torch.Tensor],
                 ) -> Callable[[int], Iterator[tuple[torch.Tensor, int]]]:
    """``epoch -> (batch loss, batch size)`` over a fresh permutation of ``x`` each epoch,
    drawn from ``generator`` (:func:`lossbench.loop.batch_generator`, seeded by the run; a
    checkpoint saves its state); ``to_loss_input`` maps the model's raw output to what
    ``loss_fn`` consumes."""

    def losses(_epoch: int) -> Iterator[tuple[torch.Tensor, int]]:
        for idx in batch_indices(len(x), batch_size, generator, x.device):
            yield loss_fn(to_loss_input(model(x[idx])), target[idx]), len(idx)

    return losses


def once_per_weights(model: torch.nn.Module, predict: Callable[[torch.Tensor], np.ndarray],
                     tensors: Tensors) -> Callable[[str], np.ndarray]:
    """``part -> predict(x of that split)``, computed once per state of ``model``'s weights:
    the final scores and the figures read the same test predictions (a cancer_screening run
    predicted its test split twice at the end, 1.8 s each under cProfile). The weights'
    state is each parameter's and buffer's identity and in-place version counter, which
    every optimizer step and ``load_state_dict`` bumps."""
    cache: dict[str, tuple[tuple[tuple[int, int], ...], np.ndarray]] = {}

    def predicted(part: str) -> np.ndarray:
        state = tuple((id(t), t._version) for t in (*model.parameters(), *model.buffers()))
        hit = cache.get(part)
        if hit is None or hit[0] != state:
            hit = cache[part] = (state, predict(tensors[part][0]))
        return hit[1]

    return predicted
