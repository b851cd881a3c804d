"""SQLite storage, schema declared in one place.

One file (WAL mode); articles upserted by their stable id in batched transactions, so a crash
loses at most the open batch and never leaves a half-written row; a rerun fetches what is missing.

Refresh state lives in the same file, so that it commits in the same transactions as the articles
it describes (a kill at any moment leaves state and articles agreeing with each other):
- `seen_urls`: every article-page URL fetched to a conclusion (stored, alias, dropped, gone), by
  url id; with `articles.id` and `aliases.url` it is what "known, never requested again" means.
- `frontier`: what was discovered but not yet read: article links, and the next listing pages
  and child sitemaps (`page`: how to read them, as JSON). The next run starts with them, so the
  work of a killed run is finished, a listing walk included, without walking from page 1 again.
- `fetch_state`: ETag / Last-Modified of listing, feed and sitemap pages, for conditional requests.
  Written in the same transaction as everything that page led to (its frontier rows): a 304 next
  time can only hide what is already known or in the frontier.
- `article_versions`: the previous versions of articles whose content changed on a recheck.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import sqlite_utils

from crawler.article import Article
from crawler.search import ensure_fts, search_folded

ARTICLE_COLUMNS = {
    "id": str, "url": str, "canonical_url": str, "site": str, "title": str, "sapo": str, "body": str,
    "author": str, "published_at": str, "modified_at": str, "category": str, "tags": str, "images": str,
    "blocks": str, "field_sources": str, "text": str, "content_hash": str, "first_seen": str,
    "last_seen": str, "crawl_id": int, "rechecked_at": str, "gone_at": str, "search_folded": str,
}
# Columns added after the first release: ensure_schema adds them to older databases.
LATER_ARTICLE_COLUMNS = ("rechecked_at", "gone_at", "search_folded")
VERSION_COLUMNS = {
    "id": int, "article_id": str, "version": int, "stored_at": str,
    **{k: v for k, v in ARTICLE_COLUMNS.items() if k not in ("id", *LATER_ARTICLE_COLUMNS)},
}
# What extraction and rendering produce: a re-extraction (crawler/reextract.py) compares all of it, as
# a better parser may fix a byline or a date without changing content_hash.
EXTRACTED_COLUMNS = ("title", "sapo", "body", "author", "published_at", "modified_at", "category", "tags",
                     "images", "blocks", "text")
SEEN_COLUMNS = {"id": str, "url": str, "site": str, "outcome": str, "article_id": str, "crawl_id": int,
                "seen_at": str}
FRONTIER_COLUMNS = {"id": str, "url": str, "site": str, "found_on": str, "found_at": str, "attempts": int,
                    "crawl_id": int, "page": str}
FETCH_STATE_COLUMNS = {"url": str, "site": str, "etag": str, "last_modified": str, "checked_at": str}
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
# search_folded: the đ-words spelled with d (crawler/search.py), so `da nang` finds `Đà Nẵng`;
# unicode61 folds every other mark. FTS_WEIGHTS: bm25 weights in this order (title counts most).
FTS_COLUMNS = ["title", "sapo", "body", "search_folded"]
FTS_WEIGHTS = (10.0, 4.0, 1.0, 1.0)
FTS_TOKENIZE = "unicode61 remove_diacritics 2"
# What people browse in Datasette: an article with its paper's name and province (they live in
# `sites`) and its month, for facets; article_rowid ties it to articles_fts for the search box.
ARTICLES_VIEW = """CREATE VIEW articles_view AS
SELECT a.published_at, s.name AS paper, a.title, a.category, s.province,
       substr(a.published_at, 1, 7) AS month, a.author, a.url, a.site, a.id, a.gone_at,
       a.rowid AS article_rowid
