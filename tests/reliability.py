"""Helpers of the reliability tests: the truth (golden articles of the repository's mirror), crawls of
it with faults, what a database holds and whether it is consistent."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from tests.evolving_mirror import crawl_rows, query, refresh

REPO = Path(__file__).resolve().parent.parent
SITES = REPO / "mirror" / "sites"
GOLDEN = REPO / "tests" / "golden"
# Quick settings for crawls of a faulty mirror: one quick retry, short waits and timeouts.
QUICK = ("-s", "RETRY_TIMES=1", "-s", "NEWS_RETRY_BACKOFF=0.05", "-s", "NEWS_RETRY_MAX_DELAY=2",
         "-s", "DOWNLOAD_TIMEOUT=2")


def golden(keys) -> dict[str, dict]:
    """article id -> {url, text, site, aliases} of every article the mirror's papers `keys` hold."""
    out = {}
    for key in keys:
        expected = json.loads((GOLDEN / key / "expected.json").read_text("utf-8"))
        for art_id, meta in expected["articles"].items():
            out[art_id] = {"url": meta["url"], "site": key,
                           "text": (GOLDEN / key / f"{art_id}.txt").read_text("utf-8"),
                           "aliases": [u for u, owner in expected["aliases"].items() if owner == art_id]}
    return out


def mirror_path(url: str) -> str:
    """A page's URL as the mirror logs its request: /<host><path>?<query>."""
    parts = urlsplit(url)
    return f"/{parts.hostname}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def crawl(db: Path, mirror_url: str, keys, *args: str, timeout: float = 300):
    return refresh(db, mirror_url, *QUICK, *args, keys=tuple(keys), timeout=timeout)


def run_stats(db: Path, first_crawl_id: int = 1) -> Counter:
    """Every numeric stat, summed over the crawl rows from `first_crawl_id` on (one per paper and run)."""
    total: Counter = Counter()
    for row in crawl_rows(db):
        if row["id"] >= first_crawl_id:
            total.update({k: v for k, v in row["stats"].items() if isinstance(v, int | float)})
    return total


def finished(db: Path, first_crawl_id: int = 1) -> bool:
    """Every paper's crawl from `first_crawl_id` on ran to its end (`errors` counts as an end: what
    failed was logged at ERROR, the crawl went on)."""
    rows = [r for r in crawl_rows(db) if r["id"] >= first_crawl_id]
    return bool(rows) and all(r["outcome"] in ("ok", "errors") and r["stats"].get("finish_reason") == "finished"
                              for r in rows)


def next_crawl_id(db: Path) -> int:
    return (max((r["id"] for r in crawl_rows(db)), default=0) + 1) if db.exists() else 1


def stored(db: Path) -> dict[str, str]:
    return dict(query(db, "SELECT id, text FROM articles"))


def problems(db: Path) -> list[str]:
    """What would make the database inconsistent: a damaged file, a half-written article, a
    duplicate, an index or a record out of step with the articles. Empty when all is well."""
    out = []
    conn = sqlite3.connect(db, timeout=30)
    try:
        one = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
        if one("PRAGMA integrity_check") != [("ok",)]:
            out.append(f"integrity_check: {one('PRAGMA integrity_check')[:3]}")
        if one("PRAGMA foreign_key_check"):
            out.append("foreign_key_check")
        tables = {r[0] for r in one("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "articles" not in tables:
            return out  # killed before the schema was created: nothing else to check
        checks = {
            "half-written article": "SELECT id FROM articles WHERE title = '' OR body = '' OR text = '' OR text IS NULL"
                                    " OR content_hash = '' OR content_hash IS NULL OR url = '' OR site = ''",
            "duplicate canonical URL": "SELECT canonical_url FROM articles GROUP BY 1 HAVING count(*) > 1",
            "duplicate content": "SELECT content_hash FROM articles GROUP BY 1 HAVING count(*) > 1",
            "alias without its article": "SELECT url FROM aliases WHERE article_id NOT IN (SELECT id FROM articles)",
            "version without its article": "SELECT id FROM article_versions WHERE article_id NOT IN "
                                           "(SELECT id FROM articles)",
            "duplicate version": "SELECT article_id, version FROM article_versions GROUP BY 1, 2 HAVING count(*) > 1",
            "settled as stored, no article": "SELECT url FROM seen_urls WHERE outcome = 'article' AND article_id "
                                             "NOT IN (SELECT id FROM articles)",
            "stored article still in the frontier": "SELECT id FROM frontier WHERE id IN (SELECT id FROM articles)",
        }
        if "cluster_members" in tables:
            checks["cluster member without its article"] = (
                "SELECT article_id FROM cluster_members WHERE article_id NOT IN (SELECT id FROM articles)")
        for what, sql in checks.items():
            rows = one(sql)
            if rows:
                out.append(f"{what}: {rows[:3]}")
        try:  # FTS5 compares its index with the articles it is built from (external content: rank 1)
            conn.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")
        except sqlite3.DatabaseError as exc:
            out.append(f"FTS index out of step with the articles: {exc}")
    finally:
        conn.close()
    return out
