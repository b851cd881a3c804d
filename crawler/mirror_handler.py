"""Routing of requests to the local mirror (setting or env MIRROR_URL), at the transport level.

Requests keep the papers' real `https://` URLs everywhere (robots.txt, redirects, dupefilter,
stats, stored items); only the bytes come from `MIRROR_URL/<host><path>?<query>`.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler

from crawler.registry import default_registry


class MirrorDownloadHandler(HTTP11DownloadHandler):
    def __init__(self, crawler):
        super().__init__(crawler)
        self.mirror = (crawler.settings.get("MIRROR_URL") or os.environ.get("MIRROR_URL", "")).rstrip("/")
        self.hosts = {h for site in default_registry() for h in site.all_hosts}

    def mirrored_url(self, url: str) -> str | None:
        parts = urlsplit(url)
        if not self.mirror or parts.hostname not in self.hosts:
            return None
        return f"{self.mirror}/{parts.hostname}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")

    async def download_request(self, request):
        routed = self.mirrored_url(request.url)
        if routed is None:
            return await super().download_request(request)
        response = await super().download_request(request.replace(url=routed))
        return response.replace(url=request.url)
