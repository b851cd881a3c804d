"""WARC archiving (setting WARC_DIR): every fetched response and its request, in rotating gzipped
WARC files written with warcio, so that a better parser can re-extract without re-crawling
(`python -m crawler reextract`, crawler/reextract.py).

The downloader middleware sits next to the download handler (950, below HttpCompression and
Redirect), so it sees every response as received: each redirect hop, retries, 304s, robots.txt, and
the body still compressed when the server compressed it (Content-Encoding kept). Twisted has
already undone any chunking, so Transfer-Encoding is dropped and Content-Length is the stored
body's. The URLs are the papers' own, never the local mirror's (crawler/mirror_handler.py swaps
them below this middleware).

Which article a response produced is known only after extraction and the pipelines: when an item
is stored, a `metadata` record refers to the response record (`WARC-Refers-To`) and carries the
article id in `WARC-Article-Id` (crawler.canonical.url_id of its canonical URL); a page the
pipelines dropped gets one with the reason and no id.

Files: `vn-news-<UTC timestamp>-<serial>-<pid>-<host>.warc.gz`, one gzip member per record, a
`warcinfo` record first. A file is written as `....warc.gz.open` and renamed when closed, at
NEWS_WARC_MAX_BYTES or when the last crawl of the process closes: a name without `.open` is a
complete file. All the crawls of one process (`refresh`) share one file. Stats: `warc/records`,
`warc/responses`, `warc/metadata`, `warc/bytes` (compressed, this crawl's records), `warc/files`.
"""

from __future__ import annotations

import atexit
import io
import itertools
import os
import socket
import time
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured
from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

PREFIX = "vn-news"
OPEN_SUFFIX = ".open"
_serials = itertools.count(1)  # per process: two files of one process never share a name
_shared: dict[Path, RotatingWarcWriter] = {}  # one writer per directory and process, shared by its crawls
_builder = RecordBuilder(warc_version="1.1")


class RotatingWarcWriter:
    """Gzipped WARC files in `directory`, a new one when the current one reaches `max_bytes`."""

    def __init__(self, directory: Path, max_bytes: int, info: dict):
        self.directory, self.max_bytes, self.info = directory, max_bytes, info
        self.users = 0
        self.fh = self.path = self.writer = None
        self.directory.mkdir(parents=True, exist_ok=True)

    def open(self) -> None:
        stamp, host = time.strftime("%Y%m%d%H%M%S", time.gmtime()), socket.gethostname().split(".")[0] or "host"
        name = f"{PREFIX}-{stamp}-{next(_serials):05d}-{os.getpid()}-{host}.warc.gz"
        self.path = self.directory / name
        self.fh = open(f"{self.path}{OPEN_SUFFIX}", "xb")  # noqa: SIM115 - closed in close()
        self.writer = WARCWriter(self.fh, gzip=True, warc_version="1.1")
        self.writer.write_record(self.writer.create_warcinfo_record(name, self.info))

    def write(self, records) -> tuple[int, bool]:
        """Write `records` together, in one file; returns (compressed bytes, whether a file was opened)."""
        opened = self.fh is None
        if opened:
            self.open()
        start = self.fh.tell()
        for record in records:
            self.writer.write_record(record)
        written = self.fh.tell() - start
        if 0 < self.max_bytes <= self.fh.tell():
            self.close()
        return written, opened

    def close(self) -> None:
        if self.fh is None:
            return
        self.fh.flush()
        os.fsync(self.fh.fileno())  # the rename below promises a complete file, even after a power loss
        self.fh.close()
        os.replace(f"{self.path}{OPEN_SUFFIX}", self.path)
        self.fh = self.writer = None


def _headers(headers) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, vs in headers.items() for v in vs]


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:  # a status Python has no name for
        return str(status)


def _software() -> str:
    try:
        return f"vn-provincial-news/{version('vn-provincial-news')} warcio/{version('warcio')}"
    except PackageNotFoundError:  # run from a checkout that was never installed
        return f"vn-provincial-news warcio/{version('warcio')}"


