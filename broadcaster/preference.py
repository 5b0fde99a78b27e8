"""A resident's channels in the order they want them tried, and the next one when one fails
(docs/audiences.md, *Channel preference and fallback*).

Pure: the audience store reads the preference, routing sends each resident on their first channel,
and the channel worker asks `next_channel` for those a send did not reach (a LINE account
unreachable, a push subscription gone, a call nobody answered, an SMS a landline cannot take).

A resident without a stated order keeps the behaviour of before: every channel they have an
address on. One registered as having no smartphone is reached by voice, then SMS, whatever the
rules name for their district, and never through an app.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

# Channels that need a smartphone (or a computer): a resident without one is never sent to them.
SMARTPHONE = frozenset({"line", "app_push", "fcm"})
NO_SMARTPHONE_ORDER = ("voice", "sms")
# Which kind of address a channel sends to, where it is not the channel's own name.
ENDPOINT_OF = {"sms": "phone", "voice": "phone", "fcm": "app_push"}


def endpoint_channel(channel: str) -> str:
    return ENDPOINT_OF.get(channel, channel)


def parse_order(text: str | None) -> tuple[str, ...]:
    """"line, sms ,voice" → ("line", "sms", "voice"); duplicates dropped, order kept."""
    if not text:
        return ()
    return tuple(dict.fromkeys(part.strip() for part in text.replace("|", ",").split(",") if part.strip()))


def order_of(stated: Sequence[str], no_smartphone: bool, addresses: Collection[str]) -> tuple[str, ...] | None:
    """The channels to try, in order, among those the resident has an address for (`addresses` are
    endpoint kinds: line, app_push, email, phone ...). None: no preference, every channel."""
    if not stated and not no_smartphone:
        return None
    wanted = tuple(stated) or NO_SMARTPHONE_ORDER
    if no_smartphone:
        wanted = tuple(c for c in wanted if c not in SMARTPHONE) or NO_SMARTPHONE_ORDER
    return tuple(c for c in wanted if endpoint_channel(c) in addresses)


def first_channel(order: Iterable[str], enabled: Collection[str]) -> str | None:
    return next((c for c in order if c in enabled), None)


def next_channel(order: Sequence[str], after: str, enabled: Collection[str]) -> str | None:
    """The channel after `after` in the resident's order that the tenant can send on; None: the end."""
    if after not in order:
        return None
    return first_channel(order[order.index(after) + 1 :], enabled)


def sends_on(order: tuple[str, ...] | None, channel: str, enabled: Collection[str]) -> bool:
    """Whether routing gives this resident a dispatch on `channel` (before any fallback)."""
    if order is None:
        return True
    return first_channel(order, enabled) == channel


def personal_channels(addressing: dict[str, str]) -> frozenset[str]:
    """The enabled channels that reach people one by one ({channel: its profile's addressing})."""
    return frozenset(c for c, a in addressing.items() if a in ("recipients", "both"))
