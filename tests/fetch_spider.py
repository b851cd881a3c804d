"""A spider for tests of the downloader stack (retries, limits, guards) with the project's settings:
`scrapy runspider tests/fetch_spider.py -a urls=URL,URL -a out=FILE`. It fetches the URLs and writes
what came back (status, time) or why not, and the crawl stats, as JSON to `out` when it closes."""

from __future__ import annotations

import json
import time
from typing import ClassVar

import scrapy

from crawler.failures import failure_kind


class FetchSpider(scrapy.Spider):
    name = "fetch"
    custom_settings: ClassVar[dict] = {"ITEM_PIPELINES": {}}

    def __init__(self, urls: str = "", out: str = "", **kwargs):
        super().__init__(**kwargs)
        self.urls, self.out = [u for u in urls.split(",") if u], out
        self.results: list[dict] = []

    async def start(self):
        for url in self.urls:
            yield scrapy.Request(url, self.parse, errback=self.failed, dont_filter=True)

    def parse(self, response):
        self.results.append({"url": response.url, "status": response.status, "at": time.time(),
                             "problem": response.meta.get("page_problem", ""), "size": len(response.body)})

    def failed(self, failure):
        self.results.append({"url": failure.request.url, "failure": failure_kind(failure), "at": time.time(),
                             "message": failure.getErrorMessage()})

    def closed(self, reason):
        stats = self.crawler.stats.get_stats()
        with open(self.out, "w", encoding="utf-8") as fh:
            json.dump({"results": self.results, "stats": stats, "reason": reason}, fh, default=str)
