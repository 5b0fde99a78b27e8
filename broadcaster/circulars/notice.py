"""The short message that brings a person to their circular: what it is about, what to do, the link.

Written for a 76-year-old reading LINE: the town, the word 回覧, the subject, one request, the link
(Scenario 3: 「【穴水町】回覧: 避難指示 … 確認してください」 with a link). A drill's notice starts
with its label like every other text. Push notifications carry no URL in the text: the tap opens
the link (RenderedText.extra["url"]).
"""

from __future__ import annotations

from dataclasses import dataclass

from broadcaster.channels import RenderedText

LABELS = {"Exercise": "【訓練】", "Test": "【試験】", "System": "【システム】", "Draft": "【下書き】"}
PUSH_TITLE_MAX = 50
PUSH_BODY_MAX = 200
# Channels that show a short notification and open the link on a tap.
PUSH_CHANNELS = frozenset({"app_push", "fcm"})


@dataclass(frozen=True, slots=True)
class About:
    """What the notice needs to know of the circular and the person."""

    tenant_name: str
    title: str
    status: str  # CAP status of the circular
    form: str
    role: str  # leader | deputy
    district_name: str | None = None
    leader_name: str | None = None  # for a deputy: whose circular they stand in for


def _request(purpose: str, about: About) -> list[str]:
    if purpose == "cancel":
        return ["先ほどの回覧は取り消されました。確認をお願いします。"]
    lines: list[str] = []
    if purpose == "reminder":
        lines.append("まだ「確認しました」が押されていません。")
    elif purpose.startswith("reissue"):
        lines.append("新しいリンクをお送りします（前のリンクは使えません）。")
    if about.role == "deputy":
        where = f"{about.district_name}の" if about.district_name else ""
        lines.append(f"{where}区長からまだ確認がありません。代わりに内容を確認してください。")
    lines.append("内容を確認し、「確認しました」を押してください。")
    if about.form == "safety":
        lines.append("地区の安否確認の回答もお願いします。")
    elif about.form in ("headcount", "yesno"):
        lines.append("回答もお願いします。")
    return lines


def title(purpose: str, about: About) -> str:
    label = LABELS.get(about.status, "")
    what = "回覧の取消" if purpose == "cancel" else ("回覧（再送）" if purpose == "reminder" else "回覧")
    return f"{label}【{about.tenant_name}】{what}：{about.title}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compose(channel: str, purpose: str, about: About, url: str) -> RenderedText:
    head = title(purpose, about)
    request = _request(purpose, about)
    if channel in PUSH_CHANNELS:
        body = _cut(LABELS.get(about.status, "") + "".join(request), PUSH_BODY_MAX)
        return RenderedText(
            language="ja",
            kind="circular_notice",
            title=_cut(head, PUSH_TITLE_MAX),
            body=body,
            parts=(body,),
            extra={"url": url},
        )
    greeting = "副区長の皆さまへ" if about.role == "deputy" else "区長・町内会長の皆さまへ"
    body = "\n".join([head, greeting, *request, url])
    return RenderedText(
        language="ja", kind="circular_notice", title=head, body=body, parts=(body,), extra={"url": url}
    )
