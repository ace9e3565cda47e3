"""Each default is written once: an option's YAML (``conf/<group>/<name>.yaml``) holds only what
differs from its schema, and the root ``conf/config.yaml`` repeats nothing of the root schema
(where it did, its ``_self_``, merged last, overrode the scenarios' ``torch_threads: 1``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from lossbench.app import CONF_DIR
from lossbench.config import LossbenchConf, all_schemas
from tests.conftest import compose_config

OPTIONS = sorted(p for p in Path(CONF_DIR).glob("*/*.yaml") if p.parent.name != "scenario")


def schema_of(raw: dict) -> type:
    """The dataclass an option starts from: its ``/schema/<group>/<name>@_here_`` default."""
    for entry in raw.get("defaults", []):
        if isinstance(entry, str) and entry.startswith("/schema/"):
            _, _, group, name = entry.split("@")[0].split("/")
            return all_schemas()[group][name]
    raise AssertionError("no /schema/<group>/<name>@_here_ in its defaults list")


def repeated_defaults(raw: dict, schema: type) -> list[str]:
    base = OmegaConf.to_container(OmegaConf.structured(schema), resolve=False)
    return [k for k, v in raw.items() if k != "defaults" and k in base and base[k] == v]


@pytest.mark.parametrize("path", OPTIONS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_an_option_holds_only_what_differs_from_its_schema(path: Path) -> None:
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    assert repeated_defaults(raw, schema_of(raw)) == []


def test_the_root_config_repeats_no_root_default() -> None:
    raw = OmegaConf.to_container(OmegaConf.load(Path(CONF_DIR) / "config.yaml"), resolve=False)
    assert repeated_defaults(raw, LossbenchConf) == []


def test_the_checker_sees_a_repeated_default() -> None:
    raw = {"defaults": ["/schema/loss/huber@_here_"], "delta": 1.5, "reduction": "sum"}
    assert repeated_defaults(raw, schema_of(raw)) == ["delta"]


@pytest.mark.parametrize("scenario", ["face_verification", "wgan"])
def test_a_scenarios_root_value_survives_composition(scenario: str) -> None:
    assert compose_config(f"scenario={scenario}").torch_threads == 1
    assert compose_config(f"scenario={scenario}", "torch_threads=0").torch_threads == 0
