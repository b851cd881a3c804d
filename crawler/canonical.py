"""Canonical article URLs and the stable article id derived from them.

One article reached as `http://www.baocaobang.vn/x-1.html?utm_source=fb#top`, through a legacy
domain or a mobile host must get the same id as `https://baocaobang.vn/x-1.html`.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from w3lib.url import canonicalize_url, url_query_cleaner

from crawler.registry import Registry, default_registry

# Query parameters that never change the page: campaign tags and click ids.
TRACKING_PARAMS = (
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id",
    "fbclid", "gclid", "dclid", "msclkid", "zarsrc", "zalo_source", "gidzl", "_ga", "ref", "rel",
    "share", "from", "cx_source", "itm_source", "itm_medium", "itm_campaign",
)
_MOBILE_PREFIXES = ("www.", "m.", "mobile.", "amp.")
_FILE_SEGMENT = re.compile(r"\.[A-Za-z0-9]{2,5}/+$")
_SLASHES = re.compile(r"/{2,}")


def canonical_host(host: str, registry: Registry | None = None) -> str:
    host = (host or "").lower().rstrip(".")
    registry = registry or default_registry()
    site = registry.for_host(host)
    if site is None:
        for prefix in _MOBILE_PREFIXES:
            if host.startswith(prefix):
                site = registry.for_host(host.removeprefix(prefix))
                if site:
                    break
    if site is not None:
        return site.domain
    for prefix in _MOBILE_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            return host.removeprefix(prefix)
    return host


def canonical_url(url: str, registry: Registry | None = None) -> str:
    """https, the paper's primary host, no tracking parameters, sorted query, no fragment,
    collapsed slashes, and no trailing slash after a file name (`/x.html/`)."""
    return _canonical_url(url, registry or default_registry())


# A crawl asks for the same URL's canonical form and id several times (the spider's known-link check,
# extraction, rendering, dedupe, the fetch record): both are pure, and w3lib's canonicalisation is not cheap.
# Bounded, so a long crawl's memory stays flat.
@lru_cache(maxsize=4096)
def _canonical_url(url: str, registry: Registry) -> str:
    url = url.strip()
    url = url_query_cleaner(url, TRACKING_PARAMS, remove=True, unique=False, keep_fragments=False)
    url = canonicalize_url(url, keep_fragments=False)
    parts = urlsplit(url)
    path = _SLASHES.sub("/", parts.path) or "/"
    if _FILE_SEGMENT.search(path):
        path = path.rstrip("/")
    host = canonical_host(parts.hostname or "", registry)
    return urlunsplit(("https", host, path, parts.query, ""))


def url_id(url: str, registry: Registry | None = None) -> str:
    """The article's stable 16-hex id: the canonical URL, trailing slash ignored, hashed."""
    return _url_id(url, registry or default_registry())


@lru_cache(maxsize=4096)
def _url_id(url: str, registry: Registry) -> str:
    key = _canonical_url(url, registry)
    parts = urlsplit(key)
    if parts.path != "/":
        key = urlunsplit(parts._replace(path=parts.path.rstrip("/")))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def clear_caches() -> None:
    """Forget the memoised canonical URLs and ids (benchmarks measure each pass from cold)."""
    _canonical_url.cache_clear()
    _url_id.cache_clear()
