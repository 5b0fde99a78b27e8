"""The console speaks Japanese, with English one click away."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "app_name": {"ja": "防災情報一斉配信", "en": "Emergency broadcaster"},
    "skip": {"ja": "本文へ移動", "en": "Skip to content"},
    "login": {"ja": "ログイン", "en": "Log in"},
    "logout": {"ja": "ログアウト", "en": "Log out"},
    "username": {"ja": "ユーザー名", "en": "User name"},
    "password": {"ja": "パスワード", "en": "Password"},
    "totp": {"ja": "確認コード（認証アプリの6桁）", "en": "Code (6 digits from your authenticator app)"},
    "login_failed": {
        "ja": "ログインできませんでした。入力内容を確認してください。",
        "en": "Could not log in. Check what you entered.",
    },
    "login_locked": {
        "ja": "失敗が続いたため、しばらくログインできません。時間をおいて再度お試しください。",
        "en": "Too many failed attempts. Wait a little and try again.",
    },
    "other_language": {"ja": "English", "en": "日本語"},
    "tenants": {"ja": "担当する自治体", "en": "Your municipalities"},
    "recent_alerts": {"ja": "最近の配信", "en": "Recent alerts"},
    "no_alerts": {"ja": "まだ配信はありません。", "en": "No alerts yet."},
    "role": {"ja": "権限", "en": "Role"},
    "viewer": {"ja": "閲覧", "en": "viewer"},
    "operator": {"ja": "作成", "en": "operator"},
    "approver": {"ja": "承認", "en": "approver"},
    "admin": {"ja": "管理", "en": "admin"},
    "state": {"ja": "状態", "en": "State"},
    "sent_at": {"ja": "発表時刻", "en": "Sent"},
    "headline": {"ja": "見出し", "en": "Headline"},
}


def t(key: str, lang: str) -> str:
    entry = STRINGS.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["ja"]
