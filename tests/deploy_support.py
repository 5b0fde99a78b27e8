"""Shared by tests/unit/test_deploy_*.py: the deploy/ folder read as data, and its schemas."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SCHEMAS = DEPLOY / "schemas"
# The Kubernetes version whose schemas the manifests are checked against (kubernetes-validate
# ships them, so the check needs no network).
K8S_VERSION = "1.30.0"


def load_module(name: str, path: Path) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def generator() -> ModuleType:
    return load_module("deploy_generate", DEPLOY / "generate.py")


def yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def k8s_files() -> list[Path]:
    return sorted((DEPLOY / "k8s").glob("*.yaml")) + sorted((DEPLOY / "k8s" / "optional").glob("*.yaml"))


def k8s_docs() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in k8s_files():
        for doc in yaml_docs(path):
            yield path, doc


@cache
def schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(data)
    return data


def schema_errors(name: str, instance: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema(name))
    return [f"{e.json_path}: {e.message[:300]}" for e in validator.iter_errors(instance)]


# Custom resources: no package ships their schemas for offline use, so deploy/schemas has ours.
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda-scaledobject",
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "strimzi-kafkatopic",
    ("monitoring.coreos.com/v1", "PodMonitor"): "prometheus-podmonitor",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheus-prometheusrule",
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"): "kustomization",
}


def manifest_errors(doc: dict[str, Any]) -> list[str]:
    """Why a Kubernetes document is invalid (empty: valid), checked offline."""
    import kubernetes_validate

    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in CRD_SCHEMAS:
        return schema_errors(CRD_SCHEMAS[key], doc)
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{'/'.join(str(p) for p in e.path)}: {e.message[:300]}"]
    except kubernetes_validate.SchemaNotFoundError as e:
        return [e.message]
    return []


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (comments and commented-out lines skipped)."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def commented_env_names(path: Path) -> list[str]:
    """Variable names of commented-out KEY= lines too (examples an operator fills in)."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip().lstrip("#").strip()
        key = text.partition("=")[0]
        if text.startswith("BROADCASTER_") and "=" in text and " " not in key:
            names.append(key)
    return names


def unit_file(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit: section -> key -> every value given (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path}: {raw!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path}: {raw!r} is not KEY=VALUE"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def setting_exists(name: str) -> bool:
    """Whether BROADCASTER_A__B__C names a field of broadcaster.settings.Settings (case-insensitive;
    dictionaries take any key, then their values' fields)."""
    from pydantic import BaseModel

    from broadcaster.settings import Settings

    if not name.startswith("BROADCASTER_") or name == "BROADCASTER_CONFIG":
        return name == "BROADCASTER_CONFIG"
    parts = name[len("BROADCASTER_") :].lower().split("__")
    current: Any = Settings
    for part in parts:
        if not part:
            return False
        current = _step(current, part, BaseModel)
        if current is None:
            return False
    return True


def _step(current: Any, part: str, base_model: type) -> Any:
    import typing

    origin = typing.get_origin(current)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        for arg in typing.get_args(current):
            if arg is not type(None):
                found = _step(arg, part, base_model)
                if found is not None:
                    return found
        return None
    if origin is dict:
        return typing.get_args(current)[1]
    if isinstance(current, type) and issubclass(current, base_model):
        field = current.model_fields.get(part)  # type: ignore[attr-defined]
        return None if field is None else field.annotation
    # A leaf (str, int, SecretStr, Path...): nothing nests below it.
    return None
