"""The supervised kind's batches: whole splits on the device, each epoch a seeded permutation
of the training rows sliced into batches, one loss per batch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

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
