"""Rules: which audiences get an alert on which channels, when, and why.

Rule files live in ``rules/<tenant>/*.yaml`` (``_default/`` for a tenant without its own folder),
read in file-name order; within a file, top to bottom. That order is the precedence: the first rule
whose ``match`` holds decides, unless it says ``continue: true``, in which case later rules may add
channels and audiences (a slot that a rule above already took stays as that rule decided). When no
rule stopped the search, the tenant's one ``default: true`` rule applies. docs/rules.md is the
reference for the file format.

Every decision carries an explanation: the rule, its file:line, each condition that held, why each
audience, and the version of the rule set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import ValidationError

from broadcaster.errors import ConfigError
from broadcaster.model import Alert, Kind
from broadcaster.rules.actions import OWN_ALERTS_ONLY, decisions_of
from broadcaster.rules.conditions import Test, compile_match, explain
from broadcaster.rules.decision import Decision, DedupeMark
from broadcaster.rules.facts import Context, Facts
from broadcaster.rules.schema import Rule
from broadcaster.rules.yamlsrc import LINE, describe, load_yaml, strip_lines

__all__ = [
    "Context",
    "Decision",
    "DedupeMark",
    "Evaluation",
    "RuleSet",
    "RulesEngine",
    "build_rule_set",
    "load_rule_file",
    "load_tenant_rules",
    "read_rule_files",
]

DEFAULT_FOLDER = "_default"


class RulesEngine(Protocol):
    def decide(self, alert: Alert, ctx: Context | None = None) -> list[Decision]: ...


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    tests: list[Test]
    unless: list[Test] | None
    kinds: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything a decision table shows: the decisions and which rules matched, in order."""

    decisions: list[Decision]
    matched: list[tuple[Rule, list[str]]]
    stopped_by: Rule | None  # the rule that ended the search (None: the default applied)


class RuleSet:
    def __init__(
        self, tenant: str, rules: Sequence[Rule], *, digest: str = "", files: Sequence[str] = ()
    ) -> None:
        self.tenant = tenant
        self.rules = list(rules)
        self.digest = digest
        self.files = list(files)
        self.default = next((r for r in self.rules if r.default), None)
        compiled = [
            _Compiled(
                r,
                compile_match(r.match),
                compile_match(r.unless) if r.unless is not None else None,
                frozenset(k.value for k in r.match.kind) if r.match.kind is not None else None,
            )
            for r in self.rules
            if not r.default
        ]
        self._all = tuple(compiled)
        # Candidates per kind, in precedence order: rules for that kind and rules for any kind.
        # Most rules name a kind, so an alert is tested against a handful, not all fifty.
        self._by_kind = {
            k: tuple(c for c in compiled if c.kinds is None or k in c.kinds)
            for k in (*(x.value for x in Kind), "other")
        }
        self._tail = (f"rule set {digest[:8]}",) if digest else ()

    def _candidates(self, kinds: Collection[str]) -> Iterable[_Compiled]:
        if len(kinds) == 1:
            (kind,) = kinds
            return self._by_kind.get(kind, self._all)
        return (c for c in self._all if c.kinds is None or not c.kinds.isdisjoint(kinds))

    def evaluate(self, alert: Alert, ctx: Context | None = None) -> Evaluation:
        facts = Facts(alert, ctx or Context(tenant=self.tenant))
        decisions: list[Decision] = []
        matched: list[tuple[Rule, list[str]]] = []
        seen: set[tuple[str, str]] = set()
        for c in self._candidates(facts.kinds):
            reasons = explain(c.tests, facts)
            if reasons is None:
                continue
            if c.unless is not None and explain(c.unless, facts) is not None:
                continue
            if not reasons:
                reasons = ["matches every alert"]
            matched.append((c.rule, reasons))
            decisions.extend(decisions_of(c.rule, reasons, facts, seen, self._tail))
            if not c.rule.continue_:
                return Evaluation(decisions, matched, c.rule)
        if self.default is not None:
            reasons = ["no rule above stopped the search: the default applies"]
            matched.append((self.default, reasons))
            decisions.extend(decisions_of(self.default, reasons, facts, seen, self._tail))
        return Evaluation(decisions, matched, None)

    def decide(self, alert: Alert, ctx: Context | None = None) -> list[Decision]:
        return self.evaluate(alert, ctx).decisions


# -- loading ---------------------------------------------------------------------------------------


def rules_folder(rules_dir: Path, tenant: str) -> Path:
    folder = rules_dir / tenant
    return folder if folder.is_dir() else rules_dir / DEFAULT_FOLDER


def read_rule_files(rules_dir: Path, tenant: str) -> list[tuple[Path, bytes]]:
    folder = rules_folder(rules_dir, tenant)
    if not folder.is_dir():
        raise ConfigError(
            f"no rules for tenant {tenant}: neither {rules_dir / tenant} nor {rules_dir / DEFAULT_FOLDER}"
        )
    try:
        return [(p, p.read_bytes()) for p in sorted(folder.glob("*.yaml"))]
    except OSError as e:
        raise ConfigError(f"{folder}: {e}") from e


