"""The new channels are installed as entry points, and stay in outbox mode until given credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from broadcaster import registry
from broadcaster.channels import STANDARD_PROFILES
from broadcaster.pipeline.adapters import profile_of, resolve
from broadcaster.settings import load_settings

CHANNELS = ("line", "x", "mastodon", "bluesky", "email")
LIVE: dict[str, dict[str, Any]] = {
    "line": {"credentials": {"token": "t"}},
    "x": {
        "credentials": {
            "consumer_key": "a",
            "consumer_secret": "b",
            "access_token": "c",
            "access_token_secret": "d",
        }
    },
    "mastodon": {"credentials": {"access_token": "t"}, "options": {"base_url": "https://m.example"}},
    "bluesky": {"credentials": {"app_password": "p"}, "options": {"handle": "town.bsky.social"}},
    "email": {
        "credentials": {"password": "p"},
        "options": {"host": "smtp.example", "username": "u", "from_address": "bousai@town.example"},
    },
}


@pytest.mark.parametrize("channel", CHANNELS)
def test_installed_and_true_to_the_contract(channel: str) -> None:
    cls = registry.load(registry.CHANNELS, channel)
    assert cls.name == channel
    assert cls.required_credentials, "without credentials the channel must stay in outbox mode"
    for member in (
        "addressing",
        "max_text_length",
        "max_recipients_per_request",
        "from_settings",
        "send",
        "close",
    ):
        assert hasattr(cls, member), member


@pytest.mark.parametrize("channel", CHANNELS)
def test_no_credentials_means_outbox(tmp_path: Path, channel: str) -> None:
    settings = load_settings(None, var_dir=tmp_path, tenants={"anamizu": {"name": "穴水町"}})
    resolved = resolve(settings, "anamizu", channel)
    assert not resolved.live
    assert "no credentials" in resolved.reason


@pytest.mark.parametrize("channel", CHANNELS)
def test_credentials_make_it_live(tmp_path: Path, channel: str) -> None:
    settings = load_settings(
        None, var_dir=tmp_path, tenants={"anamizu": {"name": "穴水町", "channels": {channel: LIVE[channel]}}}
    )
    resolved = resolve(settings, "anamizu", channel)
    assert resolved.live
    assert resolved.adapter_cls.name == channel


@pytest.mark.parametrize("channel", CHANNELS)
def test_live_limits_agree_with_the_standard_profiles(tmp_path: Path, channel: str) -> None:
    settings = load_settings(None, var_dir=tmp_path)
    assert profile_of(settings, channel) == STANDARD_PROFILES[channel]
