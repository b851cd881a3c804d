"""Near-duplicates (crawler/neardup.py): after the store pipeline, the articles this crawl stored
or changed are indexed against the whole corpus and linked into clusters.

The work is done in close_spider, once the store's last batch is written (this pipeline flushes it
first), in one transaction. Articles of this paper that an earlier, killed run stored without
indexing them are indexed too, so that nothing is left out of the index for long. Stats:
`articles/near_duplicate` (new articles linked to a cluster), `neardup/indexed`,
`neardup/clusters_new`, `neardup/candidates`, `neardup/compared`, `neardup/seconds`.

Settings: NEWS_NEARDUP_ENABLED, NEWS_NEARDUP_THRESHOLD, NEWS_NEARDUP_SHINGLE, NEWS_NEARDUP_PERM
(crawler/settings.py). An existing index keeps the parameters it was built with; other settings are
applied by `python -m crawler dedupe --rebuild`.
"""

from __future__ import annotations

import logging

from scrapy.exceptions import NotConfigured

from crawler.article import Article
from crawler.state import state_for

logger = logging.getLogger(__name__)


class NearDupPipeline:
    def __init__(self, crawler):
        s = crawler.settings
        if not s.getbool("NEWS_NEARDUP_ENABLED", True):
            raise NotConfigured("near-duplicate detection is off (NEWS_NEARDUP_ENABLED)")
        from crawler import neardup

        self.crawler, self.stats = crawler, crawler.stats
        self.params = neardup.Params.make(
            s.getfloat("NEWS_NEARDUP_THRESHOLD", neardup.DEFAULT_THRESHOLD),
            s.getint("NEWS_NEARDUP_SHINGLE", neardup.DEFAULT_SHINGLE),
            s.getint("NEWS_NEARDUP_PERM", neardup.DEFAULT_PERM),
        )
        self.ids: list[str] = []

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item: Article, spider=None):
        self.ids.append(item.id)
        return item

    def close_spider(self, spider=None):
        from crawler.neardup import NearDupIndex

        state = state_for(self.crawler)
        if state.crawl_id is None:  # the crawl never started (its paper was locked): nothing stored
            return
        state.flush()  # the store pipeline's last batch: this pipeline closes before it
        index = NearDupIndex.open(state.store.db.conn, self.params)
        pending = sorted(set(index.pending(ids=self.ids)) | set(index.pending(site=state.site)))
        if not pending:
            return
        report = index.index(pending)
        for name, value in (("articles/near_duplicate", report.near_duplicates), ("neardup/indexed", report.indexed),
                            ("neardup/too_short", report.too_short), ("neardup/clusters_new", report.clusters_new),
                            ("neardup/candidates", report.candidates), ("neardup/compared", report.compared)):
            if value:
                self.stats.inc_value(name, value)
        self.stats.set_value("neardup/seconds", round(report.seconds, 3))
        logger.info("near-duplicates: %d articles indexed, %d linked to a cluster (%d new clusters) in %.2f s",
                    report.indexed, report.near_duplicates, report.clusters_new, report.seconds)
