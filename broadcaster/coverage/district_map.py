"""The district view of coverage: an SVG of the town's districts, coloured by share reached, when the
operator provides the districts' outlines as GeoJSON (docs/coverage.md); the table otherwise.

`coverage.maps_dir/<tenant>.geojson` holds a FeatureCollection of Polygon or MultiPolygon features,
each naming its district id in `properties.district`. The outlines are projected
equirectangularly with the town's mean latitude (a town is a few kilometres across: no projection
error a reader could see) and fitted to the drawing. Names and counts are escaped; nothing of the
file is put into the page but numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from broadcaster.coverage.counts import Coverage
from broadcaster.logging import get_logger

log = get_logger(__name__)

WIDTH, HEIGHT, PAD = 640.0, 420.0, 10.0
MAX_BYTES = 5 * 1024 * 1024
# Red: flagged; amber: under the share, not yet flagged; green: at or above it.
COLOURS = {"flagged": "#c62828", "waiting": "#f9a825", "ok": "#2e7d32", "none": "#bdbdbd"}

Ring = list[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class Outline:
    district: str
    polygons: list[list[Ring]]  # each polygon: its outer ring, then its holes (lon, lat)


def _ring(raw: Any) -> Ring:
    if not isinstance(raw, list) or len(raw) < 4:
        raise ValueError("a ring has at least four positions")
    out = []
    for p in raw:
        if not isinstance(p, list) or len(p) < 2:
            raise ValueError("a position is [longitude, latitude]")
        lon, lat = float(p[0]), float(p[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90) or math.isnan(lon) or math.isnan(lat):
            raise ValueError("a position out of range")
        out.append((lon, lat))
    return out


def parse(text: str) -> list[Outline]:
    """The outlines of a GeoJSON FeatureCollection; ValueError naming what is wrong."""
    doc = json.loads(text)
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise ValueError("not a GeoJSON FeatureCollection")
    out: list[Outline] = []
    for i, f in enumerate(doc["features"]):
        geometry = f.get("geometry") if isinstance(f, dict) else None
        props = f.get("properties") if isinstance(f, dict) else None
        district = props.get("district") if isinstance(props, dict) else None
        if not isinstance(district, str) or not isinstance(geometry, dict):
            raise ValueError(f"feature {i}: properties.district and a geometry are needed")
        kind, coords = geometry.get("type"), geometry.get("coordinates")
        if not isinstance(coords, list):
            raise ValueError(f"feature {i}: no coordinates")
        try:
            if kind == "Polygon":
                polygons = [[_ring(r) for r in coords]]
            elif kind == "MultiPolygon":
                polygons = [[_ring(r) for r in p] for p in coords if isinstance(p, list)]
            else:
                raise ValueError(f"a {kind}, not a Polygon or MultiPolygon")
        except (ValueError, TypeError) as e:
            raise ValueError(f"feature {i} ({district}): {e}") from None
        out.append(Outline(district, polygons))
    return out


def load(maps_dir: Path | None, tenant: str) -> list[Outline] | None:
    """The town's outlines, or None when there is no map (or it is unusable: logged, the table stays)."""
    if maps_dir is None:
        return None
    path = maps_dir / f"{tenant}.geojson"
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        return parse(path.read_text(encoding="utf-8")) or None
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as e:
        log.error("district_map_unusable", tenant=tenant, error=str(e)[:200])
        return None


def _positions(outlines: Iterable[Outline]) -> Iterable[tuple[float, float]]:
    for o in outlines:
        for polygon in o.polygons:
            for ring in polygon:
                yield from ring


def state(flagged: bool, share: float, households: int, flag_share: float) -> str:
    if households == 0:
        return "none"
    if flagged:
        return "flagged"
    return "ok" if share >= flag_share else "waiting"


def render(outlines: Sequence[Outline], cov: Coverage) -> str:
    """The SVG: one path per district with its share, coloured as the table's status column."""
    points = list(_positions(outlines))
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    k = math.cos(math.radians((min(lats) + max(lats)) / 2))
    span_x = max((max(lons) - min(lons)) * k, 1e-9)
    span_y = max(max(lats) - min(lats), 1e-9)
    scale = min((WIDTH - 2 * PAD) / span_x, (HEIGHT - 2 * PAD) / span_y)

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return PAD + (lon - min(lons)) * k * scale, PAD + (max(lats) - lat) * scale

    rows = {r.district: r for r in cov.districts}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="coverage-map" viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" '
        'role="img" aria-label="地区ごとの到達状況">'
    ]
    for o in outlines:
        row = rows.get(o.district)
        if row is None:
            continue  # a district the alert did not concern is not drawn
        look = state(row.flagged, row.share, row.households, cov.flag_share)
        d = " ".join(
            "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in (xy(*p) for p in ring)) + " Z"
            for polygon in o.polygons
            for ring in polygon
        )
        label = f"{row.name or row.district} {row.reached}/{row.households} ({row.share:.0%})"
        xs = [xy(*p) for polygon in o.polygons for p in polygon[0]]
        cx, cy = sum(x for x, _ in xs) / len(xs), sum(y for _, y in xs) / len(xs)
        parts.append(
            f'<g class="district-{look}" data-district={quoteattr(o.district)}>'
            f"<title>{escape(label)}</title>"
            f'<path d="{d}" fill="{COLOURS[look]}" fill-opacity="0.75" fill-rule="evenodd" stroke="#333" stroke-width="1"/>'
            f'<text x="{cx:.1f}" y="{cy:.1f}" text-anchor="middle" font-size="14">{escape(row.name or row.district)} '
            f"{row.share:.0%}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