FROM articles AS a LEFT JOIN sites AS s ON s.key = a.site"""
_CHUNK = 500  # ids per `IN (...)`: well under SQLite's variable limit


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Batch:
    """Everything one transaction writes: articles and the bookkeeping of the pages they came from."""

    articles: list[Article] = field(default_factory=list)
    aliases: list[dict] = field(default_factory=list)
    seen: list[dict] = field(default_factory=list)  # {id, url, site, outcome, article_id}
    rechecked: set[str] = field(default_factory=set)  # article ids fetched again, whatever came of it
    gone: set[str] = field(default_factory=set)  # article ids that answered 404/410 on a recheck
    failed: set[str] = field(default_factory=set)  # frontier ids whose fetch failed this time

    def __bool__(self) -> bool:
        return any((self.articles, self.aliases, self.seen, self.rechecked, self.gone, self.failed))


def _chunks(items: list, n: int = _CHUNK):
    for i in range(0, len(items), n):
        yield items[i:i + n]


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

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any error. The connection is in autocommit mode,
        where `with conn:` does not open a transaction at all; IMMEDIATE takes the write lock up
        front, so two processes writing one file wait for each other (busy_timeout) instead of
        failing on a lock upgrade."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def ensure_schema(self) -> None:
        db = self.db
        # One transaction, so two first runs started together do not both create the tables.
        with self.transaction():
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
            columns = db["articles"].columns_dict
            for name in LATER_ARTICLE_COLUMNS:
                if name not in columns:
                    db["articles"].add_column(name, str)
            # The recheck query selects a paper's recently stored articles.
            db["articles"].create_index(["site", "first_seen"], if_not_exists=True)
            if "article_versions" not in db.table_names():
                db["article_versions"].create(VERSION_COLUMNS, pk="id")
                db["article_versions"].create_index(["article_id", "version"], unique=True)
            if "seen_urls" not in db.table_names():
                db["seen_urls"].create(SEEN_COLUMNS, pk="id")
            if "frontier" not in db.table_names():
                db["frontier"].create(FRONTIER_COLUMNS, pk="id", defaults={"attempts": 0})
                db["frontier"].create_index(["site"])
            if "fetch_state" not in db.table_names():
                db["fetch_state"].create(FETCH_STATE_COLUMNS, pk="url")
            ensure_fts(db, FTS_COLUMNS, FTS_TOKENIZE)  # creates, or migrates an older index
            view = db.execute("SELECT sql FROM sqlite_master WHERE name = 'articles_view'").fetchone()
            if not view or view[0] != ARTICLES_VIEW:
                db.execute("DROP VIEW IF EXISTS articles_view")
                db.execute(ARTICLES_VIEW)

    # --- reads ---------------------------------------------------------------------------------
    def article_id_for_content(self, content_hash: str) -> str | None:
        row = self.db.execute("SELECT id FROM articles WHERE content_hash = ? LIMIT 1", [content_hash]).fetchone()
        return row[0] if row else None

    def count(self, table: str = "articles") -> int:
        return self.db[table].count if table in self.db.table_names() else 0

    def known(self, links: dict[str, list[str]]) -> set[str]:
        """The url ids among `links` ({url id: [URL spellings]}) that must not be requested again:
        a stored article, a URL already fetched to a conclusion, or a recorded alias."""
        ids = list(links)
        found: set[str] = set()
        for chunk in _chunks(ids):
            marks = ", ".join("?" for _ in chunk)
            for table in ("articles", "seen_urls"):
                found.update(r[0] for r in self.db.execute(f"SELECT id FROM {table} WHERE id IN ({marks})", chunk))
        by_url = {u: i for i, urls in links.items() if i not in found for u in urls}
        for chunk in _chunks(list(by_url)):
            marks = ", ".join("?" for _ in chunk)
            found.update(by_url[r[0]] for r in self.db.execute(f"SELECT url FROM aliases WHERE url IN ({marks})",
                                                                chunk))
        return found

    def published(self, ids: Iterable[str]) -> dict[str, str]:
        """published_at (or first_seen) of stored articles, for the backfill's `since` bound."""
        out: dict[str, str] = {}
        for chunk in _chunks(list(ids)):
            marks = ", ".join("?" for _ in chunk)
            sql = f"SELECT id, COALESCE(NULLIF(published_at, ''), first_seen) FROM articles WHERE id IN ({marks})"
            out.update(self.db.execute(sql, chunk).fetchall())
        return out

    def validators(self, url: str) -> tuple[str, str] | None:
        row = self.db.execute("SELECT etag, last_modified FROM fetch_state WHERE url = ?", [url]).fetchone()
        return (row[0] or "", row[1] or "") if row else None

    def frontier(self, site: str) -> list[tuple[str, str, str]]:
        """(id, url, page) of what `site`'s earlier runs found but did not read; page is "" for an
        article link, else the JSON the spider needs to read that listing page or sitemap."""
        sql = "SELECT id, url, COALESCE(page, '') FROM frontier WHERE site = ? ORDER BY found_at, id"
        return self.db.execute(sql, [site]).fetchall()

    def give_up_frontier(self, site: str, max_attempts: int, crawl_id: int | None = None) -> list[str]:
        """Settle the links of `site` that failed in `max_attempts` runs (a dead link that a listing
        keeps showing must not come back); returns their URLs."""
        sql = "SELECT id, url, attempts FROM frontier WHERE site = ? AND attempts >= ?"
        rows = self.db.execute(sql, [site, max_attempts]).fetchall()
        if rows:
            now = now_iso()
            with self.transaction():
                for link_id, url, attempts in rows:
                    self._upsert("seen_urls", {"id": link_id, "url": url, "site": site, "article_id": "",
                                               "outcome": f"given_up/{attempts}", "crawl_id": crawl_id,
                                               "seen_at": now}, "id")
                self.db.execute("DELETE FROM frontier WHERE site = ? AND attempts >= ?", [site, max_attempts])
        return [url for _, url, _ in rows]

    def recheck_due(self, site: str, window_start: str, stored_before: str) -> list[tuple[str, str]]:
        """Articles of `site` published (or, undated, first seen) since `window_start`, stored before
        `stored_before`, never rechecked and not gone. julianday() compares instants, so the pages'
        +07:00 times and our UTC times order correctly."""
        sql = """SELECT id, url FROM articles
                 WHERE site = ? AND rechecked_at IS NULL AND gone_at IS NULL
                   AND first_seen <= ? AND first_seen >= date(?, '-1 day')
                   AND julianday(COALESCE(NULLIF(published_at, ''), first_seen)) >= julianday(?)
                 ORDER BY first_seen, id"""
        return self.db.execute(sql, [site, stored_before, window_start, window_start]).fetchall()

    # --- writes --------------------------------------------------------------------------------
    # Plain SQL inside transaction(): nothing in here may commit half a batch.
    def _upsert(self, table: str, row: dict, key: str, keep: tuple[str, ...] = ()) -> None:
        """INSERT, or UPDATE the given columns of the existing row (except `key` and `keep`)."""
        cols = tuple(row)
        self.db.conn.execute(_upsert_sql(table, cols, key, tuple(keep)), [row[c] for c in cols])

    def sync_sites(self, sites) -> None:
        with self.transaction():
            for s in sites:
                self._upsert("sites", {
                    "key": s.key, "name": s.name, "short_name": s.short_name, "province": s.province,
                    "domain": s.domain, "domains": json.dumps(list(s.all_hosts)), "family": s.family,
                    "status": s.status, "merged_into": s.merged_into, "verified": int(s.verified), "note": s.note,
                }, "key")

    def write_batch(self, batch: Batch, crawl_id: int | None, archived: bool = False) -> dict[str, int]:
        """The whole batch in one transaction: all of it or none of it. Returns how many articles
        were new, updated (content changed: the old version kept in article_versions) or unchanged.
        `archived`: the articles were re-extracted from archived responses (see _write_article)."""
        now = now_iso()
        counts = {"new": 0, "updated": 0, "unchanged": 0}
        with self.transaction():
            # Which of the batch's articles are stored already: one query, not one per article. The new ones
            # are inserted together (executemany), in batch order with the others.
            stored = self._stored_ids([a.id for a in batch.articles])
            new_rows: list[dict] = []
            for article in batch.articles:
                row = article_row(article, now, crawl_id)
                if article.id not in stored:
                    stored.add(article.id)  # the same article twice in a batch: the second is an update
                    new_rows.append(row)
                    counts["new"] += 1
                    continue
                self._insert_articles(new_rows)
                new_rows = []
                counts[self._write_article(row, now, archived)] += 1
            self._insert_articles(new_rows)
            for alias in batch.aliases:
                self._upsert("aliases", {**alias, "first_seen": now, "crawl_id": crawl_id}, "url")
            for seen in batch.seen:
                self._upsert("seen_urls", {**seen, "crawl_id": crawl_id, "seen_at": now}, "id")
            # A link leaves the frontier once its page, or the article it turned out to be, is settled.
            done = {s["id"] for s in batch.seen} | {a.id for a in batch.articles}
            self._update_ids("DELETE FROM frontier WHERE id IN ({})", [], done)
            self._update_ids("UPDATE frontier SET attempts = attempts + 1 WHERE id IN ({})", [], batch.failed)
            self._update_ids("UPDATE articles SET rechecked_at = ? WHERE id IN ({})", [now], batch.rechecked)
            self._update_ids("UPDATE articles SET gone_at = ?, rechecked_at = ? WHERE id IN ({})", [now, now],
                             batch.gone)
        return counts

    def _stored_ids(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(ids):
            sql = f"SELECT id FROM articles WHERE id IN ({', '.join('?' for _ in chunk)})"
            found.update(r[0] for r in self.db.conn.execute(sql, chunk))
        return found

    def _insert_articles(self, rows: list[dict]) -> None:
        """New articles (write_batch has checked that they are): one statement for all of them."""
        if rows:
            cols = tuple(rows[0])
            self.db.conn.executemany(_upsert_sql("articles", cols, "id", ()), [[r[c] for c in cols] for r in rows])

    def _write_article(self, row: dict, now: str, archived: bool = False) -> str:
        old = next(self.db.query("SELECT * FROM articles WHERE id = ?", [row["id"]]), None)
        if old is None:
            self._upsert("articles", row, "id")
            return "new"
        if archived:
            # Re-extracted from an archive: nothing was fetched now (last_seen, rechecked_at and gone_at
            # stay), and a difference is the parser's, not the paper's (no modified_at invented).
            row.update(modified_at=row["modified_at"] or old["modified_at"], last_seen=old["last_seen"])
            if all(old[k] == row[k] for k in EXTRACTED_COLUMNS):
                return "unchanged"
        elif old["content_hash"] == row["content_hash"]:
            # Same normalized content: nothing to store but the fact that we looked.
            self.db.execute("UPDATE articles SET last_seen = ?, rechecked_at = ? WHERE id = ?", [now, now, row["id"]])
            return "unchanged"
        version = self.db.execute(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM article_versions WHERE article_id = ?", [row["id"]]
        ).fetchone()[0]
        kept = {k: old[k] for k in VERSION_COLUMNS if k in old and k != "id"}
        self._upsert("article_versions", {**kept, "article_id": row["id"], "version": version, "stored_at": now},
                     "id")
        if not archived:
            # first_seen survives; modified_at is the page's own when it states one, else when we noticed.
            row.update(modified_at=row["modified_at"] or now, rechecked_at=now, gone_at=None)
        self._upsert("articles", row, "id", keep=("first_seen",))
        return "updated"

    def _update_ids(self, sql: str, params: list, ids: Iterable[str]) -> None:
        for chunk in _chunks(sorted(ids)):
            self.db.execute(sql.format(", ".join("?" for _ in chunk)), [*params, *chunk])

    def record_page(self, site: str, page_url: str, validators: tuple[str, str] | None,
                    links: list[tuple[str, str]], crawl_id: int | None, pages: Iterable[tuple[str, str, str]] = (),
                    done: Iterable[str] = ()) -> None:
        """One listing/feed/sitemap page in one transaction: its new article `links` (id, url) and
        further `pages` (id, url, how to read it) join the frontier, the page itself (`done`: its
        ids) leaves it, and its validators are stored, so that a later 304 never hides anything."""
        now = now_iso()
        with self.transaction():
            self._update_ids("DELETE FROM frontier WHERE id IN ({})", [], done)
            rows = [(i, u, None) for i, u in links] + list(pages)
            for link_id, url, page in rows:
                self._upsert("frontier", {"id": link_id, "url": url, "site": site, "found_on": page_url,
                                          "found_at": now, "attempts": 0, "crawl_id": crawl_id, "page": page},
                             "id", keep=tuple(FRONTIER_COLUMNS))
            if validators is not None:  # ("", ""): read, without validators to send next time
                self._upsert("fetch_state", {"url": page_url, "site": site, "etag": validators[0],
                                             "last_modified": validators[1], "checked_at": now}, "url")

    def interrupt_running(self, site: str) -> int:
        """Crawl rows of `site` still 'running' belong to dead processes (the caller holds the
        paper's lock): mark them interrupted. Their articles were committed batch by batch."""
        with self.transaction():
            cur = self.db.execute(
                "UPDATE crawls SET outcome = 'interrupted' WHERE site = ? AND outcome = 'running'", [site]
            )
        return cur.rowcount

    def start_crawl(self, site: str) -> int:
        with self.transaction():
            cur = self.db.execute("INSERT INTO crawls (site, started_at, outcome) VALUES (?, ?, 'running')",
                                  [site, now_iso()])
        return cur.lastrowid

    def finish_crawl(self, crawl_id: int, outcome: str, counts: dict, stats: dict) -> None:
        row = {"finished_at": now_iso(), "outcome": outcome, **counts, "stats": json.dumps(stats, default=str)}
        with self.transaction():
            self.db.execute(f"UPDATE crawls SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?",
                            [*row.values(), crawl_id])

    def close(self) -> None:
        self.db.conn.close()


@lru_cache(maxsize=64)
def _upsert_sql(table: str, cols: tuple[str, ...], key: str, keep: tuple[str, ...]) -> str:
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c != key and c not in keep)
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    return sql + (f" ON CONFLICT({key}) DO UPDATE SET {sets}" if sets else " ON CONFLICT DO NOTHING")


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
        "crawl_id": crawl_id, "search_folded": search_folded(a.title, a.sapo, a.body),
    }


def article_from_row(row: dict) -> Article:
    data = dict(row)
    for key in ("tags", "images", "blocks", "field_sources"):
        data[key] = json.loads(data.get(key) or ("{}" if key == "field_sources" else "[]"))
    return Article.from_dict(data)
