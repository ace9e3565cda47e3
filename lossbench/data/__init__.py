"""What the task kinds' data loaders share: train/val/test :class:`~lossbench.data.tabular.Splits`,
MNIST-format image files (:mod:`lossbench.data.images`) and the error a missing data set
raises (:mod:`lossbench.data.errors`). The loaders themselves live with their kind, in
``lossbench/tasks/<kind>/data.py``."""

from lossbench.data.errors import DataFileError, DataNotFoundError

__all__ = ["DataFileError", "DataNotFoundError", "Splits"]


def __getattr__(name: str):
    """``Splits`` on first use: it needs scikit-learn, which ``lossbench --cfg job`` does not."""
    if name == "Splits":
        from lossbench.data.tabular import Splits

        return Splits
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