class WarcMiddleware:
    def __init__(self, crawler, writer: RotatingWarcWriter):
        self.crawler, self.stats, self.writer = crawler, crawler.stats, writer

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        if not s.get("WARC_DIR"):
            raise NotConfigured  # off by default: no message, so no warning in every crawl log
        directory = Path(s.get("WARC_DIR")).resolve()
        writer = _shared.get(directory)
        if writer is None:
            info = {"software": _software(), "format": "WARC File Format 1.1", "hostname": socket.gethostname(),
                    "isPartOf": s.get("BOT_NAME"), "http-header-user-agent": s.get("USER_AGENT"),
                    "robots": "obey" if s.getbool("ROBOTSTXT_OBEY") else "ignore"}
            writer = _shared[directory] = RotatingWarcWriter(directory, s.getint("NEWS_WARC_MAX_BYTES"), info)
        writer.users += 1
        mw = cls(crawler, writer)
        crawler.signals.connect(mw.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(mw.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def _write(self, records, kind: str) -> None:
        written, opened = self.writer.write(records)
        self.stats.inc_value("warc/records", len(records))
        self.stats.inc_value(f"warc/{kind}")
        self.stats.inc_value("warc/bytes", written)
        if opened:
            self.stats.inc_value("warc/files")

    def process_response(self, request, response, spider=None):
        body = response.body
        kept = [(k, v) for k, v in _headers(response.headers) if k.lower() not in ("transfer-encoding", "content-length")]
        protocol = response.protocol if (response.protocol or "").startswith("HTTP/1.") else "HTTP/1.1"
        http = StatusAndHeaders(_status_line(response.status), [*kept, ("Content-Length", str(len(body)))], protocol)
        resp = _builder.create_warc_record(request.url, "response", payload=io.BytesIO(body), length=len(body),
                                           http_headers=http)
        parts = urlsplit(request.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        req_http = StatusAndHeaders(f"{request.method} {target} HTTP/1.1",
                                    [("Host", parts.netloc), *_headers(request.headers)], is_http_request=True)
        req = _builder.create_warc_record(request.url, "request", payload=io.BytesIO(request.body),
                                          length=len(request.body), http_headers=req_http)
        req.rec_headers.add_header("WARC-Concurrent-To", resp.rec_headers.get_header("WARC-Record-ID"))
        self._write([resp, req], "responses")
        # Travels with the request into the response's meta: the item signals find the record there.
        request.meta["warc_record_id"] = resp.rec_headers.get_header("WARC-Record-ID")
        return response

    def _metadata(self, response, fields: dict, article_id: str = "") -> None:
        record_id = response.meta.get("warc_record_id") if response is not None else None
        if not record_id:
            return
        payload = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v).encode("utf-8")
        record = _builder.create_warc_record(response.url, "metadata", payload=io.BytesIO(payload),
                                             length=len(payload), warc_content_type="application/warc-fields")
        record.rec_headers.add_header("WARC-Refers-To", record_id)
        if article_id:
            record.rec_headers.add_header("WARC-Article-Id", article_id)
        self._write([record], "metadata")

    def item_scraped(self, item, response, spider=None):
        article_id = getattr(item, "id", "")
        self._metadata(response, {"outcome": "stored", "article-id": article_id, "site": getattr(item, "site", ""),
                                  "canonical-url": getattr(item, "canonical_url", ""),
                                  "content-hash": getattr(item, "content_hash", "")}, article_id)

    def item_dropped(self, item, response, exception, spider=None):
        # No article id: the page produced no stored article (a duplicate's reason names the one it repeats).
        self._metadata(response, {"outcome": "dropped", "reason": str(exception), "site": getattr(item, "site", "")})

    def spider_closed(self, spider, reason):
        self.writer.users -= 1
        if self.writer.users <= 0:  # the last crawl of the process using this directory
            self.writer.close()
            _shared.pop(self.writer.directory, None)


@atexit.register
def _close_all() -> None:
    """A crawl that never opened (so never closed) must not leave its file `.open` at a normal exit."""
    for writer in list(_shared.values()):
        writer.close()
    _shared.clear()
