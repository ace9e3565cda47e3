"""The GAN task's parts: losses, models, the train loop, checkpoints, metrics, plots.

:mod:`lossbench.tasks.gan` wires them together.
"""
