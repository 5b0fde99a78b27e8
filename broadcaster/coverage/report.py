"""Coverage as text (`broadcaster coverage`) and as CSV for the disaster headquarters.

The CSV is UTF-8 with a BOM, which Excel opens correctly (as the audience export,
broadcaster/store/audience_csv.py). With `unreached`, it lists the households not reached, one a
line, with their members and address: personal data, written only on an officer's request.
"""

from __future__ import annotations

import csv
import io

from broadcaster.coverage.counts import NO_DISTRICT, Coverage, DistrictCoverage
from broadcaster.model import JST
from broadcaster.safety_links import ANSWERS

# The safety answers' columns, in the buttons' order (safe, need_help, evacuated).
SAFETY = tuple(ANSWERS)


def media_of(cov: Coverage) -> list[str]:
    return sorted(cov.by_medium)


def _name(row: DistrictCoverage) -> str:
    return row.name or ("(地区なし)" if row.district == NO_DISTRICT else row.district)


def render(cov: Coverage) -> list[str]:
    media = media_of(cov)
    received = cov.received.astimezone(JST).strftime("%Y-%m-%d %H:%M")
    elapsed = int((cov.at - cov.received).total_seconds() // 60)
    lines = [
        f"{cov.tenant}  {cov.alert_id}  {cov.status} {cov.kind}  {cov.headline or ''}".rstrip(),
        f"received {received} JST, {elapsed} min ago; flagged under {cov.flag_share:.0%} "
        f"after {int(cov.flag_after.total_seconds() // 60)} min",
        "",
    ]
    head = ["district", "households", "reached", "share", *media, "not reached", *SAFETY, ""]
    table = [head]
    for row in cov.districts:
        table.append(
            [
                _name(row),
                str(row.households),
                str(row.reached),
                f"{row.share:.0%}" if row.households else "-",  # 0 of 0 is unknown, not 100 %
                *(str(row.by_medium.get(m, 0)) for m in media),
                str(row.not_reached),
                *(str(row.safety.get(a, 0)) for a in SAFETY),
                "FLAGGED" if row.flagged else "",
            ]
        )
    table.append(
        [
            "total",
            str(cov.households),
            str(cov.reached),
            f"{cov.share:.0%}",
            *(str(cov.by_medium.get(m, 0)) for m in media),
            str(cov.households - cov.reached),
            *(str(cov.safety.get(a, 0)) for a in SAFETY),
            "",
        ]
    )
    widths = [max(text_width(r[i]) for r in table) for i in range(len(head))]
    for r in table:
        lines.append(
            "  ".join(pad(cell, widths[i], right=0 < i < len(head) - 1) for i, cell in enumerate(r)).rstrip()
        )
    return lines


def text_width(text: str) -> int:
    # Japanese characters take two columns on a terminal.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def pad(text: str, width: int, *, right: bool) -> str:
    space = " " * (width - text_width(text))
    return space + text if right else text + space


def to_csv(cov: Coverage, *, unreached: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    media = media_of(cov)
    if unreached:
        writer.writerow(["alert_id", "district_id", "district", "household", "members", "address"])
        for row in cov.districts:
            for h in row.unreached:
                writer.writerow([cov.alert_id, row.district, _name(row), h.key, h.label, h.address or ""])
        return "\ufeff" + out.getvalue()
    writer.writerow(
        ["alert_id", "at", "district_id", "district", "households", "reached", "share",
         *(f"reached_{m}" for m in media), "not_reached", *(f"answer_{a}" for a in SAFETY), "flagged"]
    )  # fmt: skip
    at = cov.at.astimezone(JST).isoformat(timespec="seconds")
    for row in cov.districts:
        writer.writerow(
            [cov.alert_id, at, row.district, _name(row), row.households, row.reached, f"{row.share:.3f}",
             *(row.by_medium.get(m, 0) for m in media), row.not_reached, *(row.safety.get(a, 0) for a in SAFETY),
             "yes" if row.flagged else ""]
        )  # fmt: skip
    return "\ufeff" + out.getvalue()
