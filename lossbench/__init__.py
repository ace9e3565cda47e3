"""lossbench: compare loss functions on real tasks."""

__version__ = "0.1.0"
