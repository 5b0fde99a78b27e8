"""Tenants: delegated sending, and what the rules see of a tenant."""

from __future__ import annotations

import pytest

from broadcaster.pipeline.tenancy import DelegationRefused, authorize, delegation_for
from tests.rules_helpers import demo_settings, directory, manual, sample


def test_a_neighbour_authorised_in_advance_may_send() -> None:
    tenants = demo_settings().tenants
    d = authorize(tenants, "anamizu", "wajima", "sato")
    assert d.delegated and d.officer == "officer:wajima/sato"
    entry = d.audit_entry("delegated_send", "raw-1", "cli")
    assert entry["actor"] == "officer:wajima/sato" and entry["tenant"] == "anamizu"
    assert entry["detail"] == {"on_behalf_of": "anamizu", "officer_tenant": "wajima", "officer": "officer:wajima/sato"}


@pytest.mark.parametrize(
    ("on_behalf_of", "officer_tenant", "officer", "words"),
    [
        ("wajima", "noto", "x", "noto may not send for wajima"),  # 輪島市 authorises only 穴水町
        ("anamizu", "suzu", "x", "unknown tenant 'suzu'"),
        ("anamizu", "wajima", "officer:noto/x", "belongs to noto, not wajima"),
        ("anamizu", "wajima", "officer:wajima/", "an officer's name is needed"),
    ],
)
def test_anyone_else_is_refused(on_behalf_of: str, officer_tenant: str, officer: str, words: str) -> None:
    with pytest.raises(DelegationRefused, match=words):
        authorize(demo_settings().tenants, on_behalf_of, officer_tenant, officer)


def test_the_cli_helper_needs_all_three_names_to_delegate() -> None:
    tenants = demo_settings().tenants
    assert delegation_for(tenants, "anamizu", "tanaka", None) is None
    assert delegation_for(tenants, "anamizu", "tanaka", "anamizu") is None
    with pytest.raises(DelegationRefused, match="needs --tenant, --officer"):
        delegation_for(tenants, None, "tanaka", "wajima")


def test_the_context_carries_the_tenants_own_territory_and_districts() -> None:
    alert = manual(kind="evacuation", event="避難指示", headline="h", districts=["kawashima", "kabuto"])
    ctx = directory().context("anamizu", alert)
    assert ctx.districts == ("kawashima", "kabuto")
    assert ctx.district_names["kawashima"] == "川島"
    assert ("気象・地震・火山情報／市町村等", "1746100") in ctx.territory
    assert ("気象・地震・火山情報／市町村等", "1720400") not in ctx.territory, "輪島市's code is not 穴水町's"


def test_lalert_districts_are_found_by_name() -> None:
    alert = sample("anamizu_evacuation_order.xml", "anamizu")
    assert directory().context("anamizu", alert).districts == ("kawashima", "omachi")
