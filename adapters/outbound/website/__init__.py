"""The town website: static pages, banner, feeds and JSON published atomically (docs/website.md)."""

from adapters.outbound.website.adapter import WebsiteAdapter, WebsiteSettings
from broadcaster.site_layout import public_file, site_dir, site_url, slug

__all__ = ["WebsiteAdapter", "WebsiteSettings", "public_file", "site_dir", "site_url", "slug"]
