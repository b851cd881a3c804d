"""The SQLite pipeline: batched upserts into DB_PATH, one `crawls` row per run with its stats."""

from __future__ import annotations

import json
import logging

from scrapy import signals

from crawler.article import Article
from crawler.registry import default_registry
from crawler.storage import Store

logger = logging.getLogger(__name__)

DROP_PREFIX = "articles/dropped/"


class StoreWriter:
    """One per crawler: the open Store, the batch not yet committed, the crawl row."""

    def __init__(self, path: str, batch_size: int):
        self.store = Store(path)
        self.batch_size = batch_size
        self.articles: list[Article] = []
        self.aliases: list[dict] = []
        self.crawl_id: int | None = None
        self.new = self.updated = 0

    def pending_id_for_content(self, content_hash: str) -> str | None:
        return next((a.id for a in self.articles if a.content_hash == content_hash), None)

    def add_alias(self, url: str, article_id: str, reason: str) -> None:
        self.aliases.append({"url": url, "article_id": article_id, "reason": reason})

    def add(self, article: Article) -> None:
        if self.store.has_article(article.id) or any(a.id == article.id for a in self.articles):
            self.updated += 1
        else:
            self.new += 1
        self.articles.append(article)
        if len(self.articles) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self.articles or self.aliases:
            self.store.write_batch(self.articles, self.aliases, self.crawl_id)
            self.articles, self.aliases = [], []


def store_for(crawler) -> StoreWriter:
    writer = getattr(crawler, "_news_store", None)
    if writer is None:
        s = crawler.settings
        writer = StoreWriter(s.get("DB_PATH"), s.getint("NEWS_BATCH_SIZE", 50))
        crawler._news_store = writer
    return writer


class SQLitePipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        pipeline = cls(crawler)
        # The crawl row is closed on spider_closed, the first moment the finish reason is known.
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self, spider=None):
        writer = store_for(self.crawler)
        writer.store.sync_sites(default_registry())
        writer.crawl_id = writer.store.start_crawl(self.crawler.spider.name)
        logger.info("storing articles in %s (crawl %s)", writer.store.path, writer.crawl_id)

    def process_item(self, item: Article, spider=None):
        writer = store_for(self.crawler)
        writer.add(item)
        self.stats.inc_value("articles/stored")
        return item

    def close_spider(self, spider=None):
        store_for(self.crawler).flush()

    def spider_closed(self, spider, reason):
        writer = store_for(self.crawler)
        writer.flush()
        stats = self.stats.get_stats()
        reasons = {k[len(DROP_PREFIX):]: v for k, v in stats.items() if k.startswith(DROP_PREFIX)}
        finish = reason
        errors = stats.get("log_count/ERROR", 0) + stats.get("spider_exceptions/count", 0)
        counts = {
            "requests": stats.get("downloader/request_count", 0),
            "article_requests": stats.get("requests/article", 0),
            "articles_new": writer.new,
            "articles_updated": writer.updated,
            "articles_duplicate": stats.get("articles/duplicate/url", 0) + stats.get("articles/duplicate/content", 0),
            "articles_dropped": stats.get("articles/dropped", 0),
            "errors": errors,
            "bytes": stats.get("downloader/response_bytes", 0),
            "drop_reasons": json.dumps(reasons, sort_keys=True),
        }
        outcome = "ok" if finish == "finished" and not errors else ("failed" if finish != "finished" else "errors")
        writer.store.finish_crawl(writer.crawl_id, outcome, counts, stats)
        writer.store.close()
        self.crawler._news_store = None
