"""The log processor keeps secrets out of every line (broadcaster/logging.py)."""

from __future__ import annotations

import io
import json

import pytest
from pydantic import BaseModel, SecretStr

from broadcaster.logging import configure, get_logger, scrub
from tests.canaries import canary

SECRET = canary("log-secret")


class Credentials(BaseModel):
    user: str
    password: SecretStr


def _lines(fmt: str, emit: object) -> str:
    out = io.StringIO()
    configure("DEBUG", fmt, stream=out)
    try:
        emit(get_logger("test"))  # type: ignore[operator]
    finally:
        configure("INFO", "console")
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["json", "console"])
@pytest.mark.parametrize(
    "emit",
    [
        pytest.param(lambda log: log.info("x", value=SecretStr(SECRET)), id="SecretStr field"),
        pytest.param(lambda log: log.info("x", channel_token=SECRET), id="field named like a secret"),
        pytest.param(lambda log: log.info("x", settings={"credentials": {"password": SECRET}}), id="nested dict"),
        pytest.param(lambda log: log.info("x", items=[SecretStr(SECRET), "ok"]), id="list"),
        pytest.param(lambda log: log.info("x", model=Credentials(user="u", password=SecretStr(SECRET))), id="pydantic repr"),
        pytest.param(lambda log: log.info("x", url=f"postgresql://broadcaster:{SECRET}@db/x"), id="URL userinfo"),
        pytest.param(lambda log: log.info("x", url=f"https://relay.example/feed?token={SECRET}&page=2"), id="URL query"),
        pytest.param(lambda log: log.info("x", header=f"Bearer {SECRET}"), id="bearer"),
        pytest.param(lambda log: log.info(f"connect to smtp://mail:{SECRET}@mail.example failed"), id="event text"),
        pytest.param(lambda log: log.warning("x", error=ConnectionError(f"https://u:{SECRET}@api.example/")), id="exception value"),
    ],
)
def test_no_secret_reaches_a_line(fmt: str, emit: object) -> None:
    text = _lines(fmt, emit)
    assert text.strip() and SECRET not in text
    assert "**********" in text
    if fmt == "json":
        json.loads(text.splitlines()[0])


def test_a_traceback_with_credentials_is_scrubbed() -> None:
    def emit(log: object) -> None:
        try:
            raise RuntimeError(f"cannot reach postgresql+asyncpg://app:{SECRET}@10.0.0.5/ledger")
        except RuntimeError:
            log.exception("db_unreachable")  # type: ignore[attr-defined]

    text = _lines("json", emit)
    assert "RuntimeError" in text and SECRET not in text


def test_scrub_leaves_ordinary_text_alone() -> None:
    for text in ("e-mail taro@example.jp", "https://example.jp/alerts/anamizu/a1?lang=en", "sent=3 accepted=3", "mailto:x@y"):
        assert scrub(text) == text
