"""Conditional requests for listing, feed and sitemap pages: a refresh of an unchanged page is a 304.

Requests the spider marks with `meta["conditional"]` get `If-None-Match` / `If-Modified-Since` from
the validators stored in `fetch_state` (by the spider, once the page's links are safely recorded:
see `crawler.storage.Store.record_page`). A 304 reaches the callback (`handle_httpstatus_list`),
which does nothing with it; the stats count `refresh/conditional` (requests sent with validators)
and `refresh/not_modified` (304 answers).
"""

from __future__ import annotations

from crawler.state import state_for


class ConditionalGetMiddleware:
    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request, spider=None):
        if not request.meta.get("conditional"):
            return None
        found = state_for(self.crawler).store.validators(request.url)
        if not found or not any(found):  # never read, or read without validators
            return None
        etag, last_modified = found
        if etag:
            request.headers.setdefault("If-None-Match", etag)
        if last_modified:
            request.headers.setdefault("If-Modified-Since", last_modified)
        self.stats.inc_value("refresh/conditional")
        return None

    def process_response(self, request, response, spider=None):
        if response.status == 304 and request.meta.get("conditional"):
            self.stats.inc_value("refresh/not_modified")
        return response
