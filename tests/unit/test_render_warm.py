"""The renderer's warm-up compiles every template at start, so the first alert compiles none.

docs/benchmarks.md, *Cold path*: the first alert after a start paid for compiling its templates.
"""

from __future__ import annotations

from broadcaster.channels import STANDARD_PROFILES
from broadcaster.render.renderer import Renderer
from tests.render_support import PUBLIC_URL, ROOT, dispatch, sample


def test_after_the_warm_up_the_first_render_compiles_nothing() -> None:
    # Its own renderer: the suite's shared one has compiled templates for earlier tests.
    r = Renderer(ROOT / "templates", check_interval_s=0)
    assert r.env.cache is not None and len(r.env.cache) == 0
    compiled = r.warm()
    assert compiled == len([n for n in r.templates.files if n.endswith(".j2")])
    cached = len(r.env.cache)
    assert cached >= compiled
    alert = sample("jma/02_vtse41_otsunami_keiho.xml")
    for channel in ("line", "x", "email", "app_push", "website"):
        r.render(
            alert,
            dispatch(alert, channel, ("ja", "en")),
            STANDARD_PROFILES.get(channel),
            tenant_name="穴水町",
            public_url=PUBLIC_URL,
        )
    assert len(r.env.cache) == cached
