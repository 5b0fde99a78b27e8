"""The people of a tenant as CSV: what `broadcaster audiences import|export` read and write.

The columns are documented in docs/audiences.md. Town staff keep rosters in Excel, so the reader
accepts UTF-8 (with or without BOM) and Shift_JIS (cp932), district names as well as ids, and the
Japanese words for roles; the writer writes UTF-8 with a BOM, which Excel opens correctly.
Every problem is reported with its line, all of them at once, and nothing is imported unless the
whole file is valid.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from broadcaster.audience import TOPICS, topic_name
from broadcaster.store.audiences import Person

COLUMNS = (
    "external_id", "kind", "name", "title", "districts", "groups", "language", "topics",
    "line", "app_push", "email", "phone", "circular", "status", "channels", "no_smartphone",
    "household", "address",
)
# The channels a person may list in `channels`, in the order they want them tried
# (docs/audiences.md, *Channel preference and fallback*).
PREFERENCE_CHANNELS = ("line", "app_push", "email", "sms", "voice")
_YES = {"": False, "no": False, "false": False, "0": False, "いいえ": False, "yes": True, "true": True, "1": True, "はい": True}
# CSV column -> endpoint channel. "phone" is not a sending channel: it is kept for the duty
# officer (a leader who does not answer gets a phone call).
ENDPOINT_COLUMNS = {"line": "line", "app_push": "app_push", "email": "email", "phone": "phone", "circular": "circular"}
SEPARATOR = "|"

_KINDS = {
    "resident": ("resident", None), "住民": ("resident", None),
    "leader": ("leader", None), "区長": ("leader", "区長"), "町内会長": ("leader", "町内会長"),
    "自治会長": ("leader", "自治会長"),
    "deputy": ("deputy", None), "副区長": ("deputy", "副区長"), "副会長": ("deputy", "副会長"),
    "officer": ("officer", None), "職員": ("officer", None),
}
_STATUS = {"active": True, "": True, "有効": True, "left": False, "退会": False, "停止": False}
_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9._:@/-]{1,200}$")
_ID = re.compile(r"^[a-z0-9_-]{1,64}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_LINE_ID = re.compile(r"^U[0-9a-f]{32}$")
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_PHONE = re.compile(r"^\+?[0-9()\- ]+$")
_TOKEN = re.compile(r"^[A-Za-z0-9:_\-.]{20,4096}$")


@dataclass(frozen=True, slots=True)
class CsvProblem:
    line: int
    message: str

    def where(self, name: str) -> str:
        return f"{name}:{self.line}: {self.message}"


def decode(data: bytes) -> str:
    """UTF-8 (a BOM is fine) or, failing that, Shift_JIS as Excel saves it in Japan."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp932")


def _split(value: str) -> list[str]:
    return [x.strip() for x in value.split(SEPARATOR) if x.strip()]


class _Row:
    """One row's checks; each failed check adds a problem and the row is dropped."""

    def __init__(self, line: int, cells: Mapping[str, str], districts: Mapping[str, str] | None) -> None:
        self.line = line
        self.cells = cells
        self.districts = districts
        self.problems: list[CsvProblem] = []

    def bad(self, column: str, message: str) -> None:
        self.problems.append(CsvProblem(self.line, f"{column}: {message}"))

    def get(self, column: str) -> str:
        return (self.cells.get(column) or "").strip()

    def person(self) -> Person | None:
        external_id = self.get("external_id")
        if not _EXTERNAL_ID.match(external_id):
            self.bad("external_id", f"{external_id!r} is not an id (letters, digits and ._:@/-, at most 200)")
        kind_word = self.get("kind") or "resident"
        kind, title = _KINDS.get(kind_word, (None, None))
        if kind is None:
            self.bad("kind", f"{kind_word!r}: one of resident, leader, deputy, officer (or 住民, 区長, 町内会長, 副区長, 職員)")
        status = self.get("status").lower()
        if status not in _STATUS:
            self.bad("status", f"{status!r}: active or left")
        active = _STATUS.get(status, True)
        if not active:
            return None if self.problems else Person(external_id=external_id, kind=kind or "resident", active=False)
        language = self.get("language") or "ja"
        if not _LANGUAGE.match(language):
            self.bad("language", f"{language!r} is not a language tag such as ja, en, vi, zh-CN")
        topics = self._topics()
        districts = self._districts()
        groups = _split(self.get("groups"))
        for g in groups:
            if not _ID.match(g):
                self.bad("groups", f"{g!r} is not a group id (a-z, 0-9, _ and -)")
        if groups and kind != "officer":
            self.bad("groups", "only officers belong to groups")
        endpoints = self._endpoints(external_id, kind)
        order = tuple(dict.fromkeys(_split(self.get("channels").replace(",", SEPARATOR))))
        for channel in order:
            if channel not in PREFERENCE_CHANNELS:
                self.bad("channels", f"{channel!r}: one of {', '.join(PREFERENCE_CHANNELS)}, in the order to try")
        no_smartphone = _YES.get(self.get("no_smartphone").lower())
        if no_smartphone is None:
            self.bad("no_smartphone", f"{self.get('no_smartphone')!r}: yes or no")
        if no_smartphone and not any(ch == "phone" for ch, _ in endpoints):
            self.bad("no_smartphone", "a person without a smartphone needs a phone number to be reached")
        household = self.get("household")
        if household and not _EXTERNAL_ID.match(household):
            self.bad("household", f"{household!r} is not an id (letters, digits and ._:@/-, at most 200)")
        if household and kind == "officer":
            self.bad("household", "officers are not counted in households (leave it empty)")
        address = self.get("address")
        if len(address) > 500:
            self.bad("address", "longer than 500 characters")
        if self.problems or kind is None:
            return None
        return Person(
            external_id=external_id,
            kind=kind,
            name=self.get("name") or None,
            title=self.get("title") or title,
            districts=tuple(districts),
            groups=tuple(groups),
            language=language,
            topics=tuple(topics),
            endpoints=tuple(endpoints),
            channel_order=order,
            no_smartphone=bool(no_smartphone),
            household=household or None,
            address=address or None,
        ).normalized()

    def _topics(self) -> list[str]:
        value = self.get("topics")
        if value.lower() in ("", "all", "すべて", "全て"):
            return []
        out = []
        for item in _split(value):
            try:
                out.append(topic_name(item))
            except ValueError:
                self.bad("topics", f"unknown topic {item!r}: {', '.join(TOPICS)} (or leave empty for all)")
        return out

    def _districts(self) -> list[str]:
        out = []
        for item in _split(self.get("districts")):
            if self.districts is None:
                out.append(item)
            elif item in self.districts:
                out.append(self.districts[item])
            else:
                known = ", ".join(sorted(set(self.districts.values()))) or "none configured"
                self.bad("districts", f"no district {item!r} in this municipality (ids: {known})")
        return out

    def _endpoints(self, external_id: str, kind: str | None) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for column, channel in ENDPOINT_COLUMNS.items():
            value = self.get(column)
            if not value and column == "circular" and kind in ("leader", "deputy"):
                value = external_id  # a leader's e-circular is addressed by their id
            if not value:
                continue
            problem = _check_endpoint(column, value)
            if problem:
                self.bad(column, problem)
            else:
                out.append((channel, value))
        return out


