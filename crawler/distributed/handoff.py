"""A worker's spider middleware: a callback's articles go to the ingest, its requests to the shared
queue, and only then is the response's lease released.

Scrapy hands a callback's output to the engine through a queue of its own, processed concurrently
(CONCURRENT_ITEMS), and item pipelines may finish later still: nothing tells a middleware when the
last request is scheduled or the last item stored. So this middleware, the last one to see the
output (the lowest order), does both itself, synchronously: an article is pushed to Redis
(crawler.distributed.inbox) before it is passed on (for the stats and feed exports: no pipeline runs
on a worker), a request is scheduled with `engine.crawl` (the atomic enqueue of
crawler.distributed.scheduler) instead of being passed on. When the output is exhausted, or the
callback failed, the lease is released: from then on, a kill of this worker loses nothing.

Start requests pass through untouched. A request whose download failed for good never reaches
spider middlewares (the errback is called directly); its lease is dropped when the worker closes
cleanly, or requeued if the worker dies first (a failed fetch tried once more).
Stats: distributed/items_sent.
"""

from __future__ import annotations

from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from crawler.article import Article
from crawler.distributed import LEASE, WORKER_ID, connect
from crawler.distributed.frontier import SharedFrontier
from crawler.distributed.inbox import Inbox, article_message


class HandoffMiddleware(BaseSpiderMiddleware):
    def __init__(self, crawler):
        super().__init__(crawler)
        self.server = connect(crawler.settings.get("NEWS_REDIS_URL"))
        self.stats = crawler.stats
        self.inbox: Inbox | None = None
        self.frontier: SharedFrontier | None = None

    def _open(self, spider) -> None:
        if self.inbox is None:
            self.inbox = Inbox(self.server, spider.name)
            self.frontier = SharedFrontier(self.server, spider.name)

    def process_spider_output(self, response, result, spider=None):
        self._open(self.crawler.spider)
        try:
            yield from super().process_spider_output(response, result)
        finally:
            self.release(response)

    async def process_spider_output_async(self, response, result, spider=None):
        self._open(self.crawler.spider)
        try:
            async for out in super().process_spider_output_async(response, result):
                yield out
        finally:
            self.release(response)

    def get_processed_request(self, request, response):
        if response is None:
            return request  # a start request: the engine schedules it
        self.crawler.engine.crawl(request)
        return None

    def get_processed_item(self, item, response):
        if response is not None and isinstance(item, Article):
            self.inbox.send(article_message(item))
            self.stats.inc_value("distributed/items_sent")
        return item

    def release(self, response) -> None:
        lease = response.meta.get(LEASE) if response is not None else None
        if lease:
            self.frontier.done(WORKER_ID, lease)
