"""What one training step costs: its wall time and the peak memory it allocates (claim C14).

**Memory.** On the CPU, :func:`step_peak_bytes` profiles one step with ``torch.profiler``
(``profile_memory=True``), which records every allocation and free made through torch's
allocator with its size and time; their running sum, in time order, peaks at the most memory
the step holds at once beyond what was live when it began (activations, gradients, the
loss's temporaries, the batch's targets). On CUDA it is ``torch.cuda.max_memory_allocated``
over the step minus what was allocated before it. What this does not use, and why:
``tracemalloc`` sees only Python's allocator, not torch's; the process's RSS is a poor witness
of a step of a few MB (``ru_maxrss`` is a high-water mark over the whole process, and a joblib
worker runs several jobs; glibc keeps freed pages, so RSS deltas are mostly noise).

**Time.** :func:`step_seconds` is the median wall time of ``n`` steps (``perf_counter``).
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Iterator

import torch
from torch import nn

MEMORY_EVENT = "[memory]"  # the profiler's name for an allocation (+bytes) or a free (-bytes)


def step_peak_bytes(step: Callable[[], None], device: torch.device) -> int:
    """Peak bytes allocated by ``step()`` above what was allocated when it began."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        return max(0, torch.cuda.max_memory_allocated(device) - before)
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted((e for e in prof.profiler.kineto_results.events()
                     if e.name() == MEMORY_EVENT and e.device_type().name == "CPU"),
                    key=lambda e: e.start_ns())
    return max(0, max(itertools.accumulate(e.nbytes() for e in events), default=0))


def step_seconds(step: Callable[[], None], n: int, device: torch.device) -> float:
    """Median wall time of ``n`` calls of ``step()``."""
    times = []
    for _ in range(n):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        tic = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def training_step(model: nn.Module, optimizer: torch.optim.Optimizer,
                  epoch_losses: Callable[[int], Iterator[tuple[torch.Tensor, int]]],
                  grad_clip: float = 0.0) -> Callable[[], None]:
    """One optimizer step per call, as the epoch loop makes it (forward and loss on the next
    batch, backward, clipping, step), batches drawn epoch after epoch."""

    def forever() -> Iterator[tuple[torch.Tensor, int]]:
        for epoch in itertools.count(1):
            yield from epoch_losses(epoch)

    batches = forever()

    def step() -> None:
        loss, _ = next(batches)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()

    return step


def measure(model: nn.Module, optimizer: torch.optim.Optimizer,
            epoch_losses: Callable[[int], Iterator[tuple[torch.Tensor, int]]], n: int,
            device: torch.device, grad_clip: float = 0.0, warmup: int = 2) -> dict[str, float]:
    """``final_step_peak_bytes`` (one profiled step after ``warmup`` steps, so the optimizer's
    state already exists) and ``final_step_seconds`` (median of ``n`` more) of training
    ``model`` further; the model's weights change."""
    model.train()
    step = training_step(model, optimizer, epoch_losses, grad_clip)
    for _ in range(warmup):
        step()
    peak = step_peak_bytes(step, device)
    return {"final_step_peak_bytes": float(peak),
            "final_step_seconds": step_seconds(step, n, device)}
