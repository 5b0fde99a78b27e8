"""登録制メール against a real SMTP server on loopback (aiosmtpd): what arrives, and how."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.outbound.email import EmailAdapter, EmailSettings
from adapters.outbound.email.compose import charset_for
from broadcaster import unsubscribe
from broadcaster.channels import ChannelAdapter
from broadcaster.errors import ConfigError, PermanentError, TransientError
from broadcaster.logging import hash_id
from broadcaster.settings import ChannelSettings
from broadcaster.store.audiences import address_hash
from tests.canaries import canary
from tests.fakes.deliveries import delivery, env_for, text
from tests.fakes.smtp import FakeSMTP
from tests.fakes.tls import LoopbackCA, make_ca

SMTP_PASSWORD = canary("smtp-password")

Make = Callable[..., EmailAdapter]
JA = text(
    "【穴水町】避難指示を発令しました。\n川島地区の皆さんは直ちに避難してください。",
    title="【穴水町】避難指示（警戒レベル4）",
)


@pytest.fixture
async def smtp() -> AsyncIterator[FakeSMTP]:
    async with FakeSMTP() as server:
        yield server


@pytest.fixture
async def make(smtp: FakeSMTP) -> AsyncIterator[Make]:
    made: list[EmailAdapter] = []

    def factory(**overrides: Any) -> EmailAdapter:
        fields: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": smtp.port,
            "security": "none",
            "login": False,
            "password": SecretStr("unused"),
            "from_address": "bousai@town.anamizu.example",
            "from_name": "穴水町 防災",
            "unsubscribe_url": "https://bousai.town.anamizu.example/unsubscribe/anamizu/email",
            "timeout": 5.0,
        }
        fields.update(overrides)
        adapter = EmailAdapter(EmailSettings(**fields), tenant="anamizu")
        made.append(adapter)
        return adapter

    yield factory
    for adapter in made:
        await adapter.close()


def test_adapter_satisfies_the_channel_protocol() -> None:
    adapter = EmailAdapter(
        EmailSettings(
            host="mail.example",
            username="u",
            password=SecretStr("p"),
            from_address="a@b.example",
            from_name="町",
            unsubscribe_url="https://b.example/u",
        ),
        tenant="anamizu",
    )
    assert isinstance(adapter, ChannelAdapter)
    assert (EmailAdapter.addressing, EmailAdapter.max_recipients_per_request) == ("recipients", 50)
    assert EmailAdapter.required_credentials == ("password",)


async def test_one_bcc_message_for_the_batch_with_the_headers_clients_need(
    smtp: FakeSMTP, make: Make
) -> None:
    people = [f"r{n}@example.jp" for n in range(3)]
    d = delivery("email", JA, recipients=people, audience="district:kawashima")
    result = await make().send(d)

    (arrived,) = smtp.arrived
    assert sorted(arrived.rcpt_tos) == sorted(people)
    assert arrived.mail_from == "bousai@town.anamizu.example"
    msg = arrived.message
    assert msg["To"] == "undisclosed-recipients:;"
    assert not any(p in arrived.content.decode("ascii") for p in people), "no address in the message itself"
    assert msg["Subject"] == "【穴水町】避難指示（警戒レベル4）"
    assert arrived.raw_header("Subject").startswith("=?utf-8?b?")
    assert msg["From"] == "穴水町 防災 <bousai@town.anamizu.example>"
    assert msg["Message-ID"] == f"<{d.idempotency_key}@town.anamizu.example>"
    # Folding may put the long URL on a line of its own; a reader unfolds it.
    assert (
        msg["List-Unsubscribe"].strip() == "<https://bousai.town.anamizu.example/unsubscribe/anamizu/email>"
    )
    assert msg["List-Unsubscribe-Post"] is None, "one-click needs a link per person"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Content-Type"] == 'text/plain; charset="utf-8"'
    assert msg["Content-Transfer-Encoding"] == "base64"
    assert msg["Date"].endswith("+0900")
    assert arrived.text() == JA.body + "\n"
    assert (result.accepted, result.provider_ref) == (3, msg["Message-ID"])


async def test_quoted_printable_when_asked(smtp: FakeSMTP, make: Make) -> None:
    await make(transfer_encoding="quoted-printable").send(delivery("email", JA, recipients=["a@example.jp"]))
    (arrived,) = smtp.arrived
    assert arrived.message["Content-Transfer-Encoding"] == "quoted-printable"
    assert b"=E3=80=90" in arrived.content  # 【 encoded
    assert arrived.text() == JA.body + "\n"


async def test_iso_2022_jp_for_old_phones(smtp: FakeSMTP, make: Make) -> None:
    await make(charset="iso-2022-jp").send(delivery("email", JA, recipients=["keitai@example.ne.jp"]))
    (arrived,) = smtp.arrived
    msg = arrived.message
    assert msg["Content-Type"] == 'text/plain; charset="iso-2022-jp"'
    assert msg["Content-Transfer-Encoding"] == "7bit"
    assert arrived.raw_header("Subject").startswith("=?iso-2022-jp?b?")
    assert all(b < 0x80 for b in arrived.content), "ISO-2022-JP mail is 7-bit"
    assert b"\x1b$B" in arrived.content  # JIS X 0208 escape
    assert msg["Subject"] == "【穴水町】避難指示（警戒レベル4）"
    assert arrived.text() == JA.body + "\n"


async def test_iso_2022_jp_falls_back_to_utf8_for_what_jis_cannot_hold(smtp: FakeSMTP, make: Make) -> None:
    vi = text("Lệnh sơ tán cấp 4 đã được ban hành.", language="vi", title="Lệnh sơ tán")
    await make(charset="iso-2022-jp").send(delivery("email", vi, JA, recipients=["intern@example.jp"]))
    (arrived,) = smtp.arrived
    msg = arrived.message
    assert msg.get_content_charset() == "utf-8"
    assert msg["Subject"] == "Lệnh sơ tán"
    assert msg["Content-Language"] == "vi, ja"
    body = arrived.text()
    assert body.index("Lệnh sơ tán cấp 4") < body.index("避難指示を発令しました")


def test_charset_choice() -> None:
    assert charset_for("iso-2022-jp", "避難指示") == "iso-2022-jp"
    assert charset_for("iso-2022-jp", "①避難") == "utf-8"
    assert charset_for("iso-2022-jp", "🌊") == "utf-8"
    assert charset_for("utf-8", "避難") == "utf-8"


async def test_bcc_batches_within_the_servers_limit(smtp: FakeSMTP, make: Make) -> None:
    people = [f"r{n}@example.jp" for n in range(12)]
    result = await make(bcc_batch_size=5).send(delivery("email", JA, recipients=people))
    assert [len(a.rcpt_tos) for a in smtp.arrived] == [5, 5, 2]
    assert sorted(smtp.delivered_to()) == sorted(people)
    assert len({a.message["Message-ID"] for a in smtp.arrived}) == 1, "one message, several transactions"
    assert result.accepted == 12


async def test_individual_mode_has_personal_unsubscribe_and_one_click(smtp: FakeSMTP, make: Make) -> None:
    people = ["a@example.jp", "b@example.jp"]
    adapter = make(mode="individual", unsubscribe_mailto="unsubscribe@town.anamizu.example")
    await adapter.send(delivery("email", JA, recipients=people))
    assert [a.rcpt_tos for a in smtp.arrived] == [("a@example.jp",), ("b@example.jp",)]
    first, second = (a.message for a in smtp.arrived)
    assert first["To"] == "a@example.jp"
    assert first["Message-ID"] != second["Message-ID"]
    assert first["List-Unsubscribe"].strip().startswith(
        "<mailto:unsubscribe@town.anamizu.example?subject=unsubscribe>, <https://"
    )
    assert first["List-Unsubscribe"] != second["List-Unsubscribe"]
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_bounces_are_reported_by_hash_and_the_rest_delivered(smtp: FakeSMTP, make: Make) -> None:
    people = ["ok1@example.jp", "bounce-gone@example.jp", "ok2@example.jp"]
    result = await make().send(delivery("email", JA, recipients=people))
    assert sorted(smtp.delivered_to()) == ["ok1@example.jp", "ok2@example.jp"]
    assert result.accepted == 2
    assert result.detail is not None
    assert f"1 bounced: {hash_id('bounce-gone@example.jp')}" in result.detail
    assert "550" in result.detail
    assert "bounce-gone@example.jp" not in result.detail, "never an address in the ledger"


async def test_all_bounced_is_permanent(smtp: FakeSMTP, make: Make) -> None:
    with pytest.raises(PermanentError, match="every recipient refused"):
        await make().send(delivery("email", JA, recipients=["bounce1@example.jp", "bounce2@example.jp"]))
    assert smtp.arrived == []


async def test_a_deferred_recipient_is_retried_alone(smtp: FakeSMTP, make: Make) -> None:
    adapter = make()
    d = delivery("email", JA, recipients=["ok@example.jp", "defer_once@example.jp"])
    with pytest.raises(TransientError, match="deferred 1 of 2"):
        await adapter.send(d)
    result = await adapter.send(d.model_copy(update={"attempt": 2}))
    assert [a.rcpt_tos for a in smtp.arrived] == [("ok@example.jp",), ("defer_once@example.jp",)]
    assert result.accepted == 2
    assert smtp.arrived[0].message["Message-ID"] == smtp.arrived[1].message["Message-ID"]


async def test_addresses_that_are_not_addresses_are_skipped(smtp: FakeSMTP, make: Make) -> None:
    result = await make().send(
        delivery("email", JA, recipients=["ok@example.jp", "no at sign", "x@y.jp\r\nBcc: evil@example.jp"])
    )
    assert smtp.delivered_to() == ["ok@example.jp"]
    assert result.detail is not None and "2 not an address" in result.detail


async def test_server_down_is_transient() -> None:
    adapter = EmailAdapter(
        EmailSettings(
            host="127.0.0.1",
            port=9,
            security="none",
            login=False,
            password=SecretStr("x"),
            from_address="a@b.example",
            from_name="町",
            unsubscribe_url="https://b.example/u",
            timeout=2.0,
        ),
        tenant="anamizu",
    )
    with pytest.raises(TransientError, match="unreachable"):
        await adapter.send(delivery("email", JA, recipients=["a@example.jp"]))
    await adapter.close()


@pytest.fixture
def ca(tmp_path: Path) -> LoopbackCA:
    return make_ca(tmp_path)


async def test_starttls_and_login(ca: LoopbackCA, tmp_path: Path) -> None:
    async with FakeSMTP(
        tls_context=ca.server_context("localhost", "127.0.0.1"), user=("anamizu", SMTP_PASSWORD)
    ) as server:
        fields: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": server.port,
            "security": "starttls",
            "username": "anamizu",
            "from_address": "bousai@town.anamizu.example",
            "from_name": "穴水町",
            "unsubscribe_url": "https://b.example/u",
            "ca_file": ca.ca_file,
            "timeout": 5.0,
        }
        good = EmailAdapter(EmailSettings(password=SecretStr(SMTP_PASSWORD), **fields), tenant="anamizu")
        bad = EmailAdapter(EmailSettings(password=SecretStr("wrong"), **fields), tenant="anamizu")
        try:
            await good.send(delivery("email", JA, recipients=["a@example.jp"]))
            with pytest.raises(PermanentError, match="login refused"):
                await bad.send(delivery("email", JA, recipients=["b@example.jp"]))
        finally:
            await good.close()
            await bad.close()
    assert server.logins == ["anamizu"]
    assert server.delivered_to() == ["a@example.jp"]


async def test_a_server_that_requires_tls_refuses_a_plain_send(ca: LoopbackCA) -> None:
    async with FakeSMTP(tls_context=ca.server_context("127.0.0.1")) as server:
        adapter = EmailAdapter(
            EmailSettings(
                host="127.0.0.1",
                port=server.port,
                security="none",
                login=False,
                password=SecretStr("x"),
                from_address="a@b.example",
                from_name="町",
                unsubscribe_url="https://b.example/u",
                timeout=5.0,
            ),
            tenant="anamizu",
        )
        try:
            with pytest.raises(PermanentError, match="530"):
                await adapter.send(delivery("email", JA, recipients=["a@example.jp"]))
        finally:
            await adapter.close()
    assert server.arrived == []


def test_from_settings_defaults_and_checks(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    cfg = ChannelSettings(
        credentials={"password": SecretStr("pw")},
        options={
            "host": "smtp.example",
            "username": "anamizu",
            "from_address": "bousai@town.anamizu.example",
        },
    )
    adapter = EmailAdapter.from_settings("email", cfg, env)
    assert adapter._settings.from_name == "穴水町"
    assert (
        adapter._settings.unsubscribe_url == "https://bousai.town.anamizu.example/unsubscribe/anamizu/email"
    )
    with pytest.raises(ConfigError, match="username"):
        EmailAdapter.from_settings(
            "email",
            ChannelSettings(
                credentials={"password": SecretStr("pw")},
                options={"host": "smtp.example", "from_address": "bousai@town.anamizu.example"},
            ),
            env,
        )
    with pytest.raises(ConfigError, match="unknown options"):
        EmailAdapter.from_settings(
            "email",
            ChannelSettings(
                credentials={"password": SecretStr("pw")}, options={"host": "h", "smtp_port": 25}
            ),
            env,
        )


async def test_a_452_too_many_recipients_sends_the_rest_in_another_transaction(
    smtp: FakeSMTP, make: Make
) -> None:
    smtp.max_recipients = 3
    people = [f"r{n}@example.jp" for n in range(8)]
    result = await make(bcc_batch_size=50).send(delivery("email", JA, recipients=people))
    assert result.accepted == 8
    assert [len(a.rcpt_tos) for a in smtp.arrived] == [3, 3, 2]
    assert sorted(smtp.delivered_to()) == sorted(people), "each once"


async def test_a_message_refused_at_data_is_no_bounce_and_other_batches_go_on(
    smtp: FakeSMTP, make: Make
) -> None:
    smtp.data_answers.append("554 5.7.1 Message refused by policy")
    people = [f"r{n}@example.jp" for n in range(4)]
    result = await make(bcc_batch_size=2).send(delivery("email", JA, recipients=people))
    assert result.accepted == 2, "the second batch was still sent"
    assert result.detail is not None and "2 refused at DATA (554" in result.detail
    assert "bounced" not in result.detail, "a refused message says nothing of the mailboxes"
    smtp.data_answers.append("554 5.7.1 Message refused by policy")
    with pytest.raises(PermanentError, match="refused at DATA"):
        await make().send(delivery("email", JA, recipients=["x@example.jp"], batch=1))


async def test_a_421_keeps_what_was_taken_and_the_retry_goes_to_the_rest(smtp: FakeSMTP, make: Make) -> None:
    adapter = make(bcc_batch_size=2)
    people = [f"r{n}@example.jp" for n in range(4)]
    d = delivery("email", JA, recipients=people)
    # The first batch is taken, then the server shuts down at the second DATA.
    smtp.data_answers.extend(["", "421 4.3.2 Service shutting down"])
    with pytest.raises(TransientError):
        await adapter.send(d)
    assert len(smtp.arrived) == 1
    result = await adapter.send(d.model_copy(update={"attempt": 2}))
    assert result.accepted == 4
    assert sorted(smtp.delivered_to()) == sorted(people), "nobody twice, nobody missed"


async def test_gmail_and_yahoo_readers_get_one_click_even_in_bcc_mode(smtp: FakeSMTP, make: Make) -> None:
    people = ["a@example.jp", "b@gmail.com", "c@yahoo.co.jp", "d@example.jp"]
    await make().send(delivery("email", JA, recipients=people))
    by_rcpt = {a.rcpt_tos: a.message for a in smtp.arrived}
    assert set(by_rcpt) == {("b@gmail.com",), ("c@yahoo.co.jp",), ("a@example.jp", "d@example.jp")}
    for own in (("b@gmail.com",), ("c@yahoo.co.jp",)):
        assert by_rcpt[own]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "/unsubscribe/anamizu/email/" in by_rcpt[own]["List-Unsubscribe"]
    assert by_rcpt[("a@example.jp", "d@example.jp")]["List-Unsubscribe-Post"] is None


async def test_unsubscribe_links_reveal_nothing_and_cannot_be_forged(smtp: FakeSMTP, make: Make) -> None:
    await make(mode="individual").send(delivery("email", JA, recipients=["resident@example.jp"]))
    (arrived,) = smtp.arrived
    link = arrived.message["List-Unsubscribe"].strip().strip("<>")
    value = link.rsplit("/", 1)[1]
    assert address_hash("email", "resident@example.jp") not in arrived.content.decode("ascii")
    key = unsubscribe.derive(b"test-only anamizu")
    assert unsubscribe.address_of(key, "anamizu", value) == "resident@example.jp"
    with pytest.raises(unsubscribe.BadToken):
        unsubscribe.address_of(key, "wajima", value)  # another town's route
    with pytest.raises(unsubscribe.BadToken):
        unsubscribe.address_of(unsubscribe.derive(b"another deployment"), "anamizu", value)
    forged = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    with pytest.raises(unsubscribe.BadToken):
        unsubscribe.address_of(key, "anamizu", forged)
