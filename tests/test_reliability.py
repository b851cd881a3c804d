"""Each bad input a server can send, met by a real refresh (`python -m crawler refresh`, its own
process) of the repository's mirror with that fault forced on chosen pages: handled clearly
(counted, logged with the URL), the crawl goes on, and the next run without the fault completes the
set (every golden article exactly once, byte for byte)."""

from __future__ import annotations

import resource
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree
from scrapy.utils.sitemap import Sitemap

from crawler import faults as F
from crawler.mirror import MirrorServer
from crawler.settings import USER_AGENT
from spiders.news import _SAFE_XML
from tests.evolving_mirror import query
from tests.reliability import (
    SITES,
    crawl,
    finished,
    golden,
    mirror_path,
    next_crawl_id,
    problems,
    run_stats,
    stored,
)

KEYS = ("baocantho", "baolaocai")  # F4 with an RSS feed, F1 with a sitemap index
GOLD = golden(KEYS)


def urls_of(site: str, n: int) -> list[str]:
    """n article URLs of `site` that are the only way to their article (no alias leads there too)."""
    return sorted(a["url"] for a in GOLD.values() if a["site"] == site and not a["aliases"])[:n]


def finish_cleanly(db: Path) -> None:
    """One more refresh, without faults: the set is complete, each article once, as the golden file."""
    with MirrorServer(SITES, port=0) as srv:
        run = crawl(db, srv.url, KEYS)
    assert run.returncode == 0, run.stderr[-3000:]
    assert stored(db) == {i: a["text"] for i, a in GOLD.items()}
    assert query(db, "SELECT url FROM frontier") == []
    assert problems(db) == []


def test_a_gzip_bomb_and_a_huge_page_are_stopped_counted_and_the_crawl_goes_on(tmp_path):
    bomb, huge = urls_of("baocantho", 2)
    db, log = tmp_path / "news.db", tmp_path / "crawl.log"
    plan = F.FaultPlan(paths={mirror_path(bomb): "gzip-bomb", mirror_path(huge): "huge"})
    with MirrorServer(SITES, port=0, faults=plan) as srv:
        started = time.monotonic()
        # Nothing here hangs: the default timeout, so that a loaded machine's slow 2 MB bomb is not a
        # timeout retried (the mirror would count the bomb twice).
        run = crawl(db, srv.url, KEYS, "--log-file", str(log), "-s", "DOWNLOAD_TIMEOUT=30")
        elapsed = time.monotonic() - started
        injected = dict(srv.fault_counts)
    # ru_maxrss of the largest child so far (kB): the crawler never held the 2 GiB nor the 40 MiB.
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert run.returncode == 0, run.stderr[-3000:]
    text = log.read_text("utf-8")
    about = "\n".join(line for line in text.splitlines() if bomb in line or huge in line)
    assert injected == {"gzip-bomb": 1, "huge": 1}, about  # a limit is not retried within the run
    stats = run_stats(db)
    assert stats["refresh/fetch_failed/too_large"] == 2
    assert f"fetch refused (too_large) for {bomb}" in text and "DOWNLOAD_MAXSIZE (33554432 B) during decompression" in text
    assert f"fetch refused (too_large) for {huge}" in text and "larger than download max size" in text
    assert set(stored(db)) == set(GOLD) - {i for i, a in GOLD.items() if a["url"] in (bomb, huge)}
    assert sorted(query(db, "SELECT url, attempts FROM frontier")) == sorted([(bomb, 1), (huge, 1)])
    assert peak_mb < 800 and elapsed < 120, (peak_mb, elapsed)
    finish_cleanly(db)


