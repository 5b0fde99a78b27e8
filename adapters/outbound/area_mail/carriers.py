"""The carriers that deliver 緊急速報メール for a municipality, and their documented limits.

The four mobile carriers (NTTドコモ's 緊急速報「エリアメール」, and the 緊急速報メール of KDDI (au,
沖縄セルラー), ソフトバンク and 楽天モバイル) each deliver a municipality's 災害・避難情報 to every
phone in its area, without an app or a subscription, through the carrier's own system: a web
console, or a link from the town's systems. Their joint guide for municipalities (緊急速報メール
配信の手引き) sets what is sent and how: the area is a municipality (市区町村), a title of at
most 15 full-width characters and a text of at most 200, no half-width katakana and no
machine-dependent characters (丸数字, ㈱ …), a drill or test marked 訓練 or テスト in the text,
and only information about disasters and evacuation: never events, crime prevention or notices.

The limits are the guide's; a town whose contract with a carrier says otherwise sets
`options.title_max` / `options.body_max` for that carrier's channel (docs/channels.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from broadcaster.errors import ConfigError

TITLE_MAX = 15
BODY_MAX = 200
CHANNEL_PREFIX = "area_mail_"


@dataclass(frozen=True, slots=True)
class Carrier:
    key: str
    company: str
    service: str
    # What the officer opens to send by hand: the carrier's console for municipalities.
    console: str


CARRIERS: dict[str, Carrier] = {
    "docomo": Carrier("docomo", "株式会社NTTドコモ", "緊急速報「エリアメール」", "ドコモのメッセージ配信サイト"),
    "kddi": Carrier("kddi", "KDDI株式会社・沖縄セルラー電話株式会社", "緊急速報メール（au）", "KDDIの緊急速報メール配信サイト"),
    "softbank": Carrier("softbank", "ソフトバンク株式会社", "緊急速報メール", "ソフトバンクの緊急速報メール配信サイト"),
    "rakuten": Carrier("rakuten", "楽天モバイル株式会社", "緊急速報メール", "楽天モバイルの緊急速報メール配信サイト"),
}

# The channels, one per carrier (one request per carrier, each with its own retries and record).
CHANNELS: tuple[str, ...] = tuple(CHANNEL_PREFIX + key for key in CARRIERS)


def carrier_of(channel: str, given: str | None = None) -> Carrier:
    """The carrier a channel sends to: options.carrier, else the channel's name (area_mail_docomo)."""
    key = given or (channel[len(CHANNEL_PREFIX) :] if channel.startswith(CHANNEL_PREFIX) else "")
    carrier = CARRIERS.get(key)
    if carrier is None:
        raise ConfigError(
            f"channel {channel}: no carrier {key!r}; name the channel area_mail_<carrier> or set options.carrier "
            f"to one of {', '.join(CARRIERS)}"
        )
    return carrier
