"""Scheduled refreshes, end to end: `python -m crawler refresh` in its own process, against a local
mirror that publishes, edits and deletes articles between runs (tests/evolving_mirror.py).

What a cron user is promised: a refresh costs little when nothing changed, never fetches an
article twice, never overlaps itself, and survives being killed."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.lock import SiteLock
from crawler.mirror import MirrorServer
from crawler.registry import default_registry
from tests.evolving_mirror import PAPERS, EvolvingMirror, article_paths, crawl_rows, query, refresh
from tests.test_crawl_mirror import scrapy_crawl

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def evolving(tmp_path) -> EvolvingMirror:
    return EvolvingMirror(tmp_path / "tree")


def discovery_paths(keys=PAPERS) -> set[str]:
    """Mirror request targets of the pages a refresh may read when nothing changed: robots.txt,
    home pages, the first page of each section, feeds, sitemaps (and the mirror's sitemap child)."""
    out = set()
    for key in keys:
        site = default_registry()[key]
        urls = [*site.start_urls, *(s.url for s in site.sections), *site.feeds, *site.sitemaps,
                f"https://{site.domain}/robots.txt", f"https://{site.domain}/sitemap-articles.xml"]
        out |= {f"/{urlsplit(u).hostname}{urlsplit(u).path}" for u in urls}
    return out


def per_run(rows: list[dict], first_id: int) -> dict:
    """Totals over the crawl rows of one refresh run (one row per paper)."""
    run = [r for r in rows if r["id"] >= first_id]
    keys = ("requests", "article_requests", "articles_new", "articles_updated", "errors")
    totals = {k: sum(r[k] for r in run) for k in keys}
    totals["not_modified"] = sum(r["stats"].get("refresh/not_modified", 0) for r in run)
    totals["rechecked"] = sum(r["stats"].get("requests/recheck", 0) for r in run)
    totals["outcomes"] = sorted(r["outcome"] for r in run)
    return totals


def integrity(db: Path) -> None:
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "SELECT canonical_url, count(*) FROM articles GROUP BY 1 HAVING count(*) > 1") == []
    assert query(db, "SELECT content_hash, count(*) FROM articles GROUP BY 1 HAVING count(*) > 1") == []
    assert query(db, "SELECT count(*) FROM articles_fts") == query(db, "SELECT count(*) FROM articles")
    orphans = "SELECT url FROM aliases WHERE article_id NOT IN (SELECT id FROM articles)"
    assert query(db, orphans) == []


def seven_hours_pass(db: Path) -> None:
    """Move every stored article's first_seen seven hours back: what the next refresh sees after
    waiting seven hours (past NEWS_RECHECK_DELAY_HOURS = 6) without waiting."""
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT id, first_seen FROM articles").fetchall()
    with conn:
        for art_id, first_seen in rows:
            earlier = (datetime.fromisoformat(first_seen) - timedelta(hours=7)).isoformat(timespec="seconds")
            conn.execute("UPDATE articles SET first_seen = ? WHERE id = ?", [earlier, art_id])
    conn.close()


