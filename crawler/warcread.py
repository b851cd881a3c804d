"""Reading WARC files for re-extraction (crawler/reextract.py): which records to re-extract, and the
HTML response each one holds.

Our own archives (WARC_DIR, crawler/warc.py) and third-party ones (Common Crawl news WARCs: any
domain, gzipped per record or not, request and metadata records beside the responses) alike. A
record is chosen when it is a `response` to a URL of a registry paper (its domains and legacy
domains, `www.`/`m.` spellings included) that matches the paper's `article_pattern` (the rule by
which the spiders decide what is an article request), with status 200, an HTML body (Scrapy's
response types decide, as in a crawl) and every byte the record announces (digests checked when
the record has them). Everything else is counted by reason: `not_response/<type>`,
`not_registry`, `not_article_url`, `status/<code>`, `not_html`, `truncated`, `digest_mismatch`,
`too_large` (DOWNLOAD_MAXSIZE), `undecodable`. A URL archived several times is taken from its
newest copy (`superseded`: the older ones, e.g. the first fetch of a rechecked article).

A file still named `.warc.gz.open` (a crawl writing it, or killed) is read like any other; a record
cut off at its end is `truncated`.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from scrapy.http import Headers, HtmlResponse
from scrapy.responsetypes import responsetypes
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader
from warcio.exceptions import ArchiveLoadFailed

from crawler.canonical import canonical_host, canonical_url, url_id
from crawler.registry import Registry
from crawler.warc import OPEN_SUFFIX

logger = logging.getLogger(__name__)
PATTERNS = ("*.warc", "*.warc.gz", f"*.warc.gz{OPEN_SUFFIX}", f"*.warc{OPEN_SUFFIX}")
_BODY_HEADERS = ("content-encoding", "transfer-encoding", "content-length")  # undone by reading the body


def warc_files(paths: list[str]) -> list[Path]:
    """The files given, and the WARC files inside the directories given, in name order."""
    out: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            out += sorted({p for pattern in PATTERNS for p in path.glob(pattern)})
        elif path.is_file():
            out.append(path)
        else:
            raise FileNotFoundError(f"no WARC file or directory at {name}")
    return out


def archived_response(record, max_bytes: int) -> tuple[HtmlResponse | None, str]:
    """The HTML response a `response` record holds, decoded (chunking, Content-Encoding), or
    (None, why not)."""
    url = record.rec_headers.get_header("WARC-Target-URI")
    limit = max_bytes + 1 if max_bytes > 0 else None  # DOWNLOAD_MAXSIZE = 0: no limit, as in Scrapy
    raw = record.raw_stream.read(limit)
    if limit and len(raw) >= limit:
        return None, "too_large"
    if 0 <= len(raw) < record.payload_length:
        return None, "truncated"  # the file ends inside this record (a killed writer)
    if record.digest_checker.passed is False:
        return None, "digest_mismatch"
    headers = record.http_headers
    encoding = (headers.get_header("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("identity", *BufferedReader.get_supported_decompressors()):
        return None, "undecodable"
    record.raw_stream = io.BytesIO(raw)
    try:
        body = record.content_stream().read(limit)
    except Exception:  # a broken gzip/brotli stream
        return None, "undecodable"
    if limit and len(body) >= limit:
        return None, "too_large"
    kept = Headers([(k, v) for k, v in headers.headers if k.lower() not in _BODY_HEADERS])
    ctype = headers.get_header("Content-Type")
    # A stated type decides (an image at an article-looking URL is an image); else Scrapy's guess.
    cls = responsetypes.from_mimetype(ctype.split(";")[0].strip().lower()) if ctype else \
        responsetypes.from_args(url=url, body=body)
    if not issubclass(cls, HtmlResponse):
        return None, "not_html"
    return cls(url=url, status=int(headers.get_statuscode()), headers=kept, body=body), ""


@dataclass(frozen=True)
class Candidate:
    path: str
    offset: int
    url: str


@dataclass
class Scan:
    files: int = 0
    unfinished: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    records: int = 0
    skipped: Counter = field(default_factory=Counter)
    # paper -> url id -> (WARC-Date, order, candidate): the newest copy of each article URL
    chosen: dict[str, dict[str, tuple]] = field(default_factory=dict)

    def records_for(self, site: str) -> list[Candidate]:
        return [c for _, _, c in sorted(self.chosen[site].values(), key=lambda v: v[1])]

    def choose(self, site: str, url: str, date: str, candidate: Candidate) -> None:
        copies = self.chosen.setdefault(site, {})
        key, new = url_id(url), (date[:19], self.records, candidate)  # WARC-Date to the second, then order
        old = copies.get(key)
        if old is not None:
            self.skipped["superseded"] += 1
            if old[:2] > new[:2]:
                return
        copies[key] = new


def classify(record, registry: Registry) -> tuple[str, str]:
    """(paper key, "") for a record worth reading, else ("", reason)."""
    if record.rec_type != "response":
        return "", f"not_response/{record.rec_type}"
    url = record.rec_headers.get_header("WARC-Target-URI") or ""
    site = registry.for_host(canonical_host(urlsplit(url).hostname or "", registry))
    if site is None:
        return "", "not_registry"
    if not site.is_article_url(canonical_url(url, registry)):
        return "", "not_article_url"
    status = record.http_headers.get_statuscode() if record.http_headers else ""
    if status != "200":
        return "", f"status/{status or 'none'}"
    return site.key, ""


def scan(files: list[Path], registry: Registry, max_bytes: int) -> Scan:
    result = Scan(files=len(files))
    for path in files:
        if path.name.endswith(OPEN_SUFFIX):
            result.unfinished.append(str(path))
        with path.open("rb") as fh:
            records = ArchiveIterator(fh, check_digests=True)
            try:
                for record in records:
                    result.records += 1
                    site, reason = classify(record, registry)
                    if site:
                        _, reason = archived_response(record, max_bytes)
                    if reason:
                        result.skipped[reason] += 1
                        continue
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    candidate = Candidate(str(path), records.get_record_offset(), url)
                    result.choose(site, url, record.rec_headers.get_header("WARC-Date") or "", candidate)
            except ArchiveLoadFailed as exc:
                logger.error("%s: not a readable WARC file after %d records: %s", path, result.records,
                             str(exc).strip().splitlines()[0])
                result.unreadable.append(str(path))
    return result
