"""Rules: which audiences get an alert on which channels, and why.

Rule files live in ``rules/<tenant>/*.yaml`` (read in name order). Each holds a list of rules; the
first rule whose ``match`` holds decides, unless it says ``continue: true``, in which case later
rules may add more. Every decision carries an explanation: the rule, its file:line, and each
condition that held.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from broadcaster.errors import ConfigError
from broadcaster.model import (
    KIND,
    LEVEL,
    SEVERITY_RANK,
    URGENCY_RANK,
    Alert,
    Explanation,
    Kind,
    MsgType,
    Priority,
    Severity,
    Status,
    Urgency,
)


@dataclass(frozen=True, slots=True)
class Decision:
    channel: str
    audience: str
    template: str
    priority: Priority
    requires_approval: bool
    explanation: Explanation


class RulesEngine(Protocol):
    def decide(self, alert: Alert) -> list[Decision]: ...


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: list[Kind] | None = None
    status: list[Status] | None = None
    msg_type: list[MsgType] | None = None
    origin: list[str] | None = None
    severity_at_least: Severity | None = None
    urgency_at_least: Urgency | None = None
    level_at_least: int | None = Field(default=None, ge=1, le=5)
    # {code type: [values]}: any of the alert's eventCodes of that type among the values
    event_code: dict[str, list[str]] | None = None


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    match: Match = Match()
    channels: list[str] = Field(min_length=1)
    # public | district (one audience per district the alert names; public if none) | leaders |
    # officers
    audience: str = "public"
    template: str = "auto"
    priority: Priority = Priority.NORMAL
    require_approval: bool = False
    # false: the first matching rule decides alone; true: later rules may add to it
    continue_: bool = Field(default=False, alias="continue")
    where: str = ""  # file:line, filled by the loader

    @field_validator("audience")
    @classmethod
    def _audience(cls, v: str) -> str:
        if v not in ("public", "district", "leaders", "officers"):
            raise ValueError("audience must be one of public, district, leaders, officers")
        return v


def _explain(m: Match, alert: Alert) -> list[str] | None:
    """The reasons each condition holds, or None as soon as one does not."""
    info = alert.primary
    reasons: list[str] = []
    if m.kind is not None:
        kinds = set(info.event_codes(KIND))
        hit = [k for k in m.kind if k.value in kinds]
        if not hit:
            return None
        reasons.append(f"kind {hit[0].value} in {[k.value for k in m.kind]}")
    if m.status is not None:
        if alert.status not in m.status:
            return None
        reasons.append(f"status {alert.status.value}")
    if m.msg_type is not None:
        if alert.msg_type not in m.msg_type:
            return None
        reasons.append(f"msgType {alert.msg_type.value}")
    if m.origin is not None:
        if alert.origin not in m.origin:
            return None
        reasons.append(f"origin {alert.origin}")
    if m.severity_at_least is not None:
        if SEVERITY_RANK[info.severity] < SEVERITY_RANK[m.severity_at_least]:
            return None
        reasons.append(f"severity {info.severity.value} >= {m.severity_at_least.value}")
    if m.urgency_at_least is not None:
        if URGENCY_RANK[info.urgency] < URGENCY_RANK[m.urgency_at_least]:
            return None
        reasons.append(f"urgency {info.urgency.value} >= {m.urgency_at_least.value}")
    if m.level_at_least is not None:
        level = info.param(LEVEL)
        if level is None or not level.isdigit() or int(level) < m.level_at_least:
            return None
        reasons.append(f"level {level} >= {m.level_at_least}")
    if m.event_code is not None:
        for code_type, values in m.event_code.items():
            present = set(info.event_codes(code_type))
            hit_codes = sorted(present.intersection(values))
            if not hit_codes:
                return None
            reasons.append(f"eventCode {code_type}={hit_codes[0]}")
    return reasons


class RuleSet:
    def __init__(self, tenant: str, rules: Sequence[Rule]) -> None:
        self.tenant = tenant
        self.rules = list(rules)

    def decide(self, alert: Alert) -> list[Decision]:
        decisions: list[Decision] = []
        seen: set[tuple[str, str]] = set()
        for rule in self.rules:
            reasons = _explain(rule.match, alert)
            if reasons is None:
                continue
            explanation = Explanation(rule=rule.name, source=rule.where, reasons=tuple(reasons))
            for channel in rule.channels:
                if (channel, rule.audience) in seen:
                    continue
                seen.add((channel, rule.audience))
                decisions.append(
                    Decision(
                        channel=channel,
                        audience=rule.audience,
                        template=rule.template,
                        priority=rule.priority,
                        requires_approval=rule.require_approval,
                        explanation=explanation,
                    )
                )
            if not rule.continue_:
                break
        return decisions


class _LineLoader(yaml.SafeLoader):
    """A safe YAML loader that remembers the line of every mapping, for file:line errors."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    data = loader.construct_mapping(node, deep=True)
    data["__line__"] = node.start_mark.line + 1
    return data  # type: ignore[return-value]


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def load_rule_file(path: Path, known_channels: Sequence[str]) -> list[Rule]:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    except OSError as e:
        raise ConfigError(f"{path}: {e}") from e
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise ConfigError(f"{path}:1: a rule file holds a mapping with a list under 'rules'")
    rules: list[Rule] = []
    names: set[str] = set()
    for item in doc["rules"]:
        line = item.get("__line__", 0) if isinstance(item, dict) else 0
        where = f"{path}:{line}"
        try:
            rule = Rule.model_validate({**_strip_lines(item), "where": where})
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()[:5]
            )
            raise ConfigError(f"{where}: {problems}") from e
        except TypeError as e:
            raise ConfigError(f"{where}: a rule is a mapping") from e
        unknown = [c for c in rule.channels if c not in known_channels]
        if unknown:
            raise ConfigError(f"{where}: rule {rule.name!r} names unknown channel(s) {', '.join(unknown)}")
        if rule.name in names:
            raise ConfigError(f"{where}: a second rule named {rule.name!r}")
        names.add(rule.name)
        rules.append(rule)
    return rules


def load_tenant_rules(rules_dir: Path, tenant: str, known_channels: Sequence[str]) -> RuleSet:
    folder = rules_dir / tenant
    if not folder.is_dir():
        folder = rules_dir / "_default"
    if not folder.is_dir():
        raise ConfigError(
            f"no rules for tenant {tenant}: neither {rules_dir / tenant} nor {rules_dir / '_default'}"
        )
    rules: list[Rule] = []
    names: set[str] = set()
    for path in sorted(folder.glob("*.yaml")):
        for rule in load_rule_file(path, known_channels):
            if rule.name in names:
                raise ConfigError(f"{rule.where}: a second rule named {rule.name!r} for tenant {tenant}")
            names.add(rule.name)
            rules.append(rule)
    return RuleSet(tenant, rules)
