"""The handlers' shared state (rate limiters, replay stores) is made with the app and held under
typed app keys, not added to a loose dict on first use (an app is frozen once it starts)."""

from __future__ import annotations

from pathlib import Path

from broadcaster.web.keys import CIRCULAR_LIMITERS, CONTEXT, HOOK_NONCES, PWA_LIMITER
from broadcaster.web.line_hook import LINE_WEBHOOK
from tests.web_helpers import client, web_env


async def test_the_app_is_built_with_its_limiters_and_replay_stores(tmp_path: Path) -> None:
    async with web_env(tmp_path) as env:
        app = env.app
        ctx = app[CONTEXT]
        pages, bad = app[CIRCULAR_LIMITERS]
        assert pages.limit == ctx.settings.circulars.page_requests_per_minute
        assert bad.limit == ctx.settings.circulars.bad_links_per_minute
        assert app[HOOK_NONCES] == {}
        limiter = app[PWA_LIMITER]
        assert limiter._hits == {}
        async with client() as s:
            url = f"{env.base}/app/anamizu/subscriptions"
            async with s.post(url, data=b"not json", headers={"Content-Type": "application/json"}) as r:
                assert r.status == 400
        # The sign-up was counted by the app's own limiter, and nothing went into the context.
        assert sum(len(hits) for hits in limiter._hits.values()) == 1
        assert app[PWA_LIMITER] is limiter
        # The LINE webhook's door is the app's too, over the process's one conversation.
        assert app[LINE_WEBHOOK].conversation is ctx.runtime.conversation
