"""Discovery for one paper: home, sections with pagination, the JSON listing API, RSS and sitemaps.

Spiders only discover and schedule; the page is turned into an Article by `crawler.extract`.
Only URLs matching the paper's `article_pattern` become article requests.

Every crawl is an incremental refresh against the database (`crawler.state`):
- an article URL already known (stored, an alias, or fetched and dropped) is never requested again;
- a section's listing walk stops after NEWS_KNOWN_PAGES_TOLERANCE pages in a row without a new
  article (NEWS_MAX_LISTING_PAGES deep at most);
- listing, feed and sitemap pages are requested conditionally (`crawler.conditional`); a 304 ends there;
- what a page led to (article links, the next listing page, child sitemaps) waits in the frontier
  until it is read; a run starts with what earlier (killed) runs left there;
- articles published within NEWS_RECHECK_HOURS and stored at least NEWS_RECHECK_DELAY_HOURS ago
  are fetched once more, to catch an edit (the pipelines store a new version if it changed).

Backfill (`-a since=YYYY-MM-DD` and/or `-a max_pages=N`, or `-a backfill=1`): no stop on known pages,
no conditional requests, NEWS_BACKFILL_MAX_PAGES deep (or max_pages); with `since`, a section's walk
ends at the page where an article older than `since` shows up, and sitemap entries older are skipped.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from functools import cached_property
from urllib.parse import urlsplit

import scrapy
from lxml import etree
from scrapy.utils.sitemap import Sitemap
from w3lib.encoding import http_content_type_encoding

from crawler.canonical import url_id
from crawler.distributed import worker_settings
from crawler.distributed.state import worker_state
from crawler.extract import extract
from crawler.extract.families import family_spec
from crawler.failures import RETRYABLE_PROBLEMS, declares_entities, failure_kind, fetched_urls_of
from crawler.listing import listing_hrefs
from crawler.registry import Site, default_registry
from crawler.state import attach_fetch, fetched_urls, state_for

logger = logging.getLogger(__name__)

# Feeds are parsed with entity expansion and network access off (no XXE, no billion laughs).
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
GONE = (404, 410)


def _truthy(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def link(href) -> str:
    """A link as a server reads it: the surrounding whitespace dropped (as browsers trim an href),
    escapes of unreserved characters decoded (RFC 3986 6.2.2.2: `%2D` is `-`), so that an article
    link printed oddly still matches the paper's article_pattern and its url id."""
    def unescape(m: re.Match) -> str:
        ch = chr(int(m[1], 16))
        return ch if ch in _UNRESERVED else m[0].upper()

    return _ESCAPE.sub(unescape, str(href).strip())


def validators(response) -> tuple[str, str] | None:
    if response.meta.get("page_problem"):  # not the page: a 304 next time would hide what it should show
        return None
    # ("", "") without validators: the row still records that the page was read (see keep_walking)
    return (response.headers.get("ETag", b"").decode("latin-1"),
            response.headers.get("Last-Modified", b"").decode("latin-1"))


