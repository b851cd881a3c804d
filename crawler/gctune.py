"""Garbage collection tuned for a crawl (an extension, enabled in crawler/settings.py).

A crawl allocates and frees a few Python objects per request and per article, nearly none of them in
reference cycles, on top of some 100,000 long-lived objects (modules, settings, the registry). With
CPython's defaults, a collection runs every 700 net allocations and the oldest generation's walk of
every live object takes a good share of a crawl's CPU (about 8 % on the benchmark crawl). When the
spider opens, what exists is collected once and frozen (`gc.freeze`: left out of later collections),
and the youngest generation is collected every 10,000 allocations instead of 700: garbage cycles live
a little longer, nothing else changes. When the spider closes, both are undone, so that what the crawl
left (several papers are crawled in one process by `python -m crawler refresh`) is collected again.
"""

from __future__ import annotations

import gc

from scrapy import signals

GEN0_THRESHOLD = 10_000


class GcTuning:
    def __init__(self, crawler):
        self.threshold = gc.get_threshold()
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_opened(self, spider=None):
        gc.collect()
        gc.freeze()
        gc.set_threshold(GEN0_THRESHOLD, *self.threshold[1:])

    def spider_closed(self, spider=None):
        gc.unfreeze()
        gc.set_threshold(*self.threshold)
