"""The ingest: the one process that writes SQLite in a distributed crawl (`python -m crawler ingest`).

Per paper, an `IngestSpider` (one crawler each, all in one process, as `refresh` runs them) whose
start() yields the articles the workers send (crawler.distributed.inbox) through the project's
item pipelines (validate, render, dedupe, store, neardup), with their stats, the paper's lock and
its `crawls` row. It:

1. puts back what a killed ingest had taken and not committed, then publishes the url ids the
   database knows (`news:KEY:known`) and `ready`: the workers start;
2. takes messages a chunk (NEWS_BATCH_SIZE) at a time, waits until the pipelines have had every
   article of the chunk, commits the SQLite batch, then drops the chunk from Redis;
3. ends when a worker has started, none is alive any more (their heartbeats expire), and the
   frontier and the item list are both empty: the run's keys are cleared, the next run starts
   afresh. If the workers are all gone with requests left (killed, never restarted), it waits
   NEWS_REDIS_IDLE_SECONDS for a new worker, then ends `frontier_left` (outcome failed) keeping
   the frontier in Redis: the next workers and ingest resume it.

Workers' final stats (requests, bytes, article requests...) are added to the paper's crawl stats,
so the `crawls` row counts the fetching done elsewhere. Stats: distributed/messages,
distributed/recovered, distributed/workers.
"""

from __future__ import annotations

import logging
import time

import scrapy
from scrapy import signals
from scrapy.exceptions import CloseSpider

from crawler.canonical import url_id
from crawler.distributed import connect
from crawler.distributed.frontier import SharedFrontier
from crawler.distributed.inbox import Inbox, article_from
from crawler.distributed.state import sleep
from crawler.state import state_for

logger = logging.getLogger(__name__)

POLL = 0.2  # seconds between two looks at an empty item list
RECOVER_EVERY = 10  # polls between two looks for dead workers (their heartbeats expire in 10 s anyway)
WAIT_LOG_EVERY = 30
# Worker stats that say what the fetching cost and what went wrong; summed into the ingest's stats.
# errors/logged (crawler.errorcount), not log_count/ERROR: a worker runs several papers in one process.
WORKER_STATS = ("downloader/", "requests/", "refresh/", "response_received_count", "retry/", "distributed/items_sent",
                "errors/logged", "spider_exceptions/", "articles/not_found", "articles/errors/", "articles/unreadable/")


def known_ids(store, site: str):
    """Url ids the database holds for `site`: stored articles, URLs fetched to a conclusion, aliases."""
    yield from (r[0] for r in store.db.execute("SELECT id FROM articles WHERE site = ?", [site]))
    yield from (r[0] for r in store.db.execute("SELECT id FROM seen_urls WHERE site = ?", [site]))
    sql = "SELECT a.url FROM aliases AS a JOIN articles AS b ON b.id = a.article_id WHERE b.site = ?"
    yield from (url_id(r[0]) for r in store.db.execute(sql, [site]))


class IngestSpider(scrapy.Spider):
    """One paper's side of the ingest; `run_ingest` makes one subclass per paper (name = key)."""

    name = ""
    site_key = ""

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        s = crawler.settings
        server = connect(s.get("NEWS_REDIS_URL"))
        spider.frontier, spider.inbox = SharedFrontier(server, cls.site_key), Inbox(server, cls.site_key)
        spider.chunk = max(1, s.getint("NEWS_BATCH_SIZE", 50))
        spider.idle_seconds = s.getfloat("NEWS_REDIS_IDLE_SECONDS", 30)
        spider.outstanding = 0
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(spider.item_done, signal=signal)
        return spider

    def item_done(self, *args, **kwargs) -> None:
        self.outstanding -= 1

    async def start(self):
        state, stats = state_for(self.crawler), self.crawler.stats
        restored = self.inbox.restore()
        if restored:
            logger.info("%s: %d messages a stopped ingest had taken are queued again", self.name, restored)
        n = self.frontier.publish_known(known_ids(state.store, self.site_key))
        logger.info("%s: %d known links published; workers may start", self.name, n)
        next_note, stalled_since, polls = 0.0, None, 0
        while True:
            messages = self.inbox.take(self.chunk)
            if messages:
                stats.inc_value("distributed/messages", len(messages))
                for message in messages:
                    if message["kind"] == "article":
                        self.outstanding += 1
                        yield article_from(message)
                    else:
                        state.settle(message["urls"], message["outcome"], message.get("article_id", ""))
                while self.outstanding > 0:  # every article of the chunk through the pipelines
                    await sleep(0.01)
                state.flush()
                self.inbox.commit()
                continue
            polls += 1
            recovered = self.frontier.recover_dead() if polls % RECOVER_EVERY == 0 else 0
            if recovered:
                stats.inc_value("distributed/recovered", recovered)
                logger.warning("%s: %d requests of a dead worker are back in the queue", self.name, recovered)
            if not self.frontier.started():
                if time.monotonic() >= next_note:
                    logger.info("%s: waiting for workers (`python -m crawler worker`)", self.name)
                    next_note = time.monotonic() + WAIT_LOG_EVERY
            elif not self.frontier.live_workers() and not self.inbox.waiting():
                if not self.frontier.pending():
                    self.frontier.finish_run()
                    break
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since >= self.idle_seconds:
                    logger.warning("%s: no worker left and %d requests in the shared frontier: they stay in Redis "
                                   "for the next run", self.name, self.frontier.pending())
                    self.add_worker_stats()
                    raise CloseSpider("frontier_left")
            else:
                stalled_since = None
            await sleep(POLL)
        self.add_worker_stats()

    def add_worker_stats(self) -> None:
        stats, workers = self.crawler.stats, self.inbox.take_stats()
        stats.set_value("distributed/workers", len(workers))
        for record in workers:
            for name, value in record.items():
                if name.startswith(WORKER_STATS) and isinstance(value, int | float):
                    stats.inc_value(name, value)
