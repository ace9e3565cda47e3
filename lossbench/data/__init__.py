"""What the task kinds' data loaders share: train/val/test :class:`~lossbench.data.tabular.Splits`,
MNIST-format image files (:mod:`lossbench.data.images`) and the error a missing data set
raises (:mod:`lossbench.data.errors`). The loaders themselves live with their kind, in
``lossbench/tasks/<kind>/data.py``."""

from lossbench.data.errors import DataFileError, DataNotFoundError
from lossbench.data.tabular import Splits

__all__ = ["DataFileError", "DataNotFoundError", "Splits"]
