"""The web side: officer console, public pages, webhooks and the REST API (aiohttp)."""
