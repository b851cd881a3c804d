"""The scheduler's memory queue (SCHEDULER_MEMORY_QUEUE), keeping waiting article requests small.

A listing page of a few thousand links (a backfill, a paper's full sitemap) puts as many article
requests in the scheduler at once. As Request objects (headers, meta, callbacks, and the fingerprint
and URL-parse caches Scrapy keys on them) they take a few KB each, and a crawl's memory would grow
with the size of its listing pages. Here a request that is exactly what the spider's
`article_request(url)` builds, plus what the spider middlewares add to it (the Referer header, the
depth), waits as a tuple (url, referer, depth) and is built again, equal, when the scheduler pops
it. Any other request waits as it is. Scrapy's LIFO memory queue otherwise, so the order of the
crawl is unchanged.
"""

from __future__ import annotations

from queuelib.queue import LifoMemoryQueue
from scrapy import Request

_ARTICLE_META = frozenset({"handle_httpstatus_list", "recheck", "depth"})
_NO_DEPTH = object()


class ArticleMemoryQueue(LifoMemoryQueue):
    crawler = None
    _model = None  # the statuses article_request lets through (404/410), read from a request it builds

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        queue = cls()
        queue.crawler = crawler
        return queue

    def _spider(self):
        spider = self.crawler.spider if self.crawler else None
        return spider if hasattr(spider, "article_request") else None

    def push(self, request) -> None:
        super().push(self._compact(request))

    def pop(self):
        return self._expand(super().pop())

    def peek(self):
        return self._expand(super().peek())

    def _statuses(self, spider) -> list:
        if self._model is None:
            self._model = spider.article_request("https://example.org/").meta["handle_httpstatus_list"]
        return self._model

    def _compact(self, request):
        spider = self._spider()
        if spider is None or type(request) is not Request or request.callback != spider.parse_article:
            return request
        meta = request.meta
        if (meta.keys() - _ARTICLE_META or meta.get("recheck") != "" or request.priority != 10
                or request.errback != spider.fetch_failed or request.dont_filter or request.method != "GET"
                or request.body or request.cookies or request.cb_kwargs or request.flags
                or request.encoding != "utf-8" or request.headers.keys() - {b"Referer"}):
            return request
        referer = request.headers.getlist(b"Referer")
        if len(referer) > 1:
            return request
        if meta.get("handle_httpstatus_list") != self._statuses(spider):
            return request
        return (request.url, referer[0] if referer else None, meta.get("depth", _NO_DEPTH))

    def _expand(self, item):
        if not isinstance(item, tuple):
            return item
        url, referer, depth = item
        request = self._spider().article_request(url)
        if referer is not None:
            request.headers[b"Referer"] = referer
        if depth is not _NO_DEPTH:
            request.meta["depth"] = depth
        return request
