"""The SQLite pipeline: the paper's lock, batched writes into DB_PATH, one `crawls` row per run.

The batch itself lives in `crawler.state` (the spider and the dedupe pipeline add to it too). An
article and the record that its URL was fetched are written in one transaction; a page dropped by
an earlier pipeline is recorded as fetched too (through the item_dropped signal), so that a refresh
never requests it again.
"""

from __future__ import annotations

import json
import logging

from scrapy import signals
from scrapy.exceptions import CloseSpider

from crawler.article import Article
from crawler.lock import SiteLock
from crawler.registry import default_registry
from crawler.state import fetch_of, state_for

logger = logging.getLogger(__name__)

DROP_PREFIX = "articles/dropped/"
TRANSIENT_DROPS = ("not_article/challenge", "not_article/empty")


def crawl_outcome(finish_reason: str | None, errors: int) -> str:
    """ok | errors (finished, but something was logged as an error) | interrupted (SIGTERM, Ctrl-C)
    | failed (any other way of ending)."""
    if finish_reason == "finished":
        return "errors" if errors else "ok"
    return "interrupted" if finish_reason == "shutdown" else "failed"


def crawl_errors(stats: dict) -> int:
    """ERROR lines of this crawl (crawler.errorcount; Scrapy's process-wide count where it is absent)
    plus exceptions raised in the spider's callbacks."""
    logged = stats.get("errors/logged", stats.get("log_count/ERROR", 0))
    return logged + stats.get("spider_exceptions/count", 0)


def crawl_counts(stats: dict) -> dict:
    """The `crawls` row's columns, from the crawl's stats."""
    reasons = {k[len(DROP_PREFIX):]: v for k, v in stats.items() if k.startswith(DROP_PREFIX)}
    return {
        "requests": stats.get("downloader/request_count", 0),
        "article_requests": stats.get("requests/article", 0),
        "articles_new": stats.get("articles/new", 0),
        "articles_updated": stats.get("articles/updated", 0),
        "articles_duplicate": stats.get("articles/duplicate/url", 0) + stats.get("articles/duplicate/content", 0),
        "articles_dropped": stats.get("articles/dropped", 0),
        "errors": crawl_errors(stats),
        "bytes": stats.get("downloader/response_bytes", 0),
        "drop_reasons": json.dumps(reasons, sort_keys=True),
    }


class SQLitePipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.state = state_for(crawler)
        self.lock: SiteLock | None = None
        self.started = False

    @classmethod
    def from_crawler(cls, crawler):
        pipeline = cls(crawler)
        # The crawl row is closed on spider_closed, the first moment the finish reason is known.
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.item_dropped, signal=signals.item_dropped)
        return pipeline

    def open_spider(self, spider=None):
        key, state = self.crawler.spider.name, self.state
        if state.path != ":memory:":
            self.lock = SiteLock(state.path, key)
            if not self.lock.acquire():
                self.stats.set_value("crawl/outcome", "locked")
                self.stats.set_value("crawl/locked_by", self.lock.holder)
                logger.warning("%s: another crawl (pid %s) holds %s; nothing to do", key, self.lock.holder or "?",
                               self.lock.path)
                self.lock = None
                raise CloseSpider("locked")  # before any request; no crawl row: this run did nothing
            if self.lock.stale_pid:
                self.stats.set_value("refresh/lock/stale_pid", self.lock.stale_pid)
                logger.warning("%s: taken over a stale lock from pid %d", key, self.lock.stale_pid)
        state.store.sync_sites(default_registry())
        interrupted = state.store.interrupt_running(key)
        if interrupted:
            self.stats.set_value("refresh/interrupted_crawls", interrupted)
            logger.warning("%s: %d earlier crawl(s) never finished; marked interrupted", key, interrupted)
        state.crawl_id = state.store.start_crawl(key)
        self.stats.set_value("crawl/id", state.crawl_id)
        self.started = True
        logger.info("storing articles in %s (crawl %s)", state.store.path, state.crawl_id)

    def process_item(self, item: Article, spider=None):
        self.state.add(item)
        self.stats.inc_value("articles/stored")
        return item

    def item_dropped(self, item, response, exception, spider=None):
        # "reason: url" (pipelines.validate, pipelines.dedupe): the reason is what the record keeps.
        reason = str(exception).partition(":")[0].strip() or "dropped"
        fetch = fetch_of(item)
        if reason in TRANSIENT_DROPS and fetch is not None:
            # A bot check or a blank page stood in for the article today: not settled, so the next
            # runs fetch it again (given up after NEWS_MAX_ATTEMPTS, as any failure).
            if not fetch.recheck:
                self.state.failed(*fetch.urls)
            return
        self.state.dropped(item, reason)

    def close_spider(self, spider=None):
        self.state.flush()

    def spider_closed(self, spider, reason):
        try:
            if self.started:
                self.state.flush()
                stats = self.stats.get_stats()
                outcome = crawl_outcome(reason, crawl_errors(stats))
                self.stats.set_value("crawl/outcome", outcome)
                self.state.store.finish_crawl(self.state.crawl_id, outcome, crawl_counts(stats), stats)
        finally:
            self.state.close()
            if self.lock:
                self.lock.release()
