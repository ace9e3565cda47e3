"""Check a loss's ``_target_`` before any data loads: it imports, it is callable, and it takes
the keyword arguments the config gives it. Each failure is one line naming the key.

Used by every task kind that instantiates ``cfg.loss`` itself (supervised and pairs), so a
user's own loss (``loss=custom loss._target_=my_pkg.losses.MyLoss``) and an overridden
``_target_`` fail at once, not after the data set has loaded.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lossbench.schema import ConfigError


def locate(path: str) -> Any:
    """The object at dotted ``path``: the longest importable module prefix, then attributes.
    Raises the ImportError / AttributeError that explains why not."""
    parts = path.split(".")
    if not all(parts):
        raise ImportError(f"{path!r} is not a dotted import path")
    module, error = None, None
    for i in range(len(parts), 0, -1):
        name = ".".join(parts[:i])
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            # only "this very module is absent" means: try a shorter prefix
            if e.name is None or not (name == e.name or name.startswith(e.name + ".")):
                raise
            error = error or e
            continue
        obj = module
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise error  # type: ignore[misc]


def loss_kwargs(loss: DictConfig, declarations: Iterable[str]) -> dict[str, Any]:
    """What the loss's constructor gets: the config without ``_target_`` and its
    declarations, with ``kwargs`` (custom losses) spread in."""
    node = OmegaConf.to_container(loss, resolve=True)
    skip = {"_target_", "kwargs", *declarations}
    return {**{k: v for k, v in node.items() if k not in skip}, **node.get("kwargs", {})}


def _key(loss: DictConfig, name: str) -> str:
    in_kwargs = "kwargs" in loss and name in loss.kwargs
    return f"loss.kwargs.{name}" if in_kwargs else f"loss.{name}"


def check_loss_target(loss: DictConfig, declarations: Iterable[str]) -> None:
    """Refuse a ``loss._target_`` that does not import, is not callable, or does not accept
    the config's arguments (:func:`loss_kwargs`); objects without an inspectable signature
    (C builtins) are taken as they are."""
    path = str(loss._target_)
    try:
        obj = locate(path)
    except Exception as e:  # the user's module may fail in any way while importing
        raise ConfigError(f"loss._target_: cannot import {path} ({type(e).__name__}: {e})") \
            from None
    if not callable(obj):
        raise ConfigError(f"loss._target_: {path} is not callable (a {type(obj).__name__})")
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return
    kwargs = loss_kwargs(loss, declarations)
    params = sig.parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    named = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for name in kwargs:
        if name not in named and not takes_any:
            raise ConfigError(f"{_key(loss, name)}: {path} takes no argument {name!r} "
                              f"(its arguments: {', '.join(named) or 'none'})")
    for name, p in params.items():
        required = p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        if required and name not in kwargs:
            raise ConfigError(f"loss.kwargs.{name}: {path} needs {name!r}, which the config "
                              f"does not give (add +loss.kwargs.{name}=...)")
