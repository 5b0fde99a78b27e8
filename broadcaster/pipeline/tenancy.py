"""Tenants: which ones an alert concerns (by the codes of its areas), what the rules see of each,
and who may send on a tenant's behalf.

Isolation is by construction: every stage takes the tenant from the alert (or the officer), and
each store query names it. A neighbour's officer may send for a tenant only when that tenant lists
the neighbour among its `delegates`, and every such send is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from broadcaster import areacodes, registry
from broadcaster.errors import BroadcasterError
from broadcaster.model import DISTRICT_CODE, JIS_X0402, Alert
from broadcaster.rules.facts import TSUNAMI_AREA, Context
from broadcaster.settings import Settings, TenantSettings


class TenantDirectory:
    """The deployment's tenants with every geocode that covers each of them, expanded once."""

    def __init__(
        self, tenants: Iterable[TenantSettings], geocodes: dict[str, frozenset[tuple[str, str]]]
    ) -> None:
        self.tenants = {t.id: t for t in tenants}
        self.geocodes = geocodes
        # The same code may cover several towns (a prefecture's forecast area covers all of them).
        self._index: dict[tuple[str, str], set[str]] = {}
        for tenant_id, codes in geocodes.items():
            for code in codes:
                self._index.setdefault(code, set()).add(tenant_id)
        # Districts by id and by every usual spelling of their name, worked out once: routing
        # asks for each alert, and a JMA telegram can name a thousand areas.
        self._district_ids = {t: frozenset(d.id for d in s.districts) for t, s in self.tenants.items()}
        self._district_words = {
            t: {w: d.id for d in s.districts for w in _spellings(d.name)} for t, s in self.tenants.items()
        }
        self._district_names = {t: {d.id: d.name for d in s.districts} for t, s in self.tenants.items()}

    @classmethod
    def from_settings(cls, settings: Settings) -> TenantDirectory:
        geocodes: dict[str, frozenset[tuple[str, str]]] = {}
        for tenant in settings.tenants.values():
            codes: set[tuple[str, str]] = {(g["value_name"], g["value"]) for g in tenant.geocodes}
            for table, values in tenant.areas.items():
                expand = registry.area_expander(table)
                for value in values:
                    codes.update((nv.value_name, nv.value) for nv in expand(value))
            codes.update(prefecture_codes(codes))
            if tenant.tsunami_regions is not None:
                # The town's own word on its coast wins over the derived regions.
                codes = {c for c in codes if c[0] != TSUNAMI_AREA}
                codes |= {(TSUNAMI_AREA, r) for r in tenant.tsunami_regions}
            geocodes[tenant.id] = frozenset(codes)
        return cls(settings.tenants.values(), geocodes)

    def match(self, alert: Alert) -> list[str]:
        """Tenants whose territory one of the alert's areas covers, in a stable order."""
        found: set[str] = set()
        for info in alert.info:
            for area in info.area:
                for g in area.geocode:
                    found.update(self._index.get((g.value_name, g.value), ()))
        return sorted(found)

    def districts_of(self, tenant: str, alert: Alert) -> list[str]:
        """The tenant's districts an alert names, by district code or by name.

        Officers' alerts name districts by id; L-Alert names them in words ("川島地区"), so a
        name matches with or without the usual suffixes.
        """
        ids = self._district_ids.get(tenant, frozenset())
        words = self._district_words.get(tenant, {})
        out: list[str] = []
        if not ids:
            return out
        for info in alert.info[:1]:
            for area in info.area:
                found = [g.value for g in area.geocode if g.value_name == DISTRICT_CODE and g.value in ids]
                if not found:
                    word = words.get(area.area_desc.strip())
                    found = [word] if word else []
                out.extend(f for f in found if f not in out)
        return out

    def name(self, tenant: str) -> str:
        t = self.tenants.get(tenant)
        return t.name if t else tenant

    def context(self, tenant: str, alert: Alert) -> Context:
        """What the rules need to know of the tenant to decide on this alert."""
        settings = self.tenants.get(tenant)
        return Context(
            tenant=tenant,
            territory=self.geocodes.get(tenant, frozenset()),
            districts=tuple(self.districts_of(tenant, alert)),
            district_names=self._district_names.get(tenant, {}),
            tenant_name=settings.name if settings else tenant,
        )