class NewsSpider(scrapy.Spider):
    """Base spider; `spiders.registry` makes one subclass per registry entry (`name` = key)."""

    name = ""
    site_key = ""

    def __init__(self, *args, max_pages: str | int | None = None, since: str | None = None,
                 backfill: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.site: Site = default_registry()[self.site_key]
        # Scrapy's OffsiteMiddleware drops requests (redirects included) to any other host.
        self.allowed_domains = sorted(self.site.all_hosts)
        spec = family_spec(self.site.family)
        self.pagination = (self.site.pagination,) if self.site.pagination else (spec.pagination if spec else ())
        self.max_pages_arg = int(max_pages) if max_pages else None
        if since and not _DAY.match(since):
            raise ValueError(f"since must be YYYY-MM-DD, not {since!r}")
        self.since = since or ""
        self.backfill = bool(self.since or self.max_pages_arg or _truthy(backfill))

    @classmethod
    def update_settings(cls, settings):
        super().update_settings(settings)
        worker_settings(settings)  # NEWS_REDIS_URL set: a worker of a distributed crawl (crawler/distributed/)

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        s = crawler.settings
        depth = "NEWS_BACKFILL_MAX_PAGES" if spider.backfill else "NEWS_MAX_LISTING_PAGES"
        spider.max_pages = spider.max_pages_arg or s.getint(depth, 100 if spider.backfill else 5)
        spider.use_families = s.getbool("NEWS_USE_FAMILIES", True)
        spider.tolerance = s.getint("NEWS_KNOWN_PAGES_TOLERANCE", 1)
        spider.recheck_hours = s.getfloat("NEWS_RECHECK_HOURS", 48)
        spider.recheck_delay = s.getfloat("NEWS_RECHECK_DELAY_HOURS", 6)
        spider.max_attempts = s.getint("NEWS_MAX_ATTEMPTS", 3)
        # A worker asks Redis what it would ask the database (crawler/distributed/state.py).
        spider.distributed = bool(s.get("NEWS_REDIS_URL"))
        spider.state = worker_state(crawler, spider.site_key) if spider.distributed else state_for(crawler)
        # Backfill with `since` only: the publication day of each article fetched this run, by url id.
        spider.days: dict[str, str] = {}
        # Url ids of the listing and sitemap pages requested this run (a few dozen): a "previous page"
        # link back to one of them is no new page to track in the frontier.
        spider.pages_requested: set[str] = set()
        return spider

    async def start(self):
        if self.distributed:
            # The frontier is the shared queue; the SQLite frontier and rechecks stay with `refresh`.
            await self.state.ready()
        else:
            # The store pipeline has opened by now (it opens before start requests are read): the paper's
            # lock is held and interrupted crawls are closed, so the frontier and rechecks are ours.
            for req in self.resume_requests():
                yield req
            for req in self.recheck_requests():
                yield req
        for req in self.start_requests_list():
            yield req

    def start_requests_list(self) -> list[scrapy.Request]:
        site = self.site
        reqs = [self.page_request(u, self.parse_listing, page=0) for u in site.start_urls]
        for section in site.sections:
            reqs.append(self.page_request(section.url, self.parse_listing, page=1))
            if site.listing_api and section.category_id is not None:
                reqs.append(self.api_request(section.category_id, 1))
        reqs += [self.page_request(u, self.parse_feed) for u in site.feeds]
        reqs += [self.page_request(u, self.parse_sitemap) for u in site.sitemaps]
        return reqs

    def resume_requests(self) -> list[scrapy.Request]:
        """What earlier runs found and did not read (a killed run): article links, next listing
        pages, child sitemaps."""
        store = self.state.store
        for url in store.give_up_frontier(self.site.key, self.max_attempts, self.state.crawl_id):
            self.crawler.stats.inc_value("refresh/frontier/given_up")
            logger.warning("giving up on %s after %d failed attempts", url, self.max_attempts)
        reqs = [self.frontier_request(url, json.loads(page) if page else None)
                for _, url, page in store.frontier(self.site.key)]
        if reqs:
            self.crawler.stats.inc_value("refresh/frontier/resumed", len(reqs))
            logger.info("resuming %d links and pages found by an earlier run", len(reqs))
        return reqs

    def recheck_requests(self) -> list[scrapy.Request]:
        if self.recheck_hours <= 0:
            return []
        now = datetime.now(UTC)
        window_start = (now - timedelta(hours=self.recheck_hours)).isoformat(timespec="seconds")
        stored_before = (now - timedelta(hours=self.recheck_delay)).isoformat(timespec="seconds")
        due = self.state.store.recheck_due(self.site.key, window_start, stored_before)
        if due:
            self.crawler.stats.inc_value("refresh/recheck/requested", len(due))
        # dont_filter: the same URL may also be linked from today's listings.
        return [self.article_request(url, recheck=article_id, dont_filter=True) for article_id, url in due]

    # --- scheduling -------------------------------------------------------------------------------
    # Listing pages after the first, and child sitemaps, are "tracked": they wait in the frontier
    # from the moment the page linking to them is read until they are read themselves.
    def page_request(self, url: str, callback, **meta) -> scrapy.Request:
        """A listing, feed or sitemap page: conditional in a refresh, so an unchanged page is a 304."""
        if not self.backfill:
            meta.update(conditional=True, handle_httpstatus_list=[304])
        self.pages_requested.add(url_id(url))
        return scrapy.Request(url, callback, meta=meta, errback=self.fetch_failed)

    def article_request(self, url: str, recheck: str = "", dont_filter: bool = False) -> scrapy.Request:
        # 404/410 reach parse_article: not an error to log, but a deleted article or a dead link.
        meta = {"handle_httpstatus_list": list(GONE), "recheck": recheck}
        return scrapy.Request(url, self._parse_article, priority=5 if recheck else 10, meta=meta,
                              errback=self._fetch_failed, dont_filter=dont_filter)

    @cached_property
    def _parse_article(self):
        # One bound method for every article request: Scrapy memoises, per callback object, whether it is a
        # generator with a return value (reading its source); a new bound method per request defeats that.
        return self.parse_article

    @cached_property
    def _fetch_failed(self):
        return self.fetch_failed

    def frontier_request(self, url: str, page: dict | None) -> scrapy.Request:
        """The request for a frontier row: an article link (page None), or how to read a page."""
        if page is None:
            return self.article_request(url)
        if page["kind"] == "api":
            return self.api_request(page["category_id"], page["page"], page["known_pages"], tracked=True,
                                    rewalk=True)
        if page["kind"] == "sitemap":
            return self.page_request(url, self.parse_sitemap, tracked=True)
        # A listing page left in the frontier belongs to a walk that a kill or a failure cut short: the
        # rest of that walk is read without stopping at known pages (NEWS_MAX_LISTING_PAGES deep at most),
        # as what it leads to may be known from elsewhere yet not all of it.
        return self.page_request(url, self.parse_listing, page=page["page"], known_pages=page["known_pages"],
                                 tracked=True, rewalk=True)

    def api_request(self, category_id: int, page: int, known_pages: int = 0, previous=(),
                    tracked: bool = False, rewalk: bool = False) -> scrapy.Request:
        url = self.site.listing_api["url"].format(page=page, category_id=category_id)
        meta = {"previous": list(previous)} if self.since else {}
        if rewalk:
            meta["rewalk"] = True
        request = self.page_request(url, self.parse_api, page=page, category_id=category_id,
                                    known_pages=known_pages, tracked=tracked, **meta)
        request.headers.update({"X-Requested-With": "XMLHttpRequest", "Accept": "application/json, text/plain, */*"})
        return request

    def article_links(self, urls) -> list[str]:
        return [u for u in dict.fromkeys(urls) if u and self.site.is_article_url(u)]

    def page_read(self, response, new: list[tuple[str, str]], pages: list[tuple[str, dict]] = ()):
        """Record a discovery page as read (its new article links and further `pages` into the
        frontier, its validators: one transaction), then request its new articles."""
        unread = self.not_the_page(response)
        self.state.record_page(response, new, validators(response), pages, unread=unread)
        return (self.article_request(url) for _, url in new)  # one at a time: never thousands at once

    def page_done(self, response) -> None:
        """A tracked page that led nowhere (304, past `since`, unreadable) leaves the frontier."""
        if response.meta.get("tracked") and not self.not_the_page(response):
            self.state.record_page(response)

    def not_the_page(self, response) -> bool:
        """What came was empty, cut off or a bot check (crawler.guards.PageCheckMiddleware): the page
        stays in (or joins) the frontier, one failed attempt more, to be read by the next run."""
        if not response.meta.get("page_problem"):
            return False
        self.walk_unfinished(response.request)
        return True

    def walk_unfinished(self, request) -> None:
        """A listing or listing-API page could not be read: the frontier keeps it (a first page joins
        it), so the next run reads it and walks on from it (see frontier_request)."""
        meta = request.meta
        if meta.get("page", 0) >= 1 and not meta.get("tracked"):
            how = {"kind": "listing", "page": meta["page"], "known_pages": 0}
            if "category_id" in meta:
                how.update(kind="api", category_id=meta["category_id"])
            self.state.store.record_page(self.site.key, request.url, None, [], self.state.crawl_id,
                                         [(url_id(request.url), request.url, json.dumps(how, sort_keys=True))])
        if meta.get("tracked") or meta.get("page", 0) >= 1:
            self.state.failed(*fetched_urls_of(request))

    def keep_walking(self, response, ids: list[str], n_new: int) -> tuple[bool, int]:
        """Whether to read the next listing page, and how many known pages in a row we have read."""
        page = response.meta.get("page", 0)
        known_pages = 0 if n_new else response.meta.get("known_pages", 0) + 1
        if page < 1 or page >= self.max_pages:
            return False, known_pages  # the home page is read once; sections max_pages deep
        # A section whose first page was never read to the end before (a first run killed before it got
        # there, or a failure) is walked without stopping at known pages: its links may be known from the
        # home page or a feed while its deeper pages are not.
        rewalk = response.meta.get("rewalk") or (page == 1 and self.state.store.validators(response.url) is None)
        if not self.backfill and self.tolerance > 0 and known_pages >= self.tolerance and not rewalk:
            self.crawler.stats.inc_value("refresh/listing/stopped_known")
            return False, known_pages
        if self.since and self.older_than_since(ids):
            self.crawler.stats.inc_value("refresh/listing/stopped_since")
            return False, known_pages
        return True, known_pages

    def older_than_since(self, ids: list[str]) -> bool:
        """Listings are newest first: once one of a page's articles is older than `since`, every
        deeper page is. Days come from this run's fetches, else from the database."""
        days = [self.days[i] for i in ids if i in self.days]
        days += [d[:10] for d in self.state.store.published(i for i in ids if i not in self.days).values() if d]
        return bool(days) and min(days) < self.since

    def past_since(self, response) -> bool:
        """With `since`, the next page is requested before the articles of this one are read; so
        it is judged on arrival, by the articles of the page before it (fetched by now: articles
        have the higher priority). Past `since`, it is left unread."""
        if self.since and self.older_than_since(response.meta.get("previous", [])):
            self.crawler.stats.inc_value("refresh/listing/stopped_since")
            return True
        return False

    # --- callbacks --------------------------------------------------------------------------------
    def parse_listing(self, response):
        if response.status == 304 or not hasattr(response, "css"):
            self.page_done(response)
            return  # unchanged since the last refresh: nothing new on it, nor deeper
        self.crawler.stats.inc_value("requests/listing")
        if self.past_since(response):
            self.page_done(response)
            return
        hrefs, pagination = listing_hrefs(response, self.pagination)  # not response.css: see crawler/listing.py
        articles = self.article_links(response.urljoin(link(h)) for h in hrefs)
        ids = [url_id(u) for u in articles] if self.since else []
        new = self.state.unknown(articles)
        more, known_pages = self.keep_walking(response, ids, len(new))
        pages: list[tuple[str, dict]] = []
        if more:
            for css_hrefs in pagination:
                for href in css_hrefs:
                    url = response.urljoin(link(href))
                    host = urlsplit(url).hostname
                    if host not in self.site.all_hosts or self.site.is_article_url(url) or url == response.url:
                        continue  # javascript: links, other sites, articles, the page itself
                    if url_id(url) in self.pages_requested or any(url == u for u, _ in pages):
                        continue  # back to an earlier page
                    pages.append((url, {"kind": "listing", "page": response.meta["page"] + 1,
                                        "known_pages": known_pages}))
        yield from self.page_read(response, new, pages)
        previous = {"previous": ids} if self.since else {}
        if response.meta.get("rewalk"):
            previous["rewalk"] = True
        for url, page in pages:
            yield self.page_request(url, self.parse_listing, page=page["page"], known_pages=known_pages,
                                    tracked=True, **previous)

    def parse_api(self, response):
        if response.status == 304:
            self.page_done(response)
            return
        self.crawler.stats.inc_value("requests/listing")
        try:
            data = json.loads(response.text or "{}").get("data") or []
        except (ValueError, AttributeError):
            self.crawler.stats.inc_value("refresh/unreadable/api")
            logger.warning("listing API answered no JSON: %s", response.url)
            data = None
        if data is None or self.past_since(response):
            self.page_done(response)
            return
        key = self.site.listing_api.get("link_key", "link")
        articles = self.article_links(response.urljoin(link(item.get(key) or "")) for item in data
                                      if isinstance(item, dict))
        ids = [url_id(u) for u in articles] if self.since else []
        new = self.state.unknown(articles)
        more, known_pages = self.keep_walking(response, ids, len(new))
        category, page = response.meta["category_id"], response.meta["page"] + 1
        nxt = (self.api_request(category, page, known_pages, ids, tracked=True, rewalk=response.meta.get("rewalk", False))
               if more and data else None)
        how = {"kind": "api", "category_id": category, "page": page, "known_pages": known_pages}
        yield from self.page_read(response, new, [(nxt.url, how)] if nxt else [])
        if nxt:
            yield nxt

    def parse_feed(self, response):
        if response.status == 304:
            return
        self.crawler.stats.inc_value("requests/feed")
        self.check_entities(response)
        try:
            root = etree.fromstring(response.body, parser=_SAFE_XML)
        except etree.XMLSyntaxError:
            root = None
        if root is None:
            self.crawler.stats.inc_value("refresh/unreadable/feed")
            logger.warning("feed is not XML: %s", response.url)
            return
        links = [(el.text or el.get("href") or "").strip() for el in root.iter("link", "{*}link")]
        yield from self.page_read(response, self.state.unknown(self.article_links(links)))

    def parse_sitemap(self, response):
        if response.status == 304:
            self.page_done(response)
            return
        self.crawler.stats.inc_value("requests/sitemap")
        self.check_entities(response)
        try:
            sitemap = Sitemap(response.body)  # lxml iterparse, resolve_entities=False
        except Exception:  # a broken sitemap is logged, the crawl goes on
            self.crawler.stats.inc_value("refresh/unreadable/sitemap")
            logger.warning("sitemap is not readable XML: %s", response.url)
            self.page_done(response)
            return
        entries = [e for e in sitemap if e.get("loc")]
        if self.since:
            # lastmod is a date or a W3C datetime; its first 10 characters compare as days.
            kept = [e for e in entries if not e.get("lastmod") or e["lastmod"][:10] >= self.since]
            self.crawler.stats.inc_value("refresh/sitemap/skipped_since", len(entries) - len(kept))
            entries = kept
        locs = [e["loc"] for e in entries]
        if sitemap.type == "sitemapindex":
            locs = [loc for loc in dict.fromkeys(locs) if url_id(loc) not in self.pages_requested]
            # No validators for an index: it may stay the same while its child sitemaps change (no
            # <lastmod>), so it is read every time; the children themselves are conditional.
            self.state.record_page(response, [], None, [(loc, {"kind": "sitemap"}) for loc in locs])
            for loc in locs:
                yield self.page_request(loc, self.parse_sitemap, tracked=True)
        else:
            yield from self.page_read(response, self.state.unknown(self.article_links(locs)))

    def parse_article(self, response):
        stats = self.crawler.stats
        stats.inc_value("requests/article")
        recheck = response.meta.get("recheck", "")
        if recheck:
            stats.inc_value("requests/recheck")
        if response.status in GONE:
            logger.info("gone (%d): %s", response.status, response.url)
            if recheck:  # a stored article was deleted: it stays in the archive, marked gone
                stats.inc_value("refresh/recheck/gone")
                self.state.gone(fetched_urls(response), response.status, recheck)
            else:  # perhaps not published yet: retried in the next runs, up to NEWS_MAX_ATTEMPTS
                stats.inc_value("articles/not_found")
                self.state.failed(response.url)
            return
        problem = response.meta.get("page_problem")
        if problem in RETRYABLE_PROBLEMS:  # still empty or cut off after the retries: not stored
            stats.inc_value(f"articles/unreadable/{problem}")
            logger.warning("%s page, not stored (the next run tries again): %s", problem, response.url)
            self.state.failed(*fetched_urls(response))
            return
        try:
            # Only a charset the server declared: Scrapy's `response.encoding` is a guess when none is,
            # and a windows-1258 page without a label guessed as windows-1250 would be stored garbled.
            declared = http_content_type_encoding(response.headers.get("Content-Type", b"").decode("latin-1"))
            article = extract(response.url, response.body, encoding=declared, use_families=self.use_families)
        except Exception as exc:  # one broken page never stops the crawl: count it, log it with its URL
            stats.inc_value("articles/errors/extract")
            logger.error("extraction failed for %s: %s: %s", response.url, type(exc).__name__, exc,
                         extra={"spider": self})
            self.state.failed(response.url)  # retried next run, given up after NEWS_MAX_ATTEMPTS
            return
        if self.since and article.published_at:
            for url in fetched_urls(response):
                self.days[url_id(url)] = article.published_at[:10]
        yield attach_fetch(article, response)

    def check_entities(self, response) -> None:
        """Feeds and sitemaps are parsed with entity expansion and network access off; a document
        that declares entities anyway (a billion-laughs bomb, an external entity) is counted."""
        if declares_entities(response.body):
            self.crawler.stats.inc_value("refresh/xml/entities_ignored")
            logger.warning("XML with entity declarations (not expanded): %s", response.url)

    def fetch_failed(self, failure):
        """An article or a page could not be fetched (crawler.failures names why). robots.txt is
        respected at once; anything else stays in the frontier, for the next runs, up to
        NEWS_MAX_ATTEMPTS. An HTTP error status is logged at INFO as Scrapy would (retries of a 5xx
        already logged an ERROR), a limit or a redirect the crawler refused at WARNING, the rest at ERROR."""
        request, stats = failure.request, self.crawler.stats
        kind = failure_kind(failure)
        stats.inc_value(f"refresh/fetch_failed/{kind}")
        if kind == "robots":  # asking again changes nothing
            self.state.settle([request.url], "ignored")
            return
        if kind == "http":
            logger.info("ignoring response <%d %s>", failure.value.response.status, request.url)
        elif kind in ("offsite", "redirect_loop", "too_large"):
            urls = fetched_urls_of(request)
            via = f" (redirected to {request.url})" if len(urls) > 1 else ""
            logger.warning("fetch refused (%s) for %s%s: %s", kind, urls[0], via, failure.getErrorMessage())
        else:
            logger.error("fetch failed for %s: %s", request.url, failure.getErrorMessage(), extra={"spider": self})
        if request.meta.get("page", 0) >= 1 and request.callback in (self.parse_listing, self.parse_api):
            self.walk_unfinished(request)
        elif not request.meta.get("recheck"):
            self.state.failed(*fetched_urls_of(request))  # a redirect's first URL is the frontier's
