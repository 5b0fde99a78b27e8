"""What the rules see of one alert for one tenant, read once per alert.

A JMA telegram covers many towns, and the normalize stage gives each tenant a copy of the whole
telegram. "Level 4" or "震度6弱" must therefore mean *in this town*: the facts below read the
per-area parameters (docs/jma.md) for the tenant's own area codes, and fall back to the alert-wide
value only when the telegram has no per-area figure at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from broadcaster.model import JST, KIND, LEVEL, Alert, Info
from broadcaster.rules.scales import intensity_rank, intensity_text

CITY = "気象・地震・火山情報／市町村等"
SEISMIC_AREA = "地震情報／細分区域"
TSUNAMI_AREA = "津波予報区"

# Per-area parameters: (code table of the first field, index of the value we want).
_LEVEL_FIELDS = {"warning": 5}
_LIFTED = ("解除", "なし", "発表警報・注意報はなし")


@dataclass(frozen=True)
class Context:
    """The tenant side of a decision: its territory and districts, and the routing time."""

    tenant: str = ""
    territory: frozenset[tuple[str, str]] = frozenset()
    districts: tuple[str, ...] = ()  # ids of the tenant's districts the alert names
    district_names: Mapping[str, str] = field(default_factory=dict)
    tenant_name: str = ""
    at: datetime | None = None  # when the alert is routed (default: when it was received)


class Facts:
    """Lazily computed facts; cheap ones first, so that most rules test only a few attributes."""

    def __init__(self, alert: Alert, ctx: Context) -> None:
        self.alert = alert
        self.ctx = ctx
        info: Info = alert.primary
        self.info = info
        self.kinds = tuple(c.value for c in info.event_code if c.value_name == KIND) or ("other",)
        self.kind = self.kinds[0]
        self.status = alert.status
        self.msg_type = alert.msg_type
        self.origin = alert.origin
        self.severity = info.severity
        self.urgency = info.urgency
        self.certainty = info.certainty

    @cached_property
    def at(self) -> datetime:
        # Received, not now: routing the same alert again (a redelivery) must decide the same.
        at = self.ctx.at or self.alert.received or self.alert.sent
        return at.astimezone(JST)

    @cached_property
    def params(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for p in self.info.parameter:
            out.setdefault(p.value_name, []).append(p.value)
        return out

    @cached_property
    def codes(self) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for c in self.info.event_code:
            out.setdefault(c.value_name, set()).add(c.value)
        return {k: frozenset(v) for k, v in out.items()}

    @cached_property
    def geocodes(self) -> frozenset[tuple[str, str]]:
        return frozenset((g.value_name, g.value) for a in self.info.area for g in a.geocode)

    def _local(self, table: str, code: str) -> bool:
        return (table, code) in self.ctx.territory

    @cached_property
    def local_name(self) -> str:
        return self.ctx.tenant_name or self.ctx.tenant or "the town"

    @cached_property
    def level(self) -> tuple[int | None, str]:
        """(警戒レベル in the town, where it comes from)."""
        best: int | None = None
        for value in self.params.get("warning", ()):
            f = value.split("|")
            if len(f) < 6 or not self._local(CITY, f[0]) or f[4] in _LIFTED or not f[5].isdigit():
                continue
            best = max(best or 0, int(f[5]))
        for value in self.params.get("landslide", ()):
            f = value.split("|")
            if len(f) >= 4 and self._local(CITY, f[0]) and f[3] not in _LIFTED:
                best = max(best or 0, 4)  # 土砂災害警戒情報 is 警戒レベル4 相当
        if "warning" in self.params or "landslide" in self.params:
            # Per-town figures exist: a town the telegram does not list has nothing in force.
            return best, f"in {self.local_name}"
        overall = self.params.get(LEVEL, [""])[0]
        return (int(overall) if overall.isdigit() else None), "of the alert"

    @cached_property
    def intensity(self) -> tuple[int | None, str]:
        """(震度 rank in the town, where it comes from).

        The town's own figure when the telegram has one (震源・震度に関する情報), else its
        seismic area's (震度速報 reports only areas): the area's maximum may be another town's.
        """
        for name, table, where in (
            ("cityIntensity", CITY, f"in {self.local_name}"),
            ("areaIntensity", SEISMIC_AREA, f"in {self.local_name}'s area"),
        ):
            best: int | None = None
            for value in self.params.get(name, ()):
                f = value.split("|")
                if len(f) >= 3 and self._local(table, f[0]):
                    rank = intensity_rank(f[2])
                    if rank is not None and (best is None or rank > best):
                        best = rank
            if best is not None:
                return best, where
        if "cityIntensity" in self.params or "areaIntensity" in self.params:
            return None, f"not reported in {self.local_name}"
        overall = self.params.get("maxIntensity", [""])[0]
        return intensity_rank(overall) if overall else None, "maximum of the alert"

    @cached_property
    def warnings(self) -> tuple[str, ...]:
        """Warnings and tsunami warnings in force in the town, by JMA's name."""
        found: list[str] = []
        for value in self.params.get("warning", ()):
            f = value.split("|")
            if len(f) >= 5 and self._local(CITY, f[0]) and f[4] not in _LIFTED:
                found.append(f[3])
        for value in self.params.get("tsunamiArea", ()):
            f = value.split("|")
            if len(f) >= 4 and self._local(TSUNAMI_AREA, f[0]):
                found.append(f[3].split("：")[0])
        if "warning" not in self.params and "tsunamiArea" not in self.params:
            for value in [*self.params.get("warningKinds", []), *self.params.get("tsunamiKinds", [])]:
                found.extend(k.split("：")[0] for k in value.split(","))
        return tuple(dict.fromkeys(x for x in found if x))

    def intensity_text(self) -> str:
        rank, _ = self.intensity
        return "-" if rank is None else intensity_text(rank)