def test_three_refreshes_of_an_evolving_mirror(evolving, tmp_path, capsys):
    young = evolving.make_young("baolaocai", 3) + evolving.make_young("baocantho", 1)
    evolving.build()
    db = tmp_path / "news.db"
    measured = {}
    with MirrorServer(evolving.sites, port=0) as mirror:
        # Run 1: an empty database, everything is ingested.
        run = refresh(db, mirror.url)
        assert run.returncode == 0, run.stderr[-3000:]
        assert [line.split(":")[:2] for line in run.stdout.splitlines()] == [[k, " ok"] for k in PAPERS]
        stored = dict(query(db, "SELECT url, id FROM articles"))
        assert set(young) <= set(stored)
        # Undated articles are as young as their first_seen: rechecked too.
        young += [u for (u,) in query(db, "SELECT url FROM articles WHERE published_at = ''")]
        measured[1] = per_run(crawl_rows(db), 1)
        assert measured[1]["articles_new"] == len(stored)

        # Run 2: nothing changed. No article page at all; only first listing pages, feeds, sitemaps.
        first, seen = len(crawl_rows(db)) + 1, len(mirror.requests)
        run = refresh(db, mirror.url)
        assert run.returncode == 0, run.stderr[-3000:]
        log2 = mirror.requests[seen:]
        assert article_paths(log2) == []
        assert {urlsplit(raw).path for _, raw, _ in log2} <= discovery_paths(), log2
        assert not any(urlsplit(raw).query for _, raw, _ in log2), "no listing page 2"
        measured[2] = per_run(crawl_rows(db), first)
        assert measured[2]["article_requests"] == measured[2]["articles_new"] == 0
        # Every page read in run 1 kept its validators (home pages, first listing pages, the feed,
        # the child sitemap: 304), but robots.txt and the sitemap index (read every time).
        assert measured[2]["not_modified"] == measured[2]["requests"] - len(PAPERS) - 1
        assert measured[2]["requests"] == len(log2)

        # Run 3, seven hours later: five new articles, one edited, one deleted.
        new = [evolving.publish("baolaocai") for _ in range(3)] + [evolving.publish("baocantho") for _ in range(2)]
        edited, deleted = young[0], young[1]
        evolving.edit("baolaocai", urlsplit(edited).path)
        evolving.delete("baolaocai", urlsplit(deleted).path)
        evolving.build()
        seven_hours_pass(db)
        first, seen = len(crawl_rows(db)) + 1, len(mirror.requests)
        run = refresh(db, mirror.url)
        assert run.returncode == 0, run.stderr[-3000:]
        log3 = mirror.requests[seen:]
        # Exactly the five new articles and the young ones, each once.
        assert sorted(article_paths(log3)) == sorted(new + young)
        measured[3] = per_run(crawl_rows(db), first)
        assert measured[3]["articles_new"] == 5 and measured[3]["articles_updated"] == 1
        assert measured[3]["rechecked"] == len(young)

        # Run 4: the rechecks happened once; nothing new is fetched.
        first, seen = len(crawl_rows(db)) + 1, len(mirror.requests)
        run = refresh(db, mirror.url)
        assert run.returncode == 0, run.stderr[-3000:]
        assert article_paths(mirror.requests[seen:]) == []
        measured[4] = per_run(crawl_rows(db), first)

    # One new version of the edited article; the old one kept.
    versions = query(db, "SELECT article_id, version, content_hash, text FROM article_versions")
    assert len(versions) == 1
    (art_id, version, old_hash, old_text), = versions
    now_hash, now_text, modified_at = query(db, "SELECT content_hash, text, modified_at FROM articles WHERE id = ?",
                                            art_id)[0]
    assert art_id == stored[edited] and version == 1
    assert old_hash != now_hash and "Cập nhật" in now_text and "Cập nhật" not in old_text
    assert modified_at
    # The deleted article stays in the archive, marked gone.
    assert query(db, "SELECT gone_at IS NOT NULL FROM articles WHERE id = ?", stored[deleted]) == [(1,)]
    # Every article exactly once.
    urls = [u for (u,) in query(db, "SELECT url FROM articles")]
    assert len(urls) == len(set(urls)) == len(stored) + 5 and set(new) <= set(urls)
    integrity(db)
    assert query(db, "SELECT url FROM frontier") == []  # nothing left half-done
    assert [r["outcome"] for r in crawl_rows(db)] == ["ok"] * 8
    with capsys.disabled():
        for n, m in measured.items():
            print(f"\nrefresh run {n}: {m}", end="")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_a_killed_refresh_is_finished_by_the_next_without_duplicates(evolving, tmp_path, sig):
    evolving.build()
    reference, db = tmp_path / "reference.db", tmp_path / "news.db"
    with MirrorServer(evolving.sites, port=0) as mirror:
        assert refresh(reference, mirror.url).returncode == 0
    expected = {r for (r,) in query(reference, "SELECT id FROM articles")}

    with MirrorServer(evolving.sites, port=0, delay=0.2) as mirror:
        # One request at a time per paper: a SIGTERM lets the engine finish what the downloader holds
        # (up to CONCURRENT_REQUESTS queued in it), which at the default 16 can be the rest of the crawl.
        slow = ("-s", "NEWS_BATCH_SIZE=1", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "-s", "CONCURRENT_REQUESTS=1")
        proc = refresh(db, mirror.url, *slow, background=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if db.exists() and query(db, "SELECT count(*) FROM articles")[0][0] >= 3:
                    break
            except sqlite3.OperationalError:
                pass  # the schema is being created
            time.sleep(0.05)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
        partial = {r for (r,) in query(db, "SELECT id FROM articles")}
        assert 3 <= len(partial) < len(expected), "killed half-way"
        integrity(db)
        assert crawl_rows(db)[-1]["outcome"] == ("running" if sig == signal.SIGKILL else "interrupted")
        if sig == signal.SIGTERM:
            assert proc.returncode == 1 and ": interrupted:" in out
        settled = {u for (u,) in query(db, "SELECT url FROM seen_urls")}

        mirror.httpd.delay = 0
        # Requests the killed process left waiting are logged when answered: let them land before the cut.
        assert mirror.httpd.wait_idle()
        cut = len(mirror.requests)
        rerun = refresh(db, mirror.url)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        again = article_paths(mirror.requests[cut:])

    assert {r for (r,) in query(db, "SELECT id FROM articles")} == expected
    integrity(db)
    assert query(db, "SELECT url FROM frontier") == []
    assert not set(again) & settled, "a page settled before the kill was fetched again"
    assert max(Counter(again).values(), default=1) == 1
    outcomes = [r["outcome"] for r in crawl_rows(db)]
    assert outcomes[-len(PAPERS):] == ["ok"] * len(PAPERS)
    assert "running" not in outcomes and "interrupted" in outcomes
    if sig == signal.SIGKILL:
        assert f"taken over a stale lock from pid {proc.pid}" in rerun.stderr


def test_two_refreshes_started_together_never_crawl_one_paper_at_once(evolving, tmp_path):
    evolving.build()
    db = tmp_path / "news.db"
    with MirrorServer(evolving.sites, port=0, delay=0.2) as mirror:
        procs = [refresh(db, mirror.url, background=True) for _ in range(2)]
        outs = [p.communicate(timeout=180) for p in procs]
        article_requests = Counter(article_paths(mirror.requests))
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    for key in PAPERS:
        lines = [line for out, _ in outs for line in out.splitlines() if line.startswith(f"{key}: ")]
        assert len(lines) == 2, lines
        assert sum(f"{key}: ok:" in line for line in lines) == 1, lines
        assert sum(f"{key}: skipped: another refresh is running (pid " in line for line in lines) == 1, lines
        assert [r["site"] for r in crawl_rows(db)].count(key) == 1
    assert set(article_requests.values()) == {1}
    integrity(db)


def test_a_stale_lock_of_a_dead_process_is_taken_over(evolving, tmp_path):
    evolving.build()
    db = tmp_path / "news.db"
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)
    lock_file = Path(f"{db}.baocantho.lock")
    lock_file.write_text(f"{dead}\n")
    with MirrorServer(evolving.sites, port=0) as mirror:
        run = refresh(db, mirror.url, keys=("baocantho",))
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"baocantho: taken over a stale lock from pid {dead}" in run.stderr
    assert run.stdout.startswith("baocantho: ok:")
    assert lock_file.read_text() == ""  # released cleanly: nothing stale for the next run