def parse_rule_file(path: Path, data: bytes) -> list[Rule]:
    """The rules of one file, or a ConfigError naming file:line of each problem."""
    try:
        doc = load_yaml(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e})") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(e, 'problem', None) or e}") from e
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise ConfigError(f"{path}:1: a rule file holds a mapping with a list under 'rules'")
    unknown = [k for k in doc if k not in ("rules", LINE, "__lines__")]
    if unknown:
        raise ConfigError(f"{path}:1: unknown top-level key(s) {', '.join(map(str, unknown))}: only 'rules'")
    rules: list[Rule] = []
    problems: list[str] = []
    for item in doc["rules"]:
        line = item.get(LINE, 0) if isinstance(item, dict) else 0
        if not isinstance(item, dict):
            problems.append(f"{path}:{line}: a rule is a mapping (name:, match:, channels: ...)")
            continue
        try:
            rules.append(Rule.model_validate({**strip_lines(item), "where": f"{path}:{line}"}))
        except ValidationError as e:
            name = item.get("name")
            label = f" (rule {name!r})" if isinstance(name, str) else ""
            problems.extend(f"{path}:{n}: {msg}{label}" for n, msg in describe(e, item, Rule, line))
    if problems:
        raise ConfigError("\n".join(problems))
    return rules


def _check_set(
    tenant: str, rules: Sequence[Rule], known_channels: Collection[str], districts: Collection[str] | None
) -> None:
    """Problems that only show across rules or against the deployment, each with file:line."""
    problems: list[str] = []
    names: dict[str, str] = {}
    catch_all: Rule | None = None
    defaults = [r for r in rules if r.default]
    for rule in rules:
        if rule.name in names:
            problems.append(f"{rule.where}: a second rule named {rule.name!r} (first at {names[rule.name]})")
        names.setdefault(rule.name, rule.where)
        channels = [*rule.channels, *(c for step in rule.escalate for c in step.channels)]
        unknown = sorted({c for c in channels if c not in known_channels})
        if unknown:
            problems.append(f"{rule.where}: rule {rule.name!r} names unknown channel(s) {', '.join(unknown)}")
        if OWN_ALERTS_ONLY in channels and rule.match.origin != ["manual"]:
            problems.append(
                f"{rule.where}: rule {rule.name!r}: {OWN_ALERTS_ONLY} carries only the town's own alerts; "
                "add `origin: [manual]` to its match (an alert from L-Alert must not go back to it)"
            )
        if districts is not None:
            named = [a.split(":", 1)[1] for a in rule.audiences if ":" in a and not a.startswith("officers")]
            named += [d for d in rule.match.districts or () if d not in ("any", "none")]
            bad = sorted({d for d in named if d not in districts})
            if bad:
                problems.append(
                    f"{rule.where}: rule {rule.name!r} names district(s) {', '.join(bad)} that {tenant} does not have"
                    f" ({', '.join(sorted(districts)) or 'none configured'})"
                )
        if rule.default:
            continue
        if catch_all is not None:
            problems.append(
                f"{rule.where}: rule {rule.name!r} can never apply: {catch_all.name!r} at {catch_all.where} "
                "matches every alert and stops the search"
            )
        elif rule.match.is_empty() and rule.unless is None and not rule.continue_:
            catch_all = rule
    if not defaults:
        problems.append(
            f"rules for {tenant}: no default rule. Add one last rule with `default: true` (say, channels: "
            "[website]) so that an alert no rule foresaw still goes somewhere"
        )
    for extra in defaults[1:]:
        problems.append(f"{extra.where}: a second default rule (the first is at {defaults[0].where})")
    if problems:
        raise ConfigError("\n".join(problems))


def build_rule_set(
    tenant: str,
    files: Sequence[tuple[Path, bytes]],
    known_channels: Collection[str],
    districts: Collection[str] | None = None,
) -> RuleSet:
    rules: list[Rule] = []
    problems: list[str] = []
    for path, data in files:
        try:
            rules.extend(parse_rule_file(path, data))
        except ConfigError as e:
            problems.append(str(e))
    if problems:
        raise ConfigError("\n".join(problems))
    _check_set(tenant, rules, known_channels, districts)
    digest = hashlib.sha256()
    for path, data in files:
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(data).digest())
    return RuleSet(tenant, rules, digest=digest.hexdigest(), files=[str(p) for p, _ in files])


def load_rule_file(path: Path, known_channels: Collection[str]) -> list[Rule]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: {e}") from e
    rules = parse_rule_file(path, data)
    unknown = [
        f"{r.where}: rule {r.name!r} names unknown channel(s) {', '.join(c for c in r.channels if c not in known_channels)}"
        for r in rules
        if any(c not in known_channels for c in r.channels)
    ]
    if unknown:
        raise ConfigError("\n".join(unknown))
    return rules


def load_tenant_rules(
    rules_dir: Path, tenant: str, known_channels: Collection[str], districts: Collection[str] | None = None
) -> RuleSet:
    """The tenant's rule set, fully checked; a ConfigError lists every problem with file:line."""
    return build_rule_set(tenant, read_rule_files(rules_dir, tenant), known_channels, districts)
