"""deploy/compose: the compose file against our own subset of the Compose Specification (no offline
package ships the published schema), its references, and its consistency with the code."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from broadcaster.pipeline.runtime import stage_names
from broadcaster.settings import load_settings
from tests.deploy_support import DEPLOY, ROOT, env_file, schema_errors

COMPOSE = DEPLOY / "compose"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((COMPOSE / "compose.yaml").read_text(encoding="utf-8"))
    return data


def _settings(monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in env_file(COMPOSE / "secrets.env.example").items():
        monkeypatch.setenv(key, value)
    return load_settings(COMPOSE / "broadcaster.toml")


def test_the_compose_file_matches_the_schema() -> None:
    assert schema_errors("compose", _compose()) == []


def test_the_schema_refuses_a_wrong_key_or_value() -> None:
    bad = copy.deepcopy(_compose())
    bad["services"]["route"]["restrat"] = "always"
    assert schema_errors("compose", bad)
    bad = copy.deepcopy(_compose())
    bad["services"]["route"]["depends_on"]["kafka-topics"]["condition"] = "service_done"
    assert schema_errors("compose", bad)
    bad = copy.deepcopy(_compose())
    bad["services"]["route"]["stop_grace_period"] = "45 seconds"
    assert schema_errors("compose", bad)


def test_every_stage_is_a_service(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch)
    services = _compose()["services"]
    workers = [s["command"][1] for s in services.values() if s.get("command", [None])[0] == "worker"]
    wanted = stage_names(settings, web=True)
    assert sorted(workers) == sorted([*wanted, *(["scheduler"] if "scheduler" not in wanted else [])])
    for name, svc in services.items():
        command = svc.get("command", [])
        if command[:1] == ["worker"] and command[1] != "web":
            assert command[2:] == ["--metrics-port", "9180"], name
            assert "9180/readyz" in " ".join(svc["healthcheck"]["test"]), name


def test_references_resolve() -> None:
    data = _compose()
    services, volumes = data["services"], set(data["volumes"])
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services and dep != name, (name, dep)
        for v in svc.get("volumes", []):
            source = v.split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE / source).exists(), (name, source)
            else:
                assert source in volumes, (name, source)
        build = svc.get("build")
        if build:
            assert (COMPOSE / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "container" / "Dockerfile"
    assert (ROOT / "deploy" / "container" / "Dockerfile").is_file()


def test_the_topics_job_matches_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch)
    env = _compose()["services"]["kafka-topics"]["environment"]
    assert int(env["PARTITIONS"]) == settings.bus.partitions
    assert env["PREFIX"] == settings.bus.prefix
    assert int(env["REPLICATION"]) == settings.bus.kafka_replication
    assert settings.bus.url == "kafka://" + env["BOOTSTRAP"]


def test_the_settings_load_with_the_example_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch)
    assert settings.db_url.startswith("postgresql+asyncpg://broadcaster:")
    password = settings.db_url.split(":", 2)[2].split("@", 1)[0]
    assert password == env_file(COMPOSE / "secrets.env.example")["POSTGRES_PASSWORD"]
    assert settings.web.host == "0.0.0.0"
