"""People, settings and links for the circular tests (broadcaster/circulars)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from broadcaster.settings import Settings
from broadcaster.store.audiences import Audiences
from tests.canaries import canary
from tests.helpers import TENANTS, make_settings

LINK_KEY = "k" * 40
LINE_TOKEN = canary("line-token")
LINK = re.compile(r"(https?://[^\s]+/c/[0-9a-f]{32}\.[0-9]+\.[0-9]+\.[A-Za-z0-9_-]{22})")

# Two leaders (川島 with LINE, e-mail and a phone; 大町 with LINE only), a deputy in each, a
# leader of 輪島市's 河井 (another town: never in 穴水町's circulars), and a duty officer.
YAMADA_LINE = "U" + "a1" * 16
SUZUKI_LINE = "U" + "b2" * 16
SATO_LINE = "U" + "c3" * 16
WAJIMA_LINE = "U" + "d4" * 16
ITO_LINE = "U" + "e5" * 16


async def add_people(audiences: Audiences) -> None:
    await audiences.add(
        "anamizu",
        kind="leader",
        name="山田太郎",
        title="区長",
        districts=["kawashima"],
        external_ref="L-yamada",
        endpoints={"circular": "L-yamada", "line": YAMADA_LINE, "email": "yamada@example.jp", "phone": "0768520001"},
    )
    await audiences.add(
        "anamizu",
        kind="leader",
        name="鈴木花子",
        title="町内会長",
        districts=["omachi"],
        external_ref="L-suzuki",
        endpoints={"circular": "L-suzuki", "line": SUZUKI_LINE, "phone": "0768520002"},
    )
    await audiences.add(
        "anamizu",
        kind="deputy",
        name="佐藤次郎",
        title="副区長",
        districts=["omachi"],
        external_ref="D-sato",
        endpoints={"circular": "D-sato", "line": SATO_LINE},
    )
    await audiences.add(
        "anamizu",
        kind="deputy",
        name="伊藤三郎",
        title="副区長",
        districts=["kawashima"],
        external_ref="D-ito",
        endpoints={"circular": "D-ito", "line": ITO_LINE},
    )
    await audiences.add(
        "anamizu", kind="officer", name="当直 田中", groups=["duty"], external_ref="O-tanaka", endpoints={"email": "duty@town.example.jp"}
    )
    await audiences.add(
        "wajima",
        kind="leader",
        name="輪島の区長",
        districts=["kawai"],
        external_ref="L-kawai",
        endpoints={"circular": "L-kawai", "line": WAJIMA_LINE},
    )


def circular_settings(
    tmp: Path,
    *,
    line_url: str | None = None,
    smtp_port: int | None = None,
    port: int = 8080,
    **overrides: Any,
) -> Settings:
    tenants = copy.deepcopy(TENANTS)
    channels: dict[str, Any] = {}
    if line_url is not None:
        channels["line"] = {"credentials": {"token": LINE_TOKEN}, "options": {"base_url": line_url}, "timeout_s": 5}
    if smtp_port is not None:
        channels["email"] = {
            "credentials": {"password": "unused"},
            "options": {
                "host": "127.0.0.1",
                "port": smtp_port,
                "security": "none",
                "login": False,
                "from_address": "bousai@town.anamizu.example",
            },
            "timeout_s": 5,
        }
    tenants["anamizu"]["channels"] = channels
    base: dict[str, Any] = {
        "tenants": tenants,
        "web": {"port": port, "public_url": f"http://127.0.0.1:{port}"},
        "circulars": {"link_key": LINK_KEY},
    }
    base.update(overrides)
    return make_settings(tmp, **base)


def links_in(text: str) -> list[str]:
    return LINK.findall(text)


def path_of(link: str) -> str:
    return "/c/" + link.rsplit("/c/", 1)[1]
