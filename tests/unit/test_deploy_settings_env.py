"""Every BROADCASTER_* variable in deploy/ names a real setting (prefix BROADCASTER_, nesting __)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from broadcaster.settings import load_settings
from tests.deploy_support import DEPLOY, commented_env_names, k8s_docs, setting_exists, unit_file


def _k8s_names() -> set[str]:
    names: set[str] = set()
    for _, doc in k8s_docs():
        if doc["kind"] == "Secret":
            names |= set(doc.get("stringData", {}))
        text = yaml.safe_dump(doc)
        names |= set(re.findall(r"name: (BROADCASTER_[A-Z0-9_]+)", text))
    return names


def _compose_names() -> set[str]:
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text(encoding="utf-8"))
    names = set(commented_env_names(DEPLOY / "compose" / "secrets.env.example"))
    for svc in [compose["x-broadcaster"], *compose["services"].values()]:
        names |= {k for k in svc.get("environment", {}) if k.startswith("BROADCASTER_")}
    return names


def _single_node_names() -> set[str]:
    names = set(commented_env_names(DEPLOY / "single-node" / "broadcaster.env.example"))
    for unit in (DEPLOY / "single-node").glob("*.service"):
        for value in unit_file(unit).get("Service", {}).get("Environment", []):
            names |= set(re.findall(r"(BROADCASTER_[A-Z0-9_]+)=", value))
    return names


def _dockerfile_names() -> set[str]:
    text = (DEPLOY / "container" / "Dockerfile").read_text(encoding="utf-8")
    return set(re.findall(r"(BROADCASTER_[A-Z0-9_]+)=", text))


ALL = sorted(_k8s_names() | _compose_names() | _single_node_names() | _dockerfile_names())


def test_the_variables_were_found() -> None:
    assert "BROADCASTER_DB_URL" in ALL and "BROADCASTER_CONFIG" in ALL
    assert any(n.startswith("BROADCASTER_TENANTS__") for n in ALL)
    assert any(n.startswith("BROADCASTER_CHANNELS__") for n in ALL)
    assert any(n.startswith("BROADCASTER_HOOKS__") for n in ALL)


@pytest.mark.parametrize("name", ALL)
def test_every_variable_names_a_setting(name: str) -> None:
    assert setting_exists(name), f"{name} is not a setting of broadcaster.settings.Settings"


@pytest.mark.parametrize(
    "name",
    [
        "BROADCASTER_BUS_URL",  # one underscore: not nested
        "BROADCASTER_BUS__URLS",
        "BROADCASTER_WEB__METRICS_TOKEN__X",
        "BROADCASTER_TENANTS__ANAMIZU__CHANNEL__LINE__CREDENTIALS__TOKEN",
        "BROADCASTER_TENANTS__ANAMIZU__CHANNELS__LINE__CREDENTIAL__TOKEN",
        "DB_URL",
    ],
)
def test_the_check_refuses_a_wrong_name(name: str) -> None:
    assert not setting_exists(name)


def test_single_node_settings_load_with_the_example_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in commented_env_names(DEPLOY / "single-node" / "broadcaster.env.example"):
        monkeypatch.setenv(name, "x" * 40)
    settings = load_settings(DEPLOY / "single-node" / "broadcaster.toml")
    assert list(settings.tenants) == ["anamizu"]
    assert settings.db_url == "sqlite+aiosqlite:////var/lib/broadcaster/ledger.sqlite3"
    assert settings.bus.url == "embedded:/var/lib/broadcaster/bus.sqlite3"
    # One town on the server: deployment-wide channel credentials are the town's.
    assert settings.channel("anamizu", "line").credentials["token"].get_secret_value() == "x" * 40
    assert settings.channel("anamizu", "line").options == {"multicast_per_second": 150}
    assert settings.hooks["jalert"].keys["anamizu_rx"].secret.get_secret_value() == "x" * 40


def test_a_per_town_secret_merges_into_a_town_of_a_tenants_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tenants").mkdir()
    (tmp_path / "tenants" / "anamizu.toml").write_text('name = "穴水町"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('tenants_dir = "tenants"\n', encoding="utf-8")
    monkeypatch.setenv("BROADCASTER_TENANTS__ANAMIZU__CHANNELS__LINE__CREDENTIALS__TOKEN", "t")
    settings = load_settings(tmp_path / "b.toml")
    assert settings.channel("anamizu", "line").credentials["token"].get_secret_value() == "t"
