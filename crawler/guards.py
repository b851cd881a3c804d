"""Downloader middlewares that turn a bad answer into a clear, counted failure.

PageCheckMiddleware: a 200 that is not the page (`crawler.failures.page_problem`: empty, cut off,
a bot challenge) is tagged `request.meta["page_problem"]` and counted (`pages/<problem>`). It sits
below HttpCompressionMiddleware (it sees the inflated body) and above the retry middleware, which
retries empty and cut-off pages like a 5xx; the spider stores neither them nor their validators.

RedirectGuardMiddleware: a redirect off the paper's hosts (the spider's `allowed_domains`) or back
to a URL of its own chain fails the request (IgnoreRequest, to the errback) instead of being
followed. Scrapy would drop such a request at scheduling (OffsiteMiddleware, the dupefilter)
without telling the spider, and the link would wait in the frontier unaccounted for; as a failure
it is counted (`redirect/offsite`, `redirect/loop`) and retried by the next runs, up to
NEWS_MAX_ATTEMPTS. It sits above RedirectMiddleware (600), which it sees the 3xx before.
"""

from __future__ import annotations

import logging
from urllib.parse import urljoin

from scrapy.exceptions import IgnoreRequest
from scrapy.utils.url import url_is_from_any_domain

from crawler.failures import page_problem

logger = logging.getLogger(__name__)


class PageCheckMiddleware:
    def __init__(self, stats):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.stats)

    def process_response(self, request, response):
        problem = page_problem(response)
        if problem:
            request.meta["page_problem"] = problem
            self.stats.inc_value(f"pages/{problem}")
            logger.info("%s page: %s", problem, request.url)
        else:
            request.meta.pop("page_problem", None)
        return response


class RedirectGuardMiddleware:
    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request, response):
        location = response.headers.get("Location")
        if not (300 <= response.status < 400 and location) or request.meta.get("dont_redirect"):
            return response
        target = urljoin(request.url, location.decode("latin-1").strip())
        domains = getattr(self.crawler.spider, "allowed_domains", None)
        stats = self.crawler.stats
        if domains and not url_is_from_any_domain(target, domains):
            stats.inc_value("redirect/offsite")
            raise IgnoreRequest(f"Off-site redirect to {target}")
        if target in (*request.meta.get("redirect_urls", []), request.url):
            stats.inc_value("redirect/loop")
            raise IgnoreRequest(f"Redirect loop back to {target}")
        return response