def prefecture_codes(codes: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The prefecture code (JIS X 0402 form, 石川県 = 170003) of each municipality code given.

    A message for a whole prefecture (J-Alert's 国民保護情報 for 石川県, a prefecture's L-Alert
    document) names the prefecture's code; it must reach every tenant in that prefecture.
    """
    out: set[tuple[str, str]] = set()
    for value_name, value in codes:
        pref = areacodes.prefecture_of(value) if value_name == JIS_X0402 else None
        if pref is not None:
            out.add((JIS_X0402, pref))
    return out


class DelegationRefused(BroadcasterError):
    """An officer of one tenant tried to send for another that has not authorised their town."""


@dataclass(frozen=True, slots=True)
class Delegation:
    on_behalf_of: str  # the tenant whose people receive the alert
    officer_tenant: str  # the officer's own municipality
    officer: str  # officer:<officer_tenant>/<name>

    @property
    def delegated(self) -> bool:
        return self.on_behalf_of != self.officer_tenant

    def audit_detail(self) -> dict[str, str]:
        return {"on_behalf_of": self.on_behalf_of, "officer_tenant": self.officer_tenant, "officer": self.officer}

    def audit_entry(self, action: str, target: str, origin: str) -> dict[str, Any]:
        """Keyword arguments for Ledger.audit: who acted, for whom, on what."""
        return {
            "actor": self.officer,
            "action": action,
            "tenant": self.on_behalf_of,
            "target": target,
            "origin": origin,
            "detail": self.audit_detail(),
        }


def authorize(
    tenants: dict[str, TenantSettings], on_behalf_of: str, officer_tenant: str, officer: str
) -> Delegation:
    """May an officer of `officer_tenant` send for `on_behalf_of`? Raises DelegationRefused if not.

    The CLI (`broadcaster send --from-tenant`), the console and the API all ask here, so the rule
    is one: a tenant sends for itself, or for a tenant that lists it among its delegates.
    """
    for tenant in (on_behalf_of, officer_tenant):
        if tenant not in tenants:
            raise DelegationRefused(f"unknown tenant {tenant!r}; tenants: {', '.join(sorted(tenants)) or 'none'}")
    name = officer.removeprefix("officer:")
    if "/" in name:
        home, _, name = name.partition("/")
        if home != officer_tenant:
            raise DelegationRefused(f"officer {officer!r} belongs to {home}, not {officer_tenant}")
    if not name:
        raise DelegationRefused("an officer's name is needed")
    identity = f"officer:{officer_tenant}/{name}"
    if on_behalf_of != officer_tenant and officer_tenant not in tenants[on_behalf_of].delegates:
        allowed = ", ".join(tenants[on_behalf_of].delegates) or "no other tenant"
        raise DelegationRefused(
            f"{officer_tenant} may not send for {on_behalf_of}: {on_behalf_of} authorises {allowed} "
            f"(its `delegates` setting)"
        )
    return Delegation(on_behalf_of, officer_tenant, identity)


_SUFFIXES = ("地区", "地域", "区", "町内会", "自治会")


def _spellings(name: str) -> set[str]:
    """川島 → 川島, 川島地区, 川島区, 川島町内会 ...: how documents write a district's name."""
    bare = _bare(name)
    return {name.strip(), bare, *(bare + suffix for suffix in _SUFFIXES)}


def _bare(name: str) -> str:
    name = name.strip()
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def delegation_for(
    tenants: dict[str, TenantSettings], tenant: str | None, officer: str | None, from_tenant: str | None
) -> Delegation | None:
    """For the CLI: None when the officer sends for their own tenant, else the checked delegation."""
    if from_tenant is None or from_tenant == tenant:
        return None
    if tenant is None or officer is None:
        raise DelegationRefused("sending for another tenant needs --tenant, --officer and --from-tenant")
    return authorize(tenants, tenant, from_tenant, officer)
