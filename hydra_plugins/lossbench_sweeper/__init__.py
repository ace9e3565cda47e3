"""Hydra's basic sweeper that stacks seeds (``stack_seeds``, on by default; lossbench.sweeper). Hydra
loads sweepers only from the ``hydra_plugins`` namespace, hence this package."""

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

from lossbench.progress import announce
from lossbench.sweeper import launcher_workers, runs_of, stack_seed_jobs


class StackingSweeper(BasicSweeper):
    """:class:`BasicSweeper`; with ``stack_seeds`` (the default) the jobs that differ only in ``seed``
    become stacked jobs (:func:`lossbench.sweeper.stack_seed_jobs`)."""

    def split_arguments(self, overrides, max_batch_size):  # an instance method here
        batches = BasicSweeper.split_arguments(overrides, max_batch_size)
        if self.config.get("stack_seeds"):
            workers = launcher_workers(self.config.hydra.launcher)
            batches = [stack_seed_jobs(batch, workers) for batch in batches]
        announce(sum(runs_of(job) for batch in batches for job in batch))
        return batches