def test_scrapy_crawl_uses_the_same_state_and_the_same_lock(evolving, tmp_path):
    evolving.build()
    db = tmp_path / "news.db"
    with MirrorServer(evolving.sites, port=0) as mirror:
        assert refresh(db, mirror.url, keys=("baocantho",)).returncode == 0
        run = scrapy_crawl("baocantho", db, mirror.url)
        assert run.returncode == 0, run.stderr[-3000:]
        assert crawl_rows(db)[-1]["article_requests"] == 0
        with SiteLock(db, "baocantho"):  # a refresh is running
            seen, rows = len(mirror.requests), len(crawl_rows(db))
            started = time.monotonic()
            run = scrapy_crawl("baocantho", db, mirror.url)
            assert run.returncode == 0 and time.monotonic() - started < 30
            assert "baocantho: another crawl (pid " in run.stderr
            assert len(mirror.requests) == seen and len(crawl_rows(db)) == rows
            skipped = refresh(db, mirror.url, keys=("baocantho",))
            assert skipped.returncode == 0 and skipped.stdout.startswith("baocantho: skipped: another refresh")


def _links(sites: Path, host: str, target: str) -> set[str]:
    import re

    routes = json.loads((sites / host / "_routes.json").read_text("utf-8"))
    html = (sites / host / routes[target]["file"]).read_text("utf-8")
    site = default_registry().for_host(host)
    found = {f"https://{host}{urlsplit(h).path}" for h in re.findall(r'(?:href="|<link>|<loc>)([^"<]+)', html)}
    return {u for u in found if site.is_article_url(u)}


