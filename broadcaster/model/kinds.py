"""The project's own classification of alerts, shared by parsers, rules and templates.

Every parser adds one eventCode {valueName: KIND, value: <kind>} to each info block, so that rules
and templates need not know each source's code tables. Source codes stay beside it (valueName =
the source's code type) for rules that want them.
"""

from __future__ import annotations

from enum import StrEnum

KIND = "broadcaster:kind"
# 警戒レベル (1-5) where the information carries one or maps to one (避難指示 = 4, 大雨特別警報 = 5).
LEVEL = "broadcaster:level"


class Kind(StrEnum):
    WEATHER_WARNING = "weather_warning"  # 気象警報・注意報 (both formats), 早期注意情報
    SPECIAL_WARNING = "special_warning"  # 特別警報
    LANDSLIDE = "landslide"  # 土砂災害警戒情報, レベル４土砂災害危険警報
    HEAVY_RAIN = "heavy_rain"  # 記録的短時間大雨情報, 顕著な大雨に関する情報 (線状降水帯)
    FLOOD = "flood"  # 指定河川洪水予報
    TORNADO = "tornado"  # 竜巻注意情報, 気象防災速報
    EARTHQUAKE = "earthquake"  # 震度速報, 震源に関する情報, 震源・震度に関する情報, 長周期地震動
    EEW = "eew"  # 緊急地震速報
    TSUNAMI = "tsunami"  # 津波警報・注意報・予報, 津波情報
    VOLCANO = "volcano"  # 噴火警報・予報, 噴火速報
    TYPHOON = "typhoon"  # 台風情報
    TYPHOON_PROBABILITY = "typhoon_probability"  # 台風の暴風域に入る確率
    NANKAI_TROUGH = "nankai_trough"  # 南海トラフ地震臨時情報 (巨大地震警戒/巨大地震注意/調査中/調査終了)
    NANKAI_COMMENTARY = "nankai_commentary"  # 南海トラフ地震関連解説情報
    SUBSEQUENT_QUAKE = "subsequent_quake"  # 北海道・三陸沖後発地震注意情報
    HEAT = "heat"  # 熱中症警戒アラート, 熱中症特別警戒アラート
    WEATHER_INFO = "weather_info"  # 全般/地方/府県 気象情報, 気象解説情報, 潮位情報
    EVACUATION = "evacuation"  # 避難情報: 高齢者等避難, 避難指示, 緊急安全確保 (and their lifting)
    SHELTER = "shelter"  # 避難所 開設/閉鎖
    MISSILE = "missile"  # 国民保護情報
    DAMAGE = "damage"  # 被害情報
    HEADQUARTERS = "headquarters"  # 災害対策本部 設置/解散
    LIFELINE = "lifeline"  # 断水, 停電
    NOTICE = "notice"  # お知らせ, イベント, routine information
    SYSTEM = "system"  # the broadcaster about itself: a stale feed, a channel down
    OTHER = "other"  # any other telegram, normalized generically from its head
