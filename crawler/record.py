"""`python -m crawler fixtures record URL`: save a real page and its extraction as a new fixture.

For users with network access: the page is fetched once with the project's User-Agent (through a
local mirror when `--mirror` is given), saved under `fixtures/recorded/<host>/<name>.html` with its
extraction beside it (`.json`), ready to be reviewed and turned into a test case or mirror content.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from crawler import settings
from crawler.extract import extract
from crawler.registry import default_registry

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def fetch(url: str, mirror: str = "", timeout: float = 30) -> tuple[bytes, str | None]:
    parts = urlsplit(url)
    target = url
    if mirror and default_registry().for_host(parts.hostname):
        target = f"{mirror.rstrip('/')}/{parts.hostname}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
    request = urllib.request.Request(target, headers={"User-Agent": settings.USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # the scheme is checked in record()
        return response.read(settings.DOWNLOAD_MAXSIZE), response.headers.get_content_charset()


def record(url: str, out_dir: Path, mirror: str = "") -> Path:
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url}")
    body, charset = fetch(url, mirror)
    parts = urlsplit(url)
    name = re.sub(r"\.html?$", "", _SAFE.sub("-", parts.path.strip("/")))[-120:] or "index"
    folder = out_dir / _SAFE.sub("-", parts.hostname or "unknown")
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / f"{name}.html"
    html_path.write_bytes(body)
    article = extract(url, body, encoding=charset)
    data = article.to_dict()
    data["source_url"] = url
    (folder / f"{name}.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return html_path
