"""The LINE account's conversation with its followers: what each webhook event does.

The web's webhook (broadcaster/web/line_hook.py) checks a request (size, signature, replay) and
hands each event here; this class answers it. It reaches the town's records only through
`broadcaster.followers.FollowerDesk`. What the events do is in docs/channels.md ("LINE webhook"):
follow registers a resident with the address ``line:<userId>`` and greets them with quick
replies; postbacks choose districts, language and topics; unfollow removes the address, and a
resident with no other address leaves entirely (their personal data is deleted, 個人情報保護法); a
typed eight-digit code links a district leader's LINE account to their roster record; a tap on a
safety check's quick reply, or a typed 無事 / 支援が必要 / 避難済み, answers it. Every typed text is
hostile: it is normalised, cut, compared, and never echoed, logged or stored. LINE user ids reach
logs only as `hash_id`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.outbound.line.api import LineClient
from adapters.outbound.line.dialog import Dialog, DistrictChoice, Prefs, decode, step
from adapters.outbound.line.webhook import BodyError, Event, Parsed, SignatureError, parse, verify_signature
from broadcaster import safety_links
from broadcaster.errors import BroadcasterError
from broadcaster.logging import get_logger, hash_id
from broadcaster.render.languages import JA, SUPPORTED, canonical
from broadcaster.settings import Settings

if TYPE_CHECKING:
    from broadcaster.followers import FollowerDesk, Person
    from broadcaster.model import Alert

log = get_logger(__name__)

CHANNEL = "line"
SAFETY_THANKS = (
    "「{answer}」を受け付けました。ありがとうございます。変わったときは、もう一度ボタンを押してください。"
)
SAFETY_CLOSED = "この安否確認はもう終わっています。役場からの新しいお知らせをご覧ください。"


class _Book:
    """The phrase tables as the dialogue asks for them."""

    def __init__(self, book: Any) -> None:
        self.book = book

    def text(self, key: str, lang: str, **fields: Any) -> str:
        return str(self.book.text(key, lang, **fields))

    def has(self, key: str) -> bool:
        return key in self.book.tables.get(JA, {})


def _load_phrases(settings: Settings) -> _Book:
    from broadcaster.render.lookup import TemplateSet
    from broadcaster.render.phrases import PhraseBook
    from broadcaster.render.renderer import PROJECT_TEMPLATES

    roots: list[Path] = list(dict.fromkeys([settings.templates_dir, PROJECT_TEMPLATES]))
    return _Book(PhraseBook.load(TemplateSet(roots, check_interval_s=0).phrase_dirs()))


@dataclass
class _Town:
    dialog: Dialog
    client: LineClient | None  # None without an access token: registrations work, replies do not


class LineConversation:
    """One deployment's LINE conversations (broadcaster.followers.Conversation)."""

    def __init__(self, settings: Settings, desk: FollowerDesk) -> None:
        self.settings = settings
        self.desk = desk
        self._towns: dict[str, _Town] = {}
        self._phrases: _Book | None = None

    # -- the webhook's requests (read for the web's door) ---------------------------------------
    def verify(self, secret: str, body: bytes, signature: str | None) -> str | None:
        try:
            verify_signature(secret, body, signature)
        except SignatureError as e:
            return e.reason
        return None

    def read(self, body: bytes) -> Parsed:
        try:
            return parse(body)
        except BodyError as e:
            raise ValueError(str(e)) from e

    def event_of(self, kept: str) -> Event:
        return Event.from_json(kept)

    async def close(self) -> None:
        for town in self._towns.values():
            if town.client is not None:
                await town.client.close()
        self._towns.clear()

    async def _town(self, tenant: str) -> _Town:
        town = self._towns.get(tenant)
        if town is None:
            if self._phrases is None:
                self._phrases = await asyncio.to_thread(_load_phrases, self.settings)
            ts = self.settings.tenants[tenant]
            dialog = Dialog(
                self._phrases,
                tenant=tenant,
                town=ts.name,
                town_en=ts.name_en,
                districts=[DistrictChoice(d.id, d.name, d.name_en) for d in ts.districts],
                site_url=f"{self.settings.web.public_url.rstrip('/')}/site/{tenant}/",
            )
            cfg = self.settings.channel(tenant, CHANNEL)
            token = cfg.credentials.get("token")
            client = None
            if token is not None and token.get_secret_value():
                base = str(cfg.options.get("base_url") or "https://api.line.me")
                client = LineClient(token=token.get_secret_value(), base_url=base, timeout=10.0)
            town = self._towns[tenant] = _Town(dialog, client)
        return town

    async def handle(self, tenant: str, event: Event, *, reply: bool) -> str:
        """Act on one event; returns what happened (recorded with the event id, no personal data)."""
        uid = event.user_id
        if uid is None:
            return f"ignored:{event.raw_type}"[:64]  # groups, rooms, malformed sources
        if event.type == "unfollow":
            return await self._unfollow(tenant, uid)
        if event.type == "other":
            return f"ignored:{event.raw_type}"[:64]
        town = await self._town(tenant)
        person, created = await self._person(tenant, uid, town)
        prefs = Prefs(person.districts, person.language, person.topics)
        if event.type == "follow":
            await self._reply(town, event, town.dialog.welcome(prefs), reply=reply)
            return "registered" if created else "followed_again"
        if event.type == "postback" and (tapped := safety_links.parse_postback(event.postback)) is not None:
            return await self._safety(tenant, town, event, person, *tapped, reply=reply)
        if event.type == "postback":
            st = step(
                prefs,
                decode(event.postback),
                town.dialog.districts,
                districts_fixed=person.kind != "resident",
            )
            if st.changed:
                await self.desk.update(
                    tenant,
                    person.external_id,
                    districts=st.prefs.districts,
                    language=st.prefs.language,
                    topics=st.prefs.topics,
                )
            await self._reply(town, event, town.dialog.view(st), reply=reply)
            return f"postback:{st.view}" + (":changed" if st.changed else "")
        typed = safety_links.parse_typed(event.text) if event.type == "message" else None
        if typed is not None and (check := await self.desk.latest_check(tenant)) is not None:
            return await self._answer(tenant, town, event, person, check, *typed, reply=reply)
        code = self.desk.code_in(event.text) if event.text else None
        if code is not None:
            return await self._link(tenant, town, event, uid, code, prefs, reply=reply)
        # Anything else typed (or a sticker, a photo): the account cannot converse. Say so, show
        # the settings, and neither echo nor keep what was sent.
        await self._reply(town, event, town.dialog.help(prefs), reply=reply)
        return f"message:{event.message_type or 'unknown'}"[:64]

    async def _safety(
        self, tenant: str, town: _Town, event: Event, person: Person, ref: str, answer: str, *, reply: bool
    ) -> str:
        """A tap on a safety check's quick reply: the answer for the person's household, on an
        alert of the town that asks for one and is recent (docs/coverage.md)."""
        alert = await self.desk.safety_check(tenant, ref)
        if alert is None:
            await self._reply(town, event, [{"type": "text", "text": SAFETY_CLOSED}], reply=reply)
            return "safety:closed"
        return await self._answer(tenant, town, event, person, alert, answer, None, reply=reply)

    async def _answer(
        self, tenant: str, town: _Town, event: Event, person: Person, alert: Alert, answer: str, note: str | None,
        *, reply: bool,
    ) -> str:  # fmt: skip
        outcome = await self.desk.answer(tenant, alert.identifier, person, answer, note, via="line")
        text = SAFETY_THANKS.format(answer=safety_links.ANSWERS[answer])
        await self._reply(town, event, [{"type": "text", "text": text}], reply=reply)
        return f"safety:{outcome}"

    async def _person(self, tenant: str, uid: str, town: _Town) -> tuple[Person, bool]:
        """The person with this LINE address; registered now if unknown (a follow, or someone
        who followed before the webhook existed and now taps the menu)."""
        people = await self.desk.people(tenant, CHANNEL, uid)
        if people:
            # A leader linked to LINE is their roster record, not the resident sign-up.
            return next((p for p in people if p.kind != "resident"), people[0]), False
        language = JA
        if town.client is not None:
            try:
                asked = await town.client.language(uid)
            except BroadcasterError as e:
                log.warning("line_profile_failed", tenant=tenant, user=hash_id(uid), error=str(e)[:200])
                asked = None
            if asked and canonical(asked) in SUPPORTED:
                language = canonical(asked)
        person = await self.desk.register(tenant, CHANNEL, uid, language)
        log.info("line_follower_registered", tenant=tenant, user=hash_id(uid), language=language)
        return person, True

    async def _drop(self, tenant: str, people: Sequence[Person], uid: str) -> tuple[int, int]:
        """Take this LINE address from `people`: a resident with no other address leaves
        entirely (personal data deleted); anyone else keeps their record. (left, kept)"""
        left = kept = 0
        for p in people:
            if p.kind == "resident" and set(p.endpoints) <= {(CHANNEL, uid)}:
                await self.desk.leave(tenant, p.external_id)
                left += 1
            else:
                kept += 1
        if kept:
            await self.desk.remove_address(tenant, CHANNEL, uid)
        return left, kept

    async def _unfollow(self, tenant: str, uid: str) -> str:
        people = await self.desk.people(tenant, CHANNEL, uid)
        if not people:
            return "unfollow:unknown"
        left, kept = await self._drop(tenant, people, uid)
        for p in people:
            if p.kind != "resident":
                # The town should know that a leader can no longer be reached on LINE.
                await self.desk.audit(
                    actor=f"line:{hash_id(uid)}",
                    action="line_unfollow",
                    tenant=tenant,
                    target=p.external_id,
                    detail={"kind": p.kind},
                )
        log.info("line_follower_gone", tenant=tenant, user=hash_id(uid), left=left, kept=kept)
        return "unfollow:left" if left and not kept else "unfollow:address_removed"

    async def _link(
        self, tenant: str, town: _Town, event: Event, uid: str, code: str, prefs: Prefs, *, reply: bool
    ) -> str:
        who = hash_id(uid)
        result = await self.desk.redeem_code(tenant, code, who=who)
        if result.outcome == "limited":
            log.warning("line_link_limited", tenant=tenant, user=who)
            await self._reply(town, event, town.dialog.notice(prefs, "line.link_wait"), reply=reply)
            return "link:limited"
        if result.outcome != "ok" or result.external_id is None:
            log.warning("line_link_refused", tenant=tenant, user=who, reason=result.outcome)
            await self.desk.audit(
                actor=f"line:{who}",
                action="line_link_refused",
                tenant=tenant,
                detail={"reason": result.outcome},
            )
            await self._reply(town, event, town.dialog.notice(prefs, "line.link_refused"), reply=reply)
            return f"link:{result.outcome}"
        leader = await self.desk.update(tenant, result.external_id, add_endpoint=(CHANNEL, uid))
        if leader is None:  # left between the code check and now
            await self._reply(town, event, town.dialog.notice(prefs, "line.link_refused"), reply=reply)
            return "link:gone"
        # The resident sign-up this LINE user got when following is the same person: from now
        # on they are reached as the leader (who is also a resident), once, not twice.
        others = [
            p for p in await self.desk.people(tenant, CHANNEL, uid) if p.external_id != leader.external_id
        ]
        for p in others:
            if p.kind == "resident" and set(p.endpoints) <= {(CHANNEL, uid)}:
                await self.desk.leave(tenant, p.external_id)
        if not result.again:
            await self.desk.audit(
                actor=f"line:{who}",
                action="line_link",
                tenant=tenant,
                target=leader.external_id,
                detail={"kind": leader.kind},
            )
        log.info("line_leader_linked", tenant=tenant, user=who, kind=leader.kind)
        leader_prefs = Prefs(leader.districts, leader.language, leader.topics)
        await self._reply(town, event, town.dialog.notice(leader_prefs, "line.link_done"), reply=reply)
        return "link:ok"

    async def _reply(self, town: _Town, event: Event, messages: list[dict[str, Any]], *, reply: bool) -> None:
        # "standby": another module holds the chat and we must not speak; a swept event's reply
        # token has expired; without an access token the town has no live LINE.
        if not (reply and event.active and event.reply_token and town.client is not None):
            return
        try:
            await town.client.reply(event.reply_token, messages)
        except BroadcasterError as e:
            # The change is made; only the answer is lost (an expired token, LINE down).
            log.warning("line_reply_failed", tenant=town.dialog.tenant, event_id=event.id, error=str(e)[:200])
