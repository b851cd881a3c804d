"""One paper's shared frontier in Redis: the request queue, the workers' leases, the run's flags.

Keys, for paper KEY (the spider name):

    news:KEY:requests        sorted set  scrapy-redis's PriorityQueue (score -priority)
    news:KEY:dupefilter      set         scrapy-redis's RFPDupeFilter fingerprints
    news:KEY:inflight:W      hash        worker W's leased requests ("<score>:<sha1>" -> request)
    news:KEY:leases          set         the workers holding an inflight hash
    news:KEY:workers         set         the workers crawling KEY this run
    news:KEY:known           set         url ids the database knew when the run began (the ingest's)
    news:KEY:ready           string      the ingest has published `known`: workers may start
    news:KEY:started         string      a worker started this run
    news:worker:W            string      W's heartbeat, expires HEARTBEAT_TTL s after its last beat

Taking a request moves it from the queue into the worker's lease hash in one Lua script, and
scheduling one (dupefilter, then queue) is one script too: a kill at any instant leaves every
request either queued, leased, or finished. A lease is released when the response's requests and
items are in Redis (crawler.distributed.handoff); a dead worker's leases (no heartbeat) go back to
the queue, whoever notices first (`recover_dead`), so a SIGKILL loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

HEARTBEAT_TTL = 10  # seconds without a beat after which a worker is dead and its leases requeued
PREFIX = "news"

_ENQUEUE = """
if ARGV[4] == '0' and redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""
_LEASE = """
local top = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #top == 0 then return false end
redis.call('ZREM', KEYS[1], top[1])
local field = top[2] .. ':' .. redis.sha1hex(top[1])
redis.call('HSET', KEYS[2], field, top[1])
redis.call('SADD', KEYS[3], ARGV[1])
return {top[1], field}
"""
_REQUEUE = """
local leased = redis.call('HGETALL', KEYS[2])
for i = 1, #leased, 2 do
  redis.call('ZADD', KEYS[1], string.match(leased[i], '^([^:]+):'), leased[i + 1])
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return #leased / 2
"""


def key(site: str, name: str) -> str:
    return f"{PREFIX}:{site}:{name}"


def heartbeat_key(worker: str) -> str:
    return f"{PREFIX}:worker:{worker}"


class SharedFrontier:
    def __init__(self, server, site: str):
        self.r, self.site = server, site
        self.queue, self.dupefilter = key(site, "requests"), key(site, "dupefilter")
        self.leases, self.workers, self.known = key(site, "leases"), key(site, "workers"), key(site, "known")
        self._enqueue = server.register_script(_ENQUEUE)
        self._lease = server.register_script(_LEASE)
        self._requeue = server.register_script(_REQUEUE)

    def inflight(self, worker: str) -> str:
        return key(self.site, f"inflight:{worker}")

    # --- requests -------------------------------------------------------------------------------
    def push(self, fingerprint: str, score: int, data: bytes, dont_filter: bool) -> bool:
        """Queue a request unless the dupefilter has seen it; False when filtered."""
        return bool(self._enqueue(keys=[self.dupefilter, self.queue],
                                  args=[fingerprint, score, data, "1" if dont_filter else "0"]))

    def lease(self, worker: str) -> tuple[bytes, str] | None:
        """The highest-priority request, now leased to `worker`: (data, lease)."""
        got = self._lease(keys=[self.queue, self.inflight(worker), self.leases], args=[worker])
        return (got[0], got[1].decode() if isinstance(got[1], bytes) else got[1]) if got else None

    def done(self, worker: str, lease: str) -> None:
        self.r.hdel(self.inflight(worker), lease)

    def requeue(self, worker: str) -> int:
        """`worker`'s leased requests back into the queue (its own on an unclean close, or a dead one's)."""
        return int(self._requeue(keys=[self.queue, self.inflight(worker), self.leases], args=[worker]))

    def drop_leases(self, worker: str) -> None:
        """A worker that finished cleanly: what it still holds failed for good (errbacks ran)."""
        self.r.delete(self.inflight(worker))
        self.r.srem(self.leases, worker)

    def recover_dead(self) -> int:
        """Requeue the leases of every worker whose heartbeat has expired; how many requests."""
        holders = sorted(_text(w) for w in self.r.smembers(self.leases))
        alive = self._alive(holders)
        return sum(self.requeue(w) for w, up in zip(holders, alive, strict=True) if not up)

    def pending(self) -> int:
        """Requests queued or leased (by live or dead workers): 0 means nothing more can come."""
        holders = [_text(w) for w in self.r.smembers(self.leases)]
        pipe = self.r.pipeline(transaction=False)
        pipe.zcard(self.queue)
        for w in holders:
            pipe.hlen(self.inflight(w))
        return sum(pipe.execute())

    def queued(self) -> int:
        return self.r.zcard(self.queue)

    # --- workers --------------------------------------------------------------------------------
    def beat(self, worker: str) -> None:
        self.r.set(heartbeat_key(worker), self.site, ex=HEARTBEAT_TTL)

    def join(self, worker: str) -> None:
        self.beat(worker)
        pipe = self.r.pipeline()
        pipe.sadd(self.workers, worker)
        pipe.set(key(self.site, "started"), worker)
        pipe.execute()

    def leave(self, worker: str) -> None:
        self.r.srem(self.workers, worker)

    def live_workers(self) -> list[str]:
        """Workers of this paper with a heartbeat; the dead ones are forgotten."""
        workers = sorted(_text(w) for w in self.r.smembers(self.workers))
        alive = self._alive(workers)
        dead = [w for w, up in zip(workers, alive, strict=True) if not up]
        if dead:
            self.r.srem(self.workers, *dead)
        return [w for w, up in zip(workers, alive, strict=True) if up]

    def _alive(self, workers: list[str]) -> list[bool]:
        pipe = self.r.pipeline(transaction=False)
        for w in workers:
            pipe.exists(heartbeat_key(w))
        return [bool(n) for n in pipe.execute()]

    # --- the run --------------------------------------------------------------------------------
    def publish_known(self, ids: Iterable[str], chunk: int = 10_000) -> int:
        """The ingest: the url ids the database knows, then the `ready` flag that lets workers start.
        Built aside and renamed into place: workers of a resumed run never see it half-built."""
        building = self.known + ":building"
        self.r.delete(building)
        n, batch = 0, []
        for i in ids:
            batch.append(i)
            if len(batch) >= chunk:
                n += self.r.sadd(building, *batch)
                batch = []
        if batch:
            n += self.r.sadd(building, *batch)
        pipe = self.r.pipeline()
        pipe.delete(self.known)
        if n:
            pipe.rename(building, self.known)
        pipe.set(key(self.site, "ready"), "1")
        pipe.execute()
        return n

    def unknown(self, ids: list[str]) -> list[str]:
        if not ids:
            return []
        return [i for i, known in zip(ids, self.r.smismember(self.known, ids), strict=True) if not known]

    def is_ready(self) -> bool:
        return bool(self.r.exists(key(self.site, "ready")))

    def started(self) -> bool:
        return bool(self.r.exists(key(self.site, "started")))

    def finish_run(self) -> None:
        """Everything fetched and ingested: the next run starts afresh (dupefilter, known links)."""
        self.r.delete(self.queue, self.dupefilter, self.leases, self.workers, self.known, key(self.site, "ready"),
                      key(self.site, "started"))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value
