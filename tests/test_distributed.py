"""Distributed crawling (crawler/distributed/): workers and one ingest, each in its own process, through
a real Redis server (Debian's redis-server on a loopback port) and the real mirror over HTTP, into a
real SQLite file, compared with a single-process crawl of the same papers."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from scrapy import Request

from crawler.distributed import serializer
from crawler.distributed.frontier import SharedFrontier, heartbeat_key
from crawler.distributed.inbox import Inbox
from crawler.mirror import MirrorServer
from crawler.registry import default_registry
from tests.redis_server import RedisServer, redis_server_path

REPO = Path(__file__).resolve().parent.parent
PAPERS = ["baocantho", "baolaocai", "baocaobang", "baonamdinh"]  # F4, F1, F6 (listing API), F3
IDLE = "1"  # NEWS_REDIS_IDLE_SECONDS: short, the mirror answers at once


@pytest.fixture(scope="module")
def redis_server():
    if not redis_server_path():
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed: `make redis` (apt-get install redis-server) must run first")
        pytest.skip("redis-server is not installed (`make redis`, as root)")
    with RedisServer() as server:
        yield server


@pytest.fixture()
def redis(redis_server):
    client = redis_server.client()
    client.flushall()
    yield client
    client.flushall()


@pytest.fixture(scope="module")
def mirror():
    with MirrorServer(REPO / "mirror" / "sites", host="127.0.0.1", port=0) as server:
        yield server


def env() -> dict:
    e = {**os.environ, "PYTHONPATH": str(REPO)}
    e.pop("MIRROR_URL", None)
    return e


def crawler_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler", *args]


def start(*args: str, log: Path) -> subprocess.Popen:
    with open(log, "w") as err:  # the child has its own descriptor
        return subprocess.Popen(crawler_cmd(*args), cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=err, text=True)


def finish(proc: subprocess.Popen, timeout: float = 120) -> str:
    out, _ = proc.communicate(timeout=timeout)
    return out


def articles(db: Path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        return set(conn.execute("SELECT id, content_hash FROM articles"))
    finally:
        conn.close()


def paths(requests) -> Counter:
    """Requests to the mirror by path, robots.txt left out (every worker process reads it)."""
    return Counter(p for _, p, _ in requests if not p.endswith("/robots.txt"))


def article_paths(counts: Counter) -> Counter:
    registry = default_registry()
    out = Counter()
    for path, n in counts.items():
        url = "https:/" + path
        site = registry.for_host(path.split("/")[1])
        if site and site.is_article_url(url):
            out[path] = n
    return out


@pytest.fixture(scope="module")
def single(mirror, tmp_path_factory):
    """The reference: the same papers crawled by one process (`crawl`), and what it requested."""
    db = tmp_path_factory.mktemp("single") / "single.db"
    before = len(mirror.requests)
    run = subprocess.run(crawler_cmd("crawl", "--fast", "--mirror", mirror.url, "--db", str(db), *PAPERS), cwd=REPO,
                         env=env(), capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    stored = articles(db)
    assert len(stored) >= 30
    return stored, paths(mirror.requests[before:])


def wait_for_log(path: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert time.monotonic() < deadline, f"no {text!r} in {path}"
        time.sleep(0.05)


def distributed(redis_url: str, mirror_url: str, db: Path, tmp: Path, workers: int = 2, on_start=None):
    """`workers` workers of PAPERS, then (once they all wait for it) the ingest; `on_start(procs)`
    runs once the run has begun. Workers started first begin together, whatever their start-up time.
    Two requests at a time per paper and worker (the polite default; --fast allows 8), so that on
    papers of a dozen articles most of them wait in the shared queue, for either worker to take."""
    common = ["--redis", redis_url, "-s", f"NEWS_REDIS_IDLE_SECONDS={IDLE}"]
    procs = [start("worker", "--mirror", mirror_url, "--fast", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2", *common,
                   "-s", f"DB_PATH={tmp / f'worker{i}.db'}", *PAPERS, log=tmp / f"worker{i}.log")
             for i in range(workers)]
    for i in range(workers):
        wait_for_log(tmp / f"worker{i}.log", "waiting for the ingest")
    ingest = start("ingest", "--db", str(db), *common, *PAPERS, log=tmp / "ingest.log")
    if on_start:
        on_start(procs)
    outs = [finish(p) for p in procs]
    return ingest, finish(ingest), procs, outs


def test_two_workers_fetch_every_article_once_and_store_what_one_process_stores(redis, redis_server, mirror, single,
                                                                                 tmp_path):
    expected, single_paths = single
    db = tmp_path / "dist.db"
    before = len(mirror.requests)
    mirror.httpd.delay = 0.1  # a crawl long enough for both workers to take a share
    try:
        ingest, ingest_out, procs, outs = distributed(redis_server.url, mirror.url, db, tmp_path)
    finally:
        mirror.httpd.delay = 0.0
    logs = "\n".join((tmp_path / n).read_text()[-2000:] for n in ("ingest.log", "worker0.log", "worker1.log"))
    assert ingest.returncode == 0 and all(p.returncode == 0 for p in procs), ingest_out + "".join(outs) + logs

    assert articles(db) == expected  # ids and content hashes
    requested = paths(mirror.requests[before:])
    assert set(requested.values()) == {1}, [p for p, n in requested.items() if n > 1]  # every page once
    assert article_paths(requested) == article_paths(single_paths)  # the same article pages, once each

    # Both workers worked, neither opened a database; the ingest took every message they sent, and its
    # crawl rows count the workers' requests.
    sent = [sum(int(n) for n in re.findall(r"(\d+) articles sent", out)) for out in outs]
    assert all(sent), outs
    assert not any((tmp_path / f"worker{i}.db").exists() for i in range(2))
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT site, outcome, article_requests, json_extract(stats, '$.\"distributed/messages\"') "
                        "FROM crawls ORDER BY site").fetchall()
    assert [r[0] for r in rows] == sorted(PAPERS) and {r[1] for r in rows} == {"ok"}
    assert sum(r[2] for r in rows) == sum(article_paths(requested).values())
    assert sum(r[3] for r in rows) == sum(sent)
    # The run is over: its keys are gone (only heartbeats, about to expire), the next run starts afresh.
    assert sorted(k.decode() for k in redis.keys("*") if not k.startswith(b"news:worker:")) == []


def test_a_worker_killed_mid_crawl_loses_nothing(redis, redis_server, single, tmp_path):
    expected, _ = single
    db = tmp_path / "killed.db"
    held = {}

    def kill_one_holding_articles(procs):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for i, proc in enumerate(procs):
                leases = [f for k in redis.keys(f"news:*:inflight:*:{proc.pid}:*") for f in redis.hkeys(k)]
                if any(f.startswith(b"-10:") for f in leases):  # an article page (priority 10) in progress
                    proc.send_signal(signal.SIGKILL)
                    held.update(victim=i, leases=len(leases))
                    return
            time.sleep(0.01)
        pytest.fail("no worker took an article page")

    # A slow mirror (each answer 0.2 s), so that the crawl is under way when the worker dies.
    with MirrorServer(REPO / "mirror" / "sites", host="127.0.0.1", port=0, delay=0.2) as slow:
        ingest, ingest_out, procs, outs = distributed(redis_server.url, slow.url, db, tmp_path,
                                                      on_start=kill_one_holding_articles)
    victim, survivor = held["victim"], 1 - held["victim"]
    assert procs[victim].returncode == -signal.SIGKILL and held["leases"] > 0
    logs = "\n".join((tmp_path / n).read_text()[-2000:] for n in ("ingest.log", f"worker{survivor}.log"))
    assert procs[survivor].returncode == 0 and ingest.returncode == 0, ingest_out + outs[survivor] + logs
    assert articles(db) == expected
    # The dead worker's leases were requeued (by the other worker or the ingest) once its heartbeat expired.
    conn = sqlite3.connect(db)
    recovered = sum(int(n) for n in re.findall(r"(\d+) requeued from dead workers", outs[survivor]))
    recovered += sum(int(v or 0) for (v,) in conn.execute(
        "SELECT json_extract(stats, '$.\"distributed/recovered\"') FROM crawls"))
    assert recovered >= held["leases"]


def test_a_stopped_worker_and_a_killed_ingest_are_resumed_by_the_next_ones(redis, redis_server, single, tmp_path):
    """SIGTERM to a worker: it puts its leased requests back at once and exits 1 (shutdown). SIGKILL to
    the ingest: the run stays in Redis. A new ingest and worker finish it: the full set."""
    expected, _ = single
    db = tmp_path / "resumed.db"
    common = ["--redis", redis_server.url, "-s", f"NEWS_REDIS_IDLE_SECONDS={IDLE}"]
    with MirrorServer(REPO / "mirror" / "sites", host="127.0.0.1", port=0, delay=0.3) as slow:
        ingest = start("ingest", "--db", str(db), *common, *PAPERS, log=tmp_path / "ingest1.log")
        worker = start("worker", "--mirror", slow.url, "--fast", *common, *PAPERS, log=tmp_path / "worker1.log")
        deadline = time.monotonic() + 60
        while not any(redis.hlen(k) for k in redis.keys("news:*:inflight:*")):
            assert time.monotonic() < deadline, "the worker never took a request"
            time.sleep(0.01)
        worker.send_signal(signal.SIGTERM)
        out = finish(worker)
        assert worker.returncode == 1 and "shutdown" in out
        assert not redis.keys("news:*:inflight:*") and sum(redis.zcard(f"news:{p}:requests") for p in PAPERS) > 0
        ingest.send_signal(signal.SIGKILL)
        finish(ingest)
        assert articles(db) < expected  # the run is unfinished
        ingest = start("ingest", "--db", str(db), *common, *PAPERS, log=tmp_path / "ingest2.log")
        worker = start("worker", "--mirror", slow.url, "--fast", *common, *PAPERS, log=tmp_path / "worker2.log")
        outs = finish(worker), finish(ingest)
    assert worker.returncode == 0 and ingest.returncode == 0, "".join(outs)
    assert articles(db) == expected
    conn = sqlite3.connect(db)
    assert {o for (o,) in conn.execute("SELECT outcome FROM crawls")} == {"interrupted", "ok"}


# --- the pieces, against the same real Redis ----------------------------------------------------------
def test_leases_dupefilter_and_recovery_of_dead_workers(redis):
    f = SharedFrontier(redis, "baocantho")
    assert f.push("fp-a", -10, b"article", False) and f.push("fp-l", 0, b"listing", False)
    assert not f.push("fp-a", -10, b"article", False)  # the shared dupefilter
    assert f.queued() == 2
    assert f.lease("w1")[0] == b"article"  # the highest priority first
    f.beat("w2")
    data, lease = f.lease("w2")
    assert data == b"listing" and f.queued() == 0 and f.pending() == 2  # leased requests count as pending
    f.done("w2", lease)
    assert f.pending() == 1
    assert f.push("fp-x", 5, b"low", False)
    # w1 has no heartbeat: its lease goes back to the queue, with its priority (ahead of "low").
    assert f.recover_dead() == 1 and f.queued() == 2
    assert f.lease("w2")[0] == b"article"
    assert f.recover_dead() == 0  # w2 is alive
    assert f.requeue("w2") == 1 and f.lease("w3")[0] == b"article"  # a worker stopping half-way puts its own back
    assert f.live_workers() == [] and f.pending() == 2
    f.join("w3")
    assert f.live_workers() == ["w3"] and f.started()
    redis.delete(heartbeat_key("w3"))
    assert f.live_workers() == [] and f.recover_dead() == 1 and f.queued() == 2


def test_inbox_restores_what_a_killed_ingest_had_taken(redis):
    inbox = Inbox(redis, "baocantho")
    for i in range(5):
        inbox.send(f'{{"kind": "settle", "urls": ["u{i}"], "outcome": "ignored"}}')
    assert [m["urls"] for m in inbox.take(3)] == [["u0"], ["u1"], ["u2"]]
    assert inbox.waiting() == 5  # taken, not committed
    assert inbox.restore() == 3
    assert [m["urls"][0] for m in inbox.take(10)] == ["u0", "u1", "u2", "u3", "u4"]
    inbox.commit()
    assert inbox.waiting() == 0


def test_requests_round_trip_without_pickle():
    request = Request("https://baocantho.com.vn/x-a1.html", meta={"page": 2, "previous": ["a", "b"]},
                      headers={"X-Requested-With": "XMLHttpRequest"}, priority=10)
    data = serializer.dumps(request.to_dict())
    assert b"cscrapy" not in data and not data.startswith(b"\x80")  # not a pickle
    back = serializer.loads(data)
    assert back["url"] == request.url and back["meta"] == {"page": 2, "previous": ["a", "b"]}
    assert back["headers"][b"X-Requested-With"] == [b"XMLHttpRequest"] and back["priority"] == 10


def test_worker_and_ingest_need_a_reachable_redis():
    for command in ("worker", "ingest"):
        run = subprocess.run(crawler_cmd(command, "--redis", "http://localhost:6379", "baocantho"), cwd=REPO,
                             env=env(), capture_output=True, text=True, timeout=60)
        assert run.returncode == 2 and "redis://" in run.stderr
        # Nothing listens on port 1: one line, the password masked, before any crawl starts.
        run = subprocess.run(crawler_cmd(command, "--redis", "redis://:s3cret@127.0.0.1:1/0", "baocantho"), cwd=REPO,
                             env=env(), capture_output=True, text=True, timeout=60)
        assert run.returncode == 2 and run.stderr.startswith("error: cannot reach Redis at redis://:***@127.0.0.1:1/0")
        assert "s3cret" not in run.stderr and run.stdout == ""
