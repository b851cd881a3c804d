"""SQLite: ingest rate of the storage layer alone beside plain sqlite3 executemany, and the size per 1,000 articles.

Articles: N generated Article objects (the crawl benchmarks' Vietnamese-looking text; id, content
hash and document filled as the render pipeline does), spread over four papers, built before timing.

  ours  crawler.storage.Store(path).write_batch(...) in batches of --batch (50, NEWS_BATCH_SIZE),
        on a fresh file: WAL, the real schema (indexes, FTS5 with its triggers);
  peer  plain sqlite3 on a fresh file with the same PRAGMAs and the very same schema (the CREATE
        statements copied from a database made by Store), `executemany` of the same rows
        (crawler.storage.article_row, built before timing), one transaction per batch.

Both also re-ingest the same articles into the filled database (a re-crawl: ours through
write_batch, the peer as INSERT ... ON CONFLICT(id) DO UPDATE of every column but first_seen).
Row building (article_row: JSON of tags, images, blocks) is timed on its own, since ours includes
it and the peer does not. Best of --repeat runs, ours and peer interleaved. The size per 1,000
articles is the database file after a WAL checkpoint, with a per-table breakdown (dbstat).
Writes benchmarks/results/sqlite.json.

    python benchmarks/bench_sqlite.py [--articles 10000] [--batch 50] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import inspect
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PAPERS, gen_article, machine, write_json

from crawler import storage
from crawler.article import CAPTION, PARAGRAPH, Article, Block, Image
from crawler.canonical import url_id
from crawler.registry import default_registry
from crawler.render import content_hash, render_document

CRAWL_ID = 1


def make_articles(n: int) -> list[Article]:
    reg = default_registry()
    out = []
    for i in range(n):
        key = PAPERS[i % len(PAPERS)]
        site = reg[key]
        rng = random.Random(f"sqlite-{i}")
        g = gen_article(rng, i, key)
        url = f"https://{site.domain}/bai-viet-{i}-a{100000 + i}.html"
        blocks = [Block(PARAGRAPH, b) if isinstance(b, str) else Block(CAPTION, b["caption"]) for b in g.body]
        images = [Image(b["image"], b["caption"]) for b in g.body if not isinstance(b, str)]
        a = Article(url=url, canonical_url=url, site=key, title=g.title, sapo=g.sapo, blocks=blocks,
                    author=g.byline, published_at=g.published.strftime("%Y-%m-%dT%H:%M:00+07:00"),
                    category="Thời sự", tags=g.tags, images=images,
                    field_sources={"title": "family:F1", "body": "family:F1", "author": "family:F1"})
        a.id = url_id(url, reg)
        a.content_hash = content_hash(a)
        a.text = render_document(a, short_name=site.short_name)
        out.append(a)
    return out


def batches(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def write_batch(store, chunk: list[Article]) -> None:
    """The storage layer's batch write, whichever signature the working tree has."""
    params = list(inspect.signature(store.write_batch).parameters)
    if hasattr(storage, "Batch") and params[0] == "batch":
        store.write_batch(storage.Batch(articles=list(chunk)), CRAWL_ID)
    else:
        store.write_batch(list(chunk), [], CRAWL_ID)


def db_files(path: Path) -> list[Path]:
    return [Path(f"{path}{s}") for s in ("", "-wal", "-shm")]


def fresh(path: Path) -> None:
    for f in db_files(path):
        f.unlink(missing_ok=True)


def size_mb(path: Path) -> float:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return sum(f.stat().st_size for f in db_files(path) if f.exists()) / 2**20


