"""Which tenants an alert concerns, by the codes of its areas."""

from __future__ import annotations

from collections.abc import Iterable

from broadcaster import registry
from broadcaster.model import DISTRICT_CODE, Alert
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

    @classmethod
    def from_settings(cls, settings: Settings) -> TenantDirectory:
        geocodes: dict[str, frozenset[tuple[str, str]]] = {}
        for tenant in settings.tenants.values():
            codes: set[tuple[str, str]] = {(g["value_name"], g["value"]) for g in tenant.geocodes}
            for table, values in tenant.areas.items():
                expand = registry.area_expander(table)
                for value in values:
                    codes.update((nv.value_name, nv.value) for nv in expand(value))
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
        districts = self.tenants[tenant].districts if tenant in self.tenants else []
        by_id = {d.id for d in districts}
        by_name = {_bare(d.name): d.id for d in districts}
        out: list[str] = []
        for info in alert.info[:1]:
            for area in info.area:
                found = [c for c in area.codes(DISTRICT_CODE) if c in by_id]
                if not found and _bare(area.area_desc) in by_name:
                    found = [by_name[_bare(area.area_desc)]]
                out.extend(f for f in found if f not in out)
        return out

    def name(self, tenant: str) -> str:
        t = self.tenants.get(tenant)
        return t.name if t else tenant


_SUFFIXES = ("地区", "地域", "区", "町内会", "自治会")


def _bare(name: str) -> str:
    name = name.strip()
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name