def test_a_failed_article_is_retried_by_the_next_runs_then_given_up(tmp_path):
    """A page that 500s in run 1 and not after is stored by run 2; a page that always 500s is tried in
    NEWS_MAX_ATTEMPTS runs, then given up with a warning and a counted stat, and never asked for again."""
    once, always = urls_of("baolaocai", 2)
    db = tmp_path / "news.db"
    requests_of = {}
    for run_no in range(1, 6):
        paths = {mirror_path(always): "500"} | ({mirror_path(once): "500"} if run_no == 1 else {})
        first = next_crawl_id(db)
        with MirrorServer(SITES, port=0, faults=F.FaultPlan(paths=paths)) as srv:
            run = crawl(db, srv.url, KEYS, "-s", "NEWS_MAX_ATTEMPTS=3")
            log = [raw for _, raw, _ in srv.requests]
        assert run.returncode in (0, 1) and finished(db, first), run.stderr[-3000:]
        requests_of[run_no] = (log.count(mirror_path(once)), log.count(mirror_path(always)))
        ids = set(stored(db))
        attempts = dict(query(db, "SELECT url, attempts FROM frontier"))
        stats = run_stats(db, first)
        if run_no == 1:
            assert attempts == {once: 1, always: 1}
        elif run_no <= 3:
            assert attempts == {always: run_no}
        if run_no == 4:
            assert attempts == {} and stats["refresh/frontier/given_up"] == 1
            assert f"giving up on {always} after 3 failed attempts" in run.stderr
            assert query(db, "SELECT outcome FROM seen_urls WHERE url = ?", always) == [("given_up/3",)]
        assert ({i for i, a in GOLD.items() if a["url"] == once} <= ids) == (run_no > 1)
    # RETRY_TIMES=1: two requests in each run that tried; none once given up (runs 4 and 5).
    assert requests_of == {1: (2, 2), 2: (1, 2), 3: (0, 2), 4: (0, 0), 5: (0, 0)}
    assert set(stored(db)) == set(GOLD) - {i for i, a in GOLD.items() if a["url"] == always}
    assert problems(db) == []


def test_pages_that_are_not_the_page_are_recognised_not_stored_and_fetched_again(tmp_path):
    """Bot challenges (Cloudflare-like and Vietnamese) and blank or cut-off pages served with 200, on
    articles and on a listing page: counted, logged with the URL, not stored; the next run has them."""
    a = urls_of("baocantho", 4)
    listing = "https://baolaocai.vn/thoi-su/?page=2"
    kinds = {a[0]: "challenge", a[1]: "challenge-vi", a[2]: "empty", a[3]: "malformed", listing: "challenge"}
    db, log = tmp_path / "news.db", tmp_path / "crawl.log"
    with MirrorServer(SITES, port=0, faults=F.FaultPlan(paths={mirror_path(u): k for u, k in kinds.items()})) as srv:
        run = crawl(db, srv.url, KEYS, "--log-file", str(log))
    assert run.returncode == 1 and finished(db), run.stderr[-3000:]  # retries given up: logged at ERROR
    stats, text = run_stats(db), log.read_text("utf-8")
    assert stats["articles/dropped/not_article/challenge"] == 2
    assert stats["articles/unreadable/empty"] == stats["articles/unreadable/incomplete"] == 1
    assert stats["retry/reason_count/empty page"] == stats["retry/reason_count/incomplete page"] == 1
    assert stats["pages/challenge"] == 3  # two articles, one listing page
    for url in a[:2]:
        assert f"Dropped: not_article/challenge: {url}" in text
    assert f"empty page, not stored (the next run tries again): {a[2]}" in text
    assert f"incomplete page, not stored (the next run tries again): {a[3]}" in text
    assert f"challenge page: {listing}" in text
    assert not {i for i, g in GOLD.items() if g["url"] in a} & set(stored(db))
    # none is settled as fetched: each waits in the frontier (the listing page too, unread)
    assert {u for (u,) in query(db, "SELECT url FROM frontier")} >= {*a, listing}
    assert query(db, "SELECT url FROM seen_urls WHERE outcome LIKE '%challenge%'") == []
    finish_cleanly(db)


def test_feeds_and_sitemaps_with_entity_bombs_and_external_entities(tmp_path):
    feed, sitemap = "https://baocantho.com.vn/rss/cate/thoi-su/", "https://baolaocai.vn/sitemap-articles.xml"
    plan = F.FaultPlan(paths={mirror_path(feed): "xxe", mirror_path(sitemap): "xml-bomb"})
    db, log = tmp_path / "news.db", tmp_path / "crawl.log"
    with MirrorServer(SITES, port=0, faults=plan) as srv:
        started = time.monotonic()
        run = crawl(db, srv.url, KEYS, "--log-file", str(log))
        elapsed = time.monotonic() - started
        injected = dict(srv.fault_counts)
    assert run.returncode == 0, run.stderr[-3000:]
    assert injected == {"xxe": 1, "xml-bomb": 1}
    assert run_stats(db)["refresh/xml/entities_ignored"] == 2
    text = log.read_text("utf-8")
    assert f"XML with entity declarations (not expanded): {feed}" in text and sitemap in text
    assert elapsed < 60 and "lollollol" not in text
    assert query(db, "SELECT count(*) FROM articles WHERE text LIKE '%root:%' OR text LIKE '%lollol%'") == [(0,)]
    finish_cleanly(db)


