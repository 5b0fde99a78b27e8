"""Audience names and the topic vocabulary, shared by the rules engine and the audience store.

An audience is named by a string that the rules produce and every dispatch keeps (it is part of
the idempotency key, so its spelling never changes once a dispatch exists):

* ``public``: everyone the tenant reaches (residents, district leaders and their deputies);
* ``district:<id>``: the people registered in one district;
* ``leaders`` / ``leaders:<district>``: the 区長 and 町内会長 (all, or of one district);
* ``deputies`` / ``deputies:<district>``: their deputies;
* ``officers`` / ``officers:<group>``: the municipality's officers (all, or one group).

``public`` and ``district:<id>`` may carry a topic after a slash (``district:kawashima/避難``):
then only residents who take every topic, or chose that one, are in it. Leaders, deputies and
officers are reached for their role, never filtered by topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The topics a resident may choose (Scenario 4: "気象 and 避難 only"). A resident who chose none
# takes them all. English names are accepted on input and stored in Japanese.
TOPICS: tuple[str, ...] = ("気象", "地震", "津波", "火山", "避難", "国民保護", "ライフライン", "お知らせ")
TOPIC_ALIASES: dict[str, str] = {
    "weather": "気象",
    "earthquake": "地震",
    "tsunami": "津波",
    "volcano": "火山",
    "evacuation": "避難",
    "civil_protection": "国民保護",
    "lifeline": "ライフライン",
    "notice": "お知らせ",
    "notices": "お知らせ",
}

# Roles of a subscriber. "public" audiences reach the first three.
ROLES: tuple[str, ...] = ("resident", "leader", "deputy", "officer")
PUBLIC_ROLES: tuple[str, ...] = ("resident", "leader", "deputy")

_BASES = {"public": PUBLIC_ROLES, "district": PUBLIC_ROLES, "leaders": ("leader",),
          "deputies": ("deputy",), "officers": ("officer",)}
_ID = re.compile(r"^[a-z0-9_-]{1,64}$")


def topic_name(value: str) -> str:
    """The canonical (Japanese) topic for a name or alias; ValueError when there is none."""
    v = value.strip()
    canonical = TOPIC_ALIASES.get(v.lower(), v)
    if canonical not in TOPICS:
        raise ValueError(f"unknown topic {value!r}: one of {', '.join(TOPICS)}")
    return canonical


@dataclass(frozen=True, slots=True)
class AudienceName:
    base: str  # public | district | leaders | deputies | officers
    scope: str | None = None  # district id (public kinds, leaders, deputies) or officer group
    topic: str | None = None

    @property
    def roles(self) -> tuple[str, ...]:
        return _BASES[self.base]

    def __str__(self) -> str:
        text = self.base if self.scope is None else f"{self.base}:{self.scope}"
        return text if self.topic is None else f"{text}/{self.topic}"

    @classmethod
    def parse(cls, text: str) -> AudienceName:
        head, _, topic = text.partition("/")
        base, colon, scope = head.partition(":")
        if base not in _BASES:
            raise ValueError(f"unknown audience {text!r}: {', '.join(_BASES)}")
        if base == "public" and colon:
            raise ValueError(f"audience {text!r}: public has no scope")
        if base == "district" and not scope:
            raise ValueError(f"audience {text!r}: district needs an id (district:<id>)")
        if colon and not _ID.match(scope):
            raise ValueError(f"audience {text!r}: {scope!r} is not an id (a-z, 0-9, _ and -)")
        if topic and base not in ("public", "district"):
            raise ValueError(f"audience {text!r}: only public and district audiences take a topic")
        return cls(base, scope or None, topic_name(topic) if topic else None)


# Device topics (FCM topic messaging, docs/push.md "FCM topics"). A channel addressed by topics
# sends one request per topic and the provider fans it out to every device subscribed, so the
# broadcaster never holds the devices. The native app subscribes itself, from the resident's
# choices, to the topics `device_topics` names; routing names the one topic a dispatch reaches
# per language with `dispatch_topic`. Both come from here so that the two can never disagree.
# FCM allows [a-zA-Z0-9-_.~%] in a topic name; the pieces here are ids (a-z, 0-9, _ and -),
# language tags and the topics' English aliases, joined with ".".
WHOLE_TOWN = "all"
TOPIC_KEYS: dict[str, str] = {jp: en for en, jp in TOPIC_ALIASES.items() if en != "notices"}
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_.~%-]{1,900}$")


def dispatch_topic(tenant: str, audience: str, language: str) -> str:
    """The device topic that reaches `audience` (public or district, with or without a topic)
    in one language: ``anamizu.kawashima.vi.evacuation``; ``anamizu.all.ja`` for the whole town
    whatever each resident chose."""
    name = AudienceName.parse(audience)
    if name.base not in ("public", "district"):
        raise ValueError(f"audience {audience!r} is reached by role, not by a device topic")
    parts = [tenant, name.scope if name.base == "district" and name.scope else WHOLE_TOWN, language]
    if name.topic is not None:
        parts.append(TOPIC_KEYS[name.topic])
    topic = ".".join(parts)
    if not _TOPIC_NAME.match(topic):
        raise ValueError(f"{topic!r} is not a valid device topic")
    return topic


def device_topics(
    tenant: str, districts: tuple[str, ...], language: str, topics: tuple[str, ...] = ()
) -> list[str]:
    """Every device topic a resident's app subscribes to: the whole town's and each of their
    districts', untopiced (an alert for everyone there) and one per topic they chose (none
    chosen: every topic), in their language. 2 × 9 topics for one district, well under FCM's
    2,000 per app instance."""
    chosen = [topic_name(t) for t in topics] or list(TOPICS)
    out: list[str] = []
    for scope in ("public", *(f"district:{d}" for d in districts)):
        out.append(dispatch_topic(tenant, scope, language))
        out.extend(dispatch_topic(tenant, f"{scope}/{t}", language) for t in chosen)
    return out


def topic_language(topic: str) -> str:
    """The language a device topic is in (its third piece)."""
    parts = topic.split(".")
    return parts[2] if len(parts) >= 3 else "ja"
