"""A drill scenario: a file a town can write (docs/drills.md, *Scenario files*).

YAML with a name, the town, and steps in order. Each step waits `after` seconds of scenario time
after the one before, then puts one input in: a telegram or L-Alert document (`file`, relative to
the scenario), or an officer's own message (`manual`, the fields of a manual alert). A manual
step may say when the second officer approves it (`approve_after`) and every step may name the
channels that must carry it (`expect`), so that the report can say what was missed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from broadcaster.errors import ConfigError


class Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    after: float = Field(default=0.0, ge=0, description="seconds of scenario time after the step before")
    note: str = ""
    file: Path | None = None
    manual: dict[str, Any] | None = None
    officer: str = "drill-officer"
    # Seconds after the step until the second officer approves a held message (None: nobody does).
    approve_after: float | None = Field(default=None, ge=0)
    expect: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_input(self) -> Step:
        if (self.file is None) == (self.manual is None):
            raise ValueError(
                "a step has exactly one of `file` (a telegram) or `manual` (an officer's message)"
            )
        return self


class Scenario(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    tenant: str = Field(min_length=1)
    description: str = ""
    steps: tuple[Step, ...] = Field(min_length=1)
    # Where relative `file` paths are read from: the scenario's own folder.
    base: Path = Path()

    @property
    def length_s(self) -> float:
        return sum(s.after for s in self.steps)


def load(path: Path) -> Scenario:
    """Read and check a scenario file; every mistake is a ConfigError naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a scenario is a mapping with name, tenant and steps")
    try:
        scenario = Scenario.model_validate({**data, "base": path.parent})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from e
    for i, step in enumerate(scenario.steps, 1):
        if step.file is not None and not (scenario.base / step.file).is_file():
            raise ConfigError(f"{path}: step {i}: no file {step.file}")
    return scenario