def test_backfill_walks_deeper_than_a_refresh(evolving, tmp_path):
    evolving.build()
    key, site = "baocantho", default_registry()["baocantho"]
    host = site.domain
    routes = json.loads((evolving.sites / host / "_routes.json").read_text("utf-8"))
    first_pages = {"/", *(urlsplit(s.url).path for s in site.sections), *(urlsplit(f).path for f in site.feeds)}
    shallow_links = set().union(*(_links(evolving.sites, host, t) for t in first_pages))
    deep_links = set().union(*(_links(evolving.sites, host, t) for t in routes if "?" in t)) - shallow_links
    assert deep_links, "the mirror has articles linked from listing page 2 only"
    db, since_db = tmp_path / "news.db", tmp_path / "since.db"
    with MirrorServer(evolving.sites, port=0) as mirror:
        run = refresh(db, mirror.url, "-s", "NEWS_MAX_LISTING_PAGES=1", keys=(key,))
        assert run.returncode == 0, run.stderr[-3000:]
        assert not set(article_paths(mirror.requests, (key,))) & deep_links
        seen = len(mirror.requests)
        run = refresh(db, mirror.url, "--max-pages", "2", keys=(key,))
        assert run.returncode == 0, run.stderr[-3000:]
        assert set(article_paths(mirror.requests[seen:], (key,))) == deep_links  # and nothing known again

        # since: a day after the oldest article of every section's first page, so that each walk
        # reaches past it on page 1 and leaves page 2 unread.
        published = dict(query(db, "SELECT url, substr(published_at, 1, 10) FROM articles WHERE published_at != ''"))
        oldest = [min(published[u] for u in _links(evolving.sites, host, urlsplit(s.url).path) if u in published)
                  for s in site.sections]
        since = (datetime.fromisoformat(max(oldest)) + timedelta(days=1)).date().isoformat()
        sequential = ("-s", "CONCURRENT_REQUESTS=1", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1")
        seen = len(mirror.requests)
        run = refresh(since_db, mirror.url, "--since", since, *sequential, keys=(key,))
        assert run.returncode == 0, run.stderr[-3000:]
        assert not set(article_paths(mirror.requests[seen:], (key,))) & deep_links
        assert crawl_rows(since_db)[-1]["stats"].get("refresh/listing/stopped_since", 0) >= 1


def test_quiet_cron_mode_prints_nothing_on_success_and_logs_to_a_file(evolving, tmp_path):
    evolving.build()
    db, log = tmp_path / "news.db", tmp_path / "refresh.log"
    with MirrorServer(evolving.sites, port=0) as mirror:
        run = refresh(db, mirror.url, "--quiet", "--log-file", str(log), keys=("baocantho",))
    assert run.returncode == 0 and run.stdout == "", run.stdout + run.stderr[-3000:]
    text = log.read_text("utf-8")
    assert "Spider opened" in text and "baocantho: ok:" in text


def test_the_exit_code_tells_cron_that_a_paper_failed(tmp_path):
    with socket.socket() as s:  # a port nobody listens on: every request fails
        s.bind(("127.0.0.1", 0))
        dead_mirror = f"http://127.0.0.1:{s.getsockname()[1]}"
    run = refresh(tmp_path / "news.db", dead_mirror, "--quiet", "-s", "RETRY_TIMES=0", keys=("baocantho",))
    assert run.returncode == 1
    assert run.stdout.startswith("baocantho: errors:")
    assert crawl_rows(tmp_path / "news.db")[-1]["outcome"] == "errors"


def test_a_second_refresh_of_every_paper_requests_no_article_page(tmp_path):
    """Every paper of the registry, every discovery path (listing pages, the JSON listing API, RSS,
    sitemaps), against the repository's mirror: the second refresh reads no article page, except
    those the first left in the frontier (a failure it will retry)."""
    db, keys = tmp_path / "news.db", [s.key for s in default_registry()]
    with MirrorServer(REPO / "mirror" / "sites", port=0) as mirror:
        first = refresh(db, mirror.url, keys=keys)
        assert first.returncode in (0, 1), first.stderr[-3000:]
        unfinished = {u for (u,) in query(db, "SELECT url FROM frontier")}
        seen = len(mirror.requests)
        second = refresh(db, mirror.url, keys=keys)
        assert second.returncode in (0, 1), second.stderr[-3000:]
        again = set(article_paths(mirror.requests[seen:], keys))
    assert again <= unfinished
    rows = crawl_rows(db)
    before = {r["site"]: r for r in rows[:len(keys)]}
    assert len(rows) == 2 * len(keys) and set(before) == set(keys)
    for after in rows[len(keys):]:
        assert after["articles_new"] == 0 and after["requests"] < before[after["site"]]["requests"], after["site"]
    integrity(db)


def test_one_papers_error_does_not_fail_the_others_in_the_same_process(evolving, tmp_path):
    """Scrapy's log_count/ERROR counts every crawl's errors in each crawl of a process; the
    outcome and the `errors` column must count only the paper's own (crawler.errorcount)."""
    from crawler import faults as F

    evolving.build()
    broken = evolving.url("baolaocai", evolving.plain_articles("baolaocai")[0]["path"])
    parts = urlsplit(broken)
    plan = F.FaultPlan(paths={f"/{parts.hostname}{parts.path}": "500"})
    db = tmp_path / "news.db"
    with MirrorServer(evolving.sites, port=0, faults=plan) as mirror:
        run = refresh(db, mirror.url, "-s", "RETRY_TIMES=0")
    assert run.returncode == 1, run.stderr[-3000:]
    lines = dict(line.split(": ", 1) for line in run.stdout.splitlines())
    assert lines["baolaocai"].startswith("errors:") and lines["baocantho"].startswith("ok:"), run.stdout
    rows = {r["site"]: r for r in crawl_rows(db)}
    assert rows["baolaocai"]["outcome"] == "errors" and rows["baolaocai"]["errors"] >= 1
    assert rows["baocantho"]["outcome"] == "ok" and rows["baocantho"]["errors"] == 0
