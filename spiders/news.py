"""Discovery for one paper: home, sections with pagination, the JSON listing API, RSS and sitemaps.

Spiders only discover and schedule; the page is turned into an Article by `crawler.extract`.
Only URLs matching the paper's `article_pattern` become article requests.

Every crawl is an incremental refresh against the database (`crawler.state`):
- an article URL already known (stored, an alias, or fetched and dropped) is never requested again;
- a section's listing walk stops after NEWS_KNOWN_PAGES_TOLERANCE pages in a row without a new
  article (NEWS_MAX_LISTING_PAGES deep at most);
- listing, feed and sitemap pages are requested conditionally (`crawler.conditional`); a 304 ends there;
- links found but not yet fetched (a killed run) are in the frontier, and requested first;
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
        store = self.state.store
        for url in store.give_up_frontier(self.site.key, self.max_attempts, self.state.crawl_id):
            self.crawler.stats.inc_value("refresh/frontier/given_up")
            logger.warning("giving up on %s after %d failed attempts", url, self.max_attempts)
        reqs = [self.article_request(url) for _, url in store.frontier(self.site.key)]
        if reqs:
            self.crawler.stats.inc_value("refresh/frontier/resumed", len(reqs))
            logger.info("resuming %d article links found by an earlier run", len(reqs))
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
    def page_request(self, url: str, callback, **meta) -> scrapy.Request:
        """A listing, feed or sitemap page: conditional in a refresh, so an unchanged page is a 304."""
        if not self.backfill:
            meta.update(conditional=True, handle_httpstatus_list=[304])
        return scrapy.Request(url, callback, meta=meta)

    def article_request(self, url: str, recheck: str = "", dont_filter: bool = False) -> scrapy.Request:
        # 404/410 reach parse_article: not an error to log, but a deleted article or a dead link.
        meta = {"handle_httpstatus_list": list(GONE), "recheck": recheck}
        return scrapy.Request(url, self.parse_article, priority=5 if recheck else 10, meta=meta,
                              errback=self.article_failed, dont_filter=dont_filter)

    def new_articles(self, response, urls) -> list[scrapy.Request]:
        """Requests for the article links of a feed or sitemap that are not known yet. The links go
        to the frontier with the page's validators: a 304 next time hides nothing unfetched.
        (Listing pages store validators only where their walk ends: see parse_listing.)"""
        links = [u for u in dict.fromkeys(urls) if u and self.site.is_article_url(u)]
        new = self.state.unknown(links)
        self.state.record_page(response.url, new, validators(response))
        return [self.article_request(url) for _, url in new]

    def api_request(self, category_id: int, page: int, known_pages: int = 0, previous=()) -> scrapy.Request:
        url = self.site.listing_api["url"].format(page=page, category_id=category_id)
        meta = {"previous": list(previous)} if self.since else {}
        request = self.page_request(url, self.parse_api, page=page, category_id=category_id,
                                    known_pages=known_pages, **meta)
        request.headers.update({"X-Requested-With": "XMLHttpRequest", "Accept": "application/json, text/plain, */*"})
        return request

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

    def next_page(self, response, url: str, known_pages: int, ids: list[str]) -> scrapy.Request:
        meta = {"page": response.meta["page"] + 1, "known_pages": known_pages}
        if self.since:
            meta["previous"] = ids
        return self.page_request(url, self.parse_listing, **meta)

    # --- callbacks --------------------------------------------------------------------------------
    def parse_listing(self, response):
        if response.status == 304 or not hasattr(response, "css"):
            return  # unchanged since the last refresh: nothing new on it, nor deeper
        self.crawler.stats.inc_value("requests/listing")
        if self.past_since(response):
            return
        links = [response.urljoin(h) for h in response.css("a::attr(href)").getall()]
        articles = [u for u in dict.fromkeys(links) if self.site.is_article_url(u)]
        ids = [url_id(u) for u in articles] if self.since else []
        new = self.state.unknown(articles)
        more, known_pages = self.keep_walking(response, ids, len(new))
        next_pages = []
        if more:
            for css in self.pagination:
                for href in response.css(css).xpath("@href").getall():
                    url = response.urljoin(href)
                    host = urlsplit(url).hostname
                    if host not in self.site.all_hosts or self.site.is_article_url(url) or url == response.url:
                        continue  # javascript: links, other sites, articles, the page itself
                    next_pages.append(self.next_page(response, url, known_pages, ids))
        # Validators only where the walk ends: were page 1 a 304 next time, the walk would stop
        # there, and a page 2 that a killed run never read would stay unread.
        self.state.record_page(response.url, new, None if next_pages else validators(response))
        yield from (self.article_request(url) for _, url in new)
        yield from next_pages

    def parse_api(self, response):
        if response.status == 304:
            return
        self.crawler.stats.inc_value("requests/listing")
        if self.past_since(response):
            return
        try:
            data = json.loads(response.text or "{}").get("data") or []
        except (ValueError, AttributeError):
            logger.warning("listing API answered no JSON: %s", response.url)
            return
        key = self.site.listing_api.get("link_key", "link")
        links = [response.urljoin(item.get(key, "")) for item in data if isinstance(item, dict)]
        articles = [u for u in dict.fromkeys(links) if u and self.site.is_article_url(u)]
        ids = [url_id(u) for u in articles] if self.since else []
        new = self.state.unknown(articles)
        more, known_pages = self.keep_walking(response, ids, len(new))
        more = more and bool(data)
        self.state.record_page(response.url, new, None if more else validators(response))
        yield from (self.article_request(url) for _, url in new)
        if more:
            yield self.api_request(response.meta["category_id"], response.meta["page"] + 1, known_pages, ids)

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
        yield from self.new_articles(response, links)

    def parse_sitemap(self, response):
        if response.status == 304:
            return
        self.crawler.stats.inc_value("requests/sitemap")
        try:
            sitemap = Sitemap(response.body)
        except Exception:  # a broken sitemap is logged, the crawl goes on
            logger.warning("sitemap is not readable XML: %s", response.url)
            return
        entries = [e for e in sitemap if e.get("loc")]
        if self.since:
            # lastmod is a date or a W3C datetime; its first 10 characters compare as days.
            kept = [e for e in entries if not e.get("lastmod") or e["lastmod"][:10] >= self.since]
            self.crawler.stats.inc_value("refresh/sitemap/skipped_since", len(entries) - len(kept))
            entries = kept
        locs = [e["loc"] for e in entries]
        if sitemap.type == "sitemapindex":
            # An index is read every time (no validators kept): a 304 on it would hide child
            # sitemaps a killed run never read. The children themselves are conditional.
            for loc in locs:
                yield self.page_request(loc, self.parse_sitemap)
        else:
            yield from self.new_articles(response, locs)

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

    def article_failed(self, failure):
        request = failure.request
        if failure.check(IgnoreRequest) and not failure.check(HttpError):  # HttpError is an IgnoreRequest
            # robots.txt forbids it (or another middleware refused it): asking again changes nothing.
            self.crawler.stats.inc_value("articles/ignored")
            self.state.settle([request.url], "ignored")
            return
        self.crawler.stats.inc_value("articles/errors/fetch")
        logger.error("fetch failed for %s: %s", request.url, failure.getErrorMessage())
        if not request.meta.get("recheck"):
            self.state.failed(request.url)  # stays in the frontier: retried next run
