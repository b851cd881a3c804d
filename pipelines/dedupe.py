"""Exact dedupe: by canonical URL (the id) and by content fingerprint, against the database and
the batch not yet written. A duplicate is never silently lost: its URL becomes an alias row of
the stored article, and the stats count it (`articles/duplicate/url`, `articles/duplicate/content`)."""

from __future__ import annotations

from scrapy.exceptions import DropItem

from crawler.article import Article
from crawler.canonical import canonical_url
from crawler.state import state_for


class DedupePipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.seen_ids: dict[str, str] = {}  # this run only: id -> content hash

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item: Article, spider=None):
        state = state_for(self.crawler)
        # The fetched URL differs from the canonical one (tracking parameters, legacy host): an alias.
        if canonical_url(item.url) != item.canonical_url:
            state.add_alias(item.url, item.id, "url")
        if item.id in self.seen_ids:
            self.stats.inc_value("articles/duplicate/url")
            raise DropItem(f"duplicate_url: {item.url} is {item.canonical_url}, already in this crawl")
        owner = state.pending_id_for_content(item.content_hash) or state.store.article_id_for_content(
            item.content_hash
        )
        if owner and owner != item.id:
            state.add_alias(item.canonical_url, owner, "content")
            self.stats.inc_value("articles/duplicate/content")
            raise DropItem(f"duplicate_content: {item.url} repeats article {owner}")
        self.seen_ids[item.id] = item.content_hash
        return item
