"""Rendering: an alert becomes each channel's text, per language, inside the channel's limits.

Templates are configuration (DESIGN.md, Decisions 7): ``<templates>/<channel>/<kind>.<lang>.j2``,
with tenant overrides in ``<templates>/tenants/<tenant>/<channel>/...`` and shared fallbacks in
``_default/``. A template starts with ``{% set title %}...{% endset %}`` and uses ``{{ title }}``
where its body shows it. They run in Jinja's sandbox with StrictUndefined, since staff edit them and a typo
must fail loudly, not print an empty warning.

Two things hold whatever a template says: an alert that is not Actual carries its 訓練/試験 label
at the start of every text, and a text that must be cut says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from broadcaster.channels import ChannelProfile, RenderedText
from broadcaster.logging import get_logger
from broadcaster.model import KIND, LEVEL, Alert, Dispatch, Info, MsgType, Status

log = get_logger(__name__)

STATUS_LABELS_JA = {
    Status.EXERCISE: "【訓練】",
    Status.TEST: "【試験】",
    Status.SYSTEM: "【システム】",
    Status.DRAFT: "【下書き】",
}
STATUS_LABELS_EN = {
    Status.EXERCISE: "[DRILL] ",
    Status.TEST: "[TEST] ",
    Status.SYSTEM: "[SYSTEM] ",
    Status.DRAFT: "[DRAFT] ",
}
CUT_MARK_JA = "…（続きは{url}）"
CUT_MARK_EN = "... (more: {url})"


def status_label(status: Status, language: str) -> str:
    table = STATUS_LABELS_JA if language.startswith("ja") else STATUS_LABELS_EN
    return table.get(status, "")


def template_kind(alert: Alert, dispatch_template: str) -> str:
    if dispatch_template != "auto":
        return dispatch_template
    if alert.msg_type is MsgType.CANCEL:
        return "cancel"
    kinds = alert.primary.event_codes(KIND) if alert.info else ()
    return kinds[0] if kinds else "other"


class Renderer:
    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self.env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(templates_dir)),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )

    def candidates(self, tenant: str, channel: str, kind: str, lang: str) -> list[str]:
        return [
            f"tenants/{tenant}/{channel}/{kind}.{lang}.j2",
            f"{channel}/{kind}.{lang}.j2",
            f"tenants/{tenant}/{channel}/default.{lang}.j2",
            f"{channel}/default.{lang}.j2",
            f"_default/{kind}.{lang}.j2",
            f"_default/default.{lang}.j2",
            # A language without templates of its own still gets the alert's text in it.
            f"{channel}/default.any.j2",
            "_default/default.any.j2",
        ]

    def find(self, tenant: str, channel: str, kind: str, lang: str) -> jinja2.Template | None:
        try:
            return self.env.select_template(self.candidates(tenant, channel, kind, lang))
        except jinja2.TemplatesNotFound:
            return None

    def render(
        self,
        alert: Alert,
        dispatch: Dispatch,
        profile: ChannelProfile,
        *,
        tenant_name: str,
        public_url: str,
        languages: Sequence[str] | None = None,
    ) -> tuple[RenderedText, ...]:
        kind = template_kind(alert, dispatch.template)
        out: list[RenderedText] = []
        for lang in languages or dispatch.languages:
            info = alert.info_for(lang)
            if info is None and not lang.startswith("ja"):
                continue  # no text in that language: the reader gets Japanese (issue of templates)
            out.append(
                self._one(
                    alert, info or alert.primary, dispatch, profile, kind, lang, tenant_name, public_url
                )
            )
        if not out:
            out.append(
                self._one(alert, alert.primary, dispatch, profile, kind, "ja", tenant_name, public_url)
            )
        return tuple(out)

    def _one(
        self,
        alert: Alert,
        info: Info,
        dispatch: Dispatch,
        profile: ChannelProfile,
        kind: str,
        lang: str,
        tenant_name: str,
        public_url: str,
    ) -> RenderedText:
        url = f"{public_url.rstrip('/')}/alerts/{dispatch.tenant}/{alert.identifier}"
        label = status_label(alert.status, lang)
        context: dict[str, Any] = {
            "alert": alert,
            "info": info,
            "ja": alert.primary,
            "tenant_name": tenant_name,
            "label": label,
            "kind": kind,
            "params": {p.value_name: p.value for p in info.parameter},
            "level": info.param(LEVEL),
            "areas": [a.area_desc for a in info.area],
            "url": url,
            "channel": dispatch.channel,
            "is_cancel": alert.msg_type is MsgType.CANCEL,
            "is_update": alert.msg_type is MsgType.UPDATE,
        }
        extra: dict[str, Any] = {}
        template = self.find(dispatch.tenant, dispatch.channel, kind, lang)
        try:
            if template is None:
                raise jinja2.TemplateNotFound(f"{dispatch.channel}/{kind}.{lang}")
            # A template sets `title` at its top and uses it in its body; the renderer reads
            # the title from the rendered module for channels that show one apart.
            module = template.make_module(context)
            body = str(module).strip()
            title = str(getattr(module, "title", "")).strip()
        except jinja2.TemplateError as e:
            # A broken or missing template must not stop a warning: send the plain facts, and
            # say in the receipt why the text looks plain.
            log.error("template_failed", channel=dispatch.channel, kind=kind, lang=lang, error=str(e))
            extra["fallback"] = f"{type(e).__name__}: {e}"
            title, body = _plain(alert, info, tenant_name)
        if label:
            title = _labelled(title, label)
            body = _labelled(body, label)
        parts = _fit(body, profile.max_text_length, url, lang)
        return RenderedText(language=lang, kind=kind, title=title, body=body, parts=parts, extra=extra)


def _labelled(text: str, label: str) -> str:
    return text if text.startswith(label.strip()) else label + text


def _plain(alert: Alert, info: Info, tenant_name: str) -> tuple[str, str]:
    title = f"【{tenant_name}】{info.headline or info.event}"
    lines = [title]
    for text in (info.description, info.instruction):
        if text:
            lines.append(text)
    if alert.msg_type is MsgType.CANCEL:
        lines.insert(1, "（取消）")
    return title, "\n".join(lines)


def _fit(body: str, limit: int | None, url: str, lang: str) -> tuple[str, ...]:
    """The body as one part if it fits, else cut at a line or sentence end and marked."""
    if limit is None or len(body) <= limit:
        return (body,)
    mark = (CUT_MARK_JA if lang.startswith("ja") else CUT_MARK_EN).format(url=url)
    room = max(limit - len(mark), 1)
    head = body[:room]
    for sep in ("\n", "。", ". ", "、", " "):
        at = head.rfind(sep)
        if at > room // 2:
            head = head[: at + len(sep)].rstrip()
            break
    return (head + mark,)
