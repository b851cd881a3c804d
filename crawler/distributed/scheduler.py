"""scrapy-redis's scheduler, with two things a crawl that must survive a SIGKILL needs.

- Scheduling is atomic: the dupefilter's SADD and the queue's ZADD run in one Lua script. Done in
  two calls (as scrapy-redis does), a kill between them leaves a URL marked seen that is in no
  queue: never fetched by anyone in this run.
- Taking a request leases it: it moves into this worker's lease hash in the same script that
  takes it off the queue, with the lease in `request.meta` (crawler.distributed.LEASE). The
  handoff middleware releases it once everything the response led to is in Redis. A worker
  that stops cleanly drops what it still holds (failed fetches, whose errbacks ran); one stopped
  half-way (SIGTERM, an error) puts it back; a killed one is requeued by whoever sees its
  heartbeat expire (crawler.distributed.frontier.SharedFrontier.recover_dead).

Its queue, dupefilter and serializer are scrapy-redis's (settings SCHEDULER_QUEUE_KEY,
SCHEDULER_DUPEFILTER_KEY, SCHEDULER_SERIALIZER, set by crawler.distributed.worker_settings).
Stats: scheduler/enqueued/redis, scheduler/dequeued/redis, distributed/requeued_on_close.
"""

from __future__ import annotations

import logging

from scrapy_redis.scheduler import Scheduler

from crawler.distributed import LEASE, WORKER_ID
from crawler.distributed.frontier import SharedFrontier

logger = logging.getLogger(__name__)


class SharedScheduler(Scheduler):
    def open(self, spider):
        super().open(spider)  # scrapy-redis's queue (encoding) and dupefilter (fingerprints)
        self.frontier = SharedFrontier(self.server, spider.name)

    def enqueue_request(self, request) -> bool:
        data = self.queue._encode_request(request)
        fingerprint = self.df.request_fingerprint(request)
        if not self.frontier.push(fingerprint, -request.priority, data, request.dont_filter):
            self.df.log(request, self.spider)
            return False
        self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self):
        leased = self.frontier.lease(WORKER_ID)
        if leased is None:
            return None
        data, lease = leased
        request = self.queue._decode_request(data)
        request.meta[LEASE] = lease
        self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def has_pending_requests(self) -> bool:
        return self.frontier.queued() > 0

    def close(self, reason):
        # Never scrapy-redis's flush: the queue and dupefilter belong to every worker of the paper.
        if reason == "finished":
            self.frontier.drop_leases(WORKER_ID)
            return
        n = self.frontier.requeue(WORKER_ID)
        if n:
            self.stats.set_value("distributed/requeued_on_close", n)
            logger.info("%d requests this worker had taken are back in the shared queue (%s)", n, reason)