def _bomb_and_xxe(secret: Path) -> tuple[bytes, bytes]:
    bomb = ("<?xml version='1.0'?><!DOCTYPE urlset [" + F.BILLION_LAUGHS + "]>"
            "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'><url><loc>https://a.vn/&lol9;</loc></url>"
            "<url><loc>https://a.vn/b.html</loc></url></urlset>").encode()
    xxe = (f"<?xml version='1.0'?><!DOCTYPE urlset [<!ENTITY xxe SYSTEM 'file://{secret}'>]>"
           "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'><url><loc>https://a.vn/&xxe;</loc></url>"
           "</urlset>").encode()
    return bomb, xxe


def test_both_xml_parsers_never_expand_entities(tmp_path):
    """The feed parser (spiders/news.py `_SAFE_XML`) and Scrapy's Sitemap, on a billion laughs and on an
    external entity naming a local file: nothing expanded, nothing read. (A parser that resolves
    entities reads the file: the test can fail.)"""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    bomb, xxe = _bomb_and_xxe(secret)
    unsafe = etree.XMLParser(resolve_entities=True, no_network=True, load_dtd=True)
    assert b"TOP-SECRET-MARKER" in etree.tostring(etree.fromstring(xxe, parser=unsafe))
    for doc in (bomb, xxe):
        started = time.monotonic()
        root = etree.fromstring(doc, parser=_SAFE_XML)
        out = etree.tostring(root)
        assert b"TOP-SECRET-MARKER" not in out and b"lollol" not in out and len(out) < 5000
        locs = [e["loc"] for e in Sitemap(doc)]
        assert not any("TOP-SECRET" in loc or "lollol" in loc for loc in locs)
        assert time.monotonic() - started < 2
    # What libxml2 still reads of a bomb depends on its version (it may stop at its amplification limit,
    # or keep the text around the unexpanded reference): only the document's literal text, never more.
    assert {e["loc"] for e in Sitemap(bomb)} <= {"https://a.vn/", "https://a.vn/b.html"}


def test_robots_txt_and_the_user_agent_hold_under_heavy_faults(tmp_path):
    """robots.txt is never faulted by the mirror, and the crawler obeys it whatever else goes wrong;
    every request carries our User-Agent."""
    sites = tmp_path / "sites"
    shutil.copytree(SITES / "baocantho.com.vn", sites / "baocantho.com.vn")
    forbidden = urls_of("baocantho", 1)[0]
    robots = sites / "baocantho.com.vn" / "robots.txt"
    robots.write_text(robots.read_text("utf-8").rstrip("\n") + f"\nDisallow: {urlsplit(forbidden).path}\n", "utf-8")
    db = tmp_path / "news.db"
    plan = F.FaultPlan(seed=3, rates=F.Rates(any=0.3), slow=0.2, hang=3, retry_after=1)
    requested: list[str] = []
    faulted = []
    for faults in (plan, None):  # a heavy fault mix, then a clean refresh
        with MirrorServer(sites, port=0, faults=faults, host_aliases={}) as srv:
            run = crawl(db, srv.url, ("baocantho",))
            requested += [raw for _, raw, _ in srv.requests]
            agents = dict(srv.user_agents)
            faulted.append(sum(srv.fault_counts.values()))
        assert run.returncode in (0, 1), run.stderr[-3000:]
        assert agents and set(agents) == {USER_AGENT}, agents
    assert faulted[0] >= 3 and faulted[1] == 0
    assert mirror_path(forbidden) not in requested and "/baocantho.com.vn/robots.txt" in requested
    assert run_stats(db)["refresh/fetch_failed/robots"] == 1  # refused once, then settled: never again
    assert query(db, "SELECT outcome FROM seen_urls WHERE url = ?", forbidden) == [("ignored",)]
