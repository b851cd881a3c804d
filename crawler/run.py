"""Running crawls of several papers in one process (the `crawl` command)."""

from __future__ import annotations

import os

from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings

from crawler.registry import default_registry

FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS_PER_DOMAIN": 8}


def crawl_settings(db: str, mirror: str = "", fast: bool = False, **extra):
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    settings = get_project_settings()
    settings.set("DB_PATH", db, priority="cmdline")
    if mirror:
        settings.set("MIRROR_URL", mirror, priority="cmdline")
    if fast:
        for k, v in FAST.items():
            settings.set(k, v, priority="cmdline")
    for k, v in extra.items():
        settings.set(k, v, priority="cmdline")
    return settings


def run_crawl(keys: list[str], db: str, mirror: str = "", fast: bool = False, **extra) -> int:
    registry = default_registry()
    keys = keys or [s.key for s in registry]
    for key in keys:
        registry[key]  # unknown keys fail before anything starts
    process = CrawlerProcess(crawl_settings(db, mirror, fast, **extra))
    crawlers = []
    for key in keys:
        crawler = process.create_crawler(key)
        crawlers.append(crawler)
        process.crawl(crawler)
    process.start()
    failed = [c.spider.name for c in crawlers if c.stats.get_value("finish_reason") != "finished"]
    for c in crawlers:
        s = c.stats.get_stats()
        print(f"{c.spider.name}: {s.get('articles/stored', 0)} stored, {s.get('articles/dropped', 0)} dropped, "
              f"{s.get('articles/duplicate/url', 0) + s.get('articles/duplicate/content', 0)} duplicates, "
              f"{s.get('downloader/request_count', 0)} requests, finish: {s.get('finish_reason')}")
    return 1 if failed else 0
