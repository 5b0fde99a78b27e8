"""The Messaging API calls besides sending: reply, a follower's language, rich menus.

Through line-bot-sdk v3's async client, like the channel adapter, with the same error mapping
(`classify`). One client per channel access token, i.e. per town.

LINE serves rich menu images from another host (api-data.line.me). The SDK sends every call to
`Configuration.host` when one is set, so the image upload gets a client of its own: LINE's data
host when `base_url` is LINE's own, else `base_url` itself (a relay, or the tests' fake, serves
both).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import linebot.v3.messaging as sdk

from adapters.outbound.line.adapter import classify
from broadcaster.errors import PermanentError, TransientError

LINE_API = "https://api.line.me"
LINE_DATA_API = "https://api-data.line.me"


def data_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return LINE_DATA_API if base == LINE_API else base


class LineClient:
    def __init__(self, *, token: str, base_url: str = LINE_API, timeout: float = 10.0) -> None:
        self._token = token
        self._base = base_url.rstrip("/")
        self.timeout = timeout
        self._clients: dict[str, Any] = {}

    def _client(self, host: str) -> Any:
        # Made on first use: the SDK opens its aiohttp session at construction, which needs the loop.
        if host not in self._clients:
            config = sdk.Configuration(host=host, access_token=self._token)
            client = sdk.AsyncApiClient(config)
            client.user_agent = "broadcaster-line"
            self._clients[host] = client
        return self._clients[host]

    def _api(self) -> Any:
        return sdk.AsyncMessagingApi(self._client(self._base))

    async def _call(self, what: str, fn: Any, *args: Any, missing_ok: bool = False, **kwargs: Any) -> Any:
        """`fn`'s answer; None for a 404 when `missing_ok` (no such menu, no default)."""
        try:
            return await fn(*args, _request_timeout=self.timeout, **kwargs)
        except sdk.ApiException as e:
            if missing_ok and e.status == 404:
                return None
            raise classify(int(e.status or 0), e.body, e.headers) from e
        except TimeoutError as e:
            raise TransientError(f"LINE did not answer {what} within {self.timeout:g}s") from e
        except aiohttp.ClientError as e:
            raise TransientError(f"LINE unreachable ({what}): {type(e).__name__}: {e}") from e
        except (ValueError, TypeError) as e:
            # The SDK's own (pydantic.v1) models refused the request: sending it again cannot help.
            raise PermanentError(f"LINE request not valid ({what}): {e}") from e

    async def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> None:
        """Answer an event. A reply costs nothing against the month's allowance; its token works
        once, within about a minute of the event."""
        request = sdk.ReplyMessageRequest.from_dict({"replyToken": reply_token, "messages": messages[:5]})
        await self._call("reply", self._api().reply_message, request)

    async def language(self, user_id: str) -> str | None:
        """The follower's language as LINE knows it (BCP 47), or None.

        Only the language is read: the display name, picture and status in the same answer are
        personal data we have no use for, and are dropped at once.
        """
        profile = await self._call("profile", self._api().get_profile, user_id)
        lang = getattr(profile, "language", None)
        return lang if isinstance(lang, str) and 0 < len(lang) <= 35 else None

    # -- rich menus ------------------------------------------------------------------------------
    async def validate_rich_menu(self, menu: dict[str, Any]) -> None:
        await self._call("rich menu check", self._api().validate_rich_menu_object, sdk.RichMenuRequest.from_dict(menu))

    async def create_rich_menu(self, menu: dict[str, Any]) -> str:
        made = await self._call("rich menu", self._api().create_rich_menu, sdk.RichMenuRequest.from_dict(menu))
        return str(made.rich_menu_id)

    async def upload_rich_menu_image(self, rich_menu_id: str, image: bytes, content_type: str) -> None:
        blob = sdk.AsyncMessagingApiBlob(self._client(data_url(self._base)))
        # bytes, never str: the SDK reads a str body as the name of a file to upload.
        await self._call(
            "rich menu image",
            blob.set_rich_menu_image,
            rich_menu_id,
            bytes(image),
            _headers={"Content-Type": content_type},
        )

    async def default_rich_menu(self) -> str | None:
        got = await self._call("default rich menu", self._api().get_default_rich_menu_id, missing_ok=True)
        return None if got is None else str(got.rich_menu_id)

    async def rich_menu_name(self, rich_menu_id: str) -> str | None:
        got = await self._call("rich menu", self._api().get_rich_menu, rich_menu_id, missing_ok=True)
        return None if got is None else str(got.name)

    async def set_default_rich_menu(self, rich_menu_id: str) -> None:
        await self._call("default rich menu", self._api().set_default_rich_menu, rich_menu_id)

    async def delete_rich_menu(self, rich_menu_id: str) -> None:
        await self._call("rich menu removal", self._api().delete_rich_menu, rich_menu_id)

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.close()
