"""The names a person reads for the channels and times the console shows, not the ids it routes by."""

from __future__ import annotations

from datetime import datetime, tzinfo

from broadcaster.model import JST
from broadcaster.model.timeutil import shown

# Channel id -> (Japanese, English). An id not listed is shown as it is.
CHANNELS: dict[str, tuple[str, str]] = {
    "website": ("町のウェブサイト", "Town website"),
    "app_push": ("防災アプリ（通知）", "Town app (push)"),
    "fcm": ("防災アプリ（Android通知）", "Town app (Android push)"),
    "line": ("LINE", "LINE"),
    "x": ("X（旧Twitter）", "X (Twitter)"),
    "mastodon": ("Mastodon", "Mastodon"),
    "bluesky": ("Bluesky", "Bluesky"),
    "email": ("メール", "E-mail"),
    "circular": ("回覧板（区長・町内会長）", "Circulars to district leaders"),
    "lalert_out": ("Lアラート", "L-Alert"),
    "sms": ("SMS（ショートメッセージ）", "SMS"),
    "voice": ("電話（音声）", "Voice calls"),
    "webhook": ("連携システム（Webhook）", "Partner systems (webhooks)"),
    "outbox": ("記録のみ（outbox）", "Recorded only (outbox)"),
    "area_mail_docomo": ("緊急速報メール（NTTドコモ）", "Area mail (NTT docomo)"),
    "area_mail_kddi": ("緊急速報メール（au/KDDI）", "Area mail (au/KDDI)"),
    "area_mail_softbank": ("緊急速報メール（ソフトバンク）", "Area mail (SoftBank)"),
    "area_mail_rakuten": ("緊急速報メール（楽天モバイル）", "Area mail (Rakuten Mobile)"),
}


def channel_name(channel: str, lang: str) -> str:
    names = CHANNELS.get(channel)
    if names is None:
        return channel
    return names[1] if lang == "en" else names[0]


def clock(at: datetime | None, fmt: str = "%m/%d %H:%M", tz: tzinfo = JST) -> str:
    """A time for a person: in the town's zone, with its label (docs/decisions.md, decision 8;
    pages get it through render's `clock`, which knows the town)."""
    return shown(at, tz, fmt)


_BASES = {
    "public": ("町内の全員", "everyone in town"),
    "district": ("{}地区", "{} district"),
    "leaders": ("区長・町内会長", "district leaders"),
    "deputies": ("副区長", "deputy leaders"),
    "officers": ("職員", "officers"),
}


def audience_name(audience: str, districts: dict[str, str], lang: str) -> str:
    """`district:kawashima/避難` as 川島地区（避難）; an unknown shape is shown as it is."""
    base, _, rest = audience.partition(":")
    scope, _, topic = rest.partition("/")
    if base not in _BASES:
        return audience
    ja, en = _BASES[base]
    words = en if lang == "en" else ja
    place = districts.get(scope, scope)
    if base == "district":
        name = words.format(place)
    elif scope and base in ("leaders", "deputies"):
        name = f"{place}: {words}" if lang == "en" else f"{place}地区の{words}"
    elif scope:
        name = f"{words} ({scope})"
    else:
        name = words
    return f"{name}（{topic}）" if topic else name


# Audit actions as the log's reader says them; an action not listed is shown as recorded.
AUDIT_ACTIONS: dict[str, tuple[str, str]] = {
    "send": ("配信", "sent"),
    "cancel": ("取消", "cancelled"),
    "approve": ("承認", "approved"),
    "withdraw": ("取り下げ", "withdrew"),
    "reject": ("差し戻し", "rejected"),
    "republish": ("再配信", "republished"),
    "schedule": ("予約", "scheduled"),
    "unschedule": ("予約の取消", "called off a schedule"),
    "login": ("ログイン", "logged in"),
    "login_failed": ("ログイン失敗", "failed login"),
    "logout": ("ログアウト", "logged out"),
}


def action_name(action: str, lang: str) -> str:
    names = AUDIT_ACTIONS.get(action)
    if names is None:
        return action
    return names[1] if lang == "en" else names[0]
