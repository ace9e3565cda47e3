"""Two resolvers the root config uses: the loss's name in MLflow, and a study's loss arms with
a challenger appended. No torch is imported here.

Rule for the loss's name (``loss_name``, hence the run name ``<scenario>-<loss>-s<seed>``, the
``loss`` tag and the ``loss_name`` param): the option chosen in the ``loss`` group (``huber``,
or ``cauchy`` from a user's config dir), unless that option's ``_target_`` is not the one it
was written with: for the generic options (``loss=custom``, ``loss=custom_pairs``) and for any
option whose ``loss._target_`` is overridden on the command line
(``loss=mse loss._target_=torch.nn.SmoothL1Loss``), the name is the target's last component
(``SmoothL1Loss``), so a run never carries the name of the loss it was overridden from.
"""

from __future__ import annotations

from typing import Any, Optional

from omegaconf import OmegaConf

# loss options with no loss of their own: the user names it in loss._target_
CUSTOM_OPTIONS = ("custom", "custom_pairs")
TARGET_KEY = "loss._target_"


def overridden_keys(overrides: list[str]) -> set[str]:
    """The keys that command-line overrides set (``+k=v``, ``++k=v``, ``k=v``)."""
    return {o.split("=", 1)[0].lstrip("+~") for o in overrides if "=" in o}


def _task_overrides() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def loss_name(choice: str, target: Optional[str], overrides: Optional[list[str]] = None) -> str:
    """The rule in the module docstring; ``overrides`` default to the job's (Hydra's
    ``hydra.overrides.task``: the command line and, in a sweep, the job's swept values)."""
    overrides = _task_overrides() if overrides is None else overrides
    renamed = choice in CUSTOM_OPTIONS or TARGET_KEY in overridden_keys(overrides)
    if renamed and target:
        return target.rsplit(".", 1)[-1]
    return choice


def _loss_name_resolver(choice: str, *, _root_: Any) -> str:
    loss = _root_.get("loss")
    target = None
    if loss is not None and "_target_" in loss and not OmegaConf.is_missing(loss, "_target_"):
        target = str(loss._target_)
    return loss_name(str(choice), target)


def arms(losses: list[str], challenger: Optional[str]) -> str:
    """A study's swept losses with the challenger appended (once): the value of its
    ``hydra.sweeper.params.loss``, e.g. ``huber,mse,mae,log_cosh,cauchy``."""
    out = [str(x).strip() for x in losses]
    if challenger and challenger not in out:
        out.append(challenger)
    return ",".join(out)


def _arms_resolver(*losses: str, _root_: Any) -> str:
    return arms(list(losses), _root_.get("challenger"))


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("lossbench.loss_name"):
        OmegaConf.register_new_resolver("lossbench.loss_name", _loss_name_resolver)
    if not OmegaConf.has_resolver("lossbench.arms"):
        OmegaConf.register_new_resolver("lossbench.arms", _arms_resolver)


register_resolvers()
