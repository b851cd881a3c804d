"""Distributed crawling on scrapy-redis: N workers share one Redis frontier, one ingest writes SQLite.

Switched on by NEWS_REDIS_URL (empty by default: one machine, no Redis). With it set, a paper's
spider (`scrapy crawl KEY -s NEWS_REDIS_URL=...`, or `python -m crawler worker`) is a worker:

- scrapy-redis's scheduler and RFPDupeFilter, so every worker of a paper takes requests from one
  queue and no URL is requested twice in a run (crawler/distributed/scheduler.py adds leases:
  a killed worker's requests go back to the queue);
- no SQLite at all (no DB_PATH is opened): what the spider would ask the database, it asks Redis
  (crawler/distributed/state.py). "Is this link known?" is answered from the url ids the ingest
  published when the run began; the frontier is the Redis queue; items go to a Redis list
  (crawler/distributed/handoff.py) and no item pipeline runs on the worker;
- no conditional requests, no rechecks, no resume of the SQLite frontier: those need the database
  and stay with the single-machine `refresh`;
- it waits for the ingest to publish the known links, and stops once the paper's frontier (queue
  and every worker's leases) has been empty for NEWS_REDIS_IDLE_SECONDS (crawler/distributed/worker.py).

`python -m crawler ingest --redis URL` (crawler/distributed/ingest.py) is the one process that
writes the database: per paper, a spider whose start() yields the articles taken from Redis, through
the project's pipelines (validate, render, dedupe, store, neardup), with the paper's lock and its
`crawls` row, as `refresh` does.

Why not scrapy-redis's own idle settings: SCHEDULER_IDLE_BEFORE_CLOSE blocks the reactor in a
blocking pop (and the priority queue ignores it), MAX_IDLE_TIME_BEFORE_CLOSE applies only to
RedisSpider (start URLs fed through Redis); our spiders discover from the registry.
"""

from __future__ import annotations

import os
import secrets
import socket

# This process, as the workers and leases in Redis know it.
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
LEASE = "news_lease"  # request.meta key: the lease of a request taken from the shared queue


def connect(url: str):
    """A Redis client as scrapy-redis makes it (its timeouts and retry on timeout)."""
    from scrapy_redis.connection import get_redis
    from scrapy_redis.defaults import REDIS_PARAMS

    return get_redis(url=url, **REDIS_PARAMS)


def worker_settings(settings) -> None:
    """Make a paper's crawl a worker of the distributed crawl at NEWS_REDIS_URL (called by
    NewsSpider.update_settings, so `scrapy crawl KEY -s NEWS_REDIS_URL=...` is enough)."""
    url = settings.get("NEWS_REDIS_URL")
    if not url:
        return
    from scrapy.settings import SETTINGS_PRIORITIES

    for name, value in {
        "REDIS_URL": url,
        "SCHEDULER": "crawler.distributed.scheduler.SharedScheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "SCHEDULER_QUEUE_KEY": "news:%(spider)s:requests",
        "SCHEDULER_DUPEFILTER_KEY": "news:%(spider)s:dupefilter",
        "SCHEDULER_SERIALIZER": "crawler.distributed.serializer",
        "SCHEDULER_PERSIST": True,  # the queue is shared: a worker that stops must not clear it
        "ITEM_PIPELINES": {},  # they run in the ingest
        # Take from the shared queue only what can be downloaded now: the engine takes requests while
        # fewer than CONCURRENT_REQUESTS are in its downloader, where those beyond the per-domain limit
        # would wait, out of other workers' reach. A paper's crawl is (mostly) one domain.
        "CONCURRENT_REQUESTS": settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"),
    }.items():
        settings.set(name, value, priority="spider")
    # The handoff's order is the lowest: the last to see a callback's output, after Scrapy's own
    # middlewares. At spider priority at least, as the rest: CrawlerProcess.crawl(crawler) updates the
    # crawler's settings with the process's again, which would undo a change at their own priority.
    for name, component, order in (("SPIDER_MIDDLEWARES", "crawler.distributed.handoff.HandoffMiddleware", 1),
                                   ("EXTENSIONS", "crawler.distributed.worker.WorkerExtension", 10)):
        priority = max(settings.getpriority(name) or 0, SETTINGS_PRIORITIES["spider"])
        settings.set(name, {**settings.getdict(name), component: order}, priority=priority)
