"""One-time codes that link a district leader's LINE account to their roster record.

An officer asks for one (the console's API or `broadcaster leaders link-code`); the leader types
it to the town's LINE account, and the LINE webhook (broadcaster/web/line_hook.py) redeems it.
Codes are hashed with the town's LINE channel secret, so a town without a LINE webhook has none
(docs/channels.md, "LINE webhook").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from broadcaster.settings import Settings
from broadcaster.store.ledger import Ledger
from broadcaster.store.line_webhook import Issued, LinkCodes

CHANNEL = "line"
SECRET_NAME = "channel_secret"  # noqa: S105 - the credential's name (beside `token`), not a secret
LINK_CODE_MINUTES = 60
LINK_CODE_MAX_MINUTES = 72 * 60


def channel_secret(settings: Settings, tenant: str) -> str | None:
    """The town's LINE channel secret, or None when it has none (or is not a town here)."""
    if tenant not in settings.tenants:
        return None
    secret = settings.channel(tenant, CHANNEL).credentials.get(SECRET_NAME)
    value = secret.get_secret_value() if secret is not None else ""
    return value or None


async def issue_link_code(
    settings: Settings, ledger: Ledger, tenant: str, leader: str, *, by: str, minutes: int, origin: str | None
) -> Issued | None:
    """A one-time code for a leader or deputy, audited; None when there is no such person.

    ValueError when the town has no LINE webhook (the code is hashed with its channel secret,
    and nobody could use it anyway).
    """
    secret = channel_secret(settings, tenant)
    if secret is None:
        raise ValueError(
            f"the LINE webhook of {tenant} is not set up (credential {SECRET_NAME} of channel line)"
        )
    if not 1 <= minutes <= LINK_CODE_MAX_MINUTES:
        raise ValueError(f"a code lives 1 to {LINK_CODE_MAX_MINUTES} minutes")
    at = datetime.now(UTC)
    issued = await LinkCodes(ledger.db).issue(
        tenant, leader, key=secret.encode(), by=by, ttl=timedelta(minutes=minutes), at=at
    )
    if issued is not None:
        await ledger.audit(
            actor=by,
            action="line_link_code",
            tenant=tenant,
            target=leader,
            origin=origin,
            detail={"kind": issued.kind, "expires": issued.expires.isoformat()},
        )
    return issued
