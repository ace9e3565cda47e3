"""Data sets: each loader returns a :class:`~lossbench.data.tabular.Splits` of train/val/test."""

from lossbench.data.errors import DataFileError, DataNotFoundError
from lossbench.data.tabular import Splits

__all__ = ["DataFileError", "DataNotFoundError", "Splits"]
