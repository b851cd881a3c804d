"""The pieces of incremental refreshes, one by one: the per-paper lock, the refresh state in SQLite
(atomic batches, versions, the frontier, validators, the recheck window) and conditional requests."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawler.article import PARAGRAPH, Article, Block
from crawler.canonical import url_id
from crawler.conditional import ConditionalGetMiddleware
from crawler.lock import SiteLock
from crawler.render import content_hash
from crawler.state import state_for
from crawler.storage import Batch, Store

REPO = Path(__file__).resolve().parent.parent
ICT = timezone(timedelta(hours=7))
HOLD = "import sys, time; from crawler.lock import SiteLock; l = SiteLock(sys.argv[1], 'x'); " \
       "print(l.acquire(), l.holder, flush=True); time.sleep(60)"
TRY = "import sys; from crawler.lock import SiteLock; l = SiteLock(sys.argv[1], 'x'); print(l.acquire(), l.holder)"


def python(code: str, *args: str, background: bool = False):
    cmd = [sys.executable, "-c", code, *args]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if background:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout.split()


def article(n: int, body: str = "Nội dung.", published: str = "") -> Article:
    a = Article(url=f"https://baocantho.com.vn/bai-{n}-a{n}.html", site="baocantho", title=f"Bài {n}",
                blocks=[Block(PARAGRAPH, body)], published_at=published)
    a.canonical_url = a.url
    a.id, a.content_hash, a.text = url_id(a.url), content_hash(a), f"Bài {n}\n\n{body}"
    return a


def test_the_lock_is_exclusive_between_processes_and_reentrant_within_one(tmp_path):
    db = tmp_path / "news.db"
    mine, again = SiteLock(db, "x"), SiteLock(db, "x")
    assert mine.acquire() and again.acquire()  # the runner, then the pipeline, in one process
    again.release()
    assert python(TRY, str(db)) == ["False", str(os.getpid())]  # still held, and who holds it
    mine.release()
    assert python(TRY, str(db)) == ["True", "0"]


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    db = tmp_path / "news.db"
    holder = python(HOLD, str(db), background=True)
    assert holder.stdout.readline().split() == ["True", "0"]
    assert not SiteLock(db, "x").acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    lock = SiteLock(db, "x")
    assert lock.acquire() and lock.stale_pid == holder.pid  # the kernel dropped the flock; the pid stayed
    lock.release()
    assert Path(f"{db}.x.lock").read_text() == ""


def test_a_batch_is_written_whole_or_not_at_all(tmp_path):
    store = Store(tmp_path / "news.db")
    store.record_page("baocantho", "https://baocantho.com.vn/", None, [(url_id(article(1).url), article(1).url)], 1)
    bad = article(2)
    bad.title = None  # NOT NULL: the second insert of the batch fails
    batch = Batch(articles=[article(1), bad], aliases=[{"url": "https://x/1", "article_id": article(1).id,
                                                        "reason": "url"}])
    batch.seen.append({"id": article(1).id, "url": article(1).url, "site": "baocantho", "outcome": "article",
                       "article_id": article(1).id})
    with pytest.raises(sqlite3.IntegrityError):
        store.write_batch(batch, 1)
    assert [store.count(t) for t in ("articles", "aliases", "seen_urls", "frontier")] == [0, 0, 0, 1]
    assert store.write_batch(Batch(articles=[article(1)], seen=batch.seen), 1) == {"new": 1, "updated": 0,
                                                                                   "unchanged": 0}
    assert [store.count(t) for t in ("articles", "seen_urls", "frontier")] == [1, 1, 0]


def test_a_changed_article_keeps_its_old_versions(tmp_path):
    store = Store(tmp_path / "news.db")
    assert store.write_batch(Batch(articles=[article(1)]), 1)["new"] == 1
    first_seen = store.db.execute("SELECT first_seen FROM articles").fetchone()[0]
    assert store.write_batch(Batch(articles=[article(1)]), 2)["unchanged"] == 1
    assert store.count("article_versions") == 0
    assert store.write_batch(Batch(articles=[article(1, "Nội dung đã sửa.")]), 3)["updated"] == 1
    assert store.write_batch(Batch(articles=[article(1, "Sửa lần hai.")]), 4)["updated"] == 1
    versions = store.db.execute("SELECT version, content_hash, crawl_id FROM article_versions ORDER BY version")
    assert [(v, h, c) for v, h, c in versions] == [(1, article(1).content_hash, 1),
                                                  (2, article(1, "Nội dung đã sửa.").content_hash, 3)]
    row = next(store.db.query("SELECT * FROM articles"))
    assert row["content_hash"] == article(1, "Sửa lần hai.").content_hash
    assert row["first_seen"] == first_seen and row["modified_at"] and row["rechecked_at"]
    assert store.count("articles_fts") == 1


def test_known_links_and_validators(tmp_path):
    store = Store(tmp_path / "news.db")
    a, b, c, d = (article(n) for n in range(1, 5))
    store.record_page("baocantho", "https://baocantho.com.vn/rss", ('"e1"', "Mon, 01 Jan 2026 00:00:00 GMT"),
                      [(a.id, a.url), (b.id, b.url), (c.id, c.url), (d.id, d.url)], 1)
    assert store.validators("https://baocantho.com.vn/rss") == ('"e1"', "Mon, 01 Jan 2026 00:00:00 GMT")
    assert len(store.frontier("baocantho")) == 4
    batch = Batch(articles=[a], aliases=[{"url": c.url, "article_id": a.id, "reason": "content"}])
    batch.seen.append({"id": b.id, "url": b.url, "site": "baocantho", "outcome": "not_article/video",
                       "article_id": ""})
    store.write_batch(batch, 2)
    assert store.known({x.id: [x.url] for x in (a, b, c, d)}) == {a.id, b.id, c.id}
    assert sorted(u for _, u, _ in store.frontier("baocantho")) == [c.url, d.url]  # only settled pages leave it


def test_failed_links_leave_the_frontier_after_max_attempts(tmp_path):
    store = Store(tmp_path / "news.db")
    a = article(1)
    store.record_page("baocantho", "https://baocantho.com.vn/", None, [(a.id, a.url)], 1)
    for _ in range(2):
        store.write_batch(Batch(failed={a.id}), 1)
    assert store.give_up_frontier("baocantho", 3) == [] and len(store.frontier("baocantho")) == 1
    store.write_batch(Batch(failed={a.id}), 1)
    assert store.give_up_frontier("baocantho", 3) == [a.url] and store.frontier("baocantho") == []
    assert store.known({a.id: [a.url]}) == {a.id}  # a dead link a listing keeps showing stays settled


def test_recheck_window_compares_instants_across_time_zones(tmp_path):
    store = Store(tmp_path / "news.db")
    now = datetime.now(UTC)
    ict = lambda hours: (now - timedelta(hours=hours)).astimezone(ICT).isoformat(timespec="seconds")  # noqa: E731
    inside, outside, undated = article(1, published=ict(47)), article(2, published=ict(49)), article(3)
    store.write_batch(Batch(articles=[inside, outside, undated]), 1)
    iso = lambda hours: (now - timedelta(hours=hours)).isoformat(timespec="seconds")  # noqa: E731
    # Stored just now: not due before NEWS_RECHECK_DELAY_HOURS have passed.
    assert store.recheck_due("baocantho", iso(48), iso(6)) == []
    due = store.recheck_due("baocantho", iso(48), iso(-1))
    assert sorted(i for i, _ in due) == sorted([inside.id, undated.id])
    store.write_batch(Batch(rechecked={inside.id}, gone={undated.id}), 2)
    assert store.recheck_due("baocantho", iso(48), iso(-1)) == []  # once


def test_an_older_database_gains_the_refresh_state(tmp_path):
    db = tmp_path / "old.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    conn.execute("DROP VIEW IF EXISTS articles_view")  # newer than the refresh state too
    for table in ("article_versions", "seen_urls", "frontier", "fetch_state"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("DROP INDEX idx_articles_site_first_seen")
    for column in ("rechecked_at", "gone_at"):
        conn.execute(f"ALTER TABLE articles DROP COLUMN {column}")
    conn.commit()
    conn.close()
    store = Store(db)
    assert {"rechecked_at", "gone_at"} <= set(store.db["articles"].columns_dict)
    assert {"article_versions", "seen_urls", "frontier", "fetch_state"} <= set(store.db.table_names())


def test_conditional_requests_carry_the_stored_validators(tmp_path):
    crawler = get_crawler(settings_dict={"DB_PATH": str(tmp_path / "news.db")})
    state_for(crawler).store.record_page("baocantho", "https://baocantho.com.vn/rss", ('"e1"', "Mon, 01 Jan 2026 "
                                                                                      "00:00:00 GMT"), [], None)
    mw = ConditionalGetMiddleware.from_crawler(crawler)
    plain = Request("https://baocantho.com.vn/rss")
    mw.process_request(plain)
    assert b"If-None-Match" not in plain.headers  # only requests the spider marks
    req = Request("https://baocantho.com.vn/rss", meta={"conditional": True})
    mw.process_request(req)
    assert req.headers[b"If-None-Match"] == b'"e1"'
    assert req.headers[b"If-Modified-Since"] == b"Mon, 01 Jan 2026 00:00:00 GMT"
    mw.process_response(req, Response(req.url, status=304, request=req))
    assert crawler.stats.get_value("refresh/conditional") == 1
    assert crawler.stats.get_value("refresh/not_modified") == 1
    state_for(crawler).close()
