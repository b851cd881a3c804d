"""A worker's extension: heartbeat, recovery of dead workers' leases, idle shutdown, final stats.

Every TICK seconds, while the paper's crawl is open:
- the heartbeat (`news:worker:W`, expiring after HEARTBEAT_TTL s), every few ticks;
- the leases of workers whose heartbeat has expired go back to the queue (SIGKILL, power loss);
- the engine is nudged: it asks its scheduler for requests when a download ends, or every 5 s
  when idle, and the shared queue fills from other machines meanwhile.

On `spider_idle` (nothing queued for this worker, nothing in progress): the crawl stays open while
the paper's frontier holds anything (queued, or leased by any worker: what they fetch may link to
more), and closes once it has been empty for NEWS_REDIS_IDLE_SECONDS. On close, the worker's
stats go to the ingest for the paper's `crawls` row, and it leaves the paper's worker set.
Stats: distributed/recovered (requests of dead workers requeued by this one).
"""

from __future__ import annotations

import logging
import time

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from twisted.internet.task import LoopingCall

from crawler.distributed import WORKER_ID, connect
from crawler.distributed.frontier import HEARTBEAT_TTL, SharedFrontier
from crawler.distributed.inbox import Inbox

logger = logging.getLogger(__name__)

TICK = 0.25
BEAT_EVERY = max(1, int(HEARTBEAT_TTL / 5 / TICK))  # ticks between beats: 5 beats per TTL


class WorkerExtension:
    def __init__(self, crawler):
        s = crawler.settings
        if not s.get("NEWS_REDIS_URL"):
            raise NotConfigured("not a distributed worker (NEWS_REDIS_URL)")
        self.crawler, self.stats = crawler, crawler.stats
        self.server = connect(s.get("NEWS_REDIS_URL"))
        self.idle_seconds = s.getfloat("NEWS_REDIS_IDLE_SECONDS", 30)
        self.empty_since: float | None = None
        self.ticks = 0
        self.loop = LoopingCall(self.tick)

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider):
        self.frontier = SharedFrontier(self.server, spider.name)
        self.frontier.beat(WORKER_ID)
        self.loop.start(TICK, now=False)

    def tick(self) -> None:
        try:
            if self.ticks % BEAT_EVERY == 0:
                self.frontier.beat(WORKER_ID)
                recovered = self.frontier.recover_dead()
                if recovered:
                    self.stats.inc_value("distributed/recovered", recovered)
                    logger.warning("%d requests of a dead worker are back in the queue", recovered)
            self.ticks += 1
            engine = self.crawler.engine
            slot = getattr(engine, "_slot", None)  # no public way to say "look at the scheduler now"
            if slot is not None and engine.running and not engine.needs_backout():
                slot.nextcall.schedule()
        except Exception:  # Redis away for a moment: the next tick tries again
            logger.exception("worker heartbeat failed")

    def spider_idle(self, spider):
        if self.frontier.pending():
            self.empty_since = None
            raise DontCloseSpider
        now = time.monotonic()
        self.empty_since = self.empty_since or now
        if now - self.empty_since < self.idle_seconds:
            raise DontCloseSpider
        logger.info("%s: the shared frontier has been empty for %.0f s: closing", spider.name, now - self.empty_since)

    def spider_closed(self, spider, reason):
        if self.loop.running:
            self.loop.stop()
        stats = {k: v for k, v in self.stats.get_stats().items() if isinstance(v, int | float)}
        Inbox(self.server, spider.name).send_stats({**stats, "worker": WORKER_ID, "finish_reason": reason})
        self.frontier.leave(WORKER_ID)
