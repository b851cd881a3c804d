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
from urllib.parse import urlsplit

import scrapy
from lxml import etree
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.sitemap import Sitemap

from crawler.canonical import url_id
from crawler.extract import extract
from crawler.extract.families import family_spec
from crawler.registry import Site, default_registry
from crawler.state import attach_fetch, fetched_urls, state_for

logger = logging.getLogger(__name__)

# Feeds are parsed with entity expansion and network access off (no XXE, no billion laughs).
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
GONE = (404, 410)


def _truthy(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def validators(response) -> tuple[str, str] | None:
    etag = response.headers.get("ETag", b"").decode("latin-1")
    last_modified = response.headers.get("Last-Modified", b"").decode("latin-1")
    return (etag, last_modified) if etag or last_modified else None


class NewsSpider(scrapy.Spider):
    """Base spider; `spiders.registry` makes one subclass per registry entry (`name` = key)."""

    name = ""
    site_key = ""

    def __init__(self, *args, max_pages: str | int | None = None, since: str | None = None,
                 backfill: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.site: Site = default_registry()[self.site_key]
        spec = family_spec(self.site.family)
        self.pagination = (self.site.pagination,) if self.site.pagination else (spec.pagination if spec else ())
        self.max_pages_arg = int(max_pages) if max_pages else None
        if since and not _DAY.match(since):
            raise ValueError(f"since must be YYYY-MM-DD, not {since!r}")
        self.since = since or ""
        self.backfill = bool(self.since or self.max_pages_arg or _truthy(backfill))

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
        spider.state = state_for(crawler)
        # Backfill with `since` only: the publication day of each article fetched this run, by url id.
        spider.days: dict[str, str] = {}
        # Url ids of the listing and sitemap pages requested this run (a few dozen): a "previous page"
        # link back to one of them is no new page to track in the frontier.
        spider.pages_requested: set[str] = set()
        return spider

    async def start(self):
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
        return scrapy.Request(url, self.parse_article, priority=5 if recheck else 10, meta=meta,
                              errback=self.fetch_failed, dont_filter=dont_filter)

    def frontier_request(self, url: str, page: dict | None) -> scrapy.Request:
        """The request for a frontier row: an article link (page None), or how to read a page."""
        if page is None:
            return self.article_request(url)
        if page["kind"] == "api":
            return self.api_request(page["category_id"], page["page"], page["known_pages"], tracked=True)
        if page["kind"] == "sitemap":
            return self.page_request(url, self.parse_sitemap, tracked=True)
        return self.page_request(url, self.parse_listing, page=page["page"], known_pages=page["known_pages"],
                                 tracked=True)

    def api_request(self, category_id: int, page: int, known_pages: int = 0, previous=(),
                    tracked: bool = False) -> scrapy.Request:
        url = self.site.listing_api["url"].format(page=page, category_id=category_id)
        meta = {"previous": list(previous)} if self.since else {}
        request = self.page_request(url, self.parse_api, page=page, category_id=category_id,
                                    known_pages=known_pages, tracked=tracked, **meta)
        request.headers.update({"X-Requested-With": "XMLHttpRequest", "Accept": "application/json, text/plain, */*"})
        return request

    def article_links(self, urls) -> list[str]:
        return [u for u in dict.fromkeys(urls) if u and self.site.is_article_url(u)]

    def page_read(self, response, new: list[tuple[str, str]], pages: list[tuple[str, dict]] = ()):
        """Record a discovery page as read (its new article links and further `pages` into the
        frontier, its validators: one transaction), then request its new articles."""
        self.state.record_page(response, new, validators(response), pages)
        return [self.article_request(url) for _, url in new]

    def page_done(self, response) -> None:
        """A tracked page that led nowhere (304, past `since`, unreadable) leaves the frontier."""
        if response.meta.get("tracked"):
            self.state.record_page(response)

    def keep_walking(self, response, ids: list[str], n_new: int) -> tuple[bool, int]:
        """Whether to read the next listing page, and how many known pages in a row we have read."""
        page = response.meta.get("page", 0)
        known_pages = 0 if n_new else response.meta.get("known_pages", 0) + 1
        if page < 1 or page >= self.max_pages:
            return False, known_pages  # the home page is read once; sections max_pages deep
        if not self.backfill and self.tolerance > 0 and known_pages >= self.tolerance:
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
        articles = self.article_links(response.urljoin(h) for h in response.css("a::attr(href)").getall())
        ids = [url_id(u) for u in articles] if self.since else []
        new = self.state.unknown(articles)
        more, known_pages = self.keep_walking(response, ids, len(new))
        pages: list[tuple[str, dict]] = []
        if more:
            for css in self.pagination:
                for href in response.css(css).xpath("@href").getall():
                    url = response.urljoin(href)
                    host = urlsplit(url).hostname
                    if host not in self.site.all_hosts or self.site.is_article_url(url) or url == response.url:
                        continue  # javascript: links, other sites, articles, the page itself
                    if url_id(url) in self.pages_requested or any(url == u for u, _ in pages):
                        continue  # back to an earlier page
                    pages.append((url, {"kind": "listing", "page": response.meta["page"] + 1,
                                        "known_pages": known_pages}))
        yield from self.page_read(response, new, pages)
        previous = {"previous": ids} if self.since else {}
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
            logger.warning("listing API answered no JSON: %s", response.url)
            data = None
        if data is None or self.past_since(response):
            self.page_done(response)
            return
        key = self.site.listing_api.get("link_key", "link")
        articles = self.article_links(response.urljoin(item.get(key, "")) for item in data if isinstance(item, dict))
        ids = [url_id(u) for u in articles] if self.since else []
        new = self.state.unknown(articles)
        more, known_pages = self.keep_walking(response, ids, len(new))
        category, page = response.meta["category_id"], response.meta["page"] + 1
        nxt = self.api_request(category, page, known_pages, ids, tracked=True) if more and data else None
        how = {"kind": "api", "category_id": category, "page": page, "known_pages": known_pages}
        yield from self.page_read(response, new, [(nxt.url, how)] if nxt else [])
        if nxt:
            yield nxt

    def parse_feed(self, response):
        if response.status == 304:
            return
        self.crawler.stats.inc_value("requests/feed")
        try:
            root = etree.fromstring(response.body, parser=_SAFE_XML)
        except etree.XMLSyntaxError:
            root = None
        if root is None:
            logger.warning("feed is not XML: %s", response.url)
            return
        links = [(el.text or el.get("href") or "").strip() for el in root.iter("link", "{*}link")]
        yield from self.page_read(response, self.state.unknown(self.article_links(links)))

    def parse_sitemap(self, response):
        if response.status == 304:
            self.page_done(response)
            return
        self.crawler.stats.inc_value("requests/sitemap")
        try:
            sitemap = Sitemap(response.body)
        except Exception:  # a broken sitemap is logged, the crawl goes on
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
        try:
            article = extract(response.url, response.body, encoding=getattr(response, "encoding", None),
                              use_families=self.use_families)
        except Exception as exc:  # one broken page never stops the crawl: count it, log it with its URL
            stats.inc_value("articles/errors/extract")
            logger.error("extraction failed for %s: %s: %s", response.url, type(exc).__name__, exc)
            self.state.failed(response.url)  # retried next run, given up after NEWS_MAX_ATTEMPTS
            return
        if self.since and article.published_at:
            for url in fetched_urls(response):
                self.days[url_id(url)] = article.published_at[:10]
        yield attach_fetch(article, response)

    def fetch_failed(self, failure):
        """An article or a page could not be fetched. As Scrapy would: an HTTP error status is
        logged at INFO (retries of a 5xx already logged an ERROR), any other failure at ERROR."""
        request, stats = failure.request, self.crawler.stats
        if failure.check(HttpError):
            stats.inc_value("refresh/fetch_failed/http")
            logger.info("ignoring response <%d %s>", failure.value.response.status, request.url)
        elif failure.check(IgnoreRequest):
            # robots.txt forbids it (or another middleware refused it): asking again changes nothing.
            stats.inc_value("refresh/fetch_failed/ignored")
            self.state.settle([request.url], "ignored")
            return
        else:
            stats.inc_value("refresh/fetch_failed/download")
            logger.error("fetch failed for %s: %s", request.url, failure.getErrorMessage())
        if not request.meta.get("recheck"):
            self.state.failed(request.url)  # stays in the frontier: retried next run, up to NEWS_MAX_ATTEMPTS
