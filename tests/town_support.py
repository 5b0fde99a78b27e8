"""Test towns spread across Japan, and what one of them receives from a telegram of the corpus:
its own copy of the alert (as normalize assigns it), the rule that decides, and its text."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import adapters.ingest.jma as jma
from broadcaster.channels import STANDARD_PROFILES
from broadcaster.model import Alert, Dispatch, RawEvent
from broadcaster.pipeline.normalize import assign_tenants
from broadcaster.pipeline.tenancy import TenantDirectory
from broadcaster.rules.engine import Evaluation, RuleSet, load_tenant_rules
from broadcaster.settings import DEFAULT_CHANNELS, Settings, load_settings
from tests.render_support import PUBLIC_URL, dispatch, renderer

ROOT = Path(__file__).resolve().parents[1]

# id: (name, JMA 市町村等 code). Coast and inland, north to south, and the towns of the
# corpus' 震度５弱以上未入電 telegrams.
TOWNS: dict[str, tuple[str, str]] = {
    "anamizu": ("穴水町", "1746100"),
    "wajima": ("輪島市", "1720400"),
    "kaga": ("加賀市", "1720600"),
    "kanazawa": ("金沢市", "1720100"),
    "shirakawa": ("白川村", "2160400"),
    "hachijo": ("八丈町", "1340100"),
    "ishigaki": ("石垣市", "4720700"),
    "abashiri": ("網走市", "0121100"),
    "kochi": ("高知市", "3920100"),
    "fuji": ("富士市", "2221000"),
    "kanegasaki": ("金ケ崎町", "0338100"),
}


@cache
def town_settings() -> Settings:
    tenants = {
        tid: {"id": tid, "name": name, "areas": {"jma": [code]}, "districts": [{"id": "all", "name": "全域"}]}
        for tid, (name, code) in TOWNS.items()
    }
    return load_settings(None, tenants=tenants, rules_dir=ROOT / "rules")


@cache
def directory() -> TenantDirectory:
    return TenantDirectory.from_settings(town_settings())


@cache
def rules(tenant: str) -> RuleSet:
    # A town without a folder of its own gets rules/_default, as a new town does.
    return load_tenant_rules(ROOT / "rules", tenant, DEFAULT_CHANNELS)


@dataclass(frozen=True, slots=True)
class Received:
    alert: Alert
    decision: Evaluation

    def text(self, channel: str = "line", language: str = "ja") -> str:
        """The first part of the channel's text, as the town's residents read it."""
        name = TOWNS[self.alert.tenant or ""][0]
        wanted = (language,) if language == "ja" else (language, "ja")
        d = _dispatch(self.alert, channel, wanted)
        row = renderer().render_detailed(
            self.alert, d, STANDARD_PROFILES.get(channel), tenant_name=name, public_url=PUBLIC_URL
        )[0]
        return "\n".join(row.text.parts)


def _dispatch(alert: Alert, channel: str, languages: tuple[str, ...]) -> Dispatch:
    return dispatch(alert, channel, languages).model_copy(update={"tenant": alert.tenant})


def alerts_for(data: bytes) -> list[Alert]:
    """Every per-town copy a telegram makes, as normalize assigns them."""
    raw = RawEvent(source="jma", body=data, submitted_by="test")
    assigned = assign_tenants(jma.parse_bytes(data), raw, directory())
    assert isinstance(assigned, list)
    return assigned


def receive(data: bytes, tenant: str) -> Received | None:
    """What the town receives from the telegram, or None when it reaches no one there."""
    mine = [a for a in alerts_for(data) if a.tenant == tenant]
    if not mine:
        return None
    alert = mine[0]
    ctx = directory().context(tenant, alert)
    return Received(alert, rules(tenant).evaluate(alert, ctx))
