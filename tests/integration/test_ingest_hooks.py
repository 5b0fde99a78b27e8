"""The signed ingest hooks: what they accept, and that a refused request leaves no trace."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from broadcaster.model import RawEvent
from broadcaster.signing import H_KEY, H_NONCE, H_SIGNATURE, H_TIMESTAMP, sign
from broadcaster.store import tables as t
from tests.canaries import canary
from tests.web_helpers import WebEnv, client, web_env

ROOT = Path(__file__).resolve().parents[2]
JALERT = (ROOT / "samples" / "jalert" / "01_missile_launch.txt").read_bytes()
LALERT = (ROOT / "samples" / "lalert" / "anamizu_evacuation_order.xml").read_bytes()
SECRET = canary("jalert-hook-key")
HOOKS = {
    "jalert": {"keys": {"anamizu-rx": {"secret": SECRET, "tenant": "anamizu"}, "pref-rx": {"secret": "p" * 40}}},
    "lalert": {"keys": {"anamizu-relay": {"secret": SECRET, "tenant": "anamizu"}, "wajima-relay": {"secret": "w" * 40, "tenant": "wajima"}}},
}


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[WebEnv]:
    async with web_env(tmp_path, hooks=HOOKS) as e:
        yield e


def signed(path: str, body: bytes, *, key: str = "anamizu-rx", secret: str = SECRET, at: float | None = None, nonce: str | None = None) -> dict[str, str]:
    return sign(secret.encode(), key, "POST", path, body, timestamp=int(time.time() if at is None else at), nonce=nonce)


async def post(env: WebEnv, path: str, body: bytes, headers: dict[str, str], content_type: str = "text/plain") -> tuple[int, dict[str, Any]]:
    data = io.BytesIO(body) if len(body) > 1024 * 1024 else body  # aiohttp warns of large raw bytes
    async with client() as s, s.post(f"{env.base}{path}", data=data, headers={**headers, "Content-Type": content_type}) as r:
        return r.status, await r.json()


async def raw_events(env: WebEnv) -> list[RawEvent]:
    rows = await env.ledger.db.read(lambda c: c.execute(sa.select(t.raw_events)).mappings().all())
    return [RawEvent(id=r["id"], source=r["source"], body=r["body"], tenant=r["tenant"], submitted_by=r["submitted_by"], content_type=r["content_type"], source_ref=r["source_ref"]) for r in rows]


async def test_a_signed_jalert_message_is_recorded_before_the_202(env: WebEnv) -> None:
    status, answer = await post(env, "/ingest/jalert", JALERT, signed("/ingest/jalert", JALERT))
    assert status == 202
    (raw,) = await raw_events(env)
    assert raw.id == answer["raw_event"]
    assert (raw.source, raw.body, raw.tenant, raw.submitted_by) == ("jalert", JALERT, "anamizu", "jalert-bridge:anamizu-rx")
    assert raw.content_type == "text/plain"


async def test_a_shared_receivers_key_leaves_the_tenant_to_the_areas(env: WebEnv) -> None:
    status, _ = await post(env, "/ingest/jalert", JALERT, signed("/ingest/jalert", JALERT, key="pref-rx", secret="p" * 40))
    assert status == 202
    (raw,) = await raw_events(env)
    assert raw.tenant is None


def _tamper_body(h: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    return JALERT.replace("訓練".encode(), "実運用".encode()), h


REFUSALS = [
    ("unsigned", lambda h: (JALERT, {}), "unsigned"),
    ("tampered body", _tamper_body, "bad_signature"),
    ("other key's secret", lambda h: (JALERT, signed("/ingest/jalert", JALERT, secret="x" * 40)), "bad_signature"),
    ("unknown key", lambda h: (JALERT, signed("/ingest/jalert", JALERT, key="nobody", secret="x" * 40)), "bad_signature"),
    ("signed for another path", lambda h: (JALERT, signed("/ingest/lalert/anamizu", JALERT)), "bad_signature"),
    ("stale", lambda h: (JALERT, signed("/ingest/jalert", JALERT, at=time.time() - 600)), "stale_timestamp"),
    ("from the future", lambda h: (JALERT, signed("/ingest/jalert", JALERT, at=time.time() + 600)), "stale_timestamp"),
    ("signature line removed", lambda h: (JALERT, {k: v for k, v in h.items() if k != H_SIGNATURE}), "unsigned"),
    ("timestamp moved", lambda h: (JALERT, {**h, H_TIMESTAMP: str(int(h[H_TIMESTAMP]) - 1)}), "bad_signature"),
    ("key swapped", lambda h: (JALERT, {**h, H_KEY: "pref-rx"}), "bad_signature"),
]


@pytest.mark.parametrize(("case", "make", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_refused_requests_get_401_and_leave_nothing(env: WebEnv, case: str, make: Any, reason: str) -> None:
    body, headers = make(signed("/ingest/jalert", JALERT))
    status, answer = await post(env, "/ingest/jalert", body, headers)
    assert (status, answer.get("reason")) == (401, reason), case
    assert await raw_events(env) == []
    assert await env.ledger.verify_audit() == (0, [])


async def test_a_replay_is_refused_and_recorded_once(env: WebEnv) -> None:
    headers = signed("/ingest/jalert", JALERT, nonce="captured-nonce-000001")
    assert (await post(env, "/ingest/jalert", JALERT, headers))[0] == 202
    status, answer = await post(env, "/ingest/jalert", JALERT, headers)
    assert (status, answer["reason"]) == (401, "replayed")
    assert len(await raw_events(env)) == 1


async def test_lalert_push_bare_and_in_its_soap_envelope(env: WebEnv, corpus: Path) -> None:
    path = "/ingest/lalert/anamizu"
    status, _ = await post(env, path, LALERT, signed(path, LALERT, key="anamizu-relay"), "application/xml")
    assert status == 202
    soap = (corpus / "lalert" / "publiccommons-py" / "soap1.xml").read_bytes()
    status, _ = await post(env, path, soap, signed(path, soap, key="anamizu-relay"), "text/xml; charset=utf-8")
    assert status == 202
    raws = await raw_events(env)
    assert [(r.source, r.tenant, r.submitted_by) for r in raws] == [("lalert", "anamizu", "lalert-push:anamizu-relay")] * 2
    assert raws[1].content_type == "text/xml; charset=utf-8"


async def test_lalert_keys_speak_only_for_their_own_town(env: WebEnv) -> None:
    # Wajima's relay, correctly signed, posting for Anamizu; and for a town that does not exist.
    for tenant in ("anamizu", "nowhere"):
        path = f"/ingest/lalert/{tenant}"
        status, answer = await post(env, path, LALERT, signed(path, LALERT, key="wajima-relay", secret="w" * 40))
        assert (status, answer["reason"]) == (403, "not_allowed")
    # Signed for wajima's path, sent to anamizu's: the path is part of the signature.
    headers = signed("/ingest/lalert/wajima", LALERT, key="wajima-relay", secret="w" * 40)
    assert (await post(env, "/ingest/lalert/anamizu", LALERT, headers))[0] == 401
    # A J-Alert key is not an L-Alert key.
    status, _ = await post(env, "/ingest/lalert/anamizu", LALERT, signed("/ingest/lalert/anamizu", LALERT))
    assert status == 401
    assert await raw_events(env) == []


async def test_too_large_is_refused_before_anything(env: WebEnv) -> None:
    body = b"x" * (1024 * 1024 + 1)
    status, _ = await post(env, "/ingest/jalert", body, signed("/ingest/jalert", body))
    assert status == 413
    assert await raw_events(env) == []


async def test_without_configured_keys_everything_is_refused(tmp_path: Path) -> None:
    async with web_env(tmp_path) as env:
        status, _ = await post(env, "/ingest/jalert", JALERT, signed("/ingest/jalert", JALERT))
        assert status == 401
        headers = {H_KEY: "anamizu-rx", H_TIMESTAMP: "1", H_NONCE: "n" * 20, H_SIGNATURE: "v1=00"}
        assert (await post(env, "/ingest/jalert", JALERT, headers))[0] == 401


async def test_a_bus_outage_answers_503_so_the_bridge_keeps_the_message(env: WebEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    async def down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("bus unreachable")

    # Every way onto the bus fails, whichever one the ingest path uses.
    monkeypatch.setattr(env.bus, "publish", down)
    monkeypatch.setattr(env.bus, "publish_many", down)
    async with client() as s:
        headers = {**signed("/ingest/jalert", JALERT), "Content-Type": "text/plain"}
        async with s.post(f"{env.base}/ingest/jalert", data=JALERT, headers=headers) as r:
            assert r.status == 503
            assert r.headers["Retry-After"] == "5"
    monkeypatch.undo()
    status, _ = await post(env, "/ingest/jalert", JALERT, signed("/ingest/jalert", JALERT))
    assert status == 202, "the bridge's next try, signed afresh, goes through"
