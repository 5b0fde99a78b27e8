"""One-click unsubscribe (RFC 8058) end to end: a real SMTP server, the real web app, the ledger."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from adapters.outbound.email import EmailAdapter
from broadcaster.pipeline.adapters import adapter_env
from broadcaster.settings import ChannelSettings
from broadcaster.store.audiences import Audiences
from tests.fakes.deliveries import delivery, text
from tests.fakes.smtp import FakeSMTP
from tests.web_helpers import client, web_env

RESIDENT = "resident@gmail.com"


async def test_the_link_in_a_message_stops_that_address_and_nothing_else(tmp_path: Path) -> None:
    # RFC 8058 one-click needs an https link: the town's public address, served here on loopback.
    public = "https://bousai.anamizu.example"
    async with web_env(tmp_path, web_extra={"public_url": public}) as env, FakeSMTP() as smtp:
        audiences = Audiences(env.ledger.db)
        await audiences.add(
            "anamizu", endpoints={"email": RESIDENT, "line": "U" + "a" * 32}, external_ref="person-1"
        )
        await audiences.add("anamizu", endpoints={"email": "other@gmail.com"}, external_ref="person-2")
        settings = ChannelSettings(
            credentials={"password": SecretStr("unused")},
            options={"host": "127.0.0.1", "port": smtp.port, "security": "none", "login": False,
                     "from_address": "bousai@town.anamizu.example"},
        )
        adapter = EmailAdapter.from_settings("email", settings, adapter_env(env.settings, "anamizu"))
        await adapter.send(delivery("email", text("【穴水町】避難指示"), recipients=[RESIDENT, "other@gmail.com"]))
        mine = next(a.message for a in smtp.arrived if a.rcpt_tos == (RESIDENT,))
        assert mine["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = mine["List-Unsubscribe"].strip().strip("<>")
        assert link.startswith(f"{public}/unsubscribe/anamizu/email/")
        link = link.replace(public, env.base)
        async with client() as http:
            async with http.get(link) as r:
                assert r.status == 200, "the link no longer answers 404"
                assert "配信を停止する" in await r.text()
            assert (await audiences.person("anamizu", "person-1")) is not None
            person = await audiences.person("anamizu", "person-1")
            assert person is not None and ("email", RESIDENT) in person.endpoints, "a GET never unsubscribes"
            # What Gmail sends when the reader presses its unsubscribe button (RFC 8058 §3.1).
            async with http.post(link, data={"List-Unsubscribe": "One-Click"}) as r:
                assert r.status == 200, await r.text()
            async with http.post(link, data={"List-Unsubscribe": "One-Click"}) as r:
                assert r.status == 200, "a second press is harmless"
            token = link.rsplit("/", 1)[1]
            forged = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
            async with http.post(link.replace(token, forged), data={"List-Unsubscribe": "One-Click"}) as r:
                assert r.status == 404
            async with http.post(link.replace("/anamizu/", "/wajima/"), data={"List-Unsubscribe": "One-Click"}) as r:
                assert r.status == 404, "another town's route does not take this town's token"
            async with http.get(f"{env.base}/unsubscribe/anamizu/email") as r:
                assert r.status == 200
        person = await audiences.person("anamizu", "person-1")
        assert person is not None and person.endpoints == (("line", "U" + "a" * 32),)
        other = await audiences.person("anamizu", "person-2")
        assert other is not None and other.endpoints == (("email", "other@gmail.com"),)
        await adapter.close()