def breakdown(path: Path) -> dict[str, float]:
    """MB per table/index (FTS shadow tables summed under articles_fts*), from dbstat."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()
    out: dict[str, float] = {}
    for name, size in rows:
        key = "articles_fts (all shadow tables)" if name.startswith("articles_fts") else name
        out[key] = out.get(key, 0) + size / 2**20
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def schema_of(template_db: Path) -> list[str]:
    """CREATE statements of every table, index, virtual table and trigger Store made (no shadow tables)."""
    conn = sqlite3.connect(template_db)
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid").fetchall()
    conn.close()
    fts_shadow = [n for t, n, s in rows if t == "table" and "VIRTUAL TABLE" in s.upper()]
    skip = {n for _, n, _ in rows for v in fts_shadow if n.startswith(v + "_")}
    return [s for t, n, s in rows if n not in skip]


def open_peer(path: Path, schema: list[str]) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for sql in schema:
        conn.execute(sql)
    return conn


def run_ours(path: Path, arts: list[Article], size: int) -> tuple[float, float]:
    fresh(path)
    store = storage.Store(path)
    t = time.perf_counter()
    for chunk in batches(arts, size):
        write_batch(store, chunk)
    ingest = time.perf_counter() - t
    t = time.perf_counter()
    for chunk in batches(arts, size):
        write_batch(store, chunk)
    again = time.perf_counter() - t
    store.close()
    return ingest, again


def run_peer(path: Path, schema: list[str], rows: list[dict], size: int) -> tuple[float, float]:
    fresh(path)
    conn = open_peer(path, schema)
    cols = list(rows[0])
    insert = f"INSERT INTO articles ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    update = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in ("id", "first_seen"))
    upsert = f"{insert} ON CONFLICT(id) DO UPDATE SET {update}"
    tuples = [tuple(r[c] for c in cols) for r in rows]
    timings = []
    for sql in (insert, upsert):
        t = time.perf_counter()
        for chunk in batches(tuples, size):
            conn.execute("BEGIN")
            conn.executemany(sql, chunk)
            conn.execute("COMMIT")
        timings.append(time.perf_counter() - t)
    conn.close()
    return timings[0], timings[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--articles", type=int, default=10000, help="generated articles (default 10000)")
    ap.add_argument("--batch", type=int, default=50, help="articles per transaction (default 50)")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    ap.add_argument("--quick", action="store_true", help="1000 articles, one run")
    ap.add_argument("--dir", help="directory for the database files (default: a temporary one, removed)")
    args = ap.parse_args(argv)
    n, repeat = (1000, 1) if args.quick else (args.articles, args.repeat)

    t = time.perf_counter()
    arts = make_articles(n)
    gen_s = time.perf_counter() - t
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="vnbench-sqlite-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        template = work / "template.db"
        fresh(template)
        storage.Store(template).close()
        schema = schema_of(template)
        seen = storage.now_iso()
        t = time.perf_counter()
        rows = [storage.article_row(a, seen, CRAWL_ID) for a in arts]
        rows_s = time.perf_counter() - t

        ours_db, peer_db = work / "ours.db", work / "peer.db"
        best = {"ours": [float("inf")] * 2, "peer": [float("inf")] * 2}
        for _ in range(repeat):
            o = run_ours(ours_db, arts, args.batch)
            p = run_peer(peer_db, schema, rows, args.batch)
            best["ours"] = [min(a, b) for a, b in zip(best["ours"], o, strict=True)]
            best["peer"] = [min(a, b) for a, b in zip(best["peer"], p, strict=True)]
        sizes = {"ours": size_mb(ours_db), "peer": size_mb(peer_db)}
        parts = breakdown(ours_db)
        count = {w: sqlite3.connect(db).execute("SELECT count(*) FROM articles").fetchone()[0]
                 for w, db in (("ours", ours_db), ("peer", peer_db))}
        fts = sqlite3.connect(ours_db).execute("SELECT count(*) FROM articles_fts").fetchone()[0]
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)

    res = {"articles": n, "batch": args.batch, "repeat": repeat, "generate_s": gen_s,
           "article_row_ms_per_article": 1000 * rows_s / n, "schema_statements": len(schema),
           "rows_in_db": count, "fts_rows": fts, "machine": machine(), "quick": args.quick}
    for who in ("ours", "peer"):
        ingest, again = best[who]
        res[who] = {"ingest_s": ingest, "ingest_articles_per_s": n / ingest, "ingest_ms_per_article": 1000 * ingest / n,
                    "reingest_s": again, "reingest_articles_per_s": n / again,
                    "reingest_ms_per_article": 1000 * again / n,
                    "db_mb": sizes[who], "db_mb_per_1000": sizes[who] / n * 1000}
    o, p = res["ours"], res["peer"]
    res["ratio_ours_over_peer"] = {
        "ingest_articles_per_s": o["ingest_articles_per_s"] / p["ingest_articles_per_s"],
        "reingest_articles_per_s": o["reingest_articles_per_s"] / p["reingest_articles_per_s"],
        "db_mb_per_1000": o["db_mb_per_1000"] / p["db_mb_per_1000"],
    }
    res["size_breakdown_mb_per_1000"] = {k: v / n * 1000 for k, v in parts.items()}

    x = res["ratio_ours_over_peer"]
    print(f"SQLite ingest of {n} generated articles, batches of {args.batch}, best of {repeat} "
          f"(same schema: {len(schema)} CREATE statements incl. FTS5 and its triggers)")
    print(f"{'':34} {'art/s':>9} {'ms/art':>8} {'re-ingest art/s':>15} {'ms/art':>8} {'MB/1000 art':>11}")
    for name, d in (("ours (Store.write_batch)", o), ("peer (sqlite3 executemany)", p)):
        print(f"{name:34} {d['ingest_articles_per_s']:9.0f} {d['ingest_ms_per_article']:8.3f} "
              f"{d['reingest_articles_per_s']:15.0f} {d['reingest_ms_per_article']:8.3f} {d['db_mb_per_1000']:11.2f}")
    print(f"{'ratio ours/peer':34} {x['ingest_articles_per_s']:9.2f} {'':8} {x['reingest_articles_per_s']:15.2f} "
          f"{'':8} {x['db_mb_per_1000']:11.2f}")
    print(f"\nrow building alone (article_row: JSON of tags, images, blocks): {res['article_row_ms_per_article']:.3f} ms/article"
          " (inside ours, outside the peer)")
    print(f"rows: ours {count['ours']}, peer {count['peer']}; FTS rows (ours) {fts}")
    if parts:
        print("\nsize per 1,000 articles by table/index (ours, dbstat):")
        for k, v in res["size_breakdown_mb_per_1000"].items():
            if v >= 0.01:
                print(f"  {k:40} {v:7.2f} MB")
    path = write_json("sqlite", res)
    print(f"\nwrote {path}")
    ok = count["ours"] == n and count["peer"] == n
    if not ok:
        print("PROBLEM: row counts differ from the number of articles")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