def _check_endpoint(column: str, value: str) -> str | None:
    if column == "line" and not _LINE_ID.match(value):
        return "a LINE user id is U followed by 32 hex digits"
    if column == "email" and not _EMAIL.match(value):
        return f"{value!r} is not an e-mail address"
    if column == "phone":
        digits = re.sub(r"\D", "", value)
        if not _PHONE.match(value) or not 10 <= len(digits) <= 15:
            return f"{value!r} is not a phone number (10 to 15 digits)"
    if column == "app_push":
        if value.startswith("{"):
            try:
                endpoint = json.loads(value).get("endpoint", "")
            except (ValueError, AttributeError):
                return "a web push subscription must be JSON with an endpoint"
            if not str(endpoint).startswith("https://"):
                return "the web push subscription's endpoint must be an https URL"
        elif not (value.startswith("https://") or _TOKEN.match(value)):
            return "a push subscription (JSON), an https endpoint or a device token"
    if len(value) > 8000:
        return "longer than 8000 characters"
    return None


def read_people(text: str, districts: Mapping[str, str] | None = None) -> tuple[list[Person], list[CsvProblem]]:
    """The people of a CSV text and the problems found; `districts` maps ids and names to ids."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    problems: list[CsvProblem] = []
    if not header:
        return [], [CsvProblem(1, "empty file: the first line names the columns (docs/audiences.md)")]
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        problems.append(CsvProblem(1, f"unknown column(s) {', '.join(unknown)}; columns: {', '.join(COLUMNS)}"))
    if "external_id" not in header:
        problems.append(CsvProblem(1, "the column external_id is required (it makes a re-import update, not duplicate)"))
    if problems:
        return [], problems
    reader.fieldnames = header
    people: list[Person] = []
    first_line: dict[str, int] = {}
    for cells in reader:
        # The row's last physical line: the row itself, unless a quoted cell spans lines.
        start = reader.line_num
        if None in cells:
            problems.append(CsvProblem(start, f"more cells than the {len(header)} columns"))
            continue
        if not any((v or "").strip() for v in cells.values()):
            continue
        row = _Row(start, cells, districts)
        external_id = row.get("external_id")
        if external_id and external_id in first_line:
            problems.append(
                CsvProblem(start, f"external_id {external_id!r} again (first on line {first_line[external_id]})")
            )
            continue
        first_line.setdefault(external_id, start)
        person = row.person()
        problems.extend(row.problems)
        if person is not None:
            people.append(person)
    return people, problems


def district_lookup(districts: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Ids and names (with and without 地区) to ids, for a tenant's (id, name) pairs."""
    out: dict[str, str] = {}
    for did, name in districts:
        out[did] = did
        out[name] = did
        out[name.removesuffix("地区")] = did
        out[f"{name.removesuffix('地区')}地区"] = did
    return out


def write_people(people: Iterable[Person]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for p in people:
        by_channel: dict[str, list[str]] = {}
        for channel, address in p.endpoints:
            by_channel.setdefault(channel, []).append(address)
        cells = {
            "external_id": p.external_id,
            "kind": p.kind,
            "name": p.name or "",
            "title": p.title or "",
            "districts": SEPARATOR.join(p.districts),
            "groups": SEPARATOR.join(p.groups),
            "language": p.language if p.active else "",
            "topics": SEPARATOR.join(p.topics),
            # One address per channel in a CSV row; a second one (rare) is not lost silently:
            # export says so on standard error (broadcaster/cli/audiences.py).
            **{col: (by_channel.get(ch) or [""])[0] for col, ch in ENDPOINT_COLUMNS.items()},
            "status": "active" if p.active else "left",
            "channels": SEPARATOR.join(p.channel_order),
            "no_smartphone": "yes" if p.no_smartphone else "",
            "household": p.household or "",
            "address": p.address or "",
        }
        writer.writerow([cells[c] for c in COLUMNS])
    return "\ufeff" + out.getvalue()
