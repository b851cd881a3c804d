"""Errors counted per crawl, when several crawls share one process.

Scrapy's own `log_count/ERROR` comes from a handler on the root logger that every crawler adds,
so in a `refresh` of many papers each crawl counts every paper's errors: one paper's broken page
would mark all of them `errors`. This extension counts an ERROR record as `errors/logged` only in
the crawl it belongs to: the record's `spider` (Scrapy passes it in `extra`, and so do we), or,
for a record that names no spider, every crawl running at that moment, since it cannot be told
apart and an error must never be lost from the exit code.
"""

from __future__ import annotations

import logging

from scrapy import signals

STAT = "errors/logged"


class _Handler(logging.Handler):
    def __init__(self, owner: ErrorCounter):
        super().__init__(level=logging.ERROR)
        self.owner = owner

    def emit(self, record: logging.LogRecord) -> None:
        spider = getattr(record, "spider", None)
        if spider is None or spider is self.owner.spider:
            self.owner.crawler.stats.inc_value(STAT)


class ErrorCounter:
    def __init__(self, crawler):
        self.crawler = crawler
        self.spider = None
        self.handler = _Handler(self)

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider) -> None:
        self.spider = spider
        self.crawler.stats.set_value(STAT, 0)
        logging.getLogger().addHandler(self.handler)

    def spider_closed(self, spider) -> None:
        logging.getLogger().removeHandler(self.handler)
