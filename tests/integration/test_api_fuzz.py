"""Every API endpoint, fuzzed by schemathesis from the app's own OpenAPI document.

The app runs on loopback (tests/web_helpers.py) in a thread of its own; schemathesis reads
/api/v1/openapi.json, generates requests for every operation (valid ones, and with
`negative` data, invalid ones), sends them with an admin's bearer token of 穴水町 and checks each
answer: never a 5xx, status codes, content types and bodies as documented. Most cases are aimed
at the token's own town, the rest at whatever tenant was generated (which must be refused, never
crash).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from broadcaster.store.users import Role, Users
from tests.canaries import remember
from tests.web_helpers import WebEnv, web_env

CASES: dict[str, Any] = {"n": 0, "status": {}}
# Examples per operation and generation mode (BROADCASTER_API_FUZZ_EXAMPLES for a longer run).
EXAMPLES = int(os.environ.get("BROADCASTER_API_FUZZ_EXAMPLES", "25"))
# Bodies whose validity depends on the deployment's own data, which no schema can say: a
# circular's districts must be the town's. A 422 for a schema-valid body is right for these.
DATA_DEPENDENT = {"POST /api/v1/tenants/{tenant}/circulars"}


class LiveApp:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env: WebEnv | None = None
        self.token = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="api-under-test", daemon=True)

    def _serve(self) -> None:
        async def main() -> None:
            self._stop = asyncio.Event()
            async with web_env(self.tmp) as env:
                self.env = env
                self.token = remember(
                    await Users(env.ledger.db).create_token("anamizu", "fuzz", Role.ADMIN), "API token"
                )
                self._ready.set()
                await self._stop.wait()

        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(main())
        except BaseException as e:
            self._error = e
            self._ready.set()
        finally:
            self._loop.close()

    def start(self) -> LiveApp:
        self._thread.start()
        self._ready.wait(120)
        if self._error is not None or self.env is None:
            raise RuntimeError(f"the app did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    app = LiveApp(tmp_path_factory.mktemp("api-fuzz")).start()
    try:
        yield app
    finally:
        app.stop()
        print(f"\nschemathesis: {CASES['n']} requests; answers by status {dict(sorted(CASES['status'].items()))}")


def _operations(live_app: LiveApp) -> list[Any]:
    assert live_app.env is not None
    schema = schemathesis.openapi.from_url(f"{live_app.env.base}/api/v1/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


# schemathesis's own pytest plugin does not work with this pytest (it reads a removed attribute),
# so each operation's strategies are driven by hypothesis here.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_every_api_operation_answers_as_documented(mode: GenerationMode, live_app: LiveApp) -> None:
    assert live_app.env is not None
    base, token = live_app.env.base, live_app.token
    failures: list[str] = []
    operations = _operations(live_app)
    assert len(operations) >= 10, [op.label for op in operations]
    for operation in operations:
        excluded = [positive_data_acceptance] if operation.label in DATA_DEPENDENT else []

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            params = getattr(case, "path_parameters", None)
            # Aim most requests at the token's own town, so that the handlers behind the role
            # check are what gets fuzzed; the others must be refused as another tenant's.
            if params and "tenant" in params and hash(repr(params)) % 4:
                params["tenant"] = "anamizu"
            # A body may name its tenant; one that is not the path's is refused (422) on purpose,
            # which the schema cannot say: keep valid bodies valid.
            if mode is GenerationMode.POSITIVE and isinstance(case.body, dict) and "tenant" in case.body:
                case.body["tenant"] = (params or {}).get("tenant")
            response = case.call_and_validate(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, excluded_checks=excluded, timeout=30  # noqa: B023 (run() is called in this iteration)
            )
            CASES["n"] += 1
            CASES["status"][response.status_code] = CASES["status"].get(response.status_code, 0) + 1

        try:
            run()
        except Exception as e:
            failures.append(f"{operation.label}: {type(e).__name__}: {str(e)[:1500]}")
    assert not failures, "\n\n".join(failures)
