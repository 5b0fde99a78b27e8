"""Where a tenant's site lives on disk, and how a request path or an alert id maps into it. Pure.

The website channel (adapters/outbound/website) writes this layout and the built-in server
(broadcaster/web/site.py) serves it: the core owns it, so that both read the same rules.

A site folder holds ``releases/<n>/`` (one complete copy of the site per publish), the symlink
``current`` that points at the newest, the lock file and nothing else. A web server or the town's
CMS serves ``<site>/current/``; the built-in server does the same under ``/site/<tenant>/``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CURRENT = "current"
RELEASES = "releases"
LOCK = ".lock"
# The adapter's record of what is published; inside each release, so that it always matches the
# pages beside it. Hidden: neither served by the built-in server nor meant for the public.
STATE = ".state.json"

# An identifier that is already a harmless file name keeps its readable form; anything else
# (a colon, a slash, a leading dot, non-ASCII) becomes a hash. "~" never occurs in the readable
# form, so the two can never collide.
_READABLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$")
# One segment of a request path: no leading dot (hidden files, "." and ".."), no separators.
_SEGMENT = re.compile(r"^[A-Za-z0-9_~-][A-Za-z0-9._~-]*$")


def slug(identifier: str) -> str:
    """The file name (without extension) of an alert's pages."""
    if len(identifier) <= 120 and _READABLE.fullmatch(identifier):
        return identifier
    return "~" + hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:32]


def site_dir(options: Mapping[str, Any], var_dir: Path, tenant: str) -> Path:
    """options.site_dir (``{tenant}`` is replaced; relative to var_dir), else var_dir/site/<tenant>."""
    raw = options.get("site_dir")
    if raw is None or raw == "":
        return var_dir / "site" / tenant
    path = Path(str(raw).replace("{tenant}", tenant))
    return path if path.is_absolute() else var_dir / path


def site_url(options: Mapping[str, Any], public_url: str, tenant: str) -> str:
    """Where readers reach the site (for links in feeds, the banner and push messages), with a
    trailing slash: options.site_url, else the built-in server's /site/<tenant>/."""
    raw = options.get("site_url") or f"{public_url.rstrip('/')}/site/{{tenant}}/"
    return str(raw).replace("{tenant}", tenant).rstrip("/") + "/"


def public_file(root: Path, rel: str) -> Path | None:
    """The file that request path `rel` names in the current release of site folder `root`.

    None when the path is malformed, hidden, outside the release, or not a file. A folder means
    its index.html.
    """
    if "\\" in rel or "\x00" in rel:
        return None
    parts = [p for p in rel.split("/") if p != ""]
    if any(not _SEGMENT.fullmatch(p) for p in parts):
        return None
    try:
        release = (root / CURRENT).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    target = release.joinpath(*parts) if parts else release
    if target.is_dir():
        target = target / "index.html"
    try:
        real = target.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    # Nothing in a release is a symlink, but a folder an operator shares might be: never leave it.
    if os.path.commonpath([real, release]) != str(release) or not real.is_file():
        return None
    return real
