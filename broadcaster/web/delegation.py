"""Delegation, checked on every request: an officer acts for another town only while that town
lists the officer's own among its `delegates`, and every change they make there is audited as
delegated (broadcaster/pipeline/tenancy.py holds the rule; the CLI asks it too).

A role granted in another town is not enough by itself: the grant may predate the town's
`delegates` list, or outlive the officer's town leaving it.
"""

from __future__ import annotations

from aiohttp import web

from broadcaster.logging import get_logger
from broadcaster.pipeline.tenancy import Delegation, DelegationRefused, authorize
from broadcaster.store.users import Principal
from broadcaster.web.keys import CONTEXT

log = get_logger(__name__)


def delegation(request: web.Request, principal: Principal, tenant: str) -> Delegation | None:
    """None when the principal acts for its own town; the checked delegation otherwise.

    Raises DelegationRefused when the town has not named the principal's town a delegate.
    """
    if principal.home_tenant == tenant:
        return None
    if principal.kind != "user":
        # A token is its own town's only (store/users.py); no role elsewhere can make it more.
        raise DelegationRefused(f"{principal.identity} acts for {principal.home_tenant} only")
    return authorize(request.app[CONTEXT].settings.tenants, tenant, principal.home_tenant, principal.identity)


async def audit_delegated(request: web.Request, d: Delegation, summary: str) -> None:
    """A state change by a delegate: written to the audit log as delegated, before it happens."""
    await request.app[CONTEXT].ledger.audit(
        actor=d.officer,
        action="delegated",
        tenant=d.on_behalf_of,
        target=request.path,
        origin=request.remote,
        detail={**d.audit_detail(), "method": request.method, "endpoint": summary},
    )
    log.info("delegated_request", who=d.officer, tenant=d.on_behalf_of, path=request.path)
