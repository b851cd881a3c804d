"""Discovery for one paper: home, sections with pagination, the JSON listing API, RSS and sitemaps.

Spiders only discover and schedule; the page is turned into an Article by `crawler.extract`.
Only URLs matching the paper's `article_pattern` become article requests.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

import scrapy
from lxml import etree
from scrapy.utils.sitemap import Sitemap

from crawler.extract import extract
from crawler.extract.families import family_spec
from crawler.registry import Site, default_registry

logger = logging.getLogger(__name__)

# Feeds are parsed with entity expansion and network access off (no XXE, no billion laughs).
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True)


class NewsSpider(scrapy.Spider):
    """Base spider; `spiders.registry` makes one subclass per registry entry (`name` = key)."""

    name = ""
    site_key = ""

    def __init__(self, *args, max_pages: str | int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.site: Site = default_registry()[self.site_key]
        spec = family_spec(self.site.family)
        self.pagination = (self.site.pagination,) if self.site.pagination else (spec.pagination if spec else ())
        self.max_pages_arg = int(max_pages) if max_pages else None

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        s = crawler.settings
        spider.max_pages = spider.max_pages_arg or s.getint("NEWS_MAX_LISTING_PAGES", 5)
        spider.use_families = s.getbool("NEWS_USE_FAMILIES", True)
        return spider

    async def start(self):
        for req in self.start_requests_list():
            yield req

    def start_requests_list(self) -> list[scrapy.Request]:
        site = self.site
        reqs = [scrapy.Request(u, self.parse_listing, meta={"page": 0}) for u in site.start_urls]
        for section in site.sections:
            reqs.append(scrapy.Request(section.url, self.parse_listing, meta={"page": 1}))
            if site.listing_api and section.category_id is not None:
                reqs.append(self.api_request(section.category_id, 1))
        reqs += [scrapy.Request(u, self.parse_feed) for u in site.feeds]
        reqs += [scrapy.Request(u, self.parse_sitemap) for u in site.sitemaps]
        return reqs

    # --- scheduling -------------------------------------------------------------------------------
    def article_request(self, url: str) -> scrapy.Request:
        return scrapy.Request(url, self.parse_article, priority=10)

    def article_links(self, urls) -> list[scrapy.Request]:
        out = []
        for url in urls:
            if url and self.site.is_article_url(url):
                out.append(self.article_request(url))
        return out

    def api_request(self, category_id: int, page: int) -> scrapy.Request:
        url = self.site.listing_api["url"].format(page=page, category_id=category_id)
        headers = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json, text/plain, */*"}
        return scrapy.Request(
            url, self.parse_api, headers=headers, meta={"page": page, "category_id": category_id}
        )

    # --- callbacks --------------------------------------------------------------------------------
    def parse_listing(self, response):
        if not hasattr(response, "css"):
            return
        self.crawler.stats.inc_value("requests/listing")
        links = [response.urljoin(h) for h in response.css("a::attr(href)").getall()]
        yield from self.article_links(dict.fromkeys(links))
        page = response.meta.get("page", 0)
        if page < 1 or page >= self.max_pages:
            return  # the home page is read once; sections are followed max_pages deep
        for css in self.pagination:
            for href in response.css(css).xpath("@href").getall():
                url = response.urljoin(href)
                host = urlsplit(url).hostname
                if host not in self.site.all_hosts or self.site.is_article_url(url) or url == response.url:
                    continue  # javascript: links, other sites, articles, the page itself
                yield scrapy.Request(url, self.parse_listing, meta={"page": page + 1})

    def parse_api(self, response):
        self.crawler.stats.inc_value("requests/listing")
        try:
            data = json.loads(response.text or "{}").get("data") or []
        except (ValueError, AttributeError):
            logger.warning("listing API answered no JSON: %s", response.url)
            return
        key = self.site.listing_api.get("link_key", "link")
        links = [response.urljoin(item.get(key, "")) for item in data if isinstance(item, dict)]
        yield from self.article_links(links)
        page = response.meta["page"]
        if data and page < self.max_pages:
            yield self.api_request(response.meta["category_id"], page + 1)

    def parse_feed(self, response):
        self.crawler.stats.inc_value("requests/feed")
        try:
            root = etree.fromstring(response.body, parser=_SAFE_XML)
        except etree.XMLSyntaxError:
            root = None
        if root is None:
            logger.warning("feed is not XML: %s", response.url)
            return
        links = [(el.text or el.get("href") or "").strip() for el in root.iter("link", "{*}link")]
        yield from self.article_links(links)

    def parse_sitemap(self, response):
        self.crawler.stats.inc_value("requests/sitemap")
        try:
            sitemap = Sitemap(response.body)
        except Exception:  # a broken sitemap is logged, the crawl goes on
            logger.warning("sitemap is not readable XML: %s", response.url)
            return
        locs = [entry["loc"] for entry in sitemap if entry.get("loc")]
        if sitemap.type == "sitemapindex":
            for loc in locs:
                yield scrapy.Request(loc, self.parse_sitemap)
        else:
            yield from self.article_links(locs)

    def parse_article(self, response):
        self.crawler.stats.inc_value("requests/article")
        try:
            article = extract(response.url, response.body, encoding=getattr(response, "encoding", None),
                              use_families=self.use_families)
        except Exception as exc:  # one broken page never stops the crawl: count it, log it with its URL
            self.crawler.stats.inc_value("articles/errors/extract")
            logger.error("extraction failed for %s: %s: %s", response.url, type(exc).__name__, exc)
            return
        yield article
