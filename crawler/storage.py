"""SQLite storage, schema declared in one place.

One file (WAL mode); articles upserted by their stable id in batched transactions, so a crash
loses at most the open batch and never leaves a half-written row; a rerun fetches what is missing.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from crawler.article import Article

ARTICLE_COLUMNS = {
    "id": str, "url": str, "canonical_url": str, "site": str, "title": str, "sapo": str, "body": str,
    "author": str, "published_at": str, "modified_at": str, "category": str, "tags": str, "images": str,
    "blocks": str, "field_sources": str, "text": str, "content_hash": str, "first_seen": str,
    "last_seen": str, "crawl_id": int,
}
ALIAS_COLUMNS = {"url": str, "article_id": str, "reason": str, "first_seen": str, "crawl_id": int}
SITE_COLUMNS = {
    "key": str, "name": str, "short_name": str, "province": str, "domain": str, "domains": str,
    "family": str, "status": str, "merged_into": str, "verified": int, "note": str,
}
CRAWL_COLUMNS = {
    "id": int, "site": str, "started_at": str, "finished_at": str, "outcome": str, "requests": int,
    "article_requests": int, "articles_new": int, "articles_updated": int, "articles_duplicate": int,
    "articles_dropped": int, "errors": int, "bytes": int, "drop_reasons": str, "stats": str,
}
FTS_COLUMNS = ["title", "sapo", "body"]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; WAL keeps it consistent
        conn.execute("PRAGMA busy_timeout=30000")
        self.db = sqlite_utils.Database(conn)
        self.ensure_schema()

    def ensure_schema(self) -> None:
        db = self.db
        with db.conn:
            if "articles" not in db.table_names():
                db["articles"].create(ARTICLE_COLUMNS, pk="id", not_null={"url", "site", "title"})
                db["articles"].create_index(["content_hash"])
                db["articles"].create_index(["site", "published_at"])
                db["articles"].create_index(["canonical_url"], unique=True)
            if "aliases" not in db.table_names():
                db["aliases"].create(ALIAS_COLUMNS, pk="url")
                db["aliases"].create_index(["article_id"])
            if "sites" not in db.table_names():
                db["sites"].create(SITE_COLUMNS, pk="key")
            if "crawls" not in db.table_names():
                db["crawls"].create(CRAWL_COLUMNS, pk="id")
        if "articles_fts" not in db.table_names():
            # unicode61 with remove_diacritics 2 lets `cao bang` match `Cao Bằng`.
            db["articles"].enable_fts(
                FTS_COLUMNS, create_triggers=True, tokenize="unicode61 remove_diacritics 2", replace=True
            )

    # --- reads ---------------------------------------------------------------------------------
    def article_id_for_content(self, content_hash: str) -> str | None:
        row = self.db.execute("SELECT id FROM articles WHERE content_hash = ? LIMIT 1", [content_hash]).fetchone()
        return row[0] if row else None

    def has_article(self, article_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM articles WHERE id = ?", [article_id]).fetchone() is not None

    def count(self, table: str = "articles") -> int:
        return self.db[table].count if table in self.db.table_names() else 0

    # --- writes --------------------------------------------------------------------------------
    def sync_sites(self, sites) -> None:
        rows = [
            {
                "key": s.key, "name": s.name, "short_name": s.short_name, "province": s.province,
                "domain": s.domain, "domains": json.dumps(list(s.all_hosts)), "family": s.family,
                "status": s.status, "merged_into": s.merged_into, "verified": int(s.verified), "note": s.note,
            }
            for s in sites
        ]
        with self.db.conn:
            self.db["sites"].upsert_all(rows, pk="key")

    def write_batch(self, articles: list[Article], aliases: list[dict], crawl_id: int | None) -> None:
        """Articles and aliases in one transaction: all of the batch or none of it."""
        seen = now_iso()
        rows = [article_row(a, seen, crawl_id) for a in articles]
        with self.db.conn:
            for row in rows:
                # first_seen survives re-crawls: upsert keeps columns not given, so omit it for known ids.
                if self.has_article(row["id"]):
                    row.pop("first_seen")
                self.db["articles"].upsert(row, pk="id")
            if aliases:
                self.db["aliases"].upsert_all(
                    [{**a, "first_seen": seen, "crawl_id": crawl_id} for a in aliases], pk="url"
                )

    def start_crawl(self, site: str) -> int:
        with self.db.conn:
            table = self.db["crawls"].insert({"site": site, "started_at": now_iso(), "outcome": "running"})
        return table.last_pk

    def finish_crawl(self, crawl_id: int, outcome: str, counts: dict, stats: dict) -> None:
        row = {"finished_at": now_iso(), "outcome": outcome, **counts, "stats": json.dumps(stats, default=str)}
        with self.db.conn:
            self.db["crawls"].update(crawl_id, row)

    def close(self) -> None:
        self.db.conn.close()


def article_row(a: Article, seen: str, crawl_id: int | None) -> dict:
    return {
        "id": a.id, "url": a.url, "canonical_url": a.canonical_url, "site": a.site, "title": a.title,
        "sapo": a.sapo, "body": a.body, "author": a.author, "published_at": a.published_at,
        "modified_at": a.modified_at, "category": a.category,
        "tags": json.dumps(a.tags, ensure_ascii=False),
        "images": json.dumps([{"url": i.url, "caption": i.caption} for i in a.images], ensure_ascii=False),
        "blocks": json.dumps([{"kind": b.kind, "text": b.text} for b in a.blocks], ensure_ascii=False),
        "field_sources": json.dumps(a.field_sources, sort_keys=True),
        "text": a.text, "content_hash": a.content_hash, "first_seen": seen, "last_seen": seen,
        "crawl_id": crawl_id,
    }


def article_from_row(row: dict) -> Article:
    data = dict(row)
    for key in ("tags", "images", "blocks", "field_sources"):
        data[key] = json.loads(data.get(key) or ("{}" if key == "field_sources" else "[]"))
    return Article.from_dict(data)
