"""What the channel worker counts as reached from a provider's acceptance alone (docs/coverage.md)."""

from __future__ import annotations

from datetime import timedelta

from broadcaster.channels import SendResult
from broadcaster.model import Dispatch, Explanation
from broadcaster.pipeline.channel import ChannelStage
from tests.rules_helpers import manual


def _dispatch(channel: str) -> Dispatch:
    at = manual().received
    return Dispatch(
        tenant="anamizu", alert_id="a-1", event_key="e-1", channel=channel, audience="public", batch=0,
        batch_count=1, template="auto", languages=("ja",), explanation=Explanation(rule="test"), created=at,
        deadline=at + timedelta(minutes=5), recipients=("a@example.jp", "b@example.jp", "gone@example.jp"),
    )  # fmt: skip


def test_an_email_the_provider_accepted_counts_as_reached() -> None:
    outcomes = ChannelStage._accepted_outcomes(
        _dispatch("email"), SendResult(mode="live", accepted=2, gone=("gone@example.jp",))
    )
    assert [(o.recipient, o.outcome, o.reached) for o in outcomes] == [
        ("a@example.jp", "accepted", True), ("b@example.jp", "accepted", True),
    ]  # fmt: skip


def test_an_outbox_write_or_a_push_acceptance_reaches_nobody() -> None:
    assert ChannelStage._accepted_outcomes(_dispatch("email"), SendResult(mode="outbox", accepted=3)) == []
    # App push counts once the app reports it was opened, not when the push service accepts it.
    assert ChannelStage._accepted_outcomes(_dispatch("app_push"), SendResult(mode="live", accepted=3)) == []
