"""One alert as every channel and language would carry it, with lengths, limits and splits.

The officer's console shows this before sending (scenario 2: "sees the text per medium and
language"), and `broadcaster preview FILE` prints it. Each row is what a reader of that language
gets on that channel: their text (the Japanese one follows it in the same send, as routing adds
it), measured the way the channel measures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from broadcaster.channels import ChannelProfile
from broadcaster.model import KIND, Alert, Dispatch, Explanation, now
from broadcaster.render.languages import JA, SUPPORTED, canonical
from broadcaster.render.renderer import Renderer
from broadcaster.settings import DEFAULT_CHANNELS, OFF_BY_DEFAULT

# The configured channels and the SMS length, which no channel sends yet but officers ask about.
# Channels that are off until a deployment turns them on (緊急速報メール) show where they are on.
PREVIEW_CHANNELS: tuple[str, ...] = (*(c for c in DEFAULT_CHANNELS if c not in OFF_BY_DEFAULT), "sms")


@dataclass(frozen=True, slots=True)
class PreviewRow:
    channel: str
    language: str  # as asked
    served: str  # the language the fixed phrases came in (a fallback when it differs)
    kind: str
    template: str | None
    title: str
    title_length: int
    title_limit: int | None
    parts: tuple[str, ...]
    lengths: tuple[int, ...]  # each part, in the channel's unit
    unit: str
    limit: int | None
    max_parts: int
    fits: bool
    cut: bool  # text was left out and the last part says where to read it
    fallback: str | None  # the template failed; the plain facts went out instead
    unreviewed: tuple[str, ...]  # phrases no fluent speaker has reviewed in this language
    html: str | None
    flex: Mapping[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _dispatch(alert: Alert, tenant: str, channel: str, languages: tuple[str, ...]) -> Dispatch:
    created = now()
    return Dispatch(
        tenant=tenant,
        alert_id=alert.identifier,
        event_key=alert.event_key,
        channel=channel,
        audience="preview",
        batch=0,
        batch_count=1,
        template="auto",
        languages=languages,
        explanation=Explanation(rule="preview"),
        created=created,
        deadline=created + timedelta(minutes=1),
    )


def preview(
    alert: Alert,
    renderer: Renderer,
    *,
    tenant: str,
    tenant_name: str,
    public_url: str,
    channels: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    profiles: Mapping[str, ChannelProfile] | None = None,
) -> list[PreviewRow]:
    rows: list[PreviewRow] = []
    kinds = alert.primary.event_codes(KIND) if alert.info else ()
    for channel in channels or PREVIEW_CHANNELS:
        profile = (profiles or {}).get(channel)
        if profile is not None and profile.kinds is not None and (kinds[0] if kinds else "other") not in profile.kinds:
            continue  # routing would leave the channel out (緊急速報メール for an EEW)
        for lang in languages or SUPPORTED:
            # As routing does: a reader of another language gets the Japanese text after theirs.
            wanted = (lang,) if canonical(lang) == JA else (lang, JA)
            r = renderer.render_detailed(
                alert,
                _dispatch(alert, tenant, channel, wanted),
                profile,
                tenant_name=tenant_name,
                public_url=public_url,
            )[0]
            text, limits = r.text, r.limits
            lengths = tuple(limits.measure(p) for p in text.parts)
            title_ok = limits.title_max is None or len(text.title) <= limits.title_max
            fits = (
                title_ok
                and len(text.parts) <= max(limits.max_parts, 1)
                and (limits.max_length is None or all(n <= limits.max_length for n in lengths))
            )
            rows.append(
                PreviewRow(
                    channel=channel,
                    language=lang,
                    served=r.served,
                    kind=text.kind,
                    template=r.template,
                    title=text.title,
                    title_length=len(text.title),
                    title_limit=limits.title_max,
                    parts=text.parts,
                    lengths=lengths,
                    unit=limits.unit,
                    limit=limits.max_length,
                    max_parts=limits.max_parts,
                    fits=fits,
                    cut=bool(text.extra.get("cut")),
                    fallback=text.extra.get("fallback"),
                    unreviewed=r.unreviewed,
                    html=text.html,
                    flex=text.extra.get("flex"),
                )
            )
    return rows
