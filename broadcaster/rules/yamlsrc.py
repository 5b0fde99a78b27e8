"""Reading rule files: safe YAML that remembers the line of every key, for file:line errors."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

LINE = "__line__"
LINES = "__lines__"
# Python field names whose YAML spelling differs.
_YAML_NAMES = {"continue_": "continue", "in_": "in", "start": "from", "end": "to"}


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader (no Python objects, no code) that records where each mapping and key starts."""


def _mapping_with_lines(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    data = loader.construct_mapping(node, deep=True)
    lines: dict[Any, int] = {}
    for key_node, _ in node.value:
        lines[loader.construct_object(key_node)] = key_node.start_mark.line + 1
    data[LINE] = node.start_mark.line + 1
    data[LINES] = lines
    return data  # type: ignore[return-value]


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_lines)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass


def strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_lines(v) for k, v in value.items() if k not in (LINE, LINES)}
    if isinstance(value, list):
        return [strip_lines(v) for v in value]
    return value


def line_of(node: Any, loc: Sequence[int | str], default: int) -> int:
    """The line of the key a validation error points at (or of the nearest enclosing one)."""
    line = default
    for key in loc:
        if isinstance(node, dict):
            name = key if key in node else _YAML_NAMES.get(str(key), key)
            if name == "audiences" and "audiences" not in node:
                name = "audience"
            line = node.get(LINES, {}).get(name, node.get(LINE, line))
            node = node.get(name)
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
            if isinstance(node, dict):
                line = node.get(LINE, line)
        else:
            break
    return line


def describe(e: ValidationError, raw: Any, model: type[BaseModel], default_line: int) -> list[tuple[int, str]]:
    """(line, message) per problem, in words a town's staff can act on."""
    out: list[tuple[int, str]] = []
    for err in e.errors()[:8]:
        loc = [x for x in err["loc"] if not (isinstance(x, str) and x.startswith(("function-", "list[")))]
        line = line_of(raw, loc, default_line)
        path = ".".join(_YAML_NAMES.get(str(x), str(x)) for x in loc) or "(rule)"
        if err["type"] == "extra_forbidden":
            msg = f"unknown field {path!r}"
            parent = _fields_at(model, loc[:-1])
            guess = difflib.get_close_matches(str(loc[-1]), parent, n=1)
            if guess:
                msg += f" (did you mean {guess[0]!r}?)"
        else:
            text = str(err["msg"]).removeprefix("Value error, ")
            msg = f"{path}: {text}"
        out.append((line, msg))
    return out


def _fields_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    current: Any = model
    for key in loc:
        if isinstance(key, int):
            continue
        field = getattr(current, "model_fields", {}).get(key)
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", {})
    return [(f.alias or n) for n, f in fields.items()] if fields else []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
