"""The two-person rule: a held alert goes when a second officer approves it.

What is held is decided in broadcaster/pipeline/two_person.py; who may approve is decided here,
for every way in alike: a person (never an API token: two tokens of one town are not two
people), an officer account with a second factor and the approver role in the tenant, never the
author (docs/approval.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta

import pyotp

from broadcaster.bus import Bus
from broadcaster.errors import BroadcasterError
from broadcaster.model import now
from broadcaster.pipeline import two_person
from broadcaster.pipeline.held import held_author
from broadcaster.pipeline.hops import H_RECEIVED, H_ROUTED, H_TENANT
from broadcaster.pipeline.messages import order_message
from broadcaster.store.db import Database
from broadcaster.store.ledger import Ledger
from broadcaster.store.nonces import NonceStore
from broadcaster.store.users import Role, Users


class ApprovalError(BroadcasterError):
    pass


def officer_name(identity: str) -> tuple[str, str] | None:
    """(home tenant, username) of an ``officer:<tenant>/<name>`` identity, else None."""
    if not identity.startswith("officer:"):
        return None
    home, slash, name = identity.removeprefix("officer:").partition("/")
    return (home, name) if slash and home and name else None


async def check_approver(db: Database, tenant: str, identity: str) -> None:
    """Refuse anyone but an active officer account with a second factor and the approver role."""
    parsed = officer_name(identity)
    if parsed is None:
        raise ApprovalError(
            f"{identity} cannot approve: approval needs an officer signed in with a second factor, "
            "never an API token"
        )
    home, name = parsed
    user = await Users(db).by_username(name)
    if user is None or not user.active or user.home_tenant != home:
        raise ApprovalError(
            f"no active officer {name!r} of {home}: a second officer approves under their own account"
        )
    if not user.totp_secret:
        raise ApprovalError(f"officer {name!r} has no second factor and cannot approve")
    role = await Users(db).role_of(user.id, tenant)
    if role is None or role < Role.APPROVER:
        raise ApprovalError(f"officer {name!r} is not an approver of {tenant}")


async def approve(
    bus: Bus,
    ledger: Ledger,
    tenant: str,
    alert_id: str,
    approver: str,
    *,
    origin: str = "cli",
    cancel_texts: Sequence[two_person.CancelText] = two_person.DEFAULT_CANCEL_TEXTS,
) -> int:
    """Release a held alert to every channel at once; returns the number of dispatches sent."""
    author = await held_author(ledger, tenant, alert_id, ApprovalError)
    if author == approver:
        raise ApprovalError("the author cannot approve their own alert: a second officer must")
    await check_approver(ledger.db, tenant, approver)
    alert = await ledger.alert(tenant, alert_id)
    assert alert is not None
    earlier = [a for a in [await ledger.alert(tenant, e) for e in await ledger.earlier_alerts(alert)] if a]
    if not two_person.withdraws_relay_only(alert, earlier, cancel_texts):
        raise ApprovalError(
            "a cancel of a source's alert says that the town withdraws its relay, never that the source "
            "was wrong: reject this one and cancel with the relay text"
        )
    dispatches = await ledger.release_held(tenant, alert_id)
    headers = {
        H_TENANT: tenant,
        H_RECEIVED: (alert.received or alert.sent).isoformat(),
        H_ROUTED: now().isoformat(),
    }
    await bus.publish_many([order_message(alert, d, headers) for d in dispatches])
    await ledger.audit(
        actor=approver,
        action="approve",
        tenant=tenant,
        target=alert_id,
        origin=origin,
        detail={"author": author, "dispatches": len(dispatches)},
    )
    return len(dispatches)


async def second_factor_ok(db: Database, username: str, code: str) -> bool:
    """The officer's current TOTP code, accepted once (from a shell, where no session proved it).

    A used code is claimed in the database like a hook's nonce, so a code read over a shoulder
    cannot approve a second time within its window.
    """
    user = await Users(db).by_username(username)
    code = code.strip().replace(" ", "")
    if user is None or not user.totp_secret or not code.isdigit():
        return False
    if not pyotp.TOTP(user.totp_secret).verify(code, valid_window=1):
        return False
    used = hashlib.sha256(f"{user.id}:{code}".encode()).hexdigest()
    return await NonceStore(db, retention=timedelta(minutes=3)).claim("totp", str(user.id), used, now())
